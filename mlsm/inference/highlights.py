"""Highlight headroom: what the camera already exposed well is not washed to white.

Why it exists. The network learnt from photos darkened as a whole, so it reads a real photo
whose sky, windows or lit walls are already well exposed as under-exposed everywhere and lifts
them with the rest: DICM 41's sky goes from luma 0.65 to white, and on 52 of the 73 real dark
photos more than 10 % of the pixels the camera exposed well (luma 0.35-0.9) end at 0.95 or above
(``python scripts/highlight_probe.py``; the network alone does it, before any post-processing).
A camera exposing such a scene keeps headroom over the bright parts and rolls them off; this
step does the same, and spends the brightness it takes from the highlights on the other tones,
so the photo's mean brightness (what the exposure head and the floor chose) stays.

What it computes, per image (``x`` the input, ``y`` the output so far, sRGB in [0, 1])::

    g      = clip((max blur(Y'(x), SIGMA) - GATE_LOW) / (GATE_HIGH - GATE_LOW), 0, 1)   lit parts?
    b      = 1 - g (1 - HEADROOM)                 share of the input's headroom the output may use
    Yx     = blur(Ylin(x), SIGMA)                 the input's local linear luminance
    L(c)   = c + k c (1 - c)                      the mid-tones lifted, 0 and 1 kept
    out    = sRGB(L(lin(y)) * min(1, (Yx + b (1 - Yx)) / blur(Ylin(L(lin(y))), SIGMA)))
    k      in [0, 1] such that mean Y'(out) = mean Y'(y)

The ceiling ``Yx + b (1 - Yx)`` rises with the input's local brightness (slope ``1 - b``), so
no region ends darker than a region the input had darker, and it is at least ``b`` (0.5 linear,
0.74 in sRGB) everywhere: it binds on the highlights, rarely on the dark parts. The scaling is by
a smooth local factor, so texture inside a capped region keeps its contrast; the input detail
transfer, which follows, restores what the network had already flattened there (the clouds).
``L`` is Zero-DCE's light-enhancement curve (Guo et al., CVPR 2020) in linear light, applied
before the ceiling so that the brightness it gives back lands on the tones under it and never
on the capped highlights. ``k`` is found by bisection on a box-averaged copy of at most 64 k
pixels (so the mean is kept to about 0.003); at most 1, so a photo whose highlights held most of
its brightness ends a little darker.

The gate reads the photo's brightest region (local luma, Gaussian σ 4 px): real dark photos hold
lamps, windows or sky (68 of the 73 above ``GATE_LOW``, 57 at ``GATE_HIGH`` or more), photos
darkened as a whole do not (the 96 synthetic Kodak24 inputs at most 0.48, the 35 LOL validation
inputs at QF 60-90 at most 0.55), and for those the step changes nothing, bit for bit
(``python scripts/headroom_gate_probe.py``). Photos only: videos skip it.

Measured (``python scripts/highlight_probe.py --top 12`` for the washed share, the README's
scorecard for the rest): see the README, "Well-exposed regions". Tried first, and left: the
ceiling alone, without keeping the mean (HEADROOM 0.3 / 0.5 / 0.7: 8 / 16 / 40 of the 73 photos
left with more than 10 % of their well-exposed pixels at luma 0.95 or more, 52 before, but mean
luma 0.481 / 0.502 / 0.512 against 0.516 on the probe's measure, below the peers' median from
0.5); the ceiling without the gate (Kodak24 at QF 90 22.73 -> 22.00 dB at 0.5: in a photo
darkened as a whole the bright regions need the full gain); the curve after the ceiling instead
of before (it lifted the capped highlights back towards white in dark photos); a gate on the
99.5th-percentile luma (from 0.55: it passed over 10 of the 73 real photos, whose lit part is
small; the brightest-region gate passes over 5).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.maps import RELIGHT_SIGMA, gaussian_blur, luma

__all__ = ["HEADROOM", "GATE_LOW", "GATE_HIGH", "SIGMA", "lit_gate", "headroom_ceiling", "cap_highlights", "lift",
           "lift_for_mean", "highlight_headroom"]

HEADROOM = 0.5
"""Share of the input's own linear headroom (1 - local luminance) that the output may use over
a photo's lit parts (1: no ceiling; 0.3 / 0.5 / 0.7 measured)."""
GATE_LOW = 0.6
"""Brightest local input luma at and below which the photo has no lit parts (no ceiling)."""
GATE_HIGH = 0.8
"""Brightest local input luma from which the full ceiling applies."""
SIGMA = RELIGHT_SIGMA
"""Gaussian sigma (pixels) of the local luminances: the one local-luminance sigma
(:data:`mlsm.inference.maps.RELIGHT_SIGMA`)."""
_SAMPLES = 1 << 16
_BISECTIONS = 12


