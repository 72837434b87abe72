"""Tests for mlsm.data.degrade: the clean -> dark -> noisy -> JPEG model."""
from __future__ import annotations

import numpy as np
import pytest

from mlsm.data.degrade import (
    DarkJpegParams,
    DegradationRanges,
    compress,
    darken,
    degrade,
    linear_to_srgb,
    sample_params,
    srgb_to_linear,
)


def textured_image(seed: int = 0, size: int = 64) -> np.ndarray:
    """A photo-like float32 (size, size, 3) image: smooth shading, edges and fine texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = 0.5 + 0.25 * np.sin(2 * np.pi * (xx * 1.5 + yy * 0.7))[..., None]
    base = base * np.array([1.0, 0.85, 0.7], dtype=np.float32)
    base[size // 4: size // 2, size // 4: 3 * size // 4] += 0.2          # an edge-bounded block
    base += 0.08 * rng.standard_normal((size, size, 3)).astype(np.float32)  # texture
    return np.clip(base, 0.0, 1.0).astype(np.float32)


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(image, np.float64) - np.asarray(reference, np.float64)) ** 2))
    return 10.0 * np.log10(1.0 / mse)


def test_same_seed_gives_identical_output_and_another_seed_differs():
    clean = textured_image()
    ranges = DegradationRanges()

    def run(seed: int) -> tuple[DarkJpegParams, np.ndarray]:
        rng = np.random.default_rng(seed)
        params = sample_params(rng, ranges)
        return params, degrade(clean, params, rng)

    params_a, out_a = run(7)
    params_b, out_b = run(7)
    params_c, out_c = run(8)
    assert params_a == params_b
    assert np.array_equal(out_a, out_b)
    assert params_a != params_c
    assert not np.array_equal(out_a, out_c)


def test_sampled_params_stay_inside_the_ranges():
    ranges = DegradationRanges(exposure=(0.05, 0.2), colour_cast=0.1, quality=(70, 80))
    rng = np.random.default_rng(0)
    for _ in range(50):
        params = sample_params(rng, ranges)
        assert 0.05 <= params.exposure <= 0.2
        assert params.colour_gains[1] == 1.0
        assert all(0.9 <= gain <= 1.1 for gain in params.colour_gains)
        assert 70 <= params.quality <= 80


def test_darker_exposure_gives_a_lower_mean():
    clean = textured_image()
    means = []
    for exposure in (0.5, 0.1, 0.02):
        params = DarkJpegParams(exposure=exposure, photons_at_white=5000.0, read_noise_std=0.001)
        means.append(float(darken(clean, params, np.random.default_rng(0)).mean()))
    assert means[0] > means[1] > means[2]
    assert means[0] < float(clean.mean())


def test_darken_output_is_8bit_quantised_in_range():
    params = DarkJpegParams(exposure=0.1, photons_at_white=1000.0, read_noise_std=0.002)
    dark = darken(textured_image(), params, np.random.default_rng(1))
    assert dark.dtype == np.float32
    assert dark.min() >= 0.0 and dark.max() <= 1.0
    assert np.allclose(dark * 255.0, np.round(dark * 255.0), atol=1e-3)


def test_lower_quality_gives_smaller_file_and_lower_psnr():
    image = textured_image(seed=3, size=96)
    results = [compress(image, quality) for quality in (95, 80, 60, 30)]
    sizes = [size for _, size in results]
    scores = [psnr(decoded, np.round(image * 255) / 255) for decoded, _ in results]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    assert scores == sorted(scores, reverse=True)
    decoded, _ = results[0]
    assert decoded.shape == image.shape and decoded.dtype == np.float32


def test_chroma_subsampling_444_keeps_more_colour_detail_than_420():
    image = textured_image(seed=4)
    decoded_420, size_420 = compress(image, 90, "4:2:0")
    decoded_444, size_444 = compress(image, 90, "4:4:4")
    assert size_444 > size_420
    assert psnr(decoded_444, image) > psnr(decoded_420, image)


def test_srgb_transfer_functions_are_inverse():
    values = np.linspace(0.0, 1.0, 10001, dtype=np.float32)
    assert np.max(np.abs(linear_to_srgb(srgb_to_linear(values)) - values)) < 1e-5
    assert np.max(np.abs(srgb_to_linear(linear_to_srgb(values)) - values)) < 1e-5
    # known points of IEC 61966-2-1: the linear segment and mid grey
    assert srgb_to_linear(np.float32(0.04045)) == pytest.approx(0.04045 / 12.92, rel=1e-6)
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.21404, abs=1e-4)


def test_colour_gains_act_per_channel():
    grey = np.full((16, 16, 3), 0.6, dtype=np.float32)
    gains = (1.8, 1.0, 0.5)
    params = DarkJpegParams(exposure=0.25, colour_gains=gains, photons_at_white=None, read_noise_std=0.0)
    dark = darken(grey, params, np.random.default_rng(0))
    linear = srgb_to_linear(dark).reshape(-1, 3).mean(axis=0)
    expected = srgb_to_linear(np.float32(0.6)) * 0.25 * np.asarray(gains)
    assert np.allclose(linear, expected, rtol=0.02)
    # swapping the gains swaps the channels, green is untouched
    swapped = darken(grey, DarkJpegParams(0.25, (0.5, 1.0, 1.8), None, 0.0), np.random.default_rng(0))
    assert np.allclose(swapped[..., 0], dark[..., 2]) and np.allclose(swapped[..., 1], dark[..., 1])


@pytest.mark.parametrize("signal", [0.1, 0.4])
def test_noise_variance_matches_the_shot_plus_read_model(signal):
    """On a flat patch, the linear-domain variance is x / photons_at_white + read_noise_std^2."""
    photons, read_std = 200.0, 0.01
    flat = np.full((256, 256, 3), linear_to_srgb(np.float32(signal)), dtype=np.float32)
    params = DarkJpegParams(exposure=1.0, photons_at_white=photons, read_noise_std=read_std)
    noisy = srgb_to_linear(darken(flat, params, np.random.default_rng(5)))
    expected = signal / photons + read_std ** 2
    assert float(noisy.var()) == pytest.approx(expected, rel=0.05)
    assert float(noisy.mean()) == pytest.approx(signal, abs=2e-3)


def test_noise_std_grows_with_signal():
    params = DarkJpegParams(exposure=1.0, photons_at_white=500.0, read_noise_std=0.002)
    stds = []
    for signal in (0.02, 0.1, 0.4):
        flat = np.full((128, 128, 3), linear_to_srgb(np.float32(signal)), dtype=np.float32)
        stds.append(float(srgb_to_linear(darken(flat, params, np.random.default_rng(2))).std()))
    assert stds[0] < stds[1] < stds[2]


def test_no_noise_when_disabled():
    flat = np.full((8, 8, 3), 0.5, dtype=np.float32)
    dark = darken(flat, DarkJpegParams(exposure=0.2, photons_at_white=None, read_noise_std=0.0),
                  np.random.default_rng(0))
    assert np.ptp(dark) == 0.0


def test_degrade_without_quality_skips_the_jpeg_step():
    clean = textured_image()
    params = DarkJpegParams(exposure=0.2, photons_at_white=3000.0, read_noise_std=0.001, quality=None)
    assert np.array_equal(degrade(clean, params, np.random.default_rng(4)),
                          darken(clean, params, np.random.default_rng(4)))


@pytest.mark.parametrize("quality", [0, -5, 101, 1000])
def test_invalid_quality_raises(quality):
    with pytest.raises(ValueError, match="quality"):
        compress(textured_image(size=16), quality)


def test_invalid_subsampling_raises():
    with pytest.raises(ValueError, match="subsampling"):
        compress(textured_image(size=16), 90, "4:1:1")
