"""Tests for mlsm.colour: one sRGB transfer and one BT.601 luma for numpy and torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mlsm.colour import (BT601_LUMA, STUDIO_MATRIX, linear_to_srgb, luma, rgb_to_ycbcr_studio, srgb_to_linear,
                         ycbcr_studio_to_rgb)


def test_transfer_is_the_same_formula_on_numpy_and_torch():
    values = np.random.default_rng(0).uniform(-0.2, 1.2, 4096).astype(np.float32)
    for function in (srgb_to_linear, linear_to_srgb):
        array = function(values)
        tensor = function(torch.from_numpy(values))
        assert array.dtype == np.float32 and isinstance(tensor, torch.Tensor)
        assert np.abs(array - tensor.numpy()).max() < 1e-6  # the libraries' pow may differ in the last bit


def test_transfer_known_values_clamping_and_round_trip():
    assert float(srgb_to_linear(np.float32([0.04045]))[0]) == pytest.approx(0.04045 / 12.92)
    assert float(linear_to_srgb(np.float32([1.0]))[0]) == pytest.approx(1.0)
    assert srgb_to_linear(np.float32([-1.0, 2.0])).tolist() == [0.0, 1.0]
    assert linear_to_srgb(torch.tensor([-1.0, 2.0])).tolist() == pytest.approx([0.0, 1.0])
    grey = np.linspace(0, 1, 257, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(grey)) - grey).max() < 1e-5
    gradient = torch.zeros(3, requires_grad=True)
    linear_to_srgb(gradient).sum().backward()
    assert torch.isfinite(gradient.grad).all()


def test_luma_full_range_and_studio():
    rgb = np.random.default_rng(1).random((5, 7, 3))
    full = luma(rgb)
    assert full.dtype == np.float64 and full.shape == (5, 7)
    assert np.allclose(full, rgb @ np.array(BT601_LUMA))
    assert np.allclose(luma(rgb, studio=True), (16 + 219 * full) / 255)
    assert np.allclose(luma(rgb * 255, studio=True, data_range=255), luma(rgb, studio=True) * 255)
    assert np.allclose(luma(np.dstack([rgb, np.ones((5, 7))])), full)  # alpha ignored
    assert np.allclose(np.array(STUDIO_MATRIX[0]), 219 * np.array(BT601_LUMA))


def test_studio_ycbcr_tensor_matches_numpy_luma_and_inverts():
    rgb = np.random.default_rng(2).random((4, 6, 3))
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    ycbcr = rgb_to_ycbcr_studio(tensor)
    assert np.allclose(ycbcr[0, 0].numpy(), luma(rgb, studio=True), atol=1e-12)
    assert torch.allclose(ycbcr_studio_to_rgb(ycbcr), tensor, atol=1e-12)
    assert rgb_to_ycbcr_studio(tensor.float()).dtype == torch.float32
