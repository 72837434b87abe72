"""Tests for mlsm.inference.detail: the input detail transfer and its automatic strength."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.detail import (QUALITY_FULL, QUALITY_OFF, input_strength, noise_sigma, strength_for_quality,
                                   transfer_detail)
from mlsm.io import decode_image_bytes, encode_jpeg, read_image
from mlsm.io.convert import to_tensor

SAMPLE = Path(__file__).resolve().parents[2] / "mlsm" / "assets" / "samples" / "dicm_03.jpg"


def _clean() -> torch.Tensor:
    return to_tensor(read_image(SAMPLE)[0][:256, :256])


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / F.mse_loss(a, b)))


@pytest.mark.parametrize("quality,expected", [(None, 0.0), (60, 0.0), (QUALITY_OFF, 0.0), (93, 0.5),
                                               (QUALITY_FULL, 1.0), (100, 1.0)])
def test_strength_for_quality(quality, expected):
    assert strength_for_quality(quality) == pytest.approx(expected)


def test_input_strength_follows_the_pixels_quality():
    clean = _clean()
    decoded = decode_image_bytes(encode_jpeg((clean[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), 70))[0]
    assert input_strength(torch.cat([to_tensor(decoded), clean])) == [0.0, 1.0]


def test_zero_strength_is_bit_identical():
    clean = _clean()
    enhanced = clean.flip(-1)
    assert transfer_detail(clean, enhanced, 0.0) is enhanced
    pair = torch.cat([enhanced, enhanced])
    out = transfer_detail(torch.cat([clean, clean]), pair, [0.0, 1.0])
    assert torch.equal(out[0], pair[0])
    assert not torch.equal(out[1], pair[1])


def test_restores_texture_a_smooth_output_lost():
    clean = _clean()
    dark = linear_to_srgb(srgb_to_linear(clean) * 0.1)  # noise-free dark input
    smooth = F.avg_pool2d(F.pad(clean, (2, 2, 2, 2), mode="replicate"), 5, stride=1)  # a flat "network output"
    restored = transfer_detail(dark, smooth, 1.0)
    assert _psnr(restored, clean) > _psnr(smooth, clean) + 2.0


def test_keeps_the_output_where_the_input_is_only_noise():
    rng = torch.Generator().manual_seed(0)
    flat = torch.full((1, 3, 128, 128), 0.5)
    noisy_dark = (linear_to_srgb(srgb_to_linear(flat) * 0.1) + 0.02 * torch.randn(flat.shape, generator=rng)).clamp(0, 1)
    out = transfer_detail(noisy_dark, flat, 1.0)
    lifted_noise = 0.1  # the same noise lifted 10x in linear light is far above 0.05 in sRGB
    assert float(out.std()) < 0.2 * lifted_noise
    assert float((out - flat).abs().mean()) < 0.01


def test_brightness_stays_the_outputs():
    clean = _clean()
    dark = linear_to_srgb(srgb_to_linear(clean) * 0.1)
    smooth = F.avg_pool2d(F.pad(clean, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    restored = transfer_detail(dark, smooth, 1.0)
    assert float(srgb_to_linear(restored).mean()) == pytest.approx(float(srgb_to_linear(smooth).mean()), rel=0.03)


def test_noise_sigma_of_white_noise_on_a_ramp():
    rng = torch.Generator().manual_seed(1)
    ramp = torch.linspace(0, 1, 256).view(1, 1, 1, 256).expand(2, 1, 256, 256)
    noise = torch.randn((2, 1, 256, 256), generator=rng) * torch.tensor([0.01, 0.05]).view(2, 1, 1, 1)
    assert noise_sigma(ramp + noise).tolist() == pytest.approx([0.01, 0.05], rel=0.1)
    assert noise_sigma(torch.zeros(1, 1, 2, 2)).tolist() == [0.0]


def test_strength_count_must_match_the_batch():
    clean = _clean()
    with pytest.raises(ValueError, match="2 values for a batch of 1"):
        transfer_detail(clean, clean, [1.0, 1.0])


def test_the_default_model_transfers_on_camera_quality_only():
    import mlsm

    photo = read_image(SAMPLE)[0][:128, :160]  # the sample is stored at quality 100
    compressed = decode_image_bytes(encode_jpeg((photo * 255).round().astype(np.uint8), 90))[0]
    auto, off, full = (mlsm.load_model(None, detail=d) for d in (None, 0.0, 1.0))
    assert np.array_equal(auto.enhance(compressed), off.enhance(compressed))  # the paper's setting: unchanged
    assert np.array_equal(auto.enhance(photo), full.enhance(photo))
    assert not np.array_equal(off.enhance(photo), full.enhance(photo))


def test_mlsm_method_spec_takes_inference_options():
    from mlsm.baselines.registry import build_method

    method = build_method("mlsm[detail=0,shift_ensemble=false]")
    assert (method.options.detail, method.options.shift_ensemble, method.name) == \
        (0, False, "mlsm[detail=0,shift_ensemble=false]")
    with pytest.raises(ValueError, match="unknown inference option"):
        build_method("mlsm[detial=0]")
    with pytest.raises(ValueError, match="key=value"):
        build_method("mlsm[detail]")


def test_bands_give_the_whole_photos_result(monkeypatch):
    import mlsm.inference.detail as detail

    clean = _clean()
    rng = torch.Generator().manual_seed(2)
    dark = (linear_to_srgb(srgb_to_linear(clean) * 0.1) + 0.01 * torch.randn(clean.shape, generator=rng)).clamp(0, 1)
    smooth = F.avg_pool2d(F.pad(clean, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    whole = transfer_detail(dark, smooth, 1.0)
    monkeypatch.setattr(detail, "BAND_PIXELS", 256 * 40)  # bands of 72 rows (4 x HALO) on 256 px
    assert len(detail._bands(256, 256)) == 4
    banded = detail.transfer_detail(dark, smooth, 1.0)
    assert torch.allclose(banded, whole, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 1, 37), (1, 3, 5, 7), (1, 3, 700, 3)])
def test_forced_transfer_on_tiny_images(shape):
    image = torch.full(shape, 0.2)
    out = transfer_detail(image, torch.full(shape, 0.6), 1.0)
    assert out.shape == image.shape and bool(torch.isfinite(out).all())
    assert input_strength(image) == [0.0]  # too small to judge: the paper's setting


def test_noise_level_function_reads_each_tones_flattest_pixels(monkeypatch):
    import mlsm.inference.detail as detail

    levels = torch.cat([torch.full((1000,), 0.1), torch.full((1000,), 0.8)])
    energy = torch.cat([torch.linspace(1.0, 100.0, 1000), torch.linspace(1000.0, 2000.0, 1000)])
    order = torch.randperm(2000, generator=torch.Generator().manual_seed(3))
    centres, floors = detail.noise_level_function(energy[order], levels[order], bins=2)
    assert centres.tolist() == pytest.approx([0.1, 0.8])
    assert floors.tolist() == pytest.approx([10.9, 1100.0], rel=0.01)  # the 10 % quantile of each tone
    monkeypatch.setattr(detail, "NOISE_SAMPLES", 200)  # an even stride through the pixels
    assert detail.noise_level_function(energy, levels, bins=2)[1].tolist() == pytest.approx([10.9, 1100.0], rel=0.02)
    single = detail.noise_level_function(torch.tensor([5.0]), torch.tensor([0.3]))
    assert (single[0].tolist(), single[1].tolist()) == ([pytest.approx(0.3)], [5.0])


def _fine(plane: torch.Tensor) -> float:
    """RMS of the pixel-scale part of an (N, 3, H, W) image's luma."""
    from mlsm.inference.maps import gaussian_blur, luma

    return float((luma(plane) - gaussian_blur(luma(plane), 2.0)).square().mean().sqrt())


