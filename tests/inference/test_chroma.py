"""Tests for mlsm.inference.chroma: the chroma denoise of flat, lifted areas (and its box mean)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import mlsm.inference.chroma as chroma
from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.chroma import denoise_chroma
from mlsm.inference.maps import box_mean, gaussian_blur, guided_coefficients, luma


def _blotches(size: int = 128, amplitude: float = 0.012, seed: int = 0) -> torch.Tensor:
    """(1, 3, size, size) zero-luma chroma in clouds of about 10-30 px, as a camera's colour noise."""
    rng = torch.Generator().manual_seed(seed)
    colour = gaussian_blur(torch.randn(1, 3, size, size, generator=rng), 6.0)
    colour = colour - luma(colour)
    return colour * (amplitude / colour.std())


def _dark_and_lifted(base_level: float = 0.05, gain: float = 16.0, blotches: torch.Tensor | None = None):
    """A flat dark grey input with colour blotches, and that input lifted ``gain`` times in linear light."""
    blotches = _blotches() if blotches is None else blotches
    dark = (torch.full_like(blotches, base_level) + blotches / 4).clamp(0, 1)
    lifted = linear_to_srgb(srgb_to_linear(dark) * gain).clamp(0, 1)
    return dark, lifted


def _blotch_rms(image: torch.Tensor) -> float:
    """RMS of the chroma band-passed between Gaussian sigma 1 and 16 px (scripts/chroma_probe.py)."""
    colour = image - luma(image)
    return float((gaussian_blur(colour, 1.0) - gaussian_blur(colour, 16.0)).square().mean().sqrt())


@pytest.mark.parametrize("radius", [0, 1, 5, 40])
def test_box_mean_is_the_mean_over_the_window_inside_the_image(radius):
    plane = torch.rand(2, 3, 23, 31, generator=torch.Generator().manual_seed(1))
    size = 2 * radius + 1
    expected = F.avg_pool2d(plane, size, stride=1, padding=radius, count_include_pad=False)
    assert torch.allclose(box_mean(plane, radius), expected, atol=1e-6)


def test_guided_filter_keeps_an_affine_function_of_the_guide():
    guide = torch.linspace(0, 1, 64).repeat(64, 1)[None, None]
    source = torch.cat([0.3 * guide - 0.1, -0.2 * guide + 0.05, 0.02 + 0 * guide], dim=1)
    slope, offset = guided_coefficients(guide, source, 8, 1e-6)
    assert torch.allclose(slope * guide + offset, source, atol=1e-4)


def test_flat_lifted_colour_blotches_go_at_unchanged_luma():
    dark, lifted = _dark_and_lifted()
    out = denoise_chroma(dark, lifted, 1.0)
    before, after = _blotch_rms(lifted), _blotch_rms(out)
    assert before > 1.5 / 255  # the blotches lifted x16: 1.9 code values RMS in the band (2.4 in all)
    assert after < 0.25 * before, (before, after)  # 0.32 at 1/4 resolution
    assert torch.allclose(luma(out), luma(lifted), atol=1e-5)


def test_an_unlifted_photo_keeps_its_colour():
    dark, _ = _dark_and_lifted()
    assert torch.allclose(denoise_chroma(dark, dark, 1.0), dark, atol=1e-6)


def test_colour_structure_keeps_its_colour(monkeypatch):
    # an isoluminant red | blue edge in a dark photo lifted x16: the luma guide cannot see it
    dark = torch.zeros(1, 3, 160, 160)
    red, blue = torch.tensor([0.09, 0.02, 0.03]), torch.tensor([0.02, 0.03, 0.12])
    blue = blue * float(luma(red.view(1, 3, 1, 1)) / luma(blue.view(1, 3, 1, 1)))
    dark[..., :80] = red.view(1, 3, 1, 1)
    dark[..., 80:] = blue.view(1, 3, 1, 1)
    lifted = linear_to_srgb(srgb_to_linear(dark) * 16.0).clamp(0, 1)
    kept = denoise_chroma(dark, lifted, 1.0)
    assert float((kept - lifted).abs().max()) < 2 / 255
    # without the colour-flatness gate the edge bleeds: the gate is what keeps it
    monkeypatch.setattr(chroma, "FLAT_LOW", 1e8)
    monkeypatch.setattr(chroma, "FLAT_HIGH", 1e9)
    assert float((denoise_chroma(dark, lifted, 1.0) - lifted).abs().max()) > 0.05


def test_strength_scales_the_change_and_zero_is_bit_identical():
    dark, lifted = _dark_and_lifted()
    assert denoise_chroma(dark, lifted, 0.0) is lifted
    full, half = denoise_chroma(dark, lifted, 1.0), denoise_chroma(dark, lifted, 0.5)
    assert torch.allclose(half - lifted, 0.5 * (full - lifted), atol=1e-5)
    batch = denoise_chroma(torch.cat([dark, dark]), torch.cat([lifted, lifted]), [0.0, 1.0])
    assert torch.equal(batch[:1], lifted) and torch.allclose(batch[1:], full, atol=1e-6)
    with pytest.raises(ValueError, match="2 values for a batch of 1"):
        denoise_chroma(dark, lifted, [1.0, 1.0])


@pytest.mark.parametrize("rows", [4, 8, 36])
def test_chunks_of_rows_give_the_whole_photos_result(monkeypatch, rows):
    blotches = _blotches(size=200, seed=3)[..., :, :197]  # a width that is not a multiple of SCALE
    dark, lifted = _dark_and_lifted(blotches=blotches)
    whole = denoise_chroma(dark, lifted, 1.0)
    monkeypatch.setattr(chroma, "_ROWS", rows)
    assert torch.allclose(denoise_chroma(dark, lifted, 1.0), whole, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 1, 37), (1, 3, 5, 7), (1, 3, 300, 3)])
def test_tiny_images(shape):
    out = denoise_chroma(torch.full(shape, 0.02), torch.full(shape, 0.5), 1.0)
    assert out.shape == shape and bool(torch.isfinite(out).all())
