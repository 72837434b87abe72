"""Chroma denoise of camera-quality inputs: lifted camera colour noise without its blotches.

Why it exists. A camera's colour noise is demosaiced and JPEG-subsampled, so in a dark photo it
sits in blotches of 5-60 pixels, far below the eye's notice at the photo's own brightness.
Brightening the photo x10-x40 makes them visible: DICM 29's ceiling comes out grey with green,
blue and orange clouds (issue 14). The network passes them on (they are in the input's colour,
at its lifted brightness), the input detail transfer adds its own pixel-scale part, and the
neutral shadows only act below 8 code values. Where the photo is not lifted, or where its
colour has structure, nothing changes.

What it computes, for RGB in [0, 1] (``x`` the input, ``y`` the enhanced output so far; ``↓``
the mean over SCALE x SCALE blocks, ``↑`` bilinear upsampling back; all but the last line at
1/SCALE resolution, He and Sun's fast guided filter)::

    I   = Y'(y)                       the output's BT.601 luma, the guide
    C   = y - I                       its chroma (the neutral shadows' convention)
    a,b = guided filter coefficients of ↓C on ↓I, box RADIUS / SCALE, regulariser EPS (He et al.)
    G   = blur(Ylin(↓y)) / blur(Ylin(↓x))        the enhancement's local gain (linear light)
    g   = clip((log2 G - LIFT_LOW) / (LIFT_HIGH - LIFT_LOW), 0, 1)
    S   = local std (box FLAT_RADIUS / SCALE) of ↓C, summed over the 3 channels, in code values
    f   = clip((FLAT_HIGH - S) / (FLAT_HIGH - FLAT_LOW), 0, 1)
    w   = strength * g * f
    out = y + ↑(w a) I + ↑(w b) - ↑w C        i.e. C -> C + w (a I + b - C)

The guided filter replaces each window's chroma by an affine function of the luma there: in a
flat area that is the window's mean colour (the blotches go), across a luma edge each side keeps
its own colour. ``g`` restricts it to what the enhancement amplified (2x and more in linear light,
fully from 8x): a well-lit part of the photo keeps its colour noise, which is the camera's
business. ``f`` restricts it to colour as flat as noise: blotches vary by a few code values,
colour structure (red and blue wool of LIME 8, a red lamp of DICM 19) by 10-70, so isoluminant
colour edges, which the luma guide cannot see, keep their colour; its window is the filter's
whole reach, so no colour crosses such an edge. The output's luma is unchanged (the BT.601
weighted sum of a chroma is 0, and so of ``a I + b - C``), so NIQE, the mean luma and the
block-edge ratio read the same (up to clipping); only the colour of the flat, lifted areas goes
to its local mean.

``strength`` is the input detail transfer's (:func:`mlsm.inference.detail.input_strength`, from
the input's JPEG quality): on the paper's setting (QF <= 90) the network itself removes the noise
it was trained on, and forced onto the synthetic Kodak24 inputs this step moves PSNR by -0.01 dB
at QF 90 and +0.02 at QF 60, so it stays off there and those tables keep their figures.

Measured (``python scripts/chroma_probe.py --settings off default FLAT_LOW=1e8,FLAT_HIGH=1e9
RADIUS=8,FLAT_RADIUS=16 --kodak 90 60``, the probe's docstring says what each column is): LOL
validation as stored (quality 98: camera quality, real sensor noise) 21.50 -> 21.58 dB PSNR; on
the 73 real photos the band-passed chroma of the flat darker half 7.21 -> 6.69 code values RMS,
of the brighter third 16.94 -> 16.80, colourfulness 55.70 -> 55.45. Without ``f`` the filter
smooths real colour too (LOL 21.40 dB, colourfulness 52.1, brighter third 14.30); without ``g``
LOL is the same and the brighter third loses more (16.51); FLAT 6-12 or 4-8 code values act
less (6.90, 7.10); RADIUS 8 scores alike (21.61 dB, 6.60) but leaves the largest blotches as
green and blue shading on DICM 29's ceiling (seen on crops); RADIUS 32 acts less (6.90);
EPS 1e-3 alike (21.58, 6.76). Tried before, in a prototype: one Wiener gain per tone on the
filter's residual (as the detail transfer's) and a luma-flatness gate, both left for the colour
gate, which alone protects the saturated night lights of LIME 6 and the wool of LIME 8.

References: He, Sun and Tang, "Guided image filtering" (IEEE PAMI 2013); chroma denoising at a
larger scale than luma, as camera pipelines do, e.g. Buades, Coll and Morel's review, "A review
of image denoising algorithms" (SIAM MMS 2005).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mlsm.colour import srgb_to_linear
from mlsm.inference.detail import per_image_strengths
from mlsm.inference.maps import box_mean, gaussian_blur, guided_coefficients, luma

__all__ = ["SCALE", "RADIUS", "EPS", "LIFT_LOW", "LIFT_HIGH", "FLAT_RADIUS", "FLAT_LOW", "FLAT_HIGH",
           "denoise_chroma"]

SCALE = 4
"""Subsampling of everything but the final sum: chroma noise blotches span 5-60 px, and the
coefficients are smooth (He and Sun, "Fast guided filter", 2015): about 16x less work."""
RADIUS = 16
"""Half side (full-resolution pixels) of the guided filter's box windows (33 x 33): the
blotches' scale."""
EPS = 1e-2
"""Guided filter regulariser (luma variance, [0, 1] units): windows whose luma varies by less
than about 0.1 (25 code values) take their mean colour."""
LIFT_LOW = 1.0
"""log2 of the enhancement's local linear gain below which nothing changes (2x)."""
LIFT_HIGH = 3.0
"""log2 of the local linear gain from which the filter acts fully (8x)."""
FLAT_RADIUS = 2 * RADIUS
"""Half side (full-resolution pixels) of the box window of the colour-flatness measure ``S``:
the guided filter's reach (its output at a pixel reads the windows around the windows around
it), so no colour from across an edge reaches a pixel judged flat (``tests/inference/
test_chroma.py``: an isoluminant red | blue edge)."""
FLAT_LOW = 8.0
"""``S`` (8-bit code values) up to which the colour counts as noise-flat (fully filtered)."""
FLAT_HIGH = 16.0
"""``S`` (8-bit code values) from which the colour counts as structure (left alone)."""
_GAIN_SIGMA = 1.0
"""Gaussian sigma (subsampled pixels) of the local gain: 4 full-resolution pixels."""
_ROWS = 512
"""Full-resolution rows per chunk of the final sum (a multiple of :data:`SCALE`)."""


