"""The panel layout of the zoom grid and the contact sheet: in groups of two rows, each
image whole (a thumbnail with its crop outlined in red) above the crop enlarged with
nearest-neighbour interpolation (so 8x8 JPEG blocks stay visible). A panel whose image is
missing shows its error text on grey.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from mlsm.eval.figures.canvas import FigureError, save_png
from mlsm.io.convert import to_uint8

__all__ = ["Crop", "display_uint8", "check_crop", "draw_panels", "error_text"]

Crop = tuple[int, int, int, int]  # x, y, w, h in pixels of the full image


def display_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 pixels of an image: uint8 kept, floats rounded (in float64) by :func:`mlsm.io.to_uint8`."""
    array = np.asarray(image)
    return array if array.dtype == np.uint8 else to_uint8(np.asarray(array, dtype=np.float64))


def error_text(error: BaseException, limit: int = 120) -> str:
    """``"Type: message"`` on one line, the message cut to ``limit`` characters."""
    return f"{type(error).__name__}: {' '.join(str(error).split())[:limit]}"


def check_crop(crop, width: int, height: int) -> Crop:
    """``crop`` as four ints inside a ``width`` x ``height`` image, else :class:`FigureError`."""
    try:
        x, y, w, h = (int(v) for v in crop)
    except (TypeError, ValueError):
        raise FigureError(f"crop must be four integers X Y W H, got {crop!r}") from None
    if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise FigureError(f"crop {x} {y} {w} {h} does not fit in the {width}x{height} image")
    return x, y, w, h


def _thumbnail(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(uint8 thumbnail no larger than ``max_side``, scale thumbnail/original)."""
    pixels = display_uint8(image)
    height, width = pixels.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return pixels, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)), scale


def _crop(image: np.ndarray, crop: Crop) -> np.ndarray:
    x, y, w, h = crop
    return display_uint8(image)[y:y + h, x:x + w]


def draw_panels(panels: Sequence[dict], crop_of: Callable[[dict], Crop], out_path: Path, title: str,
                columns: int, thumb_side: int, zoom_side: int) -> Path:
    """Draw ``panels`` (dicts: ``title``, ``image`` or ``error``, optional ``label``) in
    ``columns``, each as thumbnail + zoom on ``crop_of(panel)``; write the PNG ``out_path``."""
    columns = max(1, min(columns, len(panels)))
    groups = math.ceil(len(panels) / columns)
    panel_width = max(thumb_side, zoom_side) / 100.0
    ratios = []  # height / width of the whole image and of the zoom, per group of two rows
    for group in range(groups):
        shown = [p for p in panels[group * columns:(group + 1) * columns] if p.get("image") is not None]
        if shown:
            height, width = np.asarray(shown[0]["image"]).shape[:2]
            _, _, crop_width, crop_height = crop_of(shown[0])
            ratios += [height / width, crop_height / crop_width]
        else:
            ratios += [0.75, 1.0]
    margin = 0.45  # inches per row for titles and labels
    figure_height = sum(ratios) * panel_width + margin * len(ratios) + 0.8
    figure = Figure(figsize=(columns * (panel_width + 0.08) + 0.2, figure_height))
    grid = figure.add_gridspec(groups * 2, columns, height_ratios=ratios, hspace=0.25, wspace=0.04,
                               left=0.01, right=0.99, bottom=0.03, top=1 - 0.75 / figure_height)
    for index, panel in enumerate(panels):
        group, column = divmod(index, columns)
        top = figure.add_subplot(grid[2 * group, column])
        bottom = figure.add_subplot(grid[2 * group + 1, column])
        for axes in (top, bottom):
            axes.set_xticks([])
            axes.set_yticks([])
        top.set_title(panel["title"], fontsize=7.5)
        image = panel.get("image")
        if image is None:
            for axes in (top, bottom):
                axes.set_facecolor("#eeeeee")
            characters = max(12, int(panel_width * 100 / 5))  # about 5 px per character at 6 pt
            message = "\n".join(textwrap.fill(part, characters)
                                for part in panel.get("error", "not available").splitlines())
            top.text(0.5, 0.5, message, ha="center", va="center", fontsize=6, transform=top.transAxes)
            continue
        crop = crop_of(panel)
        thumb, scale = _thumbnail(image, thumb_side)
        top.imshow(thumb, interpolation="lanczos", aspect="auto")
        x, y, w, h = crop
        top.add_patch(Rectangle((x * scale - 0.5, y * scale - 0.5), w * scale, h * scale,
                                fill=False, edgecolor="red", linewidth=1.2))
        bottom.imshow(_crop(image, crop), interpolation="nearest", aspect="auto")
        for spine in bottom.spines.values():
            spine.set_edgecolor("red")
        if panel.get("label"):
            bottom.set_xlabel(panel["label"], fontsize=7)
    figure.suptitle(title, fontsize=9, y=1 - 0.12 / figure_height, va="top")
    return save_png(figure, out_path)
