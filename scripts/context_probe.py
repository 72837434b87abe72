"""Does a model trained on small crops lose quality when it sees a whole photo? (the windows of
``InferenceOptions.context``, issue 14; first asked for MODEL_CARD's stage 2b)

Scores a model as ``mlsm enhance`` runs it (exposure head, shift ensemble) on the first
``--count`` images of an eval set at one QF, whole (``context=0``) and in windows of each
``--contexts`` side: PSNR / PSNR-B against the ground truth, the block-edge ratio of its outputs
on real dark photos, and the seconds per eval image.

    python scripts/context_probe.py mlsm_small.synth_dark_jpeg data/kodak24_synth --quality 60
    python scripts/context_probe.py runs/x/model.safetensors data/kodak24_synth --no-shift-ensemble
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("evalset")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--quality", type=int, default=60)
    parser.add_argument("--contexts", type=int, nargs="+", default=[0, 64, 96, 128])
    parser.add_argument("--real", nargs="*", default=None, help="real dark photos for the block-edge ratio "
                        "(default: LIME 1-4 and DICM 01-06 of ../shared/data/real-dark)")
    parser.add_argument("--no-shift-ensemble", dest="shift_ensemble", action="store_false")
    args = parser.parse_args()
    import torch

    import mlsm
    from mlsm.data.evalset import load_evalset
    from mlsm.io import read_image
    from mlsm.metrics import block_edge_ratio, psnr, psnr_b

    torch.set_num_threads(1)
    items = load_evalset(args.evalset).items[: args.count]
    pairs = [(read_image(item.low[args.quality])[0], read_image(item.gt)[0]) for item in items]
    dark = ROOT.parent / "shared/data/real-dark"
    real_paths = args.real if args.real is not None else (sorted((dark / "lime").glob("*"))[:4]
                                                           + sorted((dark / "dicm").glob("*"))[:6])
    real = [read_image(path)[0] for path in real_paths]
    for context in args.contexts:
        model = mlsm.load_model(args.model, context=context, shift_ensemble=args.shift_ensemble)
        start = time.perf_counter()
        outputs = [model.enhance(low) for low, _ in pairs]
        seconds = (time.perf_counter() - start) / len(pairs)
        quality = np.mean([(psnr(out, gt), psnr_b(out, gt)) for out, (_, gt) in zip(outputs, pairs)], axis=0)
        ratio = np.mean([block_edge_ratio(model.enhance(image)) for image in real]) if real else float("nan")
        label = "whole" if context == 0 else f"{context} px windows"
        print(f"{label:16s} QF {args.quality}: {quality[0]:.2f} dB PSNR / {quality[1]:.2f} dB PSNR-B; real block-edge "
              f"ratio {ratio:.3f}; {seconds:.2f} s per image", flush=True)


if __name__ == "__main__":
    main()
