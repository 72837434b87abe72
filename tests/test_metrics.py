"""Tests for mlsm.metrics: golden PSNR-B/BEF values by hand, PSNR/SSIM against reference libraries."""
from __future__ import annotations

import doctest
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from skimage.metrics import structural_similarity
from torchmetrics.functional.image import peak_signal_noise_ratio
from torchmetrics.functional.image import peak_signal_noise_ratio_with_blocked_effect

import mlsm.metrics as metrics
from mlsm.metrics import (
    MetricInputError,
    average,
    blocking_effect_factor,
    compute_metrics,
    psnr,
    psnr_b,
    rgb_to_y,
    ssim,
)

KODAK_FIRST = Path("/work/shared/data/photos/kodak24/kodim01.png")


def _random_pair(shape: tuple[int, ...], seed: int, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.random(shape)
    restored = np.clip(reference + noise * rng.standard_normal(shape), 0.0, 1.0)
    return restored, reference


def _smooth_pair(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spatial_sigma = (4.0, 4.0, 0.0)[: len(shape)]  # blur rows and columns, never across channels
    reference = ndimage.gaussian_filter(rng.random(shape), sigma=spatial_sigma)
    reference = (reference - reference.min()) / (reference.max() - reference.min())
    restored = ndimage.gaussian_filter(reference + 0.05 * rng.standard_normal(shape), sigma=(1.0, 1.0, 0.0)[: len(shape)])
    return np.clip(restored, 0.0, 1.0), reference


def _skimage_ssim(restored: np.ndarray, reference: np.ndarray, data_range: float) -> float:
    return float(structural_similarity(
        restored, reference, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=data_range, channel_axis=-1 if restored.ndim == 3 else None))


# ----------------------------------------------------------------------------- doctests

def test_module_doctests_pass():
    result = doctest.testmod(metrics, verbose=False)
    assert result.attempted >= 15
    assert result.failed == 0


# ----------------------------------------------------------------------------- rgb_to_y

def test_rgb_to_y_matches_matlab_rgb2ycbcr_formula():
    pixel = np.array([[[0.2, 0.6, 0.9]]]).repeat(2, axis=0).repeat(2, axis=1)
    expected = (16 + 65.481 * 0.2 + 128.553 * 0.6 + 24.966 * 0.9) / 255
    assert rgb_to_y(pixel)[0, 0] == pytest.approx(expected, abs=1e-12)
    assert rgb_to_y(np.ones((2, 2, 3)))[1, 1] == pytest.approx(235 / 255, abs=1e-12)
    assert rgb_to_y(np.zeros((2, 2, 3)))[1, 1] == pytest.approx(16 / 255, abs=1e-12)


def test_rgb_to_y_scales_with_data_range():
    restored, _ = _random_pair((4, 5, 3), seed=0)
    assert np.allclose(rgb_to_y(255 * restored, data_range=255), 255 * rgb_to_y(restored), atol=1e-9)


def test_rgb_to_y_rejects_grey():
    with pytest.raises(MetricInputError, match="rgb_to_y needs"):
        rgb_to_y(np.zeros((4, 4)))


# ----------------------------------------------------------------------------- PSNR

def test_psnr_known_values():
    assert psnr(np.full((8, 8, 3), 0.5), np.full((8, 8, 3), 0.4)) == pytest.approx(20.0, abs=1e-9)
    assert psnr(np.full((8, 8), 127.5), np.full((8, 8), 102.0), data_range=255) == pytest.approx(20.0, abs=1e-9)
    assert psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3))) == math.inf


@pytest.mark.parametrize("shape", [(32, 40, 3), (33, 29)])
def test_psnr_matches_torchmetrics(shape):
    restored, reference = _random_pair(shape, seed=1)
    to_nchw = (lambda a: torch.from_numpy(a).permute(2, 0, 1)[None]) if len(shape) == 3 else (
        lambda a: torch.from_numpy(a)[None, None])
    expected = float(peak_signal_noise_ratio(to_nchw(restored), to_nchw(reference), data_range=1.0))
    assert psnr(restored, reference) == pytest.approx(expected, abs=1e-4)


