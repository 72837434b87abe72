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

    g      = clip((P99.5(Y'(x)) - GATE_LOW) / (GATE_HIGH - GATE_LOW), 0, 1)   the photo holds lit parts
    b      = 1 - g (1 - HEADROOM)                        share of the input's headroom the output may use
    Yx, Yy = blur(Ylin(x), SIGMA), blur(Ylin(y), SIGMA)  local linear luminances
    c      = lin(y) * min(1, (Yx + b (1 - Yx)) / Yy)     local brightness at most the ceiling
    out    = sRGB(c + k c (1 - c))                       k in [0, 1]: mean Y'(out) = mean Y'(y)

The ceiling ``Yx + b (1 - Yx)`` rises with the input's local brightness (slope ``1 - b``), so
no region ends darker than a region the input had darker, and it is above 0.5 for every input
that is dark: it binds on the highlights only. The scaling is by a smooth local factor, so
texture inside a capped region keeps its contrast; the input detail transfer, which follows,
restores what the network had already flattened there (the clouds). ``c + k c (1 - c)`` is
Zero-DCE's light-enhancement curve (Guo et al., CVPR 2020) in linear light: it fixes 0 and 1 and
never clips, so the brightness it gives back lands on the mid-tones. ``k`` is found by bisection
(at most 1: a photo whose highlights held most of its brightness ends a little darker).

The gate ``g`` reads the photo's 99.5th-percentile luma: real dark photos hold lamps, windows or
sky (median 0.94 over the 73; 61 of them above ``GATE_LOW``), photos darkened as a whole do not
(the 96 synthetic Kodak24 inputs at most 0.50, the 35 LOL validation inputs at most 0.51), and for
those the step changes nothing, bit for bit. Photos only: videos skip it.

Measured (``python scripts/highlight_probe.py --top 12`` for the washed share; the README's
scorecard for the rest; ``HEADROOM`` 0.3 / 0.5 / 0.7 without the gate and the mean kept, in the
issue's note): photos with more than 10 % of their well-exposed pixels washed, 52 -> 16 of 73 with
HEADROOM 0.5 without keeping the mean, whose mean luma then drops by 0.014 (below the peers'
median); keeping the mean costs some of the headroom back.
"""
from __future__ import annotations

import torch

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.maps import RELIGHT_SIGMA, gaussian_blur, luma

__all__ = ["HEADROOM", "GATE_LOW", "GATE_HIGH", "PERCENTILE", "SIGMA", "lit_gate", "cap_highlights",
           "keep_mean_luma", "highlight_headroom"]

HEADROOM = 0.5
"""Share of the input's own linear headroom (1 - local luminance) that the output may use over
a photo's lit parts (1: no ceiling; 0.3 / 0.5 / 0.7 measured)."""
GATE_LOW = 0.55
"""99.5th-percentile input luma at and below which the photo has no lit parts (no ceiling)."""
GATE_HIGH = 0.75
"""99.5th-percentile input luma from which the full ceiling applies."""
PERCENTILE = 0.995
"""The gate's percentile of the input's BT.601 luma."""
SIGMA = RELIGHT_SIGMA
"""Gaussian sigma (pixels) of the local luminances: the one local-luminance sigma
(:data:`mlsm.inference.maps.RELIGHT_SIGMA`)."""
_SAMPLES = 1 << 18
_BISECTIONS = 14


def lit_gate(image: torch.Tensor) -> torch.Tensor:
    """(N,) in [0, 1]: how far each input (N, 3, H, W, sRGB) holds lit parts, from its
    :data:`PERCENTILE` luma (evenly strided samples beyond 256 k pixels)."""
    planes = luma(image.float()).flatten(1)
    stride = max(1, planes.shape[1] // _SAMPLES)
    level = torch.quantile(planes[:, ::stride], PERCENTILE, dim=1)
    return ((level - GATE_LOW) / (GATE_HIGH - GATE_LOW)).clamp(0.0, 1.0)


def cap_highlights(image: torch.Tensor, enhanced: torch.Tensor, headroom: float) -> torch.Tensor:
    """``enhanced`` (1, 3, H, W, sRGB) with its local linear luminance at most
    ``Yx + headroom * (1 - Yx)`` of ``image``'s; returns it in linear light (module docstring)."""
    y_lin = srgb_to_linear(enhanced.clamp(0.0, 1.0))
    input_luma = gaussian_blur(luma(srgb_to_linear(image.clamp(0.0, 1.0))), SIGMA)
    ceiling = input_luma.mul_(1.0 - headroom).add_(headroom)
    factor = ceiling.div_(gaussian_blur(luma(y_lin), SIGMA).clamp_min_(1e-6)).clamp_(max=1.0)
    return y_lin.mul_(factor).clamp_(0.0, 1.0)


def _lift(linear: torch.Tensor, k: float) -> torch.Tensor:
    """sRGB of the light-enhancement curve ``c + k c (1 - c)`` of linear ``c``."""
    return linear_to_srgb(linear + k * linear * (1.0 - linear)).clamp_(0.0, 1.0)


def keep_mean_luma(linear: torch.Tensor, target: float) -> torch.Tensor:
    """sRGB of ``linear`` (1, 3, H, W) through the curve ``c + k c (1 - c)`` with the k in
    [0, 1] whose mean BT.601 luma is ``target`` (k = 1 when even that stays below)."""
    low, high = 0.0, 1.0
    if float(luma(_lift(linear, 0.0)).mean()) >= target:
        return _lift(linear, 0.0)
    if float(luma(_lift(linear, high)).mean()) <= target:
        return _lift(linear, high)
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + high)
        if float(luma(_lift(linear, middle)).mean()) < target:
            low = middle
        else:
            high = middle
    return _lift(linear, high)


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
        y = enhanced[n:n + 1]
        capped = cap_highlights(image[n:n + 1], y, 1.0 - gate * (1.0 - headroom))
        out[n:n + 1] = keep_mean_luma(capped, float(luma(y.float()).mean()))
    return out
