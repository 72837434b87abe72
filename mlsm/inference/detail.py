"""Input detail transfer: a camera-quality input's own texture, where it rises above its noise.

Why it exists. On real dark photos the network's output is smooth: NIQE reads the missing
texture (``scripts/niqe_probe.py``: a 0.5 px blur of the output moves NIQE as much as the
whole gap to the peers; the input merely brightened scores better than the output). The
network was built to remove JPEG blocks and noise, so it removes the high frequencies of
everything it sees. When the input is a camera-quality file (quality ~96 or more: phones,
cameras, PNG), its high frequencies are the scene's texture plus sensor noise, not blocks; a
Wiener gain keeps the part that stands above the noise.

What it computes, for RGB in [0, 1] (``x`` the input, ``y`` the enhanced output)::

    G   = local_gain(Ylin(x), Ylin(y))          local gain (linear light, edge-aware)
    g   = sRGB(lin(x) * G)                      the input at the output's local brightness
    d   = g - y                                 what the network left out: texture and noise
    L   = blur(Y(x), 2 px)                      the input's local luma (the neutral shadows' map)
    E   = blur(Y(d)^2, ENERGY_SIGMA)            the left-out detail's local energy
    F   = the NOISE_QUANTILE of E in each of NOISE_LEVELS equal-count bins of L, linear
          between: the noise floor as a function of the tone (a noise level function)
    w   = max(0, 1 - WIENER_K^2 F(L) / E)       adaptive Wiener (Lee) gain
    c   = clip((255 L - LOW) / (HIGH - LOW), 0, 1)    (neutral shadows' codes, LOW 1, HIGH 8)
    d'  = blur(d, ENERGY_SIGMA) + c (d - blur(d, ENERGY_SIGMA))
    out = y + strength * w * d'

``Ylin`` is the BT.601-weighted linear-light luminance, ``Y`` the BT.601 luma, ``local_gain``
:func:`mlsm.inference.maps.local_gain` (a guided filter of the log gain by the input's log
luminance; inference revision 10: the Gaussian gain before it, sigma 4 px, took a lamp's small
gain for its dark surroundings, so ``d`` was strongly negative in a ring around every light of a
night scene and passed the Wiener gain as "texture": a dark halo, DICM 27). Where ``d``'s
local energy is at the noise floor of its tone (flat dark areas, LOL's noisy rooms) ``w`` is
small and the network's denoised output stays; on texture and edges ``w`` goes to 1. The
brightness stays the network's (and the exposure head's): ``G`` is read from the output.

Why a floor per tone (inference revision 8). The lift ``G`` is largest where the input is
darkest: there the input's noise is amplified most. Revision 7 judged every pixel against one
noise figure per photo (Immerkaer's estimate on ``Y(g)``), set by the brighter, less-lifted
majority of the pixels, so the lifted noise of the deep shadows passed as "texture": the
near-black curtain of DICM 29 came out as speckle. Measured on the local energy itself, per
tone, each tone is judged against the noise of its own lift; the low quantile (0.1) reads
the flattest pixels of a tone, so a tone full of texture is not taken for noise
(``python scripts/detail_noise_probe.py``, the 73 real photos: NIQE 3.587 with revision 7's
rule, 3.522 with this floor alone, 3.539 with ``c`` below; the grain of each photo's darkest
tenth 8.31 -> 7.34 -> 6.80 code values; the median as the floor 3.642, the input's own noise
level function times the lift's amplification 3.683 at K 1.5, which smoothed the dark
hillside of DICM 11). And where the file holds only a few code values (its
local luma under HIGH), its per-pixel detail is quantisation and clipping, black dots where
the input hit 0: only its local mean (``blur(d)``) is transferred there, fully below LOW, so
near-black stays as dark as the file says without speckle (the neutral shadows' thresholds:
one convention for "the file holds no colour, nor detail, there"). References for the floor:
Liu et al., "Noise estimation from a single image" (CVPR 2006), the noise level function.

``strength`` comes from the input's JPEG quality, estimated from its pixels
(:func:`mlsm.io.jpeg.estimate_quality_from_pixels`): 0 up to :data:`QUALITY_OFF` (the
paper's setting, QF 90-60: the high frequencies hold blocks, and transferring them costs
0.64 dB PSNR-B at QF 60), 1 from :data:`QUALITY_FULL`, linear between; 0 when the quality
cannot be judged. Measured: on the 73 real photos (``mlsm eval scorecard``, rows
``mlsm[monotone_gain=false]`` against ``mlsm[detail=0,monotone_gain=false]``) NIQE 4.417 ->
3.728 and the block-edge ratio 1.014 -> 0.996; on 35 LOL validation photos without extra JPEG
(``scripts/detail_probe.py``) PSNR 17.34 -> 17.33 dB and NIQE 4.89 -> 4.17; Kodak24 and LOL at
QF <= 90 unchanged.

References: the local-gain form is the Retinex view (illumination from the enhancer, detail
from the input) of the guided joint upsampling of Chen et al., "Bilateral guided upsampling"
(SIGGRAPH Asia 2016); the gain is Lee's adaptive Wiener filter (IEEE PAMI 1980); the noise
estimate is Immerkaer, "Fast noise variance estimation" (CVIU 1996).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from mlsm.inference.maps import GAIN_REACH, gaussian_blur, interp, luma, relight
from mlsm.inference.shadows import confidence_of_local_luma, local_luma

__all__ = ["ENERGY_SIGMA", "WIENER_K", "NOISE_LEVELS", "NOISE_QUANTILE", "QUALITY_OFF", "QUALITY_FULL", "BAND_PIXELS",
           "HALO", "strength_for_quality", "per_image_strengths", "input_strength", "noise_sigma", "noise_level_function", "transfer_detail"]

ENERGY_SIGMA = 2.0
"""Gaussian sigma (pixels) of the local energy of the left-out detail in the Wiener gain."""
WIENER_K = 1.0
"""Multiple of the noise floor's amplitude below which left-out detail is dropped (real-photo
NIQE 3.539 at 1.0, 3.678 at 1.5, with :data:`NOISE_QUANTILE` 0.1: ``scripts/detail_noise_probe.py``)."""
NOISE_LEVELS = 16
"""Equal-count bins of the input's local luma in which the noise floor is measured."""
NOISE_QUANTILE = 0.1
"""Quantile of a tone's local energies taken as its noise floor: its flattest pixels (real-photo
NIQE with K 1.0, without the shadow codes: 0.05 3.530, 0.1 3.522, 0.2 3.527, 0.5 3.642)."""
NOISE_SAMPLES = 1 << 20
"""At most this many pixels (an even stride through the photo) feed the noise level function."""
QUALITY_OFF = 90
"""Estimated JPEG quality up to which nothing is transferred (the paper's QF 90-60)."""
QUALITY_FULL = 96
"""Estimated JPEG quality from which the full detail is transferred (camera quality)."""
_LAPLACIAN_DIFFERENCE = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))


