"""Tests for mlsm.eval.crops: where the figures and the demo zoom."""
from __future__ import annotations

import numpy as np

from mlsm.eval.crops import blocking_crop, darkest_region


def test_blocking_crop_finds_the_blocky_region():
    rng = np.random.default_rng(0)
    image = np.clip(0.08 + rng.normal(0, 0.004, (128, 160, 3)), 0, 1)
    blocks = rng.uniform(0.02, 0.14, (6, 6))  # flat 8x8 blocks with steps between them
    image[64:112, 16:64] = np.kron(blocks, np.ones((8, 8)))[..., None]
    x, y, w, h = blocking_crop(image, size=48)
    assert (w, h) == (48, 48) and x % 8 == 0 and y % 8 == 0
    assert 64 - 24 <= y <= 64 + 24 and 16 - 24 <= x <= 16 + 24
    assert blocking_crop(np.zeros((12, 12, 3))) == (0, 0, 12, 12)


def test_darkest_region_skips_black_and_finds_dark_texture():
    rng = np.random.default_rng(1)
    image = np.full((160, 160, 3), 0.6) + rng.normal(0, 0.01, (160, 160, 3))
    image[:80, :80] = 0.0  # pitch black: nothing to see
    image[96:160, 96:160] = 0.05 + 0.04 * (rng.random((64, 64, 1)) > 0.5)  # dark with texture
    image = np.clip(image, 0, 1)
    x, y, w, h = darkest_region(image, size=48)
    assert w == h == 48
    assert x >= 96 - 12 and y >= 96 - 12


def test_darkest_region_with_min_mean_zero_takes_a_pitch_black_window():
    image = np.full((200, 300, 3), 0.8, np.float32)
    image[40:80, 100:140] = 0.0
    assert darkest_region(image, 40, min_mean=0.0) == (100, 40, 40, 40)
    assert darkest_region(image, 40)[:2] != (100, 40)  # pitch black: skipped by default


def test_darkest_region_searches_large_images_on_a_subsampled_grid():
    rng = np.random.default_rng(3)
    image = np.full((1200, 2100, 3), 0.7, np.float32)
    image[500:700, 1300:1500] = 0.06 + 0.04 * (rng.random((200, 200, 1)) > 0.5)
    x, y, w, h = darkest_region(image, 160)
    assert w == h == 160 and 0 <= x <= 2100 - 160 and 0 <= y <= 1200 - 160
    assert 1300 - 8 <= x <= 1500 - 160 + 8 and 500 - 8 <= y <= 700 - 160 + 8
    assert darkest_region((image * 255).astype(np.uint8), 160)[2:] == (160, 160)
