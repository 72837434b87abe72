"""Tests for mlsm.eval.figures.zoom_grid."""
from __future__ import annotations

import pytest

from mlsm.data.evalset import load_evalset
from mlsm.eval.figures import FigureError, zoom_grid
from mlsm.eval.runner import output_image_path


def test_zoom_grid_from_saved_outputs_and_recomputed(run_dir, tmp_path, assert_real_png):
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
