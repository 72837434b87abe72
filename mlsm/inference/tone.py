"""Monotone local gain: darker tones get at least the gain the network gives brighter ones.

Why it exists. The network's local gain (output luminance over input luminance, linear light)
falls in the deepest shadows: it renders an S-curve that crushes them (DICM 14: a gain of about
3 on the darkest 5 % of pixels, 14 on the median). An exposure correction gains every tone
alike (the synthetic darkening is a uniform gain; LOL's rooms are a short exposure), and the
tone curves that enhancers use (Zero-DCE's, camera night modes) are concave: their gain only
grows towards black. So the gain at each input brightness is floored at the largest median gain
of the brighter tones.

What it computes, per image (``x`` the input, ``y`` the output so far, both RGB in [0, 1])::

    L, G   = local_gain(Ylin(x), Ylin(y))                   the input's local log luminance and the
                                                            network's local gain (edge-aware, linear light)
    m[b]   = median of G over pixels in brightness bin b    (BINS equal-count bins of L)
    f[b]   = max(m[b], m[b + 1], ..., m[BINS - 1])          gain floor: never below a brighter tone's
    out    = sRGB(lin(y) * max(G, f(L)) / G)                f interpolated at each pixel's L

Bright tones keep the network's gain (the floor there is their own median or lower); only
tones the network darkened relative to brighter ones are lifted, smoothly (the gain is the
window's mean within a uniform area), so its local contrast and its denoising stay. The local
maps are :func:`mlsm.inference.maps.local_gain`'s, edge-aware since inference revision 10:
with Gaussian ones (sigma 4 px) the dark surroundings of a lamp took the lamp's brightness as
their tone and were lifted to its floor, a lit ring around every light of a night scene (DICM 27). Measured with the whole default inference against ``[monotone_gain=false]``
(README tables): Kodak24, all 24 photos, 22.60 -> 23.58 dB PSNR at QF 90 and 22.05 -> 22.86 at
QF 60; LOL validation at QF 90 17.35 -> 18.42 dB; the 73 real dark photos NIQE 3.73 -> 3.63 and
mean Y 0.482 -> 0.495. ``scripts/tone_probe.py`` compares the two on subsets in one run.
"""
from __future__ import annotations

import torch

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.maps import interp, local_gain, luma

__all__ = ["BINS", "MAX_SAMPLES", "gain_floor", "monotone_gain"]

BINS = 32
"""Equal-count brightness bins of the gain statistics."""
MAX_SAMPLES = 1 << 20
"""Pixels the bin statistics read at most (evenly strided beyond: a 12 MP photo reads 1 M)."""


def gain_floor(log_input: torch.Tensor, gain: torch.Tensor, bins: int = BINS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(centres, floor)``: bin centres (median log input luminance) and the floored gain of
    each of ``bins`` equal-count bins, from flat samples ``log_input`` and ``gain``."""
    stride = max(1, log_input.numel() // MAX_SAMPLES)
    a, g = log_input.flatten()[::stride], gain.flatten()[::stride]
    order = torch.argsort(a)
    a, g = a[order], g[order]
    chunks = [c for c in torch.tensor_split(torch.arange(len(a), device=a.device), bins) if len(c)]
    centres = torch.stack([a[c].median() for c in chunks])
    medians = torch.stack([g[c].median() for c in chunks])
    floor = torch.flip(torch.cummax(torch.flip(medians, (0,)), 0).values, (0,))
    keep = torch.cat([torch.ones(1, dtype=torch.bool, device=a.device), centres[1:] > centres[:-1]])
    return centres[keep], floor[keep]


@torch.no_grad()
def monotone_gain(image: torch.Tensor, enhanced: torch.Tensor) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) with each image's local gain over ``image`` floored so that
    darker tones gain at least as much as brighter ones (see the module docstring)."""
    out = torch.empty_like(enhanced)
    for n in range(image.shape[0]):
        x_lin = srgb_to_linear(image[n:n + 1].clamp(0.0, 1.0))
        y_lin = srgb_to_linear(enhanced[n:n + 1].clamp(0.0, 1.0))
        log_input, gain = local_gain(luma(x_lin), luma(y_lin), with_level=True)
        del x_lin
        centres, floor = gain_floor(log_input, gain)
        lift = interp(log_input, centres, floor).div_(gain).clamp_min_(1.0)
        out[n:n + 1] = linear_to_srgb(y_lin.mul_(lift).clamp_(0.0, 1.0)).clamp_(0.0, 1.0)
    return out