def strength_for_quality(quality: int | None) -> float:
    """0 at or below :data:`QUALITY_OFF` (and for None: unknown), 1 from :data:`QUALITY_FULL`,
    linear between."""
    if quality is None:
        return 0.0
    return float(min(max((quality - QUALITY_OFF) / (QUALITY_FULL - QUALITY_OFF), 0.0), 1.0))


def per_image_strengths(strength, batch: int) -> list[float]:
    """``strength`` (a number, or one per image) as one float per image of a batch of ``batch``
    (the detail transfer's and the chroma denoise's argument).

    Raises:
        ValueError: a list of another length.
    """
    strengths = [float(strength)] * batch if np.isscalar(strength) else [float(s) for s in strength]
    if len(strengths) != batch:
        raise ValueError(f"strength: {len(strengths)} values for a batch of {batch}")
    return strengths


def input_strength(image: torch.Tensor) -> list[float]:
    """Per image of the batch (N, 3, H, W) in [0, 1]: the automatic strength, from its JPEG
    quality estimated from its pixels (:func:`mlsm.io.jpeg.estimate_quality_from_pixels`)."""
    from mlsm.io.jpeg import estimate_quality_from_pixels

    frames = image.detach().cpu().permute(0, 2, 3, 1).numpy()  # views: the estimate reads <= 16 k blocks
    return [strength_for_quality(estimate_quality_from_pixels(frame)) for frame in frames]


def noise_sigma(plane: torch.Tensor) -> torch.Tensor:
    """(N,) standard deviation of white noise in each (N, 1, H, W) plane: Immerkaer's 3x3
    Laplacian-difference mask (blind to planes and ramps; sum of squared taps 36), in the
    robust form ``median(|response|) / 0.6745 / 6``, interior pixels only. 0 for planes
    smaller than 3x3."""
    if min(plane.shape[-2:]) < 3:
        return torch.zeros(plane.shape[0], dtype=plane.dtype, device=plane.device)
    return _sigma_from_responses(_noise_responses(plane).flatten(1))


def _noise_responses(plane: torch.Tensor) -> torch.Tensor:
    """|Immerkaer mask response| of (N, 1, H, W) at the interior pixels: (N, 1, H - 2, W - 2)."""
    mask = torch.tensor(_LAPLACIAN_DIFFERENCE, dtype=plane.dtype, device=plane.device).view(1, 1, 3, 3)
    return F.conv2d(plane, mask).abs()


def _sigma_from_responses(responses: torch.Tensor) -> torch.Tensor:
    """Noise sigma from the last axis of mask responses: ``median / 0.6745 / 6``."""
    return responses.median(dim=-1).values / 0.6745 / 6.0


