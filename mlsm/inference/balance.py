"""Colour balance: the output keeps the photo's global colour balance (and, where the
brightness floor lifts a photo, a LOL-fitted share of its colour cast).

Why it exists. The network amplifies a dark photo's colour cast: on our LOL validation split
at QF 90 a blue room whose input log-chroma (below) is -0.53 in blue comes out at -0.84, and
its normal-light reference sits at -0.09. Brightening should not recolour a photo; and LOL's
real short exposures carry a cast their normal exposures do not: over the 449 training pairs the
normal-light log-chroma is best fitted by 0.40 times the (JPEG'd) dark image's (residual 0.0052
against 0.0265 for the dark image's own; on the synthetic Kodak24 set the slope is 1.01, a
global darkening keeps the colours).

What it computes, per image (``x`` the input, ``y`` the output so far, RGB in [0, 1])::

    c(z)  = log(mean lin(z_R), mean lin(z_G), mean lin(z_B)) minus their mean    log-chroma
    k     = 1 - w (1 - floor_chroma)      w = min(floor's log gain / RAMP, 1)
    g     = exp(k c(x) - c(y))             per-channel linear gains (each within x2 and /2),
    out   = sRGB(lin(y) * g * sum(m) / sum(g m))     normalised to keep y's linear mean (m: y's channel means)

``k`` is 1 (the input's own balance) for a photo the brightness floor does not lift, and the
exposure head's ``floor_chroma`` (fitted on the pairs with the floor, :func:`mlsm.train.exposure.fit_keep_gate`)
for one it lifts by ``RAMP`` or more: the floor and this share are the two LOL priors for photos
darker than the synthetic training range. Measured (offline on the default's outputs before the
floor, then the whole inference in ``mlsm eval``; README tables): LOL validation at QF 90
20.96 -> 21.18 dB PSNR with k = 1 everywhere, 21.38 with the floor's share; Kodak24 (all 24,
QF 90) 22.98 -> 23.09 with k = 1, 22.92 with the share (5 of its 24 photos are lifted by the floor).
"""
from __future__ import annotations

import math

import torch

from mlsm.colour import linear_to_srgb, srgb_to_linear

__all__ = ["RAMP", "MAX_LOG_GAIN", "log_chroma", "cast_scale", "keep_colour_balance"]

RAMP = 0.25
"""Natural-log floor gain over which ``k`` goes from 1 to the head's ``floor_chroma``."""
MAX_LOG_GAIN = math.log(2.0)
"""Largest per-channel correction (natural log): a near-black input's chroma is mostly noise."""
_ROWS = 256
_EPS = 1e-6


def _channel_means(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB -> (N, 3) float64 linear-light channel means, in row chunks."""
    total = sum(srgb_to_linear(image[:, :, top:top + _ROWS].float()).double().sum((2, 3))
                for top in range(0, image.shape[-2], _ROWS))
    return total / (image.shape[-2] * image.shape[-1])


def log_chroma(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB -> (N, 3) float64: log linear channel means minus their mean (0 0 0:
    neutral grey on average)."""
    logs = _channel_means(image).clamp_min(_EPS).log()
    return logs - logs.mean(1, keepdim=True)


def cast_scale(floor_log_gain: torch.Tensor, floor_chroma: float | None) -> torch.Tensor:
    """(N,) ``k`` from the brightness floor's log gain (N,): 1 where the floor does not lift,
    ``floor_chroma`` from a lift of :data:`RAMP` on (1 everywhere without one)."""
    floor_log_gain = torch.as_tensor(floor_log_gain, dtype=torch.float64)
    if floor_chroma is None:
        return torch.ones_like(floor_log_gain)
    weight = (floor_log_gain / RAMP).clamp(0.0, 1.0)
    return 1.0 - weight * (1.0 - float(floor_chroma))


@torch.no_grad()
def keep_colour_balance(image: torch.Tensor, enhanced: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) with its global log-chroma set to ``scale`` (a number or (N,))
    times ``image``'s, by per-channel linear-light gains normalised to keep its linear mean (the
    brightness the exposure head and the floor set); a new tensor, clipped to [0, 1]."""
    scale = torch.as_tensor(scale, dtype=torch.float64).reshape(-1, 1)
    means = _channel_means(enhanced)
    logs = means.clamp_min(_EPS).log()
    correction = (scale * log_chroma(image) - (logs - logs.mean(1, keepdim=True))).clamp(-MAX_LOG_GAIN, MAX_LOG_GAIN)
    gains = correction.exp()
    gains = gains * means.sum(1, keepdim=True) / (gains * means).sum(1, keepdim=True).clamp_min(_EPS)  # same light
    gains = gains.to(torch.float32).reshape(-1, 3, 1, 1).to(enhanced.device)
    result = torch.empty_like(enhanced)
    for top in range(0, enhanced.shape[-2], _ROWS):
        rows = enhanced[:, :, top:top + _ROWS].float()
        result[:, :, top:top + _ROWS] = linear_to_srgb((srgb_to_linear(rows) * gains).clamp_(0.0, 1.0)).to(enhanced.dtype)
    return result
