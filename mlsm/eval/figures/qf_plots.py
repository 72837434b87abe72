"""Metric against JPEG quality: one PNG per (set, metric), a line per method."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib
from matplotlib.figure import Figure

from mlsm.eval.figures.canvas import results_and_dir, save_png
from mlsm.eval.report import METRIC_LABELS, TABLE_METRICS, method_setting, order_methods

__all__ = ["plot_metric_vs_qf"]

_LINESTYLES = {"input": ":", "classical": "-.", "enhancement": "-", "enhancement + deblocking": "--",
               "deblocking + enhancement": (0, (3, 1, 1, 1)), "deblocking": ":", "other": "-", "mlsm": "-"}
_MARKERS = ("o", "s", "^", "D", "v")


def plot_metric_vs_qf(results, out_dir: str | Path, metrics: Sequence[str] = TABLE_METRICS) -> list[Path]:
    """One PNG per (set, metric), ``out_dir/<set>_<metric>_vs_qf.png``; a line per method.

    ``results``: the loaded results dict, ``results.json`` or its run folder. Colours are
    per method (markers change once the palette repeats), line styles per setting
    (enhancement, E+D, D+E, ...); mlsm rows are drawn thick and on top, the shipped ``mlsm`` in black.
    """
    results, _ = results_and_dir(results, None)
    means = results["means"]
    methods = order_methods(m for m in results["methods"] if any(e["method"] == m for e in means))
    sets = [s["name"] for s in results["sets"]]
    palette = [tuple(c) for c in matplotlib.colormaps["tab10" if len(methods) <= 10 else "tab20"].colors]
    written = []
    for set_name in sets:
        for metric in metrics:
            figure = Figure(figsize=(8.5, 4.8))
            axes = figure.add_subplot(1, 1, 1)
            drawn = 0
            for index, method in enumerate(methods):
                points = sorted((int(e["quality"]), e[metric]) for e in means
                                if e["method"] == method and e["set"] == set_name
                                and e.get(metric) is not None and math.isfinite(e[metric]))
                if not points:
                    continue
                qualities, values = zip(*points)
                setting = method_setting(method)
                ours = setting == "mlsm"
                axes.plot(qualities, values, marker=_MARKERS[(index // len(palette)) % len(_MARKERS)],
                          markersize=4.5 if ours else 3.5, linewidth=2.6 if ours else 1.3,
                          color="black" if method == "mlsm" else palette[index % len(palette)],
                          zorder=3 if ours else 2,
                          linestyle=_LINESTYLES.get(setting, "-"), label=method)
                drawn += 1
            if not drawn:
                continue
            label = METRIC_LABELS.get(metric, metric)
            qualities_all = sorted({int(e["quality"]) for e in means if e["set"] == set_name})
            axes.set_xticks(qualities_all)
            axes.invert_xaxis()  # stronger compression to the right
            axes.set_xlabel("JPEG quality factor (QF)")
            axes.set_ylabel(label + (" (dB)" if metric.startswith("psnr") else ""))
            axes.set_title(f"{set_name}: mean {label} against QF")
            axes.grid(True, alpha=0.3)
            axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
            figure.tight_layout()
            written.append(save_png(figure, Path(out_dir) / f"{set_name}_{metric}_vs_qf.png"))
    return written
