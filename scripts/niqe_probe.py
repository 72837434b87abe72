"""What NIQE reads in mlsm's output on real dark photos: detail, noise or brightness?

For the first ``--count`` DICM photos, NIQE of the default model's output and of simple changes
to it: a light Gaussian blur, a 2x bicubic down-and-up resampling, added noise of 1 and 2 grey
levels, 1.5x brighter (linear light), and the dark input itself scaled to the output's
brightness (no denoising at all).

    python scripts/niqe_probe.py --count 14
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.colour import srgb_to_linear  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_array, to_tensor  # noqa: E402
from mlsm.models.exposure import scale_brightness  # noqa: E402
from mlsm.niqe import niqe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def gained(image: np.ndarray, gain: float) -> np.ndarray:
    """``image`` times ``gain`` in linear light, clipped (:func:`mlsm.models.exposure.scale_brightness`)."""
    return to_array(scale_brightness(to_tensor(image), gain))


def down_up(image: np.ndarray) -> np.ndarray:
    from PIL import Image
    h, w = image.shape[:2]
    pil = Image.fromarray((image * 255).round().astype(np.uint8))
    return np.asarray(pil.resize((w // 2, h // 2), Image.BICUBIC).resize((w, h), Image.BICUBIC)) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=str(ROOT.parent / "shared/data/real-dark/dicm"))
    parser.add_argument("--count", type=int, default=14)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    import torch
    from scipy.ndimage import gaussian_filter

    import mlsm

    torch.set_num_threads(1)
    model = mlsm.load_model(args.model)
    rng = np.random.default_rng(0)
    variants = {
        "output": lambda x, o: o,
        "blur 0.5 px": lambda x, o: gaussian_filter(o, (0.5, 0.5, 0)),
        "2x down-up": lambda x, o: down_up(o),
        "noise 1/255": lambda x, o: np.clip(o + rng.normal(0, 1 / 255, o.shape), 0, 1),
        "noise 2/255": lambda x, o: np.clip(o + rng.normal(0, 2 / 255, o.shape), 0, 1),
        "1.5x brighter": lambda x, o: gained(o, 1.5),
        "input at the output's brightness": lambda x, o: gained(x, srgb_to_linear(o).mean() / max(srgb_to_linear(x).mean(), 1e-4)),
    }
    scores = {name: [] for name in variants}
    for path in sorted(Path(args.photos).iterdir())[: args.count]:
        image = read_image(path)[0]
        out = model.enhance(image)
        for name, change in variants.items():
            scores[name].append(niqe(change(image, out)))
    for name, values in scores.items():
        print(f"{name:34s} NIQE {np.nanmean(values):.3f}")


if __name__ == "__main__":
    main()
