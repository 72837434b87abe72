"""Figures of a run (PNG, matplotlib's Agg canvas, no pyplot state), one module each:

* :mod:`~mlsm.eval.figures.qf_plots` - :func:`plot_metric_vs_qf`, one PNG per (set, metric):
  the mean of each method against the JPEG quality factor, drawn from ``results["means"]``.
* :mod:`~mlsm.eval.figures.zoom_grid` - :func:`zoom_grid`, one test image at one QF in the
  style of Zeng et al.'s Figs. 1 and 7: the input, each method's output and the ground
  truth, whole and as a zoomed crop, labelled with PSNR/SSIM from the results.
* :mod:`~mlsm.eval.figures.contact_sheet` - :func:`contact_sheet`, real dark JPEGs without
  ground truth: the input and every method's output per image, plus a zoom on its darkest
  textured region.
* :mod:`~mlsm.eval.figures.panels` - the two-row panel layout both of those draw with;
  :mod:`~mlsm.eval.figures.canvas` - :class:`FigureError`, atomic PNG saving, loading a run.

The automatic crops (:func:`blocking_crop`, :func:`darkest_region`) are numpy-only and live
in :mod:`mlsm.eval.crops`; they are re-exported here.
"""
from mlsm.eval.crops import blocking_crop, darkest_region
from mlsm.eval.figures.canvas import FigureError
from mlsm.eval.figures.contact_sheet import contact_sheet
from mlsm.eval.figures.qf_plots import plot_metric_vs_qf
from mlsm.eval.figures.zoom_grid import zoom_grid

__all__ = [
    "FigureError",
    "plot_metric_vs_qf",
    "blocking_crop",
    "darkest_region",
    "zoom_grid",
    "contact_sheet",
]
