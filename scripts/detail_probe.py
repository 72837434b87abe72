"""What the input detail transfer (``mlsm.inference.detail``) does where it acts and where it must not.

Three measurements, each with the transfer off (``detail=0``) and on:

1. the JPEG quality read from the pixels (``mlsm.io.estimate_quality_from_pixels``) of every
   input set, which decides the automatic strength;
2. LOL validation pairs as stored (JPEG quality 98, no extra compression: the transfer acts at
   full strength on real, noisy dark photos): PSNR against the reference and NIQE;
3. Kodak24 synthetic inputs at QF 90 and 60 with the transfer forced on (``detail=1``): what
   it would cost in the paper's setting, the reason the automatic strength is 0 there.

The real dark photos are scored by ``mlsm eval scorecard`` (rows ``mlsm`` and ``mlsm[detail=0]``).

    python scripts/lol_val_folder.py     # data/lol_val/our485 (35 pairs)
    mlsm data synth ../shared/data/photos/kodak24 data/kodak24_synth --qf 90 80 70 60 --seed 0
    python scripts/detail_probe.py --kodak-count 8
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.data.degrade import compress  # noqa: E402
from mlsm.io import estimate_quality_from_pixels, read_image  # noqa: E402
from mlsm.metrics import psnr, psnr_b  # noqa: E402
from mlsm.niqe import niqe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lol", default=str(ROOT / "data/lol_val/our485"))
    parser.add_argument("--kodak", default=str(ROOT / "data/kodak24_synth"))
    parser.add_argument("--real", nargs="*", default=[str(ROOT.parent / "shared/data/real-dark/dicm"),
                                                      str(ROOT.parent / "shared/data/real-dark/lime")])
    parser.add_argument("--kodak-count", type=int, default=8, help="first N Kodak24 photos (default 8)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    import mlsm

    torch.set_num_threads(args.threads)
    lol, kodak = Path(args.lol), Path(args.kodak)

    print("1. JPEG quality read from the pixels (value: images)")
    sets = {f"kodak24 qf{q}": images(kodak / f"qf{q}") for q in (90, 80, 70, 60)}
    sets.update({Path(folder).name: images(Path(folder)) for folder in args.real})
    for name, paths in sets.items():
        print(f"   {name:14s}", dict(sorted(Counter(estimate_quality_from_pixels(read_image(p)[0]) for p in paths).items(),
                                           key=lambda kv: -1 if kv[0] is None else kv[0])))
    lows = images(lol / "low")
    print(f"   {'lol as stored':14s}", dict(Counter(estimate_quality_from_pixels(read_image(p)[0]) for p in lows)))
    print(f"   {'lol at qf90':14s}", dict(Counter(estimate_quality_from_pixels(compress(read_image(p)[0], 90)[0])
                                                  for p in lows)))

    models = {strength: mlsm.load_model(args.model, detail=strength) for strength in (0.0, 1.0)}
    print(f"2. LOL validation as stored ({len(lows)} pairs): PSNR dB / NIQE")
    for strength, model in models.items():
        scores = []
        for low in lows:
            out = model.enhance(read_image(low)[0])
            scores.append((psnr(out, read_image(lol / "high" / low.name)[0]), niqe(out)))
        scores = np.array(scores)
        print(f"   detail={strength:g}: {scores[:, 0].mean():.2f} / {scores[:, 1].mean():.3f}")

    print(f"3. Kodak24 synthetic, first {args.kodak_count} photos, transfer forced on: PSNR dB / PSNR-B dB")
    for quality in (90, 60):
        inputs = images(kodak / f"qf{quality}")[: args.kodak_count]
        for strength, model in models.items():
            scores = []
            for path in inputs:
                clean = read_image(kodak / "gt" / (path.stem + ".png"))[0]
                out = model.enhance(read_image(path)[0])
                scores.append((psnr(out, clean), psnr_b(out, clean)))
            scores = np.array(scores)
            print(f"   QF {quality} detail={strength:g}: {scores[:, 0].mean():.2f} / {scores[:, 1].mean():.2f}")


if __name__ == "__main__":
    main()
