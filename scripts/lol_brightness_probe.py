"""How much of mlsm's LOL error is global brightness, and can a whole-image statistic predict it?

On the 35 LOL validation pairs (``configs/splits/lol_our485_val.txt``, the dark photo
JPEG-compressed at ``--quality``), for each model's network output (no exposure head, one
pass): PSNR as it is, with an oracle gain (the output scaled in linear light to the
reference's mean), with a per-channel affine oracle (gain and offset: what a lifted black level
costs), and with a constant target brightness (the best any predictor that cannot see the
reference can do when the reference brightness is unpredictable). Also, over the LOL training
pairs: how well the dark photo's brightness predicts the reference's (correlation of the log
linear means; ridge regression on the exposure head's features, held-out RMSE, against a
constant).

    python scripts/lol_brightness_probe.py mlsm_small.synth_dark_jpeg runs/v3/best.safetensors
    python scripts/lol_brightness_probe.py mlsm_small.synth_dark_jpeg --context 0    # whole photos
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.colour import srgb_to_linear  # noqa: E402
from mlsm.data.degrade import compress  # noqa: E402
from mlsm.data.folders import find_named_pairs  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_array, to_tensor  # noqa: E402
from mlsm.metrics import psnr  # noqa: E402
from mlsm.models.exposure import ExposureHead, scale_brightness  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONSTANTS = (-2.0, -1.8, -1.6, -1.4)


def gained(image: np.ndarray, gain: float) -> np.ndarray:
    """``image`` times ``gain`` in linear light, clipped (:func:`mlsm.models.exposure.scale_brightness`)."""
    return to_array(scale_brightness(to_tensor(image), gain))


def affine(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    channels = [np.polyval(np.polyfit(output[..., c].ravel(), reference[..., c].ravel(), 1), output[..., c])
                for c in range(3)]
    return np.clip(np.stack(channels, -1), 0, 1)


def predictability(pairs, validation: set[str], seed: int = 0) -> str:
    head = ExposureHead()
    train = [(low, high) for name, low, high in pairs if name not in validation]
    target = np.array([np.log(srgb_to_linear(high).mean()) for _, high in train])
    source = np.array([np.log(srgb_to_linear(low).mean()) for low, _ in train])
    features = torch.stack([head.features(to_tensor(low))[0] for low, _ in train]).numpy()
    order = np.random.default_rng(seed).permutation(len(train))
    fit, test = order[: len(order) * 3 // 4], order[len(order) * 3 // 4:]
    a = features[fit]
    weight = np.linalg.solve(a.T @ a + 10.0 * np.eye(a.shape[1]), a.T @ target[fit])
    ridge = np.sqrt(((features[test] @ weight - target[test]) ** 2).mean())
    constant = np.sqrt(((target[test] - target[fit].mean()) ** 2).mean())
    return (f"LOL training pairs ({len(train)}): reference log linear mean {target.mean():.2f} +- {target.std():.2f}; "
            f"correlation with the dark photo's {np.corrcoef(target, source)[0, 1]:.3f}; held-out RMSE "
            f"ridge on the head's features {ridge:.3f} vs constant {constant:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="zoo names or .safetensors files")
    parser.add_argument("--lol", default=str(ROOT.parent / "shared/data/lol/our485"))
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--context", type=int, default=None,
                        help="window side the network runs on (default: the weight file's; 0: whole photos)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    validation = {line.strip() for line in (ROOT / "configs/splits/lol_our485_val.txt").read_text().splitlines()
                  if line.strip() and not line.startswith("#")}
    pairs = [(pair.name, read_image(pair.low)[0], read_image(pair.high)[0])
             for pair in find_named_pairs(args.lol) if pair.name != "648"]
    print(predictability(pairs, validation), flush=True)
    held_out = [(compress(low, args.quality)[0], high) for name, low, high in pairs if name in validation]
    for name in args.models:
        model = load_model(name, calibrate_exposure=False, shift_ensemble=False, context=args.context)
        rows = []
        for low, high in held_out:
            out = model.enhance(low)
            mean = srgb_to_linear(out).mean()
            rows.append([psnr(out, high), psnr(gained(out, srgb_to_linear(high).mean() / mean), high),
                         psnr(affine(out, high), high)] + [psnr(gained(out, np.exp(c) / mean), high) for c in CONSTANTS])
        means = np.mean(rows, axis=0)
        constants = ", ".join(f"{c}: {v:.2f}" for c, v in zip(CONSTANTS, means[3:]))
        print(f"{name}: LOL val QF {args.quality} PSNR {means[0]:.2f} dB; oracle gain {means[1]:.2f}; oracle affine "
              f"{means[2]:.2f}; constant target log mean ({constants})", flush=True)


if __name__ == "__main__":
    main()
