"""Tests for mlsm.inference.tone: the monotone local gain."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.maps import interp
from mlsm.inference.tone import gain_floor, monotone_gain


def _ramp(height: int = 96, width: int = 256) -> torch.Tensor:
    """A dark horizontal ramp in linear light 0.002 -> 0.05 (sRGB), three equal channels."""
    linear = torch.linspace(0.002, 0.05, width).view(1, 1, 1, width).expand(1, 3, height, width)
    return linear_to_srgb(linear.contiguous())


def _with_gain(image: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    return linear_to_srgb((srgb_to_linear(image) * gain).clamp(0, 1))


def test_interp_is_numpys():
    xp, fp = torch.tensor([0.0, 1.0, 3.0]), torch.tensor([2.0, 4.0, 0.0])
    values = torch.tensor([-1.0, 0.0, 0.5, 2.0, 3.0, 9.0])
    assert torch.allclose(interp(values, xp, fp), torch.from_numpy(np.interp(values.numpy(), xp.numpy(), fp.numpy())).float())


def test_floor_never_falls_towards_black():
    torch.manual_seed(0)
    log_input = torch.rand(10_000) * 6 - 7
    gain = torch.rand(10_000) * 10
    centres, floor = gain_floor(log_input, gain)
    assert bool((centres[1:] > centres[:-1]).all())
    assert bool((floor[:-1] >= floor[1:]).all())


def test_crushed_shadows_are_lifted_to_the_brighter_gain():
    dark = _ramp()
    width = dark.shape[-1]
    gain = torch.where(torch.arange(width) < width // 2, 2.0, 10.0).view(1, 1, 1, width)  # an S-curve's crush
    enhanced = _with_gain(dark, gain)
    out = monotone_gain(dark, enhanced)
    lifted = srgb_to_linear(out)[..., 16:-16, 16: width // 2 - 16] / srgb_to_linear(dark)[..., 16:-16, 16: width // 2 - 16]
    assert float(lifted.min()) > 8.0  # the shadows now gain about what the brighter half gains
    assert torch.allclose(out[..., width // 2 + 16:], enhanced[..., width // 2 + 16:], atol=1e-4)  # bright tones kept


def test_a_concave_tone_is_left_alone():
    dark = _ramp()
    width = dark.shape[-1]
    gain = torch.linspace(12.0, 4.0, width).view(1, 1, 1, width)  # gains fall with brightness already
    enhanced = _with_gain(dark, gain)
    # within half a grey level: inside a bin the floor is the bin's median, so the few pixels of
    # a bin that gain less than its median are lifted to it
    assert torch.allclose(monotone_gain(dark, enhanced), enhanced, atol=0.5 / 255)


def test_never_darker_than_the_output_and_per_image():
    torch.manual_seed(1)
    dark = torch.rand(2, 3, 64, 64) * 0.2
    enhanced = (dark * 3).clamp(0, 1)
    out = monotone_gain(dark, enhanced)
    assert out.shape == enhanced.shape
    assert float((out - enhanced).min()) > -1e-5
    assert torch.allclose(monotone_gain(dark[1:], enhanced[1:]), out[1:], atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 2, 37), (1, 3, 7, 5)])
def test_tiny_images(shape):
    out = monotone_gain(torch.full(shape, 0.1), torch.full(shape, 0.5))
    assert out.shape == shape and bool(torch.isfinite(out).all())
