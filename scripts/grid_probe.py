"""Where does 8x8 (or 2x2) structure in mlsm's output come from: the input's JPEG blocks or the network?

The network's grids (the 2x2 pixel-unshuffle superpixels, the 1/8-resolution top latent) are
anchored at the output's (0, 0); a JPEG's blocks are anchored at the content. Shifting the input
by s = 0..7 pixels moves the content grid and leaves the network grid in place, so averaging the
per-phase neighbour-difference profile over all shifts separates the two:

* ``network`` profile: phase p = column/row pairs (j, j+1) with j % 8 == p, in output coordinates;
* ``content`` profile: the same with j measured from the content's own JPEG grid.

Phase 7 is the pair straddling an 8x8 grid line (what ``mlsm.metrics.block_edge_ratio`` weighs);
odd phases straddle 2x2 superpixel edges. A flat profile (all 1.0) means no periodic structure.

    python scripts/grid_probe.py                      # the shipped model, 6 Kodak24 crops x0.08
    python scripts/grid_probe.py --model runs/x/model.safetensors --real ../shared/data/real-dark/lime/1.png
    python scripts/grid_probe.py --no-shift-ensemble --context 0 --real ../shared/data/real-dark/lime/1.png   # one whole pass
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.colour import linear_to_srgb, srgb_to_linear  # noqa: E402
from mlsm.data.degrade import compress  # noqa: E402
from mlsm.io.convert import quantize_8bit  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.metrics import block_edge_ratio, rgb_to_y  # noqa: E402

KODAK = ["kodim01", "kodim05", "kodim08", "kodim13", "kodim19", "kodim23"]


def phase_profile(image: np.ndarray, offset: int = 0, period: int = 8) -> np.ndarray:
    """Mean squared luma difference of neighbour pairs (j, j+1) per phase (j - offset) % period,
    horizontal and vertical pooled, normalised to mean 1."""
    luma = rgb_to_y(image)
    horizontal = (luma[:, 1:] - luma[:, :-1]) ** 2
    vertical = (luma[1:, :] - luma[:-1, :]) ** 2
    profile = np.empty(period)
    for phase in range(period):
        columns = (np.arange(horizontal.shape[1]) - offset) % period == phase
        rows = (np.arange(vertical.shape[0]) - offset) % period == phase
        total = horizontal[:, columns].sum() + vertical[rows, :].sum()
        count = horizontal[:, columns].size + vertical[rows, :].size
        profile[phase] = total / count
    return profile / profile.mean()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="zoo name or .safetensors (default: the shipped model)")
    parser.add_argument("--photos", default=str(Path(__file__).resolve().parents[2] / "shared/data/photos/kodak24"))
    parser.add_argument("--exposure", type=float, default=0.08)
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--real", nargs="*", default=[], help="real photos: profile of input and output (no shift)")
    parser.add_argument("--no-shift-ensemble", dest="shift_ensemble", action="store_false",
                        help="one network pass (the default inference averages a pass shifted by 1 px)")
    parser.add_argument("--context", type=int, default=None,
                        help="window side the network runs on (default: the weight file's; 0: whole images)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    import mlsm

    torch.set_num_threads(1)
    model = mlsm.load_model(args.model, shift_ensemble=args.shift_ensemble, context=args.context)
    np.set_printoptions(precision=3, suppress=True)
    for label in ("never-compressed", f"JPEG QF {args.quality}"):
        network, content, source = np.zeros(8), np.zeros(8), np.zeros(8)
        count = 0
        for name in KODAK:
            clean, _ = read_image(Path(args.photos) / f"{name}.png")
            clean = clean[:200, :296]
            dark = quantize_8bit(linear_to_srgb(srgb_to_linear(clean) * args.exposure))
            dark = dark if label == "never-compressed" else compress(dark, args.quality)[0]
            for shift in range(8):
                shifted = np.ascontiguousarray(dark[shift:, shift:])
                with torch.no_grad():
                    out = model.enhance(shifted)
                content_offset = (8 - shift) % 8
                network += phase_profile(out, 0)
                content += phase_profile(out, content_offset)
                source += phase_profile(shifted, content_offset)
                count += 1
        print(f"{label}: input, content grid  {source / count}")
        print(f"{label}: output, network grid {network / count}")
        print(f"{label}: output, content grid {content / count}")
    for path in args.real:
        image, _ = read_image(path)
        with torch.no_grad():
            out = model.enhance(image)
        print(f"{Path(path).name}: block-edge ratio in {block_edge_ratio(image):.3f} out {block_edge_ratio(out):.3f}")
        print(f"  input  profile {phase_profile(image)}")
        print(f"  output profile {phase_profile(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