def test_the_noise_floor_follows_the_tone():
    # a bright, nearly clean majority and a dark, noisy quarter the output lifts 4x: one noise
    # figure for the photo (revision 7) is the bright part's and passes the lifted noise through
    rng = torch.Generator().manual_seed(4)
    image = torch.full((1, 3, 128, 128), 0.6)
    image[..., 96:, :] = 0.1  # 25 code values: above the shadow codes
    noise = torch.randn(image.shape, generator=rng) * torch.where(image > 0.3, 0.001, 0.01)
    noisy = ((image + noise).clamp(0, 1) * 255).round() / 255
    enhanced = image.clone()
    enhanced[..., 96:, :] = linear_to_srgb(srgb_to_linear(torch.tensor(0.1)) * 4.0)
    out = transfer_detail(noisy, enhanced, 1.0)
    from mlsm.inference.maps import relight

    lifted = relight(noisy, enhanced)
    dark = (..., slice(110, 124), slice(4, 124))  # away from the step, which is structure
    assert _fine(out[dark]) < 0.5 * _fine(lifted[dark])  # 0.30; revision 7's rule: 1.00
    assert float((out[..., :88, :] - enhanced[..., :88, :]).abs().max()) < 0.01


def test_near_black_gives_its_darkness_not_its_speckle():
    # a near-black patch (0-4 code values, mean 2): lifted, its pixels are quantisation speckle
    rng = torch.Generator().manual_seed(5)
    codes = (2.0 + 1.2 * torch.randn((1, 1, 96, 96), generator=rng)).round().clamp(0, 255)
    image = (codes / 255).expand(1, 3, 96, 96).contiguous()
    enhanced = torch.full_like(image, 0.3)
    out = transfer_detail(image, enhanced, 1.0)
    from mlsm.inference.maps import relight

    inner = (..., slice(8, 88), slice(8, 88))
    assert _fine(out[inner]) < 0.15 * _fine(relight(image, enhanced)[inner])  # 0.07; 0.28 without the codes, 0.55 revision 7
    assert float(out[inner].mean()) < 0.3  # the file's darkness (its local mean) still counts
