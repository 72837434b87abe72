"""What each step of the default inference does to one region of one photo.

Runs each method (registry names, with inference options in brackets, as ``mlsm eval``) on the
photo and prints, over the region, the output's mean BT.601 luma and its spread at two scales,
in 8-bit code values: the standard deviation of the luma blurred with a Gaussian of sigma 4 px
(clouds, shading) and of what that blur removes (grain, speckle). Used to trace an artefact to
the step that makes it, e.g. DICM 12's black sky (input 0-5 code values), which comes out grey
and faintly cloudy:

    python scripts/region_probe.py ../shared/data/real-dark/dicm/12.jpg --box 20 430 140 630 \\
        --methods mlsm 'mlsm[detail=0]' 'mlsm[monotone_gain=false]' 'mlsm[detail=0,monotone_gain=false]' \\
        'mlsm[shift_ensemble=false]' 'mlsm[calibrate_exposure=false]'
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.baselines.registry import build_method  # noqa: E402
from mlsm.inference.maps import gaussian_blur, luma  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_tensor  # noqa: E402


def region_spread(image: torch.Tensor, box: tuple[int, int, int, int]) -> tuple[float, float, float]:
    """(mean luma, std of its sigma-4 blur, std of the rest) over ``box`` = (top, left, bottom,
    right) of (1, 3, H, W) in [0, 1], in 8-bit code values."""
    top, left, bottom, right = box
    grey = luma(image) * 255.0
    smooth = gaussian_blur(grey, 4.0)
    part, smooth_part = grey[..., top:bottom, left:right], smooth[..., top:bottom, left:right]
    return float(part.mean()), float(smooth_part.std()), float((part - smooth_part).std())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--box", type=int, nargs=4, required=True, metavar=("TOP", "LEFT", "BOTTOM", "RIGHT"))
    parser.add_argument("--methods", nargs="+", default=["mlsm"])
    parser.add_argument("--peers-dir", default=None)
    args = parser.parse_args(argv)
    array = read_image(args.photo)[0]
    box = tuple(args.box)
    print(f"{args.photo}, rows {box[0]}:{box[2]}, columns {box[1]}:{box[3]} (code values)")
    print("| method | mean luma | spread, sigma-4 blur | spread, finer |")
    print("|---|---:|---:|---:|")
    rows = [("input", to_tensor(array))]
    for name in args.methods:
        method = build_method(name, peers_dir=args.peers_dir)
        rows.append((name, to_tensor(method(array))))
    for name, image in rows:
        mean, coarse, fine = region_spread(image, box)
        print(f"| {name} | {mean:.2f} | {coarse:.2f} | {fine:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
