"""Would fading the monotone gain's floor where the input holds few code values cure DICM 12's
cloudy black sky, and at what cost?

The monotone gain (``mlsm/inference/tone.py``) floors each tone's local gain at the brighter
tones'; in a near-black sky (input 0-5 code values) that turns the file's 0 / 1 / 2 quantisation
into faint clouds (``scripts/region_probe.py``). The variant tried here scales the lift
``max(G, f) / G`` towards 1 by the neutral shadows' confidence (0 at 1 code value, 1 from 8:
:func:`mlsm.inference.shadows.confidence_of_local_luma`). Printed for the shipped rule and the
variant: DICM 12's sky (rows 20:140, columns 430:630; mean luma, spread of its sigma-4 blur,
finer spread, code values), PSNR on the 35 LOL validation pairs at QF 90 and as stored (quality
98), and on the first 8 synthetic Kodak24 inputs at QF 90.

    python scripts/lol_val_folder.py
    mlsm data synth ../shared/data/photos/kodak24 data/kodak24_synth --qf 90 80 70 60 --seed 0
    python scripts/tone_fade_probe.py

Measured (2026-12-04, inference revision 9): the sky's clouds 2.57 -> 0.43, but LOL at QF 90
21.41 -> 21.09 dB and as stored 21.58 -> 21.15 (Kodak24 23.37 -> 23.40): LOL's references lift
those tones, so the variant was not taken.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mlsm.inference.base as base  # noqa: E402
import mlsm.inference.tone as tone  # noqa: E402
from mlsm.colour import linear_to_srgb, srgb_to_linear  # noqa: E402
from mlsm.data.degrade import compress  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.inference.maps import interp, local_gain, luma  # noqa: E402
from mlsm.inference.shadows import confidence_of_local_luma, local_luma  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import quantize_8bit, to_array, to_tensor  # noqa: E402
from mlsm.metrics import psnr  # noqa: E402
from region_probe import region_spread  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SKY = ROOT.parent / "shared" / "data" / "real-dark" / "dicm" / "12.jpg"
SKY_BOX = (20, 430, 140, 630)


@torch.no_grad()
def faded_monotone_gain(image: torch.Tensor, enhanced: torch.Tensor) -> torch.Tensor:
    """:func:`mlsm.inference.tone.monotone_gain` with its lift faded where the input holds few codes."""
    out = torch.empty_like(enhanced)
    for n in range(image.shape[0]):
        confidence = confidence_of_local_luma(local_luma(image[n:n + 1]))
        x_lin = srgb_to_linear(image[n:n + 1].clamp(0.0, 1.0))
        y_lin = srgb_to_linear(enhanced[n:n + 1].clamp(0.0, 1.0))
        log_input, gain = local_gain(luma(x_lin), luma(y_lin), with_level=True)
        centres, floor = tone.gain_floor(log_input, gain)
        lift = interp(log_input, centres, floor).div_(gain).clamp_min_(1.0).sub_(1.0).mul_(confidence).add_(1.0)
        out[n:n + 1] = linear_to_srgb(y_lin.mul_(lift).clamp_(0.0, 1.0)).clamp_(0.0, 1.0)
    return out


def main() -> int:
    model = load_model("mlsm_small.real_exposure")
    lol = ROOT / "data" / "lol_val" / "our485"
    kodak = ROOT / "data" / "kodak24_synth"
    lows, kodak_inputs = sorted((lol / "low").iterdir()), sorted((kodak / "qf90").iterdir())[:8]
    original = base.monotone_gain
    print("| rule | DICM 12 sky: mean / clouds / finer | LOL QF 90 | LOL as stored | Kodak24 (8) QF 90 |")
    print("|---|---|---:|---:|---:|")
    try:
        for name, rule in (("shipped", original), ("faded under 8 codes", faded_monotone_gain)):
            base.monotone_gain = rule
            sky = region_spread(model.enhance_tensor(to_tensor(read_image(SKY)[0])), SKY_BOX)
            scores = []
            for degrade in (lambda a: compress(a, 90)[0], lambda a: a):
                scores.append(statistics.fmean(
                    psnr(quantize_8bit(to_array(model.enhance_tensor(to_tensor(degrade(read_image(p)[0]))))),
                         read_image(lol / "high" / p.name)[0]) for p in lows))
            scores.append(statistics.fmean(
                psnr(quantize_8bit(to_array(model.enhance_tensor(to_tensor(read_image(p)[0])))),
                     read_image(kodak / "gt" / f"{p.stem}.png")[0]) for p in kodak_inputs))
            print(f"| {name} | {sky[0]:.2f} / {sky[1]:.2f} / {sky[2]:.2f} | {scores[0]:.3f} | {scores[1]:.3f} | "
                  f"{scores[2]:.3f} |", flush=True)
    finally:
        base.monotone_gain = original
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
