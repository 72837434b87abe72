"""Choose the neutral shadows' thresholds (mlsm/inference/shadows.py): the default's outputs
without the step, then with each (LOW, HIGH) setting, PSNR against the references.

On the LOL validation split (low images JPEG'd at QF 90) and the synthetic Kodak24 set (QF 90
and 60), after the two data commands:

    python scripts/lol_val_folder.py
    mlsm data synth ../shared/data/photos/kodak24 data/kodak24_synth --qf 90 80 70 60 --seed 0
    python scripts/shadow_probe.py --settings 0.5,3 1,6 1,8 1,10 2,12
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.data.degrade import compress  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.inference.shadows import neutral_shadows  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_tensor  # noqa: E402
from mlsm.metrics import psnr  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _pairs(args) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Set name -> [(input, reference)], images loaded lazily per set."""
    lol = Path(args.lol)
    sets = {"LOL validation, QF 90": [(lambda p=p: compress(read_image(p)[0], 90)[0],
                                       lambda p=p: read_image(lol / "high" / p.name)[0])
                                      for p in sorted((lol / "low").iterdir())]}
    kodak = Path(args.kodak)
    for qf in (90, 60):
        sets[f"Kodak24, QF {qf}"] = [(lambda p=p: read_image(p)[0],
                                      lambda p=p: read_image(kodak / "gt" / f"{p.stem}.png")[0])
                                     for p in sorted((kodak / f"qf{qf}").iterdir())]
    return sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mlsm_small.real_exposure")
    parser.add_argument("--lol", default=str(ROOT / "data/lol_val/our485"))
    parser.add_argument("--kodak", default=str(ROOT / "data/kodak24_synth"))
    parser.add_argument("--settings", nargs="+", default=["1,6", "1,8", "1,10"], help="LOW,HIGH code values")
    args = parser.parse_args(argv)
    settings = [tuple(float(v) for v in item.split(",")) for item in args.settings]
    model = load_model(args.model, neutral_shadows=False)
    for name, pairs in _pairs(args).items():
        scores: dict[object, list[float]] = {setting: [] for setting in [None, *settings]}
        for load_input, load_reference in pairs:
            image, reference = to_tensor(load_input()), load_reference()
            out = model.enhance_tensor(image)
            for setting in scores:
                result = out if setting is None else neutral_shadows(image, out, *setting)
                pixels = np.round(result[0].permute(1, 2, 0).numpy() * 255.0) / 255.0
                scores[setting].append(psnr(pixels, reference))
        cells = [f"{'without' if s is None else f'{s[0]:g},{s[1]:g}'} {statistics.fmean(v):.2f}" for s, v in scores.items()]
        print(f"{name} ({len(pairs)}): PSNR dB " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