def noise_level_function(energy: torch.Tensor, levels: torch.Tensor, bins: int = NOISE_LEVELS,
                         quantile: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The noise floor of the left-out detail as a function of the tone: from flat (1-D) local
    energies and the tone ``levels`` at the same pixels, ``(centres, floors)``, one pair per
    equal-count bin of ``levels`` (the bin's mean level and the ``quantile``, by default
    :data:`NOISE_QUANTILE`, of its energies),
    centres non-decreasing. At most :data:`NOISE_SAMPLES` pixels are read, at an even stride;
    fewer pixels than bins give one bin per pixel."""
    stride = max(1, math.ceil(levels.numel() / NOISE_SAMPLES))
    levels, order = levels[::stride].sort()
    energy = energy[::stride][order]
    chunks = max(1, min(bins, levels.numel()))
    centres = torch.stack([part.mean() for part in levels.tensor_split(chunks)])
    quantile = NOISE_QUANTILE if quantile is None else quantile
    floors = torch.stack([part.quantile(quantile) for part in energy.tensor_split(chunks)])
    return centres, floors


BAND_PIXELS = 1 << 22
"""Photos above this many pixels (4 MP) are processed in bands of rows (with :data:`HALO` rows
of context each side, so the result is the same as in one piece): memory stays a few band-sized
tensors instead of a few photo-sized ones (12 MP: about 0.9 GiB less)."""
HALO = GAIN_REACH + math.ceil(3.0 * ENERGY_SIGMA)
"""Rows of context a band needs: the local gain's reach plus the energy blur's radius."""


def _bands(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """``(r0, r1, b0, b1)``: output rows ``r0:r1`` computed from rows ``b0:b1``."""
    rows = height if height * width <= BAND_PIXELS else max(4 * HALO, BAND_PIXELS // max(width, 1))
    return [(r0, min(r0 + rows, height), max(0, r0 - HALO), min(height, r0 + rows + HALO))
            for r0 in range(0, height, rows)]


def _band_maps(image: torch.Tensor, enhanced: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Of one band: ``d = relight(x, y) - y`` (N, 3, H, W), its local energy ``E =
    blur(Y(d)^2)`` (N, 1, H, W, at least 1e-12) and the input's local luma ``L`` (N, 1, H, W,
    :func:`mlsm.inference.shadows.local_luma`)."""
    left_out = relight(image, enhanced).sub_(enhanced)
    energy = gaussian_blur(luma(left_out).square_(), ENERGY_SIGMA).clamp_min_(1e-12)
    return left_out, energy, local_luma(image)


def _coded_detail(level: torch.Tensor, left_out: torch.Tensor) -> torch.Tensor:
    """``d'``: the left-out detail with its pixel-scale part faded out where the input's local
    luma ``level`` holds only a few code values
    (:func:`mlsm.inference.shadows.confidence_of_local_luma`); in place."""
    confidence = confidence_of_local_luma(level)
    if bool((confidence >= 1.0).all()):
        return left_out
    smooth = gaussian_blur(left_out, ENERGY_SIGMA)
    return left_out.sub_(smooth).mul_(confidence).add_(smooth)


@torch.no_grad()
def transfer_detail(image: torch.Tensor, enhanced: torch.Tensor, strength) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) plus the input ``image``'s detail that stands above its noise,
    at ``strength`` (a number or one per image, in [0, 1]); see the module docstring.
    Images of strength 0 come back unchanged (bit for bit); photos above :data:`BAND_PIXELS`
    run in bands of rows, with the same result."""
    strengths = per_image_strengths(strength, image.shape[0])
    if not any(strengths):
        return enhanced
    out = enhanced.clone()
    height, width = image.shape[-2:]
    bands = _bands(height, width)
    for n, scale in enumerate(strengths):
        if scale == 0:
            continue
        x, y = image[n:n + 1], enhanced[n:n + 1]
        # pass 1: the left-out detail's local energy against the input's local luma
        energies, levels, kept = [], [], None
        for r0, r1, b0, b1 in bands:
            maps = _band_maps(x[..., b0:b1, :], y[..., b0:b1, :])
            energies.append(maps[1][..., r0 - b0: r1 - b0, :].flatten())
            levels.append(maps[2][..., r0 - b0: r1 - b0, :].flatten())
            kept = maps if len(bands) == 1 else None
        centres, floors = noise_level_function(torch.cat(energies), torch.cat(levels))
        # pass 2: the Wiener gain and the sum, band by band (one band's pass-1 maps are reused)
        for r0, r1, b0, b1 in bands:
            left_out, energy, level = kept or _band_maps(x[..., b0:b1, :], y[..., b0:b1, :])
            noise = interp(level, centres, floors).mul_(WIENER_K ** 2)
            weight = noise.div_(energy).neg_().add_(1.0).clamp_(0.0, 1.0)
            left_out = _coded_detail(level, left_out)
            band = left_out.mul_(weight.mul_(scale)).add_(y[..., b0:b1, :]).clamp_(0.0, 1.0)
            out[n:n + 1, :, r0:r1, :] = band[..., r0 - b0: r1 - b0, :]
    return out
