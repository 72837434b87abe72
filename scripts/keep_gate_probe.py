"""Where a model's keep gate (``--keep-well-exposed``) puts photos it never saw, and what the
real-photo scorecard says on each group.

For the clean Kodak24 photos at JPEG QF 90, the synthetic Kodak24 inputs (every QF), the LOL
validation low images at QF 90 and the real dark photos: the gate's probability (min / median /
max) and how many it keeps fully, blends or leaves untouched. With ``--scorecard`` (an
``mlsm eval scorecard`` of the real photos) it also prints each method's mean NIQE and mean Y
over the real photos the gate keeps, blends and leaves untouched.

    python scripts/lol_val_folder.py
    mlsm data synth ../shared/data/photos/kodak24 data/kodak24_synth --qf 90 80 70 60 --seed 0
    python scripts/keep_gate_probe.py mlsm_small.real_exposure \
        --scorecard docs/results/scorecard_real73/scorecard.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.data.degrade import compress  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_tensor  # noqa: E402
from mlsm.models.zoo import load_network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="zoo name or .safetensors with a keep gate")
    parser.add_argument("--kodak", default=str(ROOT / "data/kodak24_synth"))
    parser.add_argument("--lol", default=str(ROOT / "data/lol_val/our485"))
    parser.add_argument("--real", nargs="*", default=[str(SHARED / "real-dark/dicm"), str(SHARED / "real-dark/lime")])
    parser.add_argument("--scorecard", help="scorecard.json of the real photos")
    args = parser.parse_args()
    head = load_network(args.model)[1]["exposure_head"]
    if head is None or head.keep_gate is None:
        parser.error(f"{args.model}: no keep gate")

    def probability(image: np.ndarray) -> tuple[float, float]:
        tensor = to_tensor(image)
        return 1.0 / (1.0 + np.exp(-float(head.keep_logit(tensor)[0]))), float(head.input_weight(tensor, tensor)[0])

    kodak = Path(args.kodak)
    sets = {
        "Kodak24 clean, QF 90": [compress(read_image(p)[0], 90)[0] for p in images(SHARED / "photos/kodak24")],
        "Kodak24 synthetic, every QF": [read_image(p)[0] for q in (90, 80, 70, 60) for p in images(kodak / f"qf{q}")],
        "LOL validation low, QF 90": [compress(read_image(p)[0], 90)[0] for p in images(Path(args.lol) / "low")],
    }
    real = [p for folder in args.real for p in images(Path(folder))]
    sets["real dark photos"] = [read_image(p)[0] for p in real]
    weights = {}
    for name, group in sets.items():
        values = [probability(image) for image in group]
        p, w = np.array([v[0] for v in values]), np.array([v[1] for v in values])
        print(f"{name} ({len(group)}): p min {p.min():.3f} median {np.median(p):.3f} max {p.max():.3f}; "
              f"kept {(w == 1).sum()}, blended {((w > 0) & (w < 1)).sum()}, untouched {(w == 0).sum()}")
        if name == "real dark photos":
            weights = {str(path.resolve()): value for path, value in zip(real, w)}
    if not args.scorecard:
        return
    records = json.loads(Path(args.scorecard).read_text())["records"]
    groups = {"untouched": lambda w: w == 0, "blended": lambda w: 0 < w < 1, "kept": lambda w: w == 1}
    for group, test in groups.items():
        print(f"\nreal photos the gate leaves {group}: method, mean NIQE, mean Y")
        by_method: dict[str, list[dict]] = {}
        for record in records:
            weight = weights.get(str((ROOT / record["source"]).resolve()))
            if weight is not None and test(weight) and record.get("niqe") is not None:
                by_method.setdefault(record["method"], []).append(record)
        for method, rows in sorted(by_method.items()):
            print(f"  {method:40s} n={len(rows):2d}  NIQE {statistics.mean(r['niqe'] for r in rows):.3f}  "
                  f"Y {statistics.mean(r['mean_y'] for r in rows):.3f}")


if __name__ == "__main__":
    main()
