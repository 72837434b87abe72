"""What the monotone local gain (``mlsm.inference.tone``) changes: each measurement with it off
(``monotone_gain=False``) and on, the rest of the default inference unchanged.

1. Kodak24 synthetic, first ``--kodak-count`` photos at QF 90 and 60: PSNR / PSNR-B (dB);
2. LOL validation pairs as stored (quality 98) and at QF 90: PSNR (dB);
3. the first ``--real-count`` real dark photos (DICM, then LIME): NIQE and mean Y (studio luma).

    python scripts/lol_val_folder.py
    mlsm data synth ../shared/data/photos/kodak24 data/kodak24_synth --qf 90 80 70 60 --seed 0
    python scripts/tone_probe.py --kodak-count 8 --real-count 73
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.data.degrade import compress  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.metrics import psnr, psnr_b, rgb_to_y  # noqa: E402
from mlsm.niqe import niqe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--kodak", default=str(ROOT / "data/kodak24_synth"))
    parser.add_argument("--lol", default=str(ROOT / "data/lol_val/our485"))
    parser.add_argument("--kodak-count", type=int, default=8)
    parser.add_argument("--real-count", type=int, default=73)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    import mlsm

    torch.set_num_threads(args.threads)
    kodak, lol = Path(args.kodak), Path(args.lol)
    real = (images(SHARED / "real-dark/dicm") + images(SHARED / "real-dark/lime"))[: args.real_count]
    for flag in (False, True):
        model = mlsm.load_model(args.model, monotone_gain=flag)
        print(f"monotone_gain={flag}")
        for quality in (90, 60):
            scores = []
            for path in images(kodak / f"qf{quality}")[: args.kodak_count]:
                clean = read_image(kodak / "gt" / (path.stem + ".png"))[0]
                out = model.enhance(read_image(path)[0])
                scores.append((psnr(out, clean), psnr_b(out, clean)))
            print(f"  Kodak24 QF {quality}: {np.mean([s[0] for s in scores]):.2f} / {np.mean([s[1] for s in scores]):.2f}")
        for name, change in (("as stored", lambda a: a), ("QF 90", lambda a: compress(a, 90)[0])):
            value = np.mean([psnr(model.enhance(change(read_image(p)[0])), read_image(lol / "high" / p.name)[0])
                             for p in images(lol / "low")])
            print(f"  LOL validation {name}: {value:.2f}")
        outs = [model.enhance(read_image(p)[0]) for p in real]
        print(f"  real ({len(real)}): NIQE {np.mean([niqe(o) for o in outs]):.3f}, "
              f"mean Y {np.mean([rgb_to_y(o).mean() for o in outs]):.3f}")


if __name__ == "__main__":
    main()
