"""Tests for mlsm.eval.figures: QF plots, zoom grid, contact sheet and the automatic crops."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlsm.data.evalset import load_evalset, synthesize_evalset
from mlsm.eval.figures import (
    FigureError,
    blocking_crop,
    contact_sheet,
    darkest_region,
    plot_metric_vs_qf,
    zoom_grid,
)
from mlsm.eval.runner import output_image_path, run_eval

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, make_sources) -> Path:
    root = tmp_path_factory.mktemp("figures")
    synthesize_evalset(make_sources(root / "src", 2, first=3), root / "tiny", qualities=(90, 60), seed=5)
    run_eval(["identity", "gamma", "clahe"], [root / "tiny"], root / "run", save_images=True, progress=False)
    return root / "run"


def assert_real_png(path: Path, min_side: int = 200) -> np.ndarray:
    """The file is a PNG of some size with actual content (not one flat colour)."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert min(pixels.shape[:2]) >= min_side
    assert pixels.std() > 5 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    return pixels


def test_metric_vs_qf_plots(run_dir, tmp_path):
    paths = plot_metric_vs_qf(run_dir / "results.json", tmp_path / "plots")
    assert sorted(p.name for p in paths) == ["tiny_psnr_b_vs_qf.png", "tiny_psnr_vs_qf.png", "tiny_ssim_vs_qf.png"]
    for path in paths:
        assert_real_png(path)


def test_zoom_grid_from_saved_outputs_and_recomputed(run_dir, tmp_path):
    name = load_evalset(run_dir.parent / "tiny").items[0].name
    grid = zoom_grid(run_dir, "tiny", 60, name, tmp_path / "grid.png")
    pixels = assert_real_png(grid)
    # a missing output is recomputed (and saved again); an explicit crop is honoured
    saved = output_image_path(run_dir, "tiny", "clahe", 60, name)
    before = saved.read_bytes()
    saved.unlink()
    again = zoom_grid(run_dir, "tiny", 60, name, tmp_path / "grid2.png", crop=(8, 8, 24, 16))
    assert_real_png(again)
    assert saved.read_bytes() == before
    assert pixels.shape[1] > 4 * 200  # input, gamma, clahe, ground truth side by side
    with pytest.raises(FigureError, match="does not fit"):
        zoom_grid(run_dir, "tiny", 60, name, tmp_path / "bad.png", crop=(60, 40, 16, 16))
    with pytest.raises(FigureError, match="no image"):
        zoom_grid(run_dir, "tiny", 60, "nope", tmp_path / "bad.png")
    with pytest.raises(FigureError, match="QF"):
        zoom_grid(run_dir, "tiny", 70, name, tmp_path / "bad.png")


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


def test_contact_sheet(tmp_path, make_sources):
    folder = tmp_path / "dark"
    make_sources(tmp_path / "src", 2, first=3)
    folder.mkdir()
    for photo in sorted((tmp_path / "src").iterdir()):
        with Image.open(photo) as image:
            dark = (np.asarray(image, dtype=np.float32) * 0.15).astype(np.uint8)
        Image.fromarray(dark).save(folder / f"{photo.stem}.jpg", quality=60)
    sheet = contact_sheet([folder], ["gamma", "clahe", "zero_dce"], tmp_path / "sheet.png",
                          peers_dir=tmp_path / "no-peers", max_side=128, zoom_size=32)
    pixels = assert_real_png(sheet, min_side=128)
    assert pixels.shape[1] >= 4 * 128  # input + three method columns (zero_dce shows "not built")
