"""Brightness on real dark photos against "do no harm" on clean ones, for a global rule.

Runs the default model (network only, its own brightness) on the real dark photos and on the 24
clean Kodak24 photos JPEG-compressed at QF 90, and fits a do-no-harm exposure head (LOL pairs
minus the validation list, the degradation-v2 photos of ``data/photos_v2``, each clean photo as
its own input; ``configs/mlsm_small_v2.yaml``'s exposure options, acting for implied exposures
0.02-1.5). The head's gain is faded in by the input's mean luma, from 0 at ``low`` to 1 at
``high``; for each fade the script prints the real photos' mean output luma and how many clean
photos stay within 0.1 of their mean luma (the two bars of issue 14), plus the implied exposure
the head reads for each group (why no global rule separates them).

    mlsm data photos --install && python scripts/brightness_tradeoff.py
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
FADES = ((None, None), (0.35, 0.45), (0.30, 0.42), (0.25, 0.40), (0.20, 0.35))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", default=str(ROOT.parent / "shared/data/real-dark"))
    parser.add_argument("--kodak", default=str(ROOT.parent / "shared/data/photos/kodak24"))
    args = parser.parse_args()
    import torch

    import mlsm
    from mlsm.config import load_config
    from mlsm.data.degrade import compress
    from mlsm.data.synthetic import load_photos
    from mlsm.io import read_image
    from mlsm.io.convert import to_array, to_tensor
    from mlsm.metrics import rgb_to_y
    from mlsm.models.exposure import scale_brightness
    from mlsm.train.cli import exposure_pairs
    from mlsm.train.experiment import Experiment
    from mlsm.train.exposure import ExposureOptions, fit_exposure_head

    torch.set_num_threads(1)
    experiment = load_config(Experiment, ROOT / "configs/mlsm_small_v2.yaml")
    options = ExposureOptions(**{**vars(experiment.exposure), "exposure_range": (0.02, 1.5)})
    head, _ = fit_exposure_head(load_photos([ROOT / p for p in experiment.data.photos]), experiment.data.ranges(),
                                options, experiment.train.seed, pairs=exposure_pairs(experiment.data))
    model = mlsm.load_model(calibrate_exposure=False)
    real = [read_image(p)[0] for p in sorted(Path(args.real).glob("*/*")) if p.suffix.lower() in (".jpg", ".png")]
    clean = [compress(read_image(p)[0], 90)[0] for p in sorted(Path(args.kodak).glob("*.png"))]
    real_out = [model.enhance(x) for x in real]
    clean_out = [model.enhance(x) for x in clean]

    def implied(x):
        features = head.features(to_tensor(x))
        return float(torch.exp(features[0, 0] - features[0] @ head.weight.double()))

    print(f"implied exposure, median: real {np.median([implied(x) for x in real]):.2f}, "
          f"clean Kodak24 QF 90 {np.median([implied(x) for x in clean]):.2f}")
    for low, high in FADES:
        def calibrated(x, out):
            if low is None:
                return out
            weight = float(np.clip((rgb_to_y(x).mean() - low) / (high - low), 0, 1))
            gain = torch.exp(head.log_gain(to_tensor(x), to_tensor(out)) * weight)
            return to_array(scale_brightness(to_tensor(out), gain))
        real_y = np.mean([rgb_to_y(calibrated(x, o)).mean() for x, o in zip(real, real_out)])
        shifts = [abs(rgb_to_y(calibrated(x, o)).mean() - rgb_to_y(x).mean()) for x, o in zip(clean, clean_out)]
        label = "no head" if low is None else f"fade over luma {low:.2f}-{high:.2f}"
        print(f"{label:28s} real mean Y {real_y:.3f}; clean photos within 0.1: {sum(s <= 0.1 for s in shifts)}/{len(shifts)}"
              f" (largest shift {max(shifts):.3f})")


if __name__ == "__main__":
    main()
