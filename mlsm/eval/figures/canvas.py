"""What every figure needs: :class:`FigureError`, atomic PNG saving, a run's results."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mlsm.atomic import atomic_path
from mlsm.eval.report import load_results

__all__ = ["FigureError", "save_png", "results_and_dir"]


class FigureError(ValueError):
    """A figure cannot be drawn from the given results or arguments (the message says why)."""


def save_png(figure: Figure, path: Path, dpi: int = 100) -> Path:
    """Render ``figure`` to ``path`` (PNG, white background) atomically."""
    path = Path(path)
    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, format="png", facecolor="white")
    return path


def results_and_dir(results_or_path, run_dir) -> tuple[dict, Path | None]:
    """(results dict, run folder) from a loaded dict (folder: ``run_dir``), ``results.json``
    or its run folder (folder: ``run_dir`` if given, else the file's folder)."""
    if isinstance(results_or_path, Mapping):
        return dict(results_or_path), Path(run_dir) if run_dir is not None else None
    path = Path(results_or_path)
    results = load_results(path)
    folder = path if path.is_dir() else path.parent
    return results, Path(run_dir) if run_dir is not None else folder