def test_psnr_y_and_border_by_hand():
    restored, reference = _random_pair((20, 24, 3), seed=2)
    y_error = rgb_to_y(restored) - rgb_to_y(reference)
    assert psnr(restored, reference, channel="y") == pytest.approx(
        10 * math.log10(1 / np.mean(y_error ** 2)), abs=1e-9)
    cropped_error = restored[3:-3, 3:-3] - reference[3:-3, 3:-3]
    assert psnr(restored, reference, border=3) == pytest.approx(
        10 * math.log10(1 / np.mean(cropped_error ** 2)), abs=1e-9)


# ----------------------------------------------------------------------------- SSIM

@pytest.mark.parametrize("make_pair", [_random_pair, _smooth_pair], ids=["random", "smooth"])
@pytest.mark.parametrize("shape", [(48, 56, 3), (45, 40)], ids=["rgb", "grey"])
def test_ssim_matches_skimage(make_pair, shape):
    restored, reference = make_pair(shape, seed=3)
    expected = _skimage_ssim(restored, reference, data_range=1.0)
    assert ssim(restored, reference) == pytest.approx(expected, abs=1e-4)
    assert 0.0 < ssim(restored, reference) < 1.0


def test_ssim_matches_skimage_with_data_range_255_y_and_border():
    restored, reference = _smooth_pair((40, 44, 3), seed=4)
    assert ssim(255 * restored, 255 * reference, data_range=255) == pytest.approx(
        _skimage_ssim(255 * restored, 255 * reference, 255.0), abs=1e-4)
    assert ssim(restored, reference, channel="y") == pytest.approx(
        _skimage_ssim(rgb_to_y(restored), rgb_to_y(reference), 1.0), abs=1e-4)
    assert ssim(restored, reference, border=4) == pytest.approx(
        _skimage_ssim(restored[4:-4, 4:-4], reference[4:-4, 4:-4], 1.0), abs=1e-4)


def test_ssim_is_one_for_identical_and_lower_for_noisier():
    restored, reference = _random_pair((32, 32, 3), seed=5, noise=0.05)
    noisier, _ = _random_pair((32, 32, 3), seed=5, noise=0.2)
    assert ssim(reference, reference) == pytest.approx(1.0, abs=1e-12)
    assert ssim(noisier, reference) < ssim(restored, reference) < 1.0


def test_ssim_rejects_images_smaller_than_window():
    with pytest.raises(MetricInputError, match="at least 11x11"):
        ssim(np.zeros((10, 20)), np.zeros((10, 20)))
    with pytest.raises(MetricInputError, match="at least 11x11"):
        ssim(np.zeros((16, 16)), np.zeros((16, 16)), border=3)


# ----------------------------------------------------------------------------- BEF by hand

def _block_image(block_values: list[list[float]], block_size: int = 8) -> np.ndarray:
    """Constant B x B blocks laid out as in ``block_values`` (rows of blocks)."""
    return np.kron(np.array(block_values, dtype=np.float64), np.ones((block_size, block_size)))


def test_bef_four_constant_blocks_by_hand():
    # 16 x 16: top-left a, top-right b, bottom-left c, bottom-right d.
    a, b, c, d = 0.2, 0.5, 0.9, 0.4
    image = _block_image([[a, b], [c, d]])
    # Pairs across the vertical grid line (columns 7, 8): 8 rows a|b and 8 rows c|d.
    horizontal_boundary_sum = 8 * (a - b) ** 2 + 8 * (c - d) ** 2
    # Pairs across the horizontal grid line (rows 7, 8): 8 columns a/c and 8 columns b/d.
    vertical_boundary_sum = 8 * (a - c) ** 2 + 8 * (b - d) ** 2
    n_hb = 16 * (16 / 8 - 1)  # N_V (N_H / B - 1) = 16
    n_vb = 16 * (16 / 8 - 1)  # 16
    n_hbc = 16 * 15 - n_hb  # 224
    n_vbc = 16 * 15 - n_vb  # 224
    d_boundary = (horizontal_boundary_sum + vertical_boundary_sum) / (n_hb + n_vb)
    d_other = 0.0 / (n_hbc + n_vbc)  # constant blocks: no difference inside a block
    eta = math.log2(8) / math.log2(16)  # 0.75
    expected = eta * (d_boundary - d_other)
    assert expected == pytest.approx(0.75 * (8 * (0.09 + 0.25 + 0.49 + 0.01)) / 32)
    assert blocking_effect_factor(image) == pytest.approx(expected, abs=1e-12)


