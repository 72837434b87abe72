"""Local luminance maps shared by the post-network steps (tone, detail, do no harm).

``relight(image, guide)`` is the one operation they all build on: ``image`` with its local
linear-light luminance (Gaussian, ``sigma`` px) replaced by ``guide``'s::

    G   = blur(Ylin(guide), sigma) / blur(Ylin(image), sigma)
    out = sRGB(lin(image) * G)

The input detail transfer lifts the input to the network output's brightness with it
(:mod:`mlsm.inference.detail`); the do-no-harm blend of a v4 exposure head brings the network
output down to a well-exposed input's own brightness with it (:mod:`mlsm.inference.base`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mlsm.colour import BT601_LUMA, linear_to_srgb, srgb_to_linear

__all__ = ["RELIGHT_SIGMA", "luma", "gaussian_blur", "box_mean", "interp", "relight", "relight_linear"]

RELIGHT_SIGMA = 4.0
"""Gaussian sigma (pixels) of every local luminance of the photo post-processing: the relit
kept photo, the detail transfer's gain map (:data:`mlsm.inference.detail.GAIN_SIGMA`) and the
monotone gain's (:data:`mlsm.inference.tone.SIGMA`). 2-4 measured alike; 8-32 lose the
network's local contrast (real-photo NIQE 3.64 at 4, 3.77 at 32)."""


def luma(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W) BT.601 luma of whatever encoding ``image`` is in."""
    weights = torch.tensor(BT601_LUMA, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def gaussian_blur(plane: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) (each channel alone), truncated at 3 sigma, edges
    reflected (replicated where the image is smaller than the kernel).

    Each pass is a sum of shifted slices (one fused multiply-add per tap): the same taps and the
    same sums as a 1 x (2r + 1) convolution, about 5x faster than ``conv2d`` on one-channel planes
    on CPU (1080p, 2 threads, sigma 4: 0.035 s against 0.17 s).
    """
    radius = max(1, int(math.ceil(3.0 * sigma)))
    taps = torch.arange(-radius, radius + 1, dtype=plane.dtype)
    taps = torch.exp(-0.5 * (taps / sigma) ** 2)
    weights = (taps / taps.sum()).tolist()
    h, w = plane.shape[-2:]
    mode = "reflect" if min(h, w) > radius else "replicate"
    return _blur_rows(_blur_rows(plane, weights, radius, mode, -1), weights, radius, mode, -2)


def _blur_rows(plane: torch.Tensor, weights: list[float], radius: int, mode: str, axis: int) -> torch.Tensor:
    """One pass of :func:`gaussian_blur` along ``axis`` (-1: along rows, -2: along columns)."""
    padding = (radius, radius, 0, 0) if axis == -1 else (0, 0, radius, radius)
    padded = F.pad(plane, padding, mode=mode)
    length = plane.shape[axis]
    out = padded.narrow(axis, 0, length) * weights[0]
    for offset in range(1, 2 * radius + 1):
        out.add_(padded.narrow(axis, offset, length), alpha=weights[offset])
    return out


def box_mean(plane: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of (N, C, H, W) over the (2 radius + 1)-pixel square around each pixel, each channel
    alone; at the borders over the part of the square inside the image (as He et al.'s guided
    filter). Separable running sums (float64), so the cost does not grow with ``radius``."""
    return _box_rows(_box_rows(plane, radius, -1), radius, -2)


def _box_rows(plane: torch.Tensor, radius: int, axis: int) -> torch.Tensor:
    """One pass of :func:`box_mean` along ``axis``."""
    length = plane.shape[axis]
    sums = torch.cumsum(plane, dim=axis, dtype=torch.float64)
    sums = torch.cat([torch.zeros_like(sums.narrow(axis, 0, 1)), sums], dim=axis)
    index = torch.arange(length, device=plane.device)
    high, low = (index + radius + 1).clamp_(max=length), (index - radius).clamp_(min=0)
    shape = [1] * plane.dim()
    shape[axis] = length
    counts = (high - low).to(torch.float64).view(shape)
    return sums.index_select(axis, high).sub_(sums.index_select(axis, low)).div_(counts).to(plane.dtype)


def interp(values: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """``numpy.interp`` for non-decreasing ``xp``: linear inside, the end values outside (a
    repeated ``xp`` takes its first point's value); the monotone gain's and the detail
    transfer's per-tone curves are read with it."""
    if xp.numel() == 1:
        return fp.expand_as(values).clone()
    index = torch.searchsorted(xp, values.clamp(xp[0], xp[-1])).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[index - 1], xp[index], fp[index - 1], fp[index]
    t = ((values.clamp(xp[0], xp[-1]) - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return f0 + t * (f1 - f0)


def relight(image: torch.Tensor, guide: torch.Tensor, sigma: float = RELIGHT_SIGMA) -> torch.Tensor:
    """``image`` (N, 3, H, W, sRGB) at ``guide``'s local brightness (module docstring); a new
    tensor in [0, 1]."""
    guide_luma = luma(srgb_to_linear(guide.clamp(0.0, 1.0)))
    x_lin = srgb_to_linear(image.clamp(0.0, 1.0))
    return linear_to_srgb(relight_linear(x_lin, guide_luma, sigma)).clamp_(0.0, 1.0)


def relight_linear(linear: torch.Tensor, guide_luma: torch.Tensor, sigma: float = RELIGHT_SIGMA) -> torch.Tensor:
    """:func:`relight` in linear light: ``linear`` (N, 3, H, W) times ``blur(guide_luma) /
    blur(Ylin(linear))`` (``guide_luma`` (N, 1, H, W), the guide's linear luminance), clipped to
    [0, 1]; works in place on ``linear``."""
    gain = gaussian_blur(guide_luma, sigma).div_(gaussian_blur(luma(linear), sigma).clamp_min_(1e-3))
    return linear.mul_(gain).clamp_(0.0, 1.0)
