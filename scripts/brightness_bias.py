"""Where do PSNR differences come from? Global brightness versus everything else.

For each image of an eval set at one QF, runs each model and reports the PSNR, the ratio of
the output's mean to the ground truth's mean, and the PSNR after matching the output's
mean to the ground truth's (an oracle exposure): the gap between the two PSNRs is what a
wrong global brightness costs.

    python scripts/brightness_bias.py data/kodak24_synth --models mlsm_small.synth_dark_jpeg runs/ablation/direct.safetensors
"""
import argparse

import numpy as np

from mlsm.data.evalset import load_evalset
from mlsm.io import read_image
from mlsm.metrics import psnr
from mlsm.inference import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("evalset")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()
    items = load_evalset(args.evalset).items
    for name in args.models:
        model = load_model(name)
        rows = []
        for item in items:
            low, _ = read_image(item.low[args.quality])
            gt, _ = read_image(item.gt)
            out = model.enhance(low)
            ratio = float(out.mean() / gt.mean())
            matched = np.clip(out / ratio, 0, 1)
            rows.append((psnr(out, gt), ratio, psnr(matched, gt)))
        rows = np.array(rows)
        print(f"{name}: PSNR {rows[:, 0].mean():.2f} dB; mean(out)/mean(gt) median {np.median(rows[:, 1]):.2f} "
              f"(range {rows[:, 1].min():.2f}-{rows[:, 1].max():.2f}); PSNR with oracle brightness "
              f"{rows[:, 2].mean():.2f} dB", flush=True)


if __name__ == "__main__":
    main()
