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
    w      = g clip((blur(Y'(x), STRUCTURE_SIGMA) - 0.35) / (0.6 - 0.35), 0, 1)   well exposed?
    C(z)   = z * min(1, (Yx + b (1 - Yx)) / blur(Ylin(z), SIGMA))   capped (linear light z)
    l      = C(L(lin(y)))
    r      = relight_linear(lin(x), Ylin(l), STRUCTURE_SIGMA)   the input at l's local brightness
    out    = sRGB(C(l + w (blur(r, SIGMA) - blur(l, SIGMA))))   lit structure, capped again
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

The structure line keeps what the camera recorded in its well-exposed parts: their structure
above 4 px and their colour come from the input (at the output's brightness, by a gain smooth
over 16 px), finer texture stays the network's and the detail transfer's. The network had
flattened the clouds and bleached a blue sky towards cyan-white (DICM 34, LIME 4); the ceiling
alone keeps the sky's level, not its clouds or its blue. Camera JPEGs are clean where they are
bright, and a 4 px blur removes the 8 px block grid of a harsher one (response 0.007 at 1/8
cycle per pixel). In linear light, per channel, between two passes of the ceiling: relit to the
capped output, the input's blue does not clip (relit to the uncapped one, a sky's blue channel
clipped and the sky went cyan again), and the second pass caps the bright clouds it restores
(without it 21 of the 73 real photos ended washed, against 16 before the structure). Inside the
bisection for ``k``, so the darker clouds it brings back do not lower the mean.

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
small; the brightest-region gate passes over 5). For the lit structure (real 73 photos, mlsm
alone, NIQE / mean Y against the ceiling without it, 3.590 / 0.505, one-off prototypes): after
the ceiling, once, 3.598 / 0.503 (the mean fell); the same with a second lift aimed at the lost
mean, 3.591 / 0.505, but 21 photos washed; before the curve and the ceiling, 3.584 / 0.505, but
the curve bleaches the restored blue again; a band-pass (4-16 px) in sRGB instead of everything
above 4 px, 3.593 / 0.505, clouds back but the sky stays cyan-white; the sRGB mix 3.601 / 0.501;
STRUCTURE_SIGMA 32 alike (3.592 / 0.501, once, after the ceiling).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.maps import gaussian_blur, luma, relight_linear

__all__ = ["HEADROOM", "GATE_LOW", "GATE_HIGH", "SIGMA", "STRUCTURE_SIGMA", "WELL_EXPOSED", "lit_gate",
           "headroom_ceiling", "cap_highlights", "lift", "lift_for_mean", "well_exposed_weight", "keep_lit_structure",
           "lit_highlights", "highlight_headroom"]

HEADROOM = 0.5
"""Share of the input's own linear headroom (1 - local luminance) that the output may use over
a photo's lit parts (1: no ceiling; 0.3 / 0.5 / 0.7 measured)."""
GATE_LOW = 0.6
"""Brightest local input luma at and below which the photo has no lit parts (no ceiling)."""
GATE_HIGH = 0.8
"""Brightest local input luma from which the full ceiling applies."""
SIGMA = 4.0
"""Gaussian sigma (pixels) of the local luminances of the ceiling and the lit gate: smooth on
purpose (a ceiling that followed every edge would flatten the lit parts' contrast)."""
STRUCTURE_SIGMA = 16.0
"""Gaussian sigma (pixels) of the gain that brings the input to the output's brightness in the
lit parts (:func:`keep_lit_structure`): the input's structure above :data:`SIGMA` and the
output's brightness at this scale (32 measured alike)."""
WELL_EXPOSED = (0.35, 0.6)
"""Local input luma (BT.601, Gaussian :data:`STRUCTURE_SIGMA` px) over which the lit-structure
weight ramps from 0 to 1: what the camera exposed well, where the input's own structure and
colour are worth more than the network's (no noise to hide, no blocks to remove above 4 px)."""
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


def lift_for_mean(image: torch.Tensor, enhanced: torch.Tensor, headroom: float, gate: float) -> float:
    """The k in [0, 1] of :func:`lift` whose lifted, lit-structured and capped ``enhanced``
    (1, 3, H, W, sRGB; :func:`lit_highlights`) has ``enhanced``'s own mean luma (k = 1 when even
    that stays below; ``gate``: the photo's :func:`lit_gate`, which weights the structure), found
    by bisection on a box-averaged copy (at most 64 k pixels, the blurs scaled with it)."""
    small_image, factor = _shrunk(image)
    small, _ = _shrunk(enhanced)
    target = float(luma(small).mean())
    small_lin = srgb_to_linear(small.clamp(0.0, 1.0))
    sigma, structure_sigma = max(SIGMA / factor, 0.5), max(STRUCTURE_SIGMA / factor, 0.5)
    ceiling = headroom_ceiling(small_image, headroom, sigma)
    image_lin = srgb_to_linear(small_image.clamp(0.0, 1.0))
    weight = well_exposed_weight(small_image, gate, structure_sigma)

    def mean_at(k: float) -> float:
        out = lit_highlights(image_lin, small_lin, k, ceiling, weight, sigma, structure_sigma)
        return float(luma(linear_to_srgb(out)).mean())

    if mean_at(0.0) >= target:
        return 0.0
    if mean_at(1.0) <= target:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if mean_at(middle) < target else (low, middle)
    return high


def well_exposed_weight(image: torch.Tensor, gate: float, sigma: float = STRUCTURE_SIGMA) -> torch.Tensor:
    """(1, 1, H, W) weight of the input's own structure: ``gate`` times a ramp of the input's
    local luma (Gaussian ``sigma`` px) over :data:`WELL_EXPOSED` (0 in the dark parts, 1 where
    the camera exposed well)."""
    local = gaussian_blur(luma(image.float()), sigma)
    low, high = WELL_EXPOSED
    return local.sub_(low).div_(high - low).clamp_(0.0, 1.0).mul_(gate)


def keep_lit_structure(image_linear: torch.Tensor, linear: torch.Tensor, weight: torch.Tensor,
                       sigma: float = SIGMA, structure_sigma: float = STRUCTURE_SIGMA) -> torch.Tensor:
    """``linear`` (1, 3, H, W, linear light) whose structure above ``sigma`` px is, by ``weight``
    (:func:`well_exposed_weight`), the input's (``image_linear``) at its own brightness::

        r   = relight_linear(x, Ylin(y), structure_sigma)   the input at the output's local brightness
        out = y + w (blur(r, sigma) - blur(y, sigma))

    per channel: clouds the network flattened and a blue sky it bleached come back; finer texture
    stays the network's (and the detail transfer's), and 8 px JPEG blocks do not pass a 4 px blur
    (response 0.007). A new tensor in [0, 1]."""
    relit = relight_linear(image_linear.clone(), luma(linear), structure_sigma)
    band = gaussian_blur(relit, sigma).sub_(gaussian_blur(linear, sigma)).mul_(weight)
    return band.add_(linear).clamp_(0.0, 1.0)


def lit_highlights(image_linear: torch.Tensor, linear: torch.Tensor, k: float, ceiling: torch.Tensor,
                   weight: torch.Tensor, sigma: float = SIGMA, structure_sigma: float = STRUCTURE_SIGMA) -> torch.Tensor:
    """One image in linear light: ``linear`` lifted by :func:`lift`, capped
    (:func:`cap_highlights`), its lit structure kept (:func:`keep_lit_structure`, relit to the
    capped output so a sky's blue does not clip), then capped again, so the bright clouds it
    restores do not wash out either."""
    capped = cap_highlights(lift(linear, k), ceiling, sigma)
    kept = keep_lit_structure(image_linear, capped, weight, sigma, structure_sigma)
    return cap_highlights(kept, ceiling, sigma)


@torch.no_grad()
def highlight_headroom(image: torch.Tensor, enhanced: torch.Tensor, headroom: float = HEADROOM) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) with the lit parts of ``image`` held under a ceiling, their
    structure and colour above 4 px the input's, and the mean luma kept (module docstring);
    ``enhanced`` itself when no image of the batch has lit parts."""
    gates = lit_gate(image)
    if not bool((gates > 0).any()):
        return enhanced
    out = enhanced.clone()
    for n, gate in enumerate(gates.tolist()):
        if gate == 0.0:
            continue
        x, y, share = image[n:n + 1], enhanced[n:n + 1], 1.0 - gate * (1.0 - headroom)
        k = lift_for_mean(x, y, share, gate)
        result = lit_highlights(srgb_to_linear(x.clamp(0.0, 1.0)), srgb_to_linear(y.clamp(0.0, 1.0)), k,
                                headroom_ceiling(x, share), well_exposed_weight(x, gate))
        out[n:n + 1] = linear_to_srgb(result).clamp_(0.0, 1.0)
    return out