def lit_gate(image: torch.Tensor) -> torch.Tensor:
    """(N,) in [0, 1]: how far each input (N, 3, H, W, sRGB) holds lit parts, from its
    brightest local luma (BT.601, Gaussian :data:`SIGMA` px: a region, not a hot pixel)."""
    brightest = gaussian_blur(luma(image.float()), SIGMA).flatten(1).amax(dim=1)
    return ((brightest - GATE_LOW) / (GATE_HIGH - GATE_LOW)).clamp(0.0, 1.0)


def headroom_ceiling(image: torch.Tensor, headroom: float, sigma: float = SIGMA) -> torch.Tensor:
    """(1, 1, H, W) ceiling ``Yx + headroom * (1 - Yx)`` on the local linear luminance, from
    the input ``image`` (1, 3, H, W, sRGB)."""
    input_luma = gaussian_blur(luma(srgb_to_linear(image.clamp(0.0, 1.0))), sigma)
    return input_luma.mul_(1.0 - headroom).add_(headroom)


def cap_highlights(linear: torch.Tensor, ceiling: torch.Tensor, sigma: float = SIGMA) -> torch.Tensor:
    """``linear`` (1, 3, H, W, linear light) scaled by a smooth local factor so its local
    luminance is at most ``ceiling`` (:func:`headroom_ceiling`); a new tensor in linear light."""
    factor = ceiling / gaussian_blur(luma(linear), sigma).clamp_min_(1e-6)
    return linear.mul(factor.clamp_(max=1.0)).clamp_(0.0, 1.0)


def lift(linear: torch.Tensor, k: float) -> torch.Tensor:
    """The light-enhancement curve ``c + k c (1 - c)`` of linear ``c`` (Zero-DCE's, in linear
    light): 0 and 1 stay, nothing clips, the mid-tones gain most."""
    return linear + linear * (1.0 - linear) * k


def _shrunk(image: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``image`` box-averaged by the factor that leaves at most :data:`_SAMPLES` pixels (its
    mean is the mean of the cropped original), and that factor."""
    h, w = image.shape[-2:]
    factor = max(1, math.ceil(math.sqrt(h * w / _SAMPLES)))
    if factor == 1:
        return image, 1
    return F.avg_pool2d(image[..., :h // factor * factor, :w // factor * factor], factor), factor


def lift_for_mean(image: torch.Tensor, enhanced: torch.Tensor, headroom: float) -> float:
    """The k in [0, 1] of :func:`lift` whose lifted-then-capped ``enhanced`` (1, 3, H, W, sRGB)
    has ``enhanced``'s own mean luma (1 when even that stays below), found by bisection on a
    box-averaged copy (at most 64 k pixels, the blur scaled with it)."""
    small_image, factor = _shrunk(image)
    small, _ = _shrunk(enhanced)
    target = float(luma(small).mean())
    small_lin = srgb_to_linear(small.clamp(0.0, 1.0))
    sigma = max(SIGMA / factor, 0.5)
    ceiling = headroom_ceiling(small_image, headroom, sigma)

    def mean_at(k: float) -> float:
        return float(luma(linear_to_srgb(cap_highlights(lift(small_lin, k), ceiling, sigma))).mean())

    if mean_at(0.0) >= target:
        return 0.0
    if mean_at(1.0) <= target:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if mean_at(middle) < target else (low, middle)
    return high


@torch.no_grad()
def highlight_headroom(image: torch.Tensor, enhanced: torch.Tensor, headroom: float = HEADROOM) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) with the lit parts of ``image`` held under a ceiling and the
    mean luma kept (module docstring); ``enhanced`` itself when no image of the batch has lit
    parts."""
    gates = lit_gate(image)
    if not bool((gates > 0).any()):
        return enhanced
    out = enhanced.clone()
    for n, gate in enumerate(gates.tolist()):
        if gate == 0.0:
            continue
        x, y, share = image[n:n + 1], enhanced[n:n + 1], 1.0 - gate * (1.0 - headroom)
        k = lift_for_mean(x, y, share)
        capped = cap_highlights(lift(srgb_to_linear(y.clamp(0.0, 1.0)), k), headroom_ceiling(x, share))
        out[n:n + 1] = linear_to_srgb(capped).clamp_(0.0, 1.0)
    return out
