"""Input detail transfer: a camera-quality input's own texture, where it rises above its noise.

Why it exists. On real dark photos the network's output is smooth: NIQE reads the missing
texture (``scripts/niqe_probe.py``: a 0.5 px blur of the output moves NIQE as much as the
whole gap to the peers; the input merely brightened scores better than the output). The
network was built to remove JPEG blocks and noise, so it removes the high frequencies of
everything it sees. When the input is a camera-quality file (quality ~96 or more: phones,
cameras, PNG), its high frequencies are the scene's texture plus sensor noise, not blocks; a
Wiener gain keeps the part that stands above the noise.

What it computes, for RGB in [0, 1] (``x`` the input, ``y`` the enhanced output)::

    G   = blur(Ylin(y), GAIN_SIGMA) / blur(Ylin(x), GAIN_SIGMA)    local gain (linear light)
    g   = sRGB(lin(x) * G)                      the input at the output's local brightness
    d   = g - y                                 what the network left out: texture and noise
    s   = noise of Y(g) (Immerkaer's Laplacian-difference mask, robust median form)
    w   = max(0, 1 - (WIENER_K s)^2 / blur(Y(d)^2, ENERGY_SIGMA))   adaptive Wiener (Lee) gain
    out = y + strength * w * d

``Ylin`` is the BT.601-weighted linear-light luminance, ``Y`` the BT.601 luma. Where ``d``'s
local energy is at the noise floor (flat dark areas, LOL's noisy rooms) ``w`` is 0 and the
network's denoised output stays; on texture and edges ``w`` goes to 1. The brightness stays
the network's (and the exposure head's): ``G`` is read from the output.

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

from mlsm.inference.maps import RELIGHT_SIGMA, gaussian_blur, luma, relight

__all__ = ["GAIN_SIGMA", "ENERGY_SIGMA", "WIENER_K", "QUALITY_OFF", "QUALITY_FULL", "BAND_PIXELS", "HALO",
           "strength_for_quality", "input_strength", "noise_sigma", "transfer_detail"]

GAIN_SIGMA = RELIGHT_SIGMA
"""Gaussian sigma (pixels) of the local gain map: the one local-luminance sigma
(:data:`mlsm.inference.maps.RELIGHT_SIGMA`)."""
ENERGY_SIGMA = 2.0
"""Gaussian sigma (pixels) of the local energy of the left-out detail in the Wiener gain."""
WIENER_K = 1.5
"""Noise multiple below which left-out detail is dropped (1.0: LOL PSNR -0.07 dB; 2.0-3.0:
less texture on the real photos, NIQE 3.78 at 2.0)."""
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


BAND_PIXELS = 1 << 22
"""Photos above this many pixels (4 MP) are processed in bands of rows (with :data:`HALO` rows
of context each side, so the result is the same as in one piece): memory stays a few band-sized
tensors instead of a few photo-sized ones (12 MP: about 0.9 GiB less)."""
HALO = math.ceil(3.0 * GAIN_SIGMA) + math.ceil(3.0 * ENERGY_SIGMA)
"""Rows of context a band needs: the gain blur's radius plus the energy blur's."""


def _bands(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """``(r0, r1, b0, b1)``: output rows ``r0:r1`` computed from rows ``b0:b1``."""
    rows = height if height * width <= BAND_PIXELS else max(4 * HALO, BAND_PIXELS // max(width, 1))
    return [(r0, min(r0 + rows, height), max(0, r0 - HALO), min(height, r0 + rows + HALO))
            for r0 in range(0, height, rows)]


@torch.no_grad()
def transfer_detail(image: torch.Tensor, enhanced: torch.Tensor, strength) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) plus the input ``image``'s detail that stands above its noise,
    at ``strength`` (a number or one per image, in [0, 1]); see the module docstring.
    Images of strength 0 come back unchanged (bit for bit); photos above :data:`BAND_PIXELS`
    run in bands of rows, with the same result."""
    strengths = [float(strength)] * image.shape[0] if np.isscalar(strength) else [float(s) for s in strength]
    if len(strengths) != image.shape[0]:
        raise ValueError(f"strength: {len(strengths)} values for a batch of {image.shape[0]}")
    if not any(strengths):
        return enhanced
    out = enhanced.clone()
    height, width = image.shape[-2:]
    bands = _bands(height, width)
    for n, scale in enumerate(strengths):
        if scale == 0:
            continue
        x, y = image[n:n + 1], enhanced[n:n + 1]
        # pass 1: the noise of the lifted input, Immerkaer's response over the interior pixels
        responses, lifted = [], None
        for r0, r1, b0, b1 in bands:
            lifted = relight(x[..., b0:b1, :], y[..., b0:b1, :], GAIN_SIGMA)
            if min(height, width) >= 3:
                lo, hi = max(r0, 1), min(r1, height - 1)  # response row i - b0 - 1 is centred on row i
                responses.append(_noise_responses(luma(lifted))[..., lo - b0 - 1: hi - b0 - 1, :].flatten())
        noise = _sigma_from_responses(torch.cat(responses)) if responses else torch.zeros((), dtype=y.dtype)
        # pass 2: the Wiener gain and the sum, band by band (the one band's lift is reused)
        for r0, r1, b0, b1 in bands:
            if len(bands) > 1:
                lifted = relight(x[..., b0:b1, :], y[..., b0:b1, :], GAIN_SIGMA)
            left_out = lifted.sub_(y[..., b0:b1, :])
            energy = gaussian_blur(luma(left_out).square_(), ENERGY_SIGMA).clamp_min_(1e-12)
            weight = energy.reciprocal_().mul_(-float(WIENER_K * noise) ** 2).add_(1.0).clamp_(0.0, 1.0)
            band = left_out.mul_(weight.mul_(scale)).add_(y[..., b0:b1, :]).clamp_(0.0, 1.0)
            out[n:n + 1, :, r0:r1, :] = band[..., r0 - b0: r1 - b0, :]
    return out
