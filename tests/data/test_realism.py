"""Tests for mlsm.data.realism and scripts/realism_report.py (small synthetic images only)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlsm.data.degrade import DegradationRanges, compress
from mlsm.data.realism import (
    NPS_BINS,
    PERCENTILES,
    coverage,
    flat_dark_patches,
    image_stats,
    luminance_percentiles,
    noise_power_spectrum,
    synthetic_inputs,
)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "realism_report.py"


def scene(seed: int, size: int = 96) -> np.ndarray:
    """Dark left half with a little noise, bright right half, a white lamp."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 0.1, dtype=np.float32)
    image[:, size // 2:] = 0.6
    image[4:12, -12:-4] = 1.0
    image += 0.01 * rng.standard_normal(image.shape).astype(np.float32)
    return np.clip(image, 0, 1)


def test_luminance_percentiles_see_the_lamp_in_the_top_percent():
    y_pct, max_pct = luminance_percentiles(scene(0))
    assert len(y_pct) == len(max_pct) == len(PERCENTILES)
    assert list(y_pct) == sorted(y_pct) and list(max_pct) == sorted(max_pct)
    assert max_pct[-1] == pytest.approx(1.0) and y_pct[-1] == pytest.approx(235 / 255)
    assert max_pct[0] < 0.7


def test_flat_dark_patches_come_from_the_dark_flat_half():
    image = scene(1)
    residuals = flat_dark_patches(image, patches=2)
    assert len(residuals) == 2 and all(r.shape == (32, 32) for r in residuals)
    assert all(abs(float(r.mean())) < 0.01 for r in residuals)              # high-pass residuals
    assert flat_dark_patches(image[:16, :16]) == []                          # smaller than a patch


def test_nps_of_white_noise_is_flat_and_of_blurred_noise_is_low_pass():
    from scipy import ndimage
    rng = np.random.default_rng(2)
    white = [rng.standard_normal((32, 32)) for _ in range(8)]
    blurred = [ndimage.gaussian_filter(w, 1.0) for w in white]
    nps_white, nps_blur = noise_power_spectrum(white), noise_power_spectrum(blurred)
    assert nps_white.shape == (NPS_BINS,) and nps_white.sum() == pytest.approx(1.0)
    centres = (np.arange(NPS_BINS) + 0.5) * 0.5 / NPS_BINS
    assert np.dot(nps_blur, centres) < np.dot(nps_white, centres) - 0.05
    assert noise_power_spectrum([]) is None


def test_image_stats_block_edge_ratio_sees_jpeg_blocks():
    image = scene(3)
    plain = image_stats(image)
    blocky = image_stats(compress(image * 0.3, 20)[0])
    assert blocky.block_edge_ratio > plain.block_edge_ratio
    assert np.isfinite(plain.noise_std) and plain.nps is not None
    assert set(plain.scalars()) >= {"Y p50", "maxRGB p100", "NPS centroid (cyc/px)", "block-edge ratio"}


def test_coverage_flags_a_statistic_outside_the_synthetic_range():
    bright = [image_stats(scene(s)) for s in range(3)]
    dark = [image_stats(np.clip(scene(s) * 0.2, 0, 1)) for s in range(3)]
    same = coverage(bright, bright)
    assert all(row["covered"] for name, row in same.items() if np.isfinite(row["real_median"]))
    assert not coverage(bright, dark)["Y p100"]["covered"]


def test_synthetic_inputs_are_seeded():
    photos = [scene(4, 48), scene(5, 48)]
    first = list(synthetic_inputs(photos, DegradationRanges.v2(), 3, seed=1))
    second = list(synthetic_inputs(photos, DegradationRanges.v2(), 3, seed=1))
    assert len(first) == 3 and all(np.array_equal(a, b) for a, b in zip(first, second))


def test_report_script_writes_figure_and_summary(tmp_path, monkeypatch):
    # the script's main() sets OMP_NUM_THREADS=1 for itself: keep it from leaking into later
    # tests' subprocesses (tests/test_enhance_outputs.py hashes outputs made with the default threads)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = tmp_path / "data"
    for folder, count, level in (("photos/cbsd68", 2, 1.0), ("photos/mcmaster", 1, 1.0),
                                 ("real-dark/dicm", 2, 0.3), ("real-dark/lime", 1, 0.3)):
        (data / folder).mkdir(parents=True)
        for index in range(count):
            pixels = np.round(np.clip(scene(index, 64) * level, 0, 1) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(data / folder / f"{index}.png")
    spec = importlib.util.spec_from_file_location("realism_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "docs" / "realism.png"
    assert module.main(["--out", str(out), "--data", str(data), "--samples", "4"]) == 0
    assert out.stat().st_size > 10_000
    text = out.with_suffix(".md").read_text()
    summary = json.loads(text.split("```json")[1].split("```")[0])
    assert summary["counts"] == {"real": 3, "v1": 4, "v2": 4}
    assert set(summary["v2"]) == set(summary["v1"]) and "| Y p50 |" in text
    assert module.main(["--out", str(out), "--data", str(tmp_path / "missing")]) == 2