def _weight(image: torch.Tensor, enhanced: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """``g * f`` (N, 1, h, w) of subsampled maps: where the enhancement lifted and the colour is
    noise-flat."""
    gain = gaussian_blur(luma(srgb_to_linear(enhanced)), _GAIN_SIGMA)
    gain.div_(gaussian_blur(luma(srgb_to_linear(image)), _GAIN_SIGMA).clamp_min_(1e-4))
    lifted = gain.clamp_min_(1e-6).log2_().sub_(LIFT_LOW).div_(LIFT_HIGH - LIFT_LOW).clamp_(0.0, 1.0)
    radius = max(1, round(FLAT_RADIUS / SCALE))
    spread = box_mean(chroma * chroma, radius).sub_(box_mean(chroma, radius).square_())
    spread = spread.sum(dim=1, keepdim=True).clamp_min_(0.0).sqrt_().mul_(255.0)
    flat = spread.neg_().add_(FLAT_HIGH).div_(FLAT_HIGH - FLAT_LOW).clamp_(0.0, 1.0)
    return lifted.mul_(flat)


def _maps(image: torch.Tensor, enhanced: torch.Tensor, strength: float) -> torch.Tensor:
    """(1, 7, h, w) subsampled ``(w a, w b, w)`` of one image (module docstring)."""
    height, width = enhanced.shape[-2:]
    pad = (0, (-width) % SCALE, 0, (-height) % SCALE)  # edge pixels repeated to whole blocks
    small_x, small_y = (F.avg_pool2d(F.pad(part, pad, mode="replicate") if any(pad) else part, SCALE)
                        for part in (image, enhanced))
    grey = luma(small_y)
    chroma = small_y - grey
    slope, offset = guided_coefficients(grey, chroma, max(1, round(RADIUS / SCALE)), EPS)
    weight = _weight(small_x, small_y, chroma).mul_(strength)
    return torch.cat([slope.mul_(weight), offset.mul_(weight), weight], dim=1)


def _upsampled(maps: torch.Tensor, r0: int, r1: int, width: int) -> torch.Tensor:
    """Rows ``r0:r1`` (``r0`` a multiple of :data:`SCALE`) of the bilinear (half-pixel centres)
    upsampling of ``maps``, from its rows around them: the same values as upsampling the whole."""
    low0, low1 = max(0, r0 // SCALE - 1), min(maps.shape[-2], -(-r1 // SCALE) + 1)
    part = F.interpolate(maps[..., low0:low1, :], scale_factor=SCALE, mode="bilinear", align_corners=False)
    top = r0 - low0 * SCALE
    return part[..., top: top + r1 - r0, :width]


@torch.no_grad()
def denoise_chroma(image: torch.Tensor, enhanced: torch.Tensor, strength) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) with the colour of its flat, lifted areas smoothed (module
    docstring), at ``strength`` (a number or one per image, in [0, 1]); a new tensor in
    [0, 1]. Images of strength 0 come back unchanged (bit for bit; ``enhanced`` itself when all
    are 0); the full-resolution sum runs in chunks of rows, so memory stays a few chunk-sized
    tensors beyond the output."""
    strengths = per_image_strengths(strength, image.shape[0])
    if not any(strengths):
        return enhanced
    out = enhanced.clone()
    height, width = image.shape[-2:]
    for n, scale in enumerate(strengths):
        if scale == 0:
            continue
        maps = _maps(image[n:n + 1].float(), enhanced[n:n + 1].float(), scale)
        if not bool((maps[:, 6:] > 0).any()):
            continue
        for r0 in range(0, height, _ROWS):
            r1 = min(r0 + _ROWS, height)
            part = _upsampled(maps, r0, r1, width)
            rows = enhanced[n:n + 1, :, r0:r1].float()
            grey = luma(rows)
            change = part[:, 0:3].mul(grey).add_(part[:, 3:6]).sub_(rows.sub(grey).mul_(part[:, 6:7]))
            out[n:n + 1, :, r0:r1] = change.add_(rows).clamp_(0.0, 1.0)
    return out
