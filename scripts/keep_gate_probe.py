"""Where a model's keep gate (``--keep-well-exposed``) puts photos it never saw, and what the
real-photo scorecard says on each group.

For the clean Kodak24 photos at JPEG QF 90, the synthetic Kodak24 inputs (every QF), the LOL
validation low images at QF 90 and the real dark photos: the gate's probability (min / median /
max) and how many it keeps fully, blends or leaves untouched. With ``--scorecard`` (an
``mlsm eval scorecard`` of the real photos) it also prints each method's mean NIQE and mean Y
over the real photos the gate keeps, blends and leaves untouched.

With ``--kodak-scorecard`` too (the do-no-harm scorecard of the clean Kodak24 photos at QF 90) it
prints why the two brightness bars cannot both hold by default: the peers' median lift (output
mean Y minus input mean Y) per band of input mean Y on each set, and the largest pooled mean Y
of the real photos reachable when every photo the gate keeps may rise by at most the do-no-harm
tolerance (0.1) and every other photo gets the default's output, against the peers' median.

    python scripts/lol_val_folder.py
    mlsm data synth ../shared/data/photos/kodak24 data/kodak24_synth --qf 90 80 70 60 --seed 0
    python scripts/keep_gate_probe.py mlsm_small.real_exposure \
        --scorecard docs/results/scorecard_real73/scorecard.json \
        --kodak-scorecard docs/results/scorecard_kodak24_q90/scorecard.json
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
from mlsm.inference.detail import noise_sigma  # noqa: E402
from mlsm.inference.maps import luma  # noqa: E402
from mlsm.io.convert import to_tensor  # noqa: E402
from mlsm.models.zoo import load_network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
TOLERANCE = 0.1  # do no harm: output mean Y within this of the input's
BANDS = ((0.0, 0.25), (0.25, 0.35), (0.35, 0.45), (0.45, 0.55), (0.55, 1.0))


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="zoo name or .safetensors with a keep gate")
    parser.add_argument("--kodak", default=str(ROOT / "data/kodak24_synth"))
    parser.add_argument("--lol", default=str(ROOT / "data/lol_val/our485"))
    parser.add_argument("--real", nargs="*", default=[str(SHARED / "real-dark/dicm"), str(SHARED / "real-dark/lime")])
    parser.add_argument("--scorecard", help="scorecard.json of the real photos")
    parser.add_argument("--kodak-scorecard", help="scorecard.json of the clean Kodak24 photos at QF 90 (with --scorecard)")
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
    if args.kodak_scorecard:
        kodak_records = json.loads(Path(args.kodak_scorecard).read_text())["records"]
        brightness_conflict(mean_ys(records), mean_ys(kodak_records), weights)
        other_cues(sets["Kodak24 clean, QF 90"], [(p, i) for p, i in zip(real, sets["real dark photos"])
                                                     if weights[str(p.resolve())] == 1])


def other_cues(clean: list[np.ndarray], kept: list[tuple[Path, np.ndarray]]) -> None:
    """Print whether noise or EXIF tells the real photos the gate keeps from the clean ones:
    the luma noise sigma (Immerkaer, 8-bit units) of each set, and how many kept files carry
    an exposure time or ISO in their EXIF."""
    from PIL import ExifTags, Image

    def sigma(image: np.ndarray) -> float:
        return 255.0 * float(noise_sigma(luma(to_tensor(image)))[0])

    clean_sigmas = [sigma(image) for image in clean]
    kept_sigmas = [sigma(image) for _, image in kept]
    noisier = sum(value > min(clean_sigmas) for value in kept_sigmas)
    print(f"\nluma noise sigma (8-bit): clean Kodak24 QF 90 min {min(clean_sigmas):.2f} median "
          f"{statistics.median(clean_sigmas):.2f}; kept real photos min {min(kept_sigmas):.2f} median "
          f"{statistics.median(kept_sigmas):.2f}, {noisier} of {len(kept)} above the clean photos' min")
    tags = (ExifTags.Base.ExposureTime, ExifTags.Base.ISOSpeedRatings)
    with_exposure = 0
    for path, _ in kept:
        with Image.open(path) as image:
            exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
        with_exposure += any(tag in exif for tag in tags)
    print(f"kept real photos with an exposure time or ISO in their EXIF: {with_exposure} of {len(kept)}")


def mean_ys(records: list[dict]) -> dict[str, dict[str, float]]:
    """method -> {source path (resolved): output mean Y}, the first record of each kept."""
    table: dict[str, dict[str, float]] = {}
    for record in records:
        if record.get("mean_y") is not None and not record.get("error"):
            table.setdefault(record["method"], {}).setdefault(str((ROOT / record["source"]).resolve()), record["mean_y"])
    return table


def brightness_conflict(real: dict, kodak: dict, weights: dict[str, float], default: str = "mlsm") -> None:
    """Print the peers' lift per input-brightness band on both sets, and the best mean Y on the
    real photos a do-no-harm default could reach (see the module docstring)."""
    peers = sorted(m for m in real if m != "input" and not m.startswith("mlsm") and m in kodak)

    def lifts(table: dict, band: tuple[float, float]) -> list[float]:
        inputs = {s: y for s, y in table["input"].items() if band[0] <= y < band[1]}
        return [statistics.median(table[m][s] for m in peers if s in table[m]) - y for s, y in inputs.items()]

    print(f"\npeers' median lift of mean Y ({len(peers)} peers) by input mean Y: real photos | clean Kodak24 QF 90")
    for band in BANDS:
        cells = []
        for table in (real, kodak):
            values = lifts(table, band)
            cells.append(f"n={len(values):2d} {statistics.median(values):+.3f}" if values else "n= 0")
        print(f"  Y {band[0]:.2f}-{band[1]:.2f}: {cells[0]:>12s} | {cells[1]:>12s}")
    peer_median = statistics.median(statistics.fmean(real[m].values()) for m in peers)
    outputs, kept = [], 0
    for source, y_in in real["input"].items():
        y_out = real[default][source]
        if weights.get(source) == 1:
            kept += 1
            y_out = min(y_out, y_in + TOLERANCE)
        outputs.append(y_out)
    print(f"\nreal photos: mean Y with the {kept} kept photos lifted by at most {TOLERANCE} (the rest as {default}): "
          f"{statistics.fmean(outputs):.3f}; {default} {statistics.fmean(real[default].values()):.3f}; "
          f"peers' median {peer_median:.3f}")


if __name__ == "__main__":
    main()