def test_bef_non_square_24_wide_16_high_with_in_block_ramp_by_hand():
    # N_H = 24 (3 block columns), N_V = 16 (2 block rows); a ramp of step s along each block row.
    values = [[0.1, 0.5, 0.2], [0.6, 0.3, 0.9]]
    step = 0.01
    column_phase = np.arange(24) % 8
    image = _block_image(values) + step * column_phase[None, :]
    assert image.shape == (16, 24)
    # Horizontal pairs across grid lines at columns (7, 8) and (15, 16): block jump minus 7 steps.
    horizontal_boundary_sum = 8 * sum(
        (values[row][col + 1] - values[row][col] - 7 * step) ** 2 for row in range(2) for col in range(2))
    # Vertical pairs across the grid line at rows (7, 8): the ramp cancels, block jump only.
    vertical_boundary_sum = 8 * sum((values[1][col] - values[0][col]) ** 2 for col in range(3))
    n_hb = 16 * (24 / 8 - 1)  # 32
    n_vb = 24 * (16 / 8 - 1)  # 24
    n_hbc = 16 * 23 - n_hb  # 336 pairs, each differing by one step
    n_vbc = 24 * 15 - n_vb  # 336 pairs, each differing by 0
    d_boundary = (horizontal_boundary_sum + vertical_boundary_sum) / (n_hb + n_vb)
    d_other = (n_hbc * step ** 2 + n_vbc * 0.0) / (n_hbc + n_vbc)
    eta = math.log2(8) / math.log2(min(24, 16))
    expected = eta * (d_boundary - d_other)
    assert d_other == pytest.approx(step ** 2 / 2)
    assert blocking_effect_factor(image) == pytest.approx(expected, abs=1e-12)
    # The definition is symmetric in the two directions.
    assert blocking_effect_factor(image.T) == pytest.approx(expected, abs=1e-12)


def test_bef_is_zero_when_boundary_differences_are_not_larger():
    # Column pattern 0,1,1,0,0,1,1,0 repeated: pairs across grid lines (col 7 = 0, col 8 = 0)
    # never differ, 4 of the 7 in-block pairs per block do: D_B = 0 < D_B^c > 0.
    stripes = np.tile(np.array([0, 1, 1, 0, 0, 1, 1, 0], dtype=np.float64), 2)[None, :].repeat(16, axis=0)
    assert blocking_effect_factor(stripes) == 0.0
    # Checkerboard: every adjacent pair differs by 1, so D_B == D_B^c and eta = 0.
    checkerboard = (np.add.outer(np.arange(16), np.arange(16)) % 2).astype(np.float64)
    assert blocking_effect_factor(checkerboard) == 0.0
    # A smaller-than-two-blocks image has no grid line: BEF 0.
    assert blocking_effect_factor(np.random.default_rng(0).random((8, 8))) == 0.0


def test_bef_width_not_multiple_of_block_counts_pairs_actually_summed():
    # N_H = 20, N_V = 16: grid lines at column pairs (7, 8) and (15, 16) -> 2 per row; row pair (7, 8).
    image = np.zeros((16, 20))
    image[:, 16:] = 1.0  # only the (15, 16) line carries a jump: 16 rows x 1^2
    n_hb = 16 * 2
    n_vb = 20 * 1
    expected = (math.log2(8) / math.log2(16)) * (16.0 / (n_hb + n_vb) - 0.0)
    assert blocking_effect_factor(image) == pytest.approx(expected, abs=1e-12)


