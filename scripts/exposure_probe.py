"""How the exposure head's design was chosen, and what each choice is worth.

Part 1 (training photos only): 5-fold cross-validation, grouped by photo, of the RMSE of the
predicted log linear mean for each luminance grid, feature subset and ridge penalty; also
the RMSE of a constant and of the input's log mean alone.

Part 2 (an eval set, one QF): PSNR of a network's output (run without any head) as it is,
with its mean set to a constant (the training photos' mean), and scaled by heads fitted with
each grid / feature subset (ridge 1), plus the oracle (the ground truth's mean).

    python scripts/exposure_probe.py --model runs/ablation/mlsm_no_head.safetensors \
        --evalset data/kodak24_synth --quality 90
"""
import argparse
import math
from pathlib import Path

import numpy as np
import torch

from mlsm.colour import srgb_to_linear
from mlsm.data.degrade import DegradationRanges, degrade, sample_params
from mlsm.data.evalset import load_evalset
from mlsm.data.synthetic import load_photos
from mlsm.io import read_image
from mlsm.metrics import psnr
from mlsm.models.exposure import PERCENTILES, ExposureHead, scale_brightness
from mlsm.inference import load_model

GRIDS = {"pixels": 10 ** 9, "15625 cells": 15625, "4096 cells": 4096}
# feature columns: 0 log mean, 1..10 the PERCENTILES, 11 constant
SUBSETS = {"all": list(range(12)), "<= p99.9": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11],
           "<= p99.5": [0, 1, 2, 3, 4, 5, 6, 7, 11], "<= p99": [0, 1, 2, 3, 4, 5, 11]}


def ridge(a: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    return np.linalg.solve(a.T @ a + penalty * np.eye(a.shape[1]), a.T @ y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", nargs="+", default=["../shared/data/photos/cbsd68", "../shared/data/photos/mcmaster"])
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="weights run without a head for part 2")
    parser.add_argument("--evalset")
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--real", nargs="+", help="folders of real dark photos: part 3 only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.real:
        real_photos(args.real)
        return

    photos = load_photos([Path(p) for p in args.photos])
    heads = {name: ExposureHead(cells, PERCENTILES) for name, cells in GRIDS.items()}
    rng = np.random.default_rng(args.seed)
    features = {name: [] for name in heads}
    targets, groups = [], []
    for index, photo in enumerate(photos):
        target = math.log(float(srgb_to_linear(photo).mean()))
        for _ in range(args.draws):
            dark = torch.from_numpy(degrade(photo, sample_params(rng, DegradationRanges()), rng)).permute(2, 0, 1)[None]
            for name, head in heads.items():
                features[name].append(head.features(dark)[0].numpy())
            targets.append(target)
            groups.append(index)
    y, groups = np.array(targets), np.array(groups)
    folds = np.random.default_rng(args.seed).permutation(len(photos)) % 5

    print(f"Part 1: 5-fold CV over {len(photos)} photos x {args.draws} degradations, RMSE of the log mean")
    print(f"constant: {np.std(y):.3f}")
    for grid, values in features.items():
        x = np.array(values)
        for subset, columns in {**SUBSETS, "log mean only": [0, 11]}.items():
            for penalty in (1e-2, 1.0):
                errors = []
                for fold in range(5):
                    test = folds[groups] == fold
                    w = ridge(x[~test][:, columns], y[~test], penalty)
                    errors.append(x[test][:, columns] @ w - y[test])
                rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
                print(f"{grid:12s} {subset:14s} ridge {penalty:g}: {rmse:.3f}")

    if not (args.model and args.evalset):
        return
    print(f"\nPart 2: {args.model} on {args.evalset} at QF {args.quality}, mean PSNR")
    model = load_model(args.model, calibrate_exposure=False)
    items = load_evalset(args.evalset).items
    lows = [torch.from_numpy(read_image(item.low[args.quality])[0]).permute(2, 0, 1)[None] for item in items]
    gts = [read_image(item.gt)[0] for item in items]
    outs = [model.enhance_tensor(low) for low in lows]

    def scaled(out: torch.Tensor, log_mean: float) -> np.ndarray:
        """``out`` with its linear-light mean set to ``exp(log_mean)``, as (H, W, 3)."""
        gain = math.exp(log_mean) / float(srgb_to_linear(out.numpy()).mean())
        return scale_brightness(out, gain)[0].permute(1, 2, 0).numpy()

    report = {"network as is": [psnr(o[0].permute(1, 2, 0).numpy(), g) for o, g in zip(outs, gts)],
              "oracle mean": [psnr(scaled(o, math.log(srgb_to_linear(g).mean())), g) for o, g in zip(outs, gts)]}
    constant = float(np.mean([srgb_to_linear(p).mean() for p in photos]))
    report["constant mean (training photos)"] = [psnr(scaled(o, math.log(constant)), g) for o, g in zip(outs, gts)]
    for grid, head in heads.items():
        x = np.array(features[grid])
        for subset, columns in SUBSETS.items():
            w = ridge(x[:, columns], y, 1.0)
            predicted = [float(head.features(low)[0].numpy()[columns] @ w) for low in lows]
            report[f"head {grid}, {subset}"] = [psnr(scaled(o, p), g) for o, p, g in zip(outs, predicted, gts)]
    for name, values in report.items():
        print(f"{name:40s} {np.mean(values):.2f} dB")


def real_photos(folders) -> None:
    """Part 3: on real dark photos, how much does the shipped head change the brightness?"""
    from mlsm.io import iter_image_files

    model = load_model(calibrate_exposure=False)
    head = model.metadata["exposure_head"]
    changed, total = 0, 0
    for path in iter_image_files(folders):
        image = torch.from_numpy(read_image(path)[0]).permute(2, 0, 1)[None]
        if image.shape[-1] * image.shape[-2] > 4_000_000:
            continue
        raw = model.enhance_tensor(image)
        calibrated = head.calibrate(image, raw)
        ratio = float(srgb_to_linear(calibrated.numpy()).mean() / srgb_to_linear(raw.numpy()).mean())
        total += 1
        changed += abs(ratio - 1) > 0.01
        print(f"{path}: calibrated / network linear mean {ratio:.3f}")
    print(f"Part 3: the head changed the brightness of {changed} of {total} real photos by more than 1 %")


if __name__ == "__main__":
    main()
