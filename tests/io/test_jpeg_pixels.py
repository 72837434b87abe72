"""Tests for mlsm.io.jpeg's quality estimate from decoded pixels (no file tables)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlsm.io import decode_image_bytes, encode_jpeg, estimate_quality_from_pixels, ijg_quantization_tables, read_image
from mlsm.io.jpeg import STEP_POSITIONS, estimate_luma_steps

SAMPLE = Path(__file__).resolve().parents[2] / "mlsm" / "assets" / "samples" / "dicm_22.jpg"


def _photo(gain: float = 1.0) -> np.ndarray:
    """A real photo (a bundled sample, stored at quality 100), optionally darkened in sRGB."""
    return np.clip(read_image(SAMPLE)[0][:320, :320] * gain, 0, 1)


def _roundtrip(image: np.ndarray, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    return decode_image_bytes(encode_jpeg((image * 255).round().astype(np.uint8), quality, subsampling))[0]


@pytest.mark.parametrize("quality", [70, 80, 90, 92, 95])
@pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
def test_quality_from_pixels_is_exact(quality, subsampling):
    assert estimate_quality_from_pixels(_roundtrip(_photo(), quality, subsampling)) == quality


@pytest.mark.parametrize("quality", [40, 50, 60])
def test_quality_from_pixels_of_low_qualities_within_two(quality):
    # large steps have few distinct multiples in 1600 blocks; neighbouring steps fit almost as well
    assert abs(estimate_quality_from_pixels(_roundtrip(_photo(), quality)) - quality) <= 2


@pytest.mark.parametrize("quality,tolerance", [(60, 2), (90, 0)])
def test_quality_from_pixels_of_a_dark_photo(quality, tolerance):
    # a dark photo has few non-zero coefficients; the low frequencies still decide
    assert abs(estimate_quality_from_pixels(_roundtrip(_photo(0.25), quality)) - quality) <= tolerance


def test_steps_are_the_table_entries():
    steps = estimate_luma_steps(_roundtrip(_photo(), 75))
    table = ijg_quantization_tables(75)[0]
    assert steps == {p: int(table[p]) for p in STEP_POSITIONS}


def test_never_quantized_reads_as_camera_quality():
    rng = np.random.default_rng(0)
    smooth = np.clip(_photo() + rng.normal(0, 0.01, (320, 320, 3)), 0, 1)  # off every integer grid
    assert estimate_quality_from_pixels(smooth) >= 97
    assert set(estimate_luma_steps(smooth).values()) == {1}


def test_a_crop_off_the_grid_reads_as_unquantized():
    decoded = _roundtrip(_photo(), 60)
    assert estimate_quality_from_pixels(decoded[3:, 5:]) >= 97  # the documented limit


def test_flat_image_cannot_be_judged():
    assert estimate_quality_from_pixels(np.full((64, 64, 3), 0.3)) is None
    assert estimate_luma_steps(np.zeros((64, 64, 3)))[1] is None


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3), (3, 700, 3), (700, 3, 3)])
def test_images_smaller_than_a_block_cannot_be_judged(shape):
    assert estimate_quality_from_pixels(np.full(shape, 0.4)) is None