def test_bef_grid_is_anchored_at_the_image_origin():
    # The same jump one column off the grid is an in-block difference, not a boundary one.
    on_grid = np.zeros((16, 16))
    on_grid[:, 8:] = 1.0
    off_grid = np.zeros((16, 16))
    off_grid[:, 9:] = 1.0
    assert blocking_effect_factor(on_grid) == pytest.approx(0.375)
    assert blocking_effect_factor(off_grid) == 0.0


def test_bef_rgb_is_mean_of_channels():
    grey = _block_image([[0.2, 0.5], [0.9, 0.4]])
    rgb = np.stack([grey, np.zeros_like(grey), 0.5 * grey], axis=-1)
    expected = (blocking_effect_factor(grey) + 0.0 + blocking_effect_factor(0.5 * grey)) / 3
    assert blocking_effect_factor(rgb) == pytest.approx(expected, abs=1e-12)


def test_bef_normaliser_differs_from_torchmetrics_formula():
    # 0 | 1 halves, 16 x 16: the boundary sum is 16 (column pair 7, 8); no other pair differs.
    image = np.zeros((16, 16))
    image[:, 8:] = 1.0
    eta = math.log2(8) / math.log2(16)
    ours_n_hb = 16 * (16 / 8 - 1)  # N_V (N_H / B - 1) = 16
    buggy_n_hb = 16 * (16 / 8) - 1  # height * (width / B) - 1 = 31
    ours_bef = eta * 16 / (2 * ours_n_hb)  # 0.375
    buggy_bef = eta * 16 / (2 * buggy_n_hb)  # 0.1935...
    assert ours_bef == pytest.approx(0.375)
    assert abs(ours_bef - buggy_bef) > 0.15
    assert blocking_effect_factor(image) == pytest.approx(ours_bef, abs=1e-12)
    # torchmetrics follows the buggy normaliser; we do not.
    tensor = torch.from_numpy(image)[None, None]
    torchmetrics_value = float(peak_signal_noise_ratio_with_blocked_effect(tensor, tensor, data_range=1.0))
    assert torchmetrics_value == pytest.approx(10 * math.log10(1 / buggy_bef), abs=1e-4)
    assert psnr_b(image, image) == pytest.approx(10 * math.log10(1 / ours_bef), abs=1e-9)


# ----------------------------------------------------------------------------- PSNR-B

def test_psnr_b_equals_psnr_when_bef_is_zero():
    stripes = np.tile(np.array([0, 1, 1, 0, 0, 1, 1, 0], dtype=np.float64), 3)[None, :].repeat(16, axis=0)
    reference = np.clip(stripes + 0.1 * np.random.default_rng(6).standard_normal(stripes.shape), 0, 1)
    restored = 0.8 * stripes + 0.1
    assert blocking_effect_factor(restored) == 0.0
    assert psnr_b(restored, reference) == pytest.approx(psnr(restored, reference), abs=1e-12)


def test_psnr_b_is_below_psnr_on_blocky_image_and_measures_restored_only():
    reference = np.tile(np.linspace(0.2, 0.8, 32), (32, 1))  # smooth horizontal ramp
    blocky = np.kron(reference[::8, ::8], np.ones((8, 8)))  # 8x8 block means of the ramp, roughly
    mse = np.mean((blocky - reference) ** 2)
    bef = blocking_effect_factor(blocky)
    assert bef > 0
    assert psnr_b(blocky, reference) == pytest.approx(10 * math.log10(1 / (mse + bef)), abs=1e-9)
    assert psnr_b(blocky, reference) < psnr(blocky, reference)
    # Asymmetric: the smooth reference as the "restored" image has no blocking penalty.
    assert blocking_effect_factor(reference) == 0.0
    assert psnr_b(reference, blocky) == pytest.approx(psnr(reference, blocky), abs=1e-12)


