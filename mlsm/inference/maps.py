"""Local luminance maps shared by the post-network steps (tone, detail, do no harm).

``local_gain(Yx, Yy)`` is the one local gain of the photo post-processing: how much brighter
(linear light) a second image ``y`` is than an input ``x`` around each pixel, edge-aware::

    I    = log blur(Yx, GAIN_PRESMOOTH)                the input's log luminance (noise softened)
    p    = log blur(Yy, GAIN_PRESMOOTH) - I            the pixel's log gain
    a, b = guided filter coefficients of p by I        (He et al. 2013, boxes of GAIN_RADIUS, GAIN_EPS)
    G    = exp(a I + b)                                the local gain

Within a window of uniform brightness (the variance of ``I`` well under ``GAIN_EPS``) ``G`` is
the window's mean log gain; across a strong edge (a lamp, a window, a lit face against the night)
the filter fits the gain on each side of it, so a bright light's small gain does not spread over
the dark pixels around it. The Gaussian gain before (``blur(Yy, 4) / blur(Yx, 4)``, inference
revisions 3-9) did: around every lamp of a night scene the detail transfer darkened a ring and
the monotone gain lit one (DICM 27, 12: ``python scripts/halo_probe.py``).

``relight(image, guide)`` builds on it: ``image`` at ``guide``'s local brightness,
``sRGB(lin(image) * local_gain(Ylin(image), Ylin(guide)))``. The input detail transfer lifts the
input to the network output's brightness with it (:mod:`mlsm.inference.detail`); the do-no-harm
blend of the keep gate brings the network output down to a well-exposed input's own brightness
with it (:mod:`mlsm.inference.base`). The monotone gain reads the same gain and the input's
edge-aware log luminance (:mod:`mlsm.inference.tone`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mlsm.colour import BT601_LUMA, linear_to_srgb, srgb_to_linear

__all__ = ["GAIN_PRESMOOTH", "GAIN_RADIUS", "GAIN_EPS", "GAIN_REACH", "luma", "gaussian_blur",
           "box_mean", "guided_coefficients", "local_gain", "interp", "relight", "relight_linear"]

GAIN_PRESMOOTH = 1.0
"""Gaussian sigma (pixels) of both luminances before their logs in :func:`local_gain`: keeps the
log of a noisy near-black pixel from dominating its window."""
GAIN_RADIUS = 4
"""Half side (pixels) of :func:`local_gain`'s guided-filter boxes (9 x 9; its reach, 2 radius,
about the 12 px of the Gaussian gain before it, sigma 4 px, which measured alike at 2-4 and lost
the network's local contrast at 8-32: real-photo NIQE 3.64 at 4, 3.77 at 32)."""
GAIN_EPS = 0.1
""":func:`local_gain`'s regulariser, in (natural log luminance)^2: windows whose log luminance
varies by less than about 0.3 (texture, noise) take their mean gain; an edge of a stop and more
is fitted on each side."""
GAIN_REACH = math.ceil(3.0 * GAIN_PRESMOOTH) + 2 * GAIN_RADIUS
"""Pixels from which :func:`local_gain` reads at most (a band of rows needs this much context)."""
_LUMA_FLOOR = 1e-4
"""Linear luminance under which :func:`local_gain` reads both images as this (the log's floor)."""


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
    filter). Separable: a row pass and a column pass of ``avg_pool2d`` without the padding in the
    counts (1080p, 2 channels, radius 4, one thread: 0.13 s against 0.29 s for running sums)."""
    size = 2 * radius + 1
    rows = F.avg_pool2d(plane, (1, size), stride=1, padding=(0, radius), count_include_pad=False)
    return F.avg_pool2d(rows, (size, 1), stride=1, padding=(radius, 0), count_include_pad=False)


def guided_coefficients(guide: torch.Tensor, source: torch.Tensor, radius: int, eps: float
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """He et al.'s guided filter of ``source`` (N, C, H, W) by the one-channel ``guide``
    (N, 1, H, W) as its coefficients ``(a, b)``, each (N, C, H, W): per window of side
    ``2 radius + 1`` the least-squares affine map of the guide to each channel (ridge ``eps`` on
    the slope), averaged over the windows holding each pixel; the filtered source is
    ``a * guide + b``. (He, Sun and Tang, "Guided image filtering", IEEE PAMI 2013.)"""
    mean_guide = box_mean(guide, radius)
    mean_source = box_mean(source, radius)
    covariance = box_mean(guide * source, radius).sub_(mean_guide * mean_source)
    variance = box_mean(guide * guide, radius).sub_(mean_guide * mean_guide)
    slope = covariance.div_(variance.add_(eps))
    offset = mean_source.sub_(slope * mean_guide)
    return box_mean(slope, radius), box_mean(offset, radius)


def local_gain(input_luma: torch.Tensor, output_luma: torch.Tensor, with_level: bool = False):
    """The edge-aware local gain ``G`` (N, 1, H, W) of ``output_luma`` over ``input_luma`` (both
    (N, 1, H, W) linear luminances; module docstring). With ``with_level``, ``(L, G)``: also the
    input's edge-aware local log luminance ``L = a' I + b'`` (the same guided filter of ``I``
    itself, the monotone gain's tone)."""
    log_input = gaussian_blur(input_luma, GAIN_PRESMOOTH).clamp_min_(_LUMA_FLOOR).log_()
    log_gain = gaussian_blur(output_luma, GAIN_PRESMOOTH).clamp_min_(_LUMA_FLOOR).log_().sub_(log_input)
    source = torch.cat([log_gain, log_input], dim=1) if with_level else log_gain
    slope, offset = guided_coefficients(log_input, source, GAIN_RADIUS, GAIN_EPS)
    filtered = slope.mul_(log_input).add_(offset)
    gain = filtered[:, :1].exp()
    return (filtered[:, 1:], gain) if with_level else gain


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


def relight(image: torch.Tensor, guide: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """``image`` (N, 3, H, W, sRGB) at ``guide``'s local brightness (module docstring); a new
    tensor in [0, 1]. ``sigma``: see :func:`relight_linear`."""
    guide_luma = luma(srgb_to_linear(guide.clamp(0.0, 1.0)))
    x_lin = srgb_to_linear(image.clamp(0.0, 1.0))
    return linear_to_srgb(relight_linear(x_lin, guide_luma, sigma)).clamp_(0.0, 1.0)


def relight_linear(linear: torch.Tensor, guide_luma: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """:func:`relight` in linear light: ``linear`` (N, 3, H, W) times the local gain of
    ``guide_luma`` (N, 1, H, W, the guide's linear luminance) over its own, clipped to [0, 1];
    works in place on ``linear``. ``sigma`` None: the edge-aware :func:`local_gain`; a number:
    the Gaussian gain ``blur(guide_luma, sigma) / blur(Ylin(linear), sigma)``, a band split for
    structure coarser than ``sigma`` (the highlight headroom's lit structure)."""
    if sigma is None:
        gain = local_gain(luma(linear), guide_luma)
    else:
        gain = gaussian_blur(guide_luma, sigma).div_(gaussian_blur(luma(linear), sigma).clamp_min_(1e-3))
    return linear.mul_(gain).clamp_(0.0, 1.0)
