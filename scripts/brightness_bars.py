"""The brightness-sensitive bars of issue 14 for one or more weight files, in one quick run.

For each model (zoo name or .safetensors, optionally with ``[option=value,...]`` inference
options as in ``mlsm eval``; else the default inference: windows, shift ensemble, exposure head,
monotone gain, detail transfer):

* Kodak24 synthetic, first ``--kodak-count`` photos at QF 90 and 60: PSNR (dB);
* LOL validation (35 pairs, the dark image at QF 90): PSNR (dB);
* do no harm (the 24 clean Kodak24 photos at QF 90, not darkened): photos whose output mean
  luma (BT.601, studio range) stays within 0.1 of the input's, and PSNR against the clean photo;
* all real dark photos: mean output luma (the scorecard's mean Y).

A refitted exposure head is judged here before a full ``mlsm eval`` / ``mlsm eval scorecard``:

    python scripts/lol_val_folder.py
    mlsm data synth ../shared/data/photos/kodak24 data/kodak24_synth --qf 90 80 70 60 --seed 0
    python scripts/brightness_bars.py mlsm_small.synth_dark_jpeg runs/head_v3/model.safetensors
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.data.degrade import compress  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.metrics import psnr, rgb_to_y  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def bars(model, args) -> dict[str, float]:
    kodak, lol = Path(args.kodak), Path(args.lol)
    out = {}
    for quality in (90, 60):
        out[f"Kodak24 QF {quality} PSNR"] = np.mean([
            psnr(model.enhance(read_image(p)[0]), read_image(kodak / "gt" / (p.stem + ".png"))[0])
            for p in images(kodak / f"qf{quality}")[: args.kodak_count]])
    out["LOL val QF 90 PSNR"] = np.mean([
        psnr(model.enhance(compress(read_image(p)[0], 90)[0]), read_image(lol / "high" / p.name)[0])
        for p in images(lol / "low")])
    shifts, scores = [], []
    for path in images(SHARED / "photos" / "kodak24"):
        clean = read_image(path)[0]
        jpeg = compress(clean, 90)[0]
        enhanced = model.enhance(jpeg)
        shifts.append(abs(rgb_to_y(enhanced).mean() - rgb_to_y(jpeg).mean()))
        scores.append(psnr(enhanced, clean))
    out["do no harm: within 0.1 (of 24)"] = int((np.array(shifts) <= 0.1).sum())
    out["do no harm: PSNR"] = np.mean(scores)
    out["real photos: mean Y"] = np.mean([rgb_to_y(model.enhance(read_image(p)[0])).mean()
                                          for folder in args.real for p in images(Path(folder))])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="zoo names or .safetensors files, each optionally NAME[option=value,...]")
    parser.add_argument("--kodak", default=str(ROOT / "data/kodak24_synth"))
    parser.add_argument("--lol", default=str(ROOT / "data/lol_val/our485"))
    parser.add_argument("--real", nargs="*", default=[str(SHARED / "real-dark/dicm"), str(SHARED / "real-dark/lime")])
    parser.add_argument("--kodak-count", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    import mlsm
    from mlsm.inference.loading import spec_options
    from mlsm.models.zoo import mlsm_spec_target

    torch.set_num_threads(args.threads)
    for name in args.models:
        print(name)
        model = mlsm.load_model(mlsm_spec_target("mlsm:" + name), **spec_options(name))
        for key, value in bars(model, args).items():
            print(f"  {key:32s} {value:.3f}" if isinstance(value, float) else f"  {key:32s} {value}")


if __name__ == "__main__":
    main()