def test_psnr_b_rgb_averages_mse_b_over_channels_and_y_uses_luma():
    restored = np.stack([_block_image([[0.2, 0.5], [0.9, 0.4]]),
                         _block_image([[0.3, 0.3], [0.3, 0.6]]),
                         np.full((16, 16), 0.7)], axis=-1)
    reference = np.clip(restored + 0.05 * np.random.default_rng(7).standard_normal(restored.shape), 0, 1)
    mse_b = [np.mean((restored[..., k] - reference[..., k]) ** 2) + blocking_effect_factor(restored[..., k])
             for k in range(3)]
    assert psnr_b(restored, reference, channel="rgb") == pytest.approx(
        10 * math.log10(1 / np.mean(mse_b)), abs=1e-9)
    y_restored, y_reference = rgb_to_y(restored), rgb_to_y(reference)
    y_mse_b = np.mean((y_restored - y_reference) ** 2) + blocking_effect_factor(y_restored)
    assert psnr_b(restored, reference) == pytest.approx(10 * math.log10(1 / y_mse_b), abs=1e-9)


def test_psnr_b_border_crops_mse_only_and_keeps_the_full_image_grid():
    restored = _block_image([[0.2, 0.5, 0.1], [0.9, 0.4, 0.3], [0.6, 0.2, 0.8]])  # 24 x 24
    reference = np.clip(restored + 0.05 * np.random.default_rng(8).standard_normal(restored.shape), 0, 1)
    border = 3
    cropped_mse = np.mean((restored[3:-3, 3:-3] - reference[3:-3, 3:-3]) ** 2)
    full_grid_bef = blocking_effect_factor(restored)
    assert psnr_b(restored, reference, border=border) == pytest.approx(
        10 * math.log10(1 / (cropped_mse + full_grid_bef)), abs=1e-9)
    # A crop-then-grid implementation (KAIR) would see the grid shifted by 3 and a different BEF.
    assert blocking_effect_factor(restored[3:-3, 3:-3]) != pytest.approx(full_grid_bef)


@pytest.mark.skipif(not KODAK_FIRST.exists(), reason="shared Kodak photos not available")
def test_real_jpeg_low_quality_is_blockier_than_high_quality():
    photo = Image.open(KODAK_FIRST).convert("RGB")
    left = (photo.width - 128) // 2 // 8 * 8
    top = (photo.height - 128) // 2 // 8 * 8
    crop = photo.crop((left, top, left + 128, top + 128))
    reference = np.asarray(crop, dtype=np.float64) / 255.0

    def jpeg(quality: int) -> np.ndarray:
        buffer = io.BytesIO()
        crop.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float64) / 255.0

    low, high = jpeg(10), jpeg(90)
    bef_low = blocking_effect_factor(rgb_to_y(low))
    bef_high = blocking_effect_factor(rgb_to_y(high))
    assert bef_low > bef_high
    assert bef_low > 0
    assert psnr_b(low, reference) < psnr_b(high, reference)
    assert psnr_b(low, reference) < psnr(low, reference, channel="y")


# ----------------------------------------------------------------------------- tables

def test_compute_metrics_keys_and_channels():
    restored, reference = _smooth_pair((32, 40, 3), seed=9)
    scores = compute_metrics(restored, reference)
    assert set(scores) == {"psnr", "ssim", "psnr_b", "psnr_y", "ssim_y"}
    assert scores["psnr"] == psnr(restored, reference, channel="rgb")
    assert scores["ssim"] == ssim(restored, reference, channel="rgb")
    assert scores["psnr_b"] == psnr_b(restored, reference, channel="y")
    assert scores["psnr_y"] == psnr(restored, reference, channel="y")
    assert scores["ssim_y"] == ssim(restored, reference, channel="y")
    assert scores["psnr_y"] != scores["psnr"]


def test_average_means_and_infinity_policy():
    per_image = [{"psnr": 20.0, "ssim": 0.5}, {"psnr": 30.0, "ssim": 0.7}, {"psnr": math.inf, "ssim": 1.0}]
    assert average(per_image[:2]) == pytest.approx({"psnr": 25.0, "ssim": 0.6})
    propagated = average(per_image)
    assert propagated["psnr"] == math.inf
    assert propagated["ssim"] == pytest.approx(2.2 / 3)
    skipped = average(per_image, skip_infinite=True)
    assert skipped["psnr"] == pytest.approx(25.0)
    assert skipped["ssim"] == pytest.approx(2.2 / 3)
    assert average([{"psnr": math.inf}], skip_infinite=True) == {"psnr": math.inf}


