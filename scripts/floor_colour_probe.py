"""Where the default loses PSNR on paired dark photos: its brightness floor and its colours.

Runs the default inference on a LOL-layout folder (the dark image JPEG-compressed at --qf) up to
the brightness floor, then scores the rest of the pipeline (floor, colour balance, input detail
transfer) with each variant of the last steps in place of the shipped ones:

* ``floor``: the shipped floor, no colour balance (the default before the colour balance);
* ``floor F=.. clip=..``: the floor at another level (natural-log linear mean) or largest gain;
* ``gamma lift``: the floor reached by a power curve in linear light instead of a gain;
* ``balance k=1``: the floor, then the input's own colour balance for every photo;
* ``balance (shipped)``: the floor, then the shipped colour balance (the head's floor share,
  full from a lift of ``RAMP``); ``balance ramp=..``: with another ramp;
* ``oracle brightness`` / ``oracle channels``: the reference's linear mean / channel means
  (not achievable: how much each part of the error weighs).

    python scripts/lol_val_folder.py
    python scripts/floor_colour_probe.py data/lol_val/our485 --qf 90     # the README's figures
    python scripts/floor_colour_probe.py ../shared/data/lol/our485 --qf 90 \
        --skip configs/splits/lol_our485_val.txt --skip-name 648      # the 449 training pairs

Prints one mean PSNR (dB, RGB, 8-bit outputs) per variant.
"""
from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mlsm  # noqa: E402
from mlsm.colour import linear_to_srgb, srgb_to_linear  # noqa: E402
from mlsm.data.folders import read_name_list  # noqa: E402
from mlsm.inference.balance import RAMP, cast_scale, keep_colour_balance  # noqa: E402
from mlsm.inference.detail import input_strength, transfer_detail  # noqa: E402
from mlsm.inference.tone import monotone_gain  # noqa: E402
from mlsm.io import encode_jpeg, read_image  # noqa: E402
from mlsm.models.exposure import channel_means, linear_mean, scale_brightness  # noqa: E402


def before_floor(model, image: torch.Tensor) -> torch.Tensor:
    """The default inference up to the brightness floor (a head without ``output_feature``)."""
    out = model.run_network(image)
    weight = model.keep_weight(image, out)
    out = model._calibrate(image, out, weight)
    return monotone_gain(image, out)


def psnr(out: torch.Tensor, reference: np.ndarray) -> float:
    pixels = np.round(out[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255) / 255
    return float(10 * np.log10(1.0 / np.mean((pixels - reference) ** 2)))


def gamma_to(out: torch.Tensor, target_log: float) -> torch.Tensor:
    """``out`` raised to the power in linear light that puts its linear mean at ``target_log``."""
    linear = srgb_to_linear(out.clamp(0, 1)).double().clamp_min(1e-6)
    low, high = 0.05, 1.0
    for _ in range(40):
        power = (low + high) / 2
        if math.log(float(linear.pow(power).mean())) > target_log:
            low = power
        else:
            high = power
    return linear_to_srgb(linear.pow(power)).float()


def channel_gains(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``out`` with each linear channel mean set to ``target``'s (the colour oracle)."""
    return scale_brightness(out, channel_means(target) / channel_means(out).clamp_min(1e-6))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="LOL-layout folder (low/, high/)")
    parser.add_argument("--qf", type=int, default=90, help="JPEG quality of the dark image (default 90)")
    parser.add_argument("--names", type=Path, default=None, help="file of image stems to use (default: all)")
    parser.add_argument("--skip", type=Path, default=None, help="file of image stems to leave out (a split list)")
    parser.add_argument("--skip-name", action="append", default=[], help="an image stem to leave out")
    parser.add_argument("--model", default=None, help="model name or path (default: the shipped default)")
    args = parser.parse_args(argv)

    model = mlsm.load_model(args.model)
    head = model.exposure_head
    if head is None or head.floor_log_mean is None or head.output_feature:
        print(f"floor_colour_probe: error: {args.model or 'the default'} has no brightness floor to probe",
              file=sys.stderr)
        return 2
    floor, max_log = head.floor_log_mean, math.log(head.max_gain)
    files = sorted((args.folder / "low").iterdir())
    if args.names is not None:
        keep = set(read_name_list(args.names))
        files = [f for f in files if f.stem in keep]
    skip = set(args.skip_name) | (set(read_name_list(args.skip)) if args.skip is not None else set())
    files = [f for f in files if f.stem not in skip]
    scores: dict[str, list[float]] = {}
    for low in files:
        reference = read_image(args.folder / "high" / low.name)[0].astype(np.float64)
        dark = np.round(read_image(low)[0] * 255).clip(0, 255).astype(np.uint8)
        decoded = np.asarray(Image.open(io.BytesIO(encode_jpeg(dark, args.qf))).convert("RGB"), np.float32) / 255
        image = torch.from_numpy(decoded).permute(2, 0, 1)[None]
        target = torch.from_numpy(reference.astype(np.float32)).permute(2, 0, 1)[None]
        with torch.no_grad():
            pre = before_floor(model, image)
        strength = input_strength(image)
        log_current = math.log(float(linear_mean(pre)))

        def lifted(level=floor, clip=max_log):
            gain = min(max(level - log_current, 0.0), clip)
            return (scale_brightness(pre, math.exp(gain)) if gain > 0 else pre), gain

        def score(name, out):
            scores.setdefault(name, []).append(psnr(transfer_detail(image, out, strength), reference))

        shipped, lift = lifted()
        score("floor", shipped)
        for level in (floor - 0.3, floor + 0.15):
            score(f"floor F={level:.2f} clip={max_log:.2f}", lifted(level)[0])
        for clip in (1.1, 1.7):
            score(f"floor F={floor:.2f} clip={clip:.2f}", lifted(clip=clip)[0])
        score("gamma lift", gamma_to(pre, floor) if log_current < floor else pre)
        score("balance k=1", keep_colour_balance(image, shipped, 1.0))
        score("balance (shipped)", keep_colour_balance(image, shipped, cast_scale(torch.tensor([lift]), head.floor_chroma)))
        for ramp in (2 * RAMP, 4 * RAMP):
            share = cast_scale(torch.tensor([lift * RAMP / ramp]), head.floor_chroma)
            score(f"balance ramp={ramp:.2f}", keep_colour_balance(image, shipped, share))
        score("oracle brightness", scale_brightness(pre, float(linear_mean(target) / linear_mean(pre))))
        score("oracle channels", channel_gains(pre, target))
    print(f"{len(files)} pairs of {args.folder} at QF {args.qf}, mean PSNR (dB):")
    for name, values in scores.items():
        print(f"  {name:32s} {np.mean(values):6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
