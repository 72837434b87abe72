"""Tests for mlsm.eval.figures.qf_plots."""
from __future__ import annotations

from mlsm.eval.figures import plot_metric_vs_qf


def test_metric_vs_qf_plots(run_dir, tmp_path, assert_real_png):
    paths = plot_metric_vs_qf(run_dir / "results.json", tmp_path / "plots")
    assert sorted(p.name for p in paths) == ["tiny_psnr_b_vs_qf.png", "tiny_psnr_vs_qf.png", "tiny_ssim_vs_qf.png"]
    for path in paths:
        assert_real_png(path)