@pytest.mark.parametrize("per_image, message", [
    ([], "empty"),
    ([{"psnr": 1.0}, {"ssim": 1.0}], "keys"),
    ([{"psnr": "high"}], "not a number"),
    ([{"psnr": float("nan")}], "cannot be averaged"),
])
def test_average_rejects_bad_input(per_image, message):
    with pytest.raises(MetricInputError, match=message):
        average(per_image)


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("restored, reference, kwargs, message", [
    (np.zeros((16, 16, 3)), np.zeros((16, 17, 3)), {}, "shapes differ"),
    (np.zeros((16, 16, 4)), np.zeros((16, 16, 4)), {}, r"expected shape \(H, W\) or \(H, W, 3\)"),
    (np.zeros((2, 16, 16, 3)), np.zeros((2, 16, 16, 3)), {}, "expected shape"),
    (np.zeros(16), np.zeros(16), {}, "expected shape"),
    (np.full((16, 16), np.nan), np.zeros((16, 16)), {}, "restored: contains NaN"),
    (np.zeros((16, 16)), np.full((16, 16), np.inf), {}, "reference: contains NaN"),
    (np.zeros((16, 16)), np.zeros((16, 16)), {"data_range": 0}, "data_range"),
    (np.zeros((16, 16)), np.zeros((16, 16)), {"channel": "ycbcr"}, "channel"),
    (np.zeros((16, 16)), np.zeros((16, 16)), {"border": 8}, "border"),
    (np.zeros((16, 16)), np.zeros((16, 16)), {"border": -1}, "border"),
])
@pytest.mark.parametrize("metric", [psnr, ssim, psnr_b])
def test_metrics_reject_bad_input(metric, restored, reference, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metric(restored, reference, **kwargs)


def test_block_size_is_validated():
    with pytest.raises(MetricInputError, match="block_size"):
        blocking_effect_factor(np.zeros((16, 16)), block_size=1)
    with pytest.raises(MetricInputError, match="block_size"):
        psnr_b(np.zeros((16, 16)), np.zeros((16, 16)), block_size=2.5)


def test_block_edge_ratio_is_one_without_blocks_and_large_with_them():
    from mlsm.metrics import block_edge_ratio
    rng = np.random.default_rng(0)
    noise = rng.random((64, 64, 3))
    assert abs(block_edge_ratio(noise) - 1.0) < 0.1
    blocky = np.kron(rng.random((8, 8)), np.ones((8, 8))) + 0.01 * rng.standard_normal((64, 64))
    assert block_edge_ratio(blocky) > 100
    # brightness- and contrast-independent: scaling the image does not change the ratio
    assert block_edge_ratio(0.3 * noise) == pytest.approx(block_edge_ratio(noise), rel=1e-3)
    with pytest.raises(MetricInputError):
        block_edge_ratio(noise[:10, :10])


# ----------------------------------------------------------------------------- colourfulness

def test_colourfulness_two_colour_image_matches_hand_computation():
    """Half pure red, half pure blue: rg in {255, 0}, yb in {127.5, -255}."""
    image = np.zeros((4, 8, 3))
    image[:, :4, 0] = 1.0
    image[:, 4:, 2] = 1.0
    rg, yb = np.array([255.0, 0.0]), np.array([127.5, -255.0])
    expected = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    assert metrics.colourfulness(image) == pytest.approx(expected, rel=1e-12)
    assert metrics.colourfulness(image * 255, data_range=255) == pytest.approx(expected, rel=1e-12)


def test_colourfulness_grey_is_zero_and_saturation_raises_it():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.random((16, 16, 1)), 3, axis=2)
    assert metrics.colourfulness(grey) == 0.0
    colour = np.clip(grey + rng.normal(0, 0.1, grey.shape), 0, 1)
    assert metrics.colourfulness(colour) > metrics.colourfulness(0.5 + 0.5 * (colour - 0.5)) > 0
    with pytest.raises(metrics.MetricInputError):
        metrics.colourfulness(grey[..., 0])
