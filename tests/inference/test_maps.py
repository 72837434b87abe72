"""Tests for mlsm.inference.maps: the edge-aware local gain and the relight built on it."""
from __future__ import annotations

import pytest
import torch

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.detail import transfer_detail
from mlsm.inference.maps import GAIN_REACH, gaussian_blur, local_gain, luma, relight
from mlsm.inference.tone import monotone_gain

LAMP = (slice(44, 52), slice(60, 68))
"""An 8 x 8 px lamp in the 96 x 128 night scene of :func:`_night_scene`."""


def _night_scene(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` linear luminances (1, 1, 96, 128): a dark field (0.004, grain 10 %) with a lamp
    at white, and an enhancement that lifts the field 10x and leaves the lamp at white."""
    generator = torch.Generator().manual_seed(seed)
    field = 0.004 * (1.0 + 0.1 * torch.randn(1, 1, 96, 128, generator=generator))
    x = field.clone()
    x[..., LAMP[0], LAMP[1]] = 1.0
    y = (10.0 * field).clamp(0.0, 1.0)
    y[..., LAMP[0], LAMP[1]] = 1.0
    return x, y


def _ring(width: int = 128, height: int = 96, inner: int = 4, outer: int = 10) -> torch.Tensor:
    """(1, 1, H, W) mask of the dark pixels 4-10 px outside the lamp (the edge-aware gain is the field's from 4 px on, the Gaussian one from 11)."""
    rows = torch.arange(height).view(-1, 1)
    cols = torch.arange(width).view(1, -1)
    dr = torch.maximum(torch.maximum(LAMP[0].start - rows, rows - (LAMP[0].stop - 1)), torch.zeros(1))
    dc = torch.maximum(torch.maximum(LAMP[1].start - cols, cols - (LAMP[1].stop - 1)), torch.zeros(1))
    distance = torch.maximum(dr, dc)
    return ((distance >= inner) & (distance <= outer)).view(1, 1, height, width)


def test_a_uniform_gain_is_read_exactly():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 40, 50) * 0.05 + 0.001
    gain = local_gain(x, 3.0 * x)
    torch.testing.assert_close(gain, torch.full_like(gain, 3.0), rtol=1e-4, atol=0)


def test_a_lamps_small_gain_stays_on_the_lamp():
    x, y = _night_scene()
    ring = _ring()
    gain = local_gain(x, y)
    assert float(gain[ring].min()) > 8.0  # the field's own 10x right up to the lamp
    assert float(gain[..., 46:50, 62:66].max()) < 1.5  # the lamp's own 1x on it
    # the Gaussian gain (sigma 4, revisions 3-9) gives the ring the lamp's gain: the scene is a real test
    gaussian = gaussian_blur(y, 4.0) / gaussian_blur(x, 4.0)
    assert float(gaussian[ring].min()) < 2.0


def test_the_level_follows_both_sides_of_an_edge():
    x = torch.full((1, 1, 32, 64), 0.01)
    x[..., 32:] = 0.5
    level, gain = local_gain(x, 2.0 * x, with_level=True)
    torch.testing.assert_close(level[..., :26].exp(), torch.full((1, 1, 32, 26), 0.01), rtol=0.05, atol=0)
    torch.testing.assert_close(level[..., 38:].exp(), torch.full((1, 1, 32, 26), 0.5), rtol=0.05, atol=0)
    torch.testing.assert_close(gain, torch.full_like(gain, 2.0), rtol=1e-4, atol=0)


def test_the_reach_is_what_a_band_of_rows_needs():
    torch.manual_seed(1)
    x = torch.rand(1, 1, 80, 40) * 0.2 + 0.001
    y = gaussian_blur(x, 3.0) * 4.0
    whole = local_gain(x, y)
    rows = slice(30, 50)
    band = local_gain(x[..., 30 - GAIN_REACH: 50 + GAIN_REACH, :], y[..., 30 - GAIN_REACH: 50 + GAIN_REACH, :])
    torch.testing.assert_close(band[..., GAIN_REACH: GAIN_REACH + 20, :], whole[..., rows, :], rtol=1e-5, atol=1e-6)


def _rgb(linear_luma: torch.Tensor) -> torch.Tensor:
    return linear_to_srgb(linear_luma.expand(1, 3, -1, -1).contiguous())


def test_no_dark_ring_from_the_detail_transfer_around_a_lamp():
    x, y = _night_scene()
    image, enhanced = _rgb(x), _rgb(gaussian_blur(y, 1.0))  # the network's output is smooth
    out = transfer_detail(image, enhanced, 1.0)
    ring = _ring()
    ratio = luma(srgb_to_linear(out))[ring] / luma(srgb_to_linear(enhanced))[ring]
    assert float(ratio.mean()) > 0.9  # 1.00; with revision 9's Gaussian gain 0.42, a dark ring


def test_no_lit_ring_from_the_monotone_gain_around_a_lamp():
    x, y = _night_scene()
    image, enhanced = _rgb(x), _rgb(y)
    out = monotone_gain(image, enhanced)
    ring = _ring()
    ratio = luma(srgb_to_linear(out))[ring] / luma(srgb_to_linear(enhanced))[ring]
    assert float(ratio.max()) < 1.2  # 1.11; with revision 9's Gaussian gain 1.49, a lit ring


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 1, 2, 37), (2, 1, 7, 5)])
def test_tiny_planes(shape):
    x = torch.full(shape, 0.1)
    level, gain = local_gain(x, 0.5 * x, with_level=True)
    assert level.shape == gain.shape == shape
    torch.testing.assert_close(gain, torch.full(shape, 0.5), rtol=1e-4, atol=0)
    assert relight(torch.full((shape[0], 3, *shape[2:]), 0.2), torch.full((shape[0], 3, *shape[2:]), 0.6)).shape[1] == 3
