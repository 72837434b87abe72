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
    g     = exp(k c(x) - c(y))             per-channel linear gains (each clipped to x2 and /2),
    out   = sRGB(lin(y) * g * sum(w m) / sum(w g m))   normalised to keep y's mean linear luminance
                                                      (m: y's channel means, w: the BT.601 weights)

``k`` is 1 (the input's own balance) for a photo the brightness floor does not lift, and the
exposure head's ``floor_chroma`` (fitted on the pairs with the floor, :func:`mlsm.train.exposure.fit_keep_gate`)
for one it lifts by ``RAMP`` or more: the floor and this share are the two LOL priors for photos
darker than the synthetic training range. Measured (README tables; ``mlsm eval run`` with
``mlsm[colour_balance=false]`` as the ablation): LOL validation 20.96 -> 21.25 dB PSNR at QF 90
(20.29 -> 20.53 at QF 60); Kodak24 (all 24) 22.98 -> 22.71 at QF 90 (the share, on the 5 photos the
floor lifts: their synthetic darkening kept the colours). ``scripts/floor_colour_probe.py`` replays
the variants on the outputs before the floor (k = 1 for every photo, other ramps, oracles).
"""
from __future__ import annotations

import math

import torch

from mlsm.colour import BT601_LUMA
from mlsm.models.exposure import channel_means, scale_brightness

__all__ = ["RAMP", "MAX_LOG_GAIN", "log_chroma", "cast_scale", "keep_colour_balance", "set_colour_balance",
           "target_chroma"]

RAMP = 0.25
"""Natural-log floor gain over which ``k`` goes from 1 to the head's ``floor_chroma``."""
MAX_LOG_GAIN = math.log(2.0)
"""Largest per-channel correction (natural log): a near-black input's chroma is mostly noise."""
_EPS = 1e-6


def _chroma(means: torch.Tensor) -> torch.Tensor:
    """(N, 3) linear channel means -> their log-chroma (logs minus their mean)."""
    logs = means.clamp_min(_EPS).log()
    return logs - logs.mean(1, keepdim=True)


def log_chroma(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB -> (N, 3) float64: log linear channel means minus their mean (0 0 0:
    neutral grey on average)."""
    return _chroma(channel_means(image).cpu())


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
    times ``image``'s, by per-channel linear-light gains normalised to keep its mean linear
    luminance (BT.601 weights: a change of colour, not of brightness); a new tensor, clipped to [0, 1]."""
    return set_colour_balance(enhanced, target_chroma(image, scale))


def target_chroma(image: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """(N, 3) float64: the log-chroma the colour balance gives an output of ``image``, ``scale``
    (a number or (N,), :func:`cast_scale`) times the input's own."""
    return torch.as_tensor(scale, dtype=torch.float64).reshape(-1, 1) * log_chroma(image)


@torch.no_grad()
def set_colour_balance(enhanced: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) with its global log-chroma moved to ``chroma`` ((N, 3) or (3,),
    :func:`log_chroma`'s units), each channel's gain clipped to ``exp(±MAX_LOG_GAIN)``, normalised
    to keep the mean linear luminance; a new tensor (video smooths ``chroma`` over time first)."""
    chroma = torch.as_tensor(chroma, dtype=torch.float64).reshape(-1, 3)
    means = channel_means(enhanced).cpu()  # (N, 3): the gains are worked out on the CPU
    gains = (chroma - _chroma(means)).clamp(-MAX_LOG_GAIN, MAX_LOG_GAIN).exp()
    # the same linear-light luminance (BT.601 weights): a change of colour, not of brightness
    weights = torch.tensor(BT601_LUMA, dtype=torch.float64)
    gains = gains * (weights * means).sum(1, keepdim=True) / (weights * gains * means).sum(1, keepdim=True).clamp_min(_EPS)
    return scale_brightness(enhanced, gains)
