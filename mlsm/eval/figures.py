"""Figures of a run (PNG, matplotlib's Agg canvas, no pyplot state): QF plots, zoom-in grids
in the style of Zeng et al.'s Figs. 1 and 7, and a contact sheet of real dark photos.

* :func:`plot_metric_vs_qf` - one PNG per (set, metric): the mean of each method against the
  JPEG quality factor, drawn from ``results["means"]``.
* :func:`zoom_grid` - one test image at one QF: the input, each method's output and the
  ground truth, each shown whole (small, with the crop outlined) and as the zoomed crop
  (nearest-neighbour, so 8x8 blocks stay visible), labelled with PSNR/SSIM from the results.
  Outputs are read from ``RUN/images/...`` (written by ``run_eval(save_images=True)``); a
  missing one is recomputed with the method (methods are deterministic, so it is the image
  that was measured; the metrics shown still come from ``results.json``) and saved there.
* :func:`contact_sheet` - real dark JPEGs without ground truth (e.g. DICM): the input and
  every method's output per image, plus a zoom on the image's darkest textured region, to
  see how much each method amplifies blocks, noise and colour casts.

Automatic crops:

* :func:`blocking_crop` (zoom grid default): the input is brightened by one global gain
  (mean luma to 0.45, as an enhancer would) and, over windows aligned to the 8x8 JPEG grid,
  the one with the largest ``D_B - D_B^c`` (mean squared luma step across block boundaries
  minus that inside blocks, Yim & Bovik's blocking terms) is chosen: where enhancement will
  show the most blocking. Side ``size`` (96 px), at most half the image.
* :func:`darkest_region` (contact sheet): of the windows that are not pitch black (mean luma
  >= 4/255), the darkest quarter; among them the one with the most texture relative to its
  brightness (where an enhancer's gain reveals blocks, noise and colour casts).
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from mlsm.atomic import atomic_path
from mlsm.eval.report import METRIC_LABELS, TABLE_METRICS, load_results, method_setting, order_methods
from mlsm.eval.runner import output_image_path, validate_methods

__all__ = [
    "FigureError",
    "plot_metric_vs_qf",
    "blocking_crop",
    "darkest_region",
    "zoom_grid",
    "contact_sheet",
]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)
_LINESTYLES = {"input": ":", "classical": "-.", "enhancement": "-", "enhancement + deblocking": "--",
               "deblocking + enhancement": (0, (3, 1, 1, 1)), "deblocking": ":", "other": "-", "mlsm": "-"}
_BLOCK = 8
_PITCH_BLACK = 4 / 255  # darkest_region ignores windows darker than this on average
_DARK_QUANTILE = 0.25  # ... and keeps the darkest quarter of the others


class FigureError(ValueError):
    """A figure cannot be drawn from the given results or arguments (the message says why)."""


# ----------------------------------------------------------------------------- helpers

def _save(figure: Figure, path: Path, dpi: int = 100) -> Path:
    """Render ``figure`` to ``path`` (PNG) atomically."""
    path = Path(path)
    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, format="png", facecolor="white")
    return path


def _results_and_dir(results_or_path, run_dir) -> tuple[dict, Path | None]:
    if isinstance(results_or_path, Mapping):
        return dict(results_or_path), Path(run_dir) if run_dir is not None else None
    path = Path(results_or_path)
    results = load_results(path)
    folder = path if path.is_dir() else path.parent
    return results, Path(run_dir) if run_dir is not None else folder


def _luma(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)[..., :3] @ _LUMA


def _to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def _thumbnail(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(uint8 thumbnail no larger than ``max_side``, scale thumbnail/original)."""
    pixels = _to_uint8(image)
    height, width = pixels.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return pixels, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)), scale


def _crop(image: np.ndarray, crop: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = crop
    return _to_uint8(image)[y:y + h, x:x + w]


def _check_crop(crop, width: int, height: int) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in crop)
    except (TypeError, ValueError):
        raise FigureError(f"crop must be four integers X Y W H, got {crop!r}") from None
    if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise FigureError(f"crop {x} {y} {w} {h} does not fit in the {width}x{height} image")
    return x, y, w, h


def _box_sums(grid: np.ndarray, size_rows: int, size_cols: int) -> np.ndarray:
    """Sum of every ``size_rows x size_cols`` window of a 2-D array (valid positions)."""
    integral = np.zeros((grid.shape[0] + 1, grid.shape[1] + 1))
    integral[1:, 1:] = grid.cumsum(0).cumsum(1)
    return (integral[size_rows:, size_cols:] - integral[:-size_rows, size_cols:]
            - integral[size_rows:, :-size_cols] + integral[:-size_rows, :-size_cols])


# ----------------------------------------------------------------------------- crops

def blocking_crop(image: np.ndarray, size: int = 96) -> tuple[int, int, int, int]:
    """The grid-aligned window (x, y, w, h) where a brightened ``image`` shows most blocking.

    See the module docstring. ``image``: (H, W, 3) float in [0, 1] or uint8; the window side
    is ``size`` rounded down to a multiple of 8, at most half the image (at least 16 px).
    """
    array = np.asarray(image)
    y = _luma(array / 255.0 if array.dtype == np.uint8 else array)
    gain = min(0.45 / max(float(y.mean()), 1e-3), 50.0)
    y = np.clip(y * gain, 0.0, 1.0)
    rows, cols = y.shape[0] // _BLOCK, y.shape[1] // _BLOCK
    if rows < 2 or cols < 2:
        side = min(y.shape[0], y.shape[1])
        return 0, 0, side, side
    k = max(2, min(size // _BLOCK, max(2, rows // 2), max(2, cols // 2)))
    k_rows, k_cols = min(k, rows), min(k, cols)
    y = y[:rows * _BLOCK, :cols * _BLOCK]
    horizontal = np.zeros_like(y)
    horizontal[:, :-1] = (y[:, 1:] - y[:, :-1]) ** 2  # pair (j, j + 1) stored at j
    vertical = np.zeros_like(y)
    vertical[:-1, :] = (y[1:, :] - y[:-1, :]) ** 2
    at_edge_col = (np.arange(y.shape[1]) % _BLOCK) == _BLOCK - 1
    at_edge_row = (np.arange(y.shape[0]) % _BLOCK) == _BLOCK - 1

    def per_block(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows, _BLOCK, cols, _BLOCK).sum(axis=(1, 3))

    boundary = per_block(horizontal * at_edge_col[None, :] + vertical * at_edge_row[:, None])
    inside = per_block(horizontal * ~at_edge_col[None, :] + vertical * ~at_edge_row[:, None])
    boundary_count = np.full((rows, cols), 2.0 * _BLOCK)  # right and bottom edge of each block
    boundary_count[:, -1] -= _BLOCK
    boundary_count[-1, :] -= _BLOCK
    inside_count = np.full((rows, cols), 2.0 * _BLOCK * (_BLOCK - 1))
    boundary_mean = _box_sums(boundary, k_rows, k_cols) / np.maximum(_box_sums(boundary_count, k_rows, k_cols), 1)
    inside_mean = _box_sums(inside, k_rows, k_cols) / _box_sums(inside_count, k_rows, k_cols)
    score = boundary_mean - inside_mean
    row, col = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(col * _BLOCK), int(row * _BLOCK), int(k_cols * _BLOCK), int(k_rows * _BLOCK)


def darkest_region(image: np.ndarray, size: int = 96) -> tuple[int, int, int, int]:
    """A dark window (x, y, w, h) with something in it: where enhancement gains the most.

    Windows of side ``size`` (at most half the image) on a stride of ``size // 4``. Windows
    whose mean luma is below 4/255 (pitch black, nothing to see) are left out; of the rest,
    the darkest quarter (by mean luma) is kept and, among those, the one with the most
    relative texture (mean absolute luma gradient / mean luma) is returned.
    """
    array = np.asarray(image)
    y = _luma(array / 255.0 if array.dtype == np.uint8 else array)
    height, width = y.shape
    side = int(max(8, min(size, max(8, height // 2), max(8, width // 2), height, width)))
    stride = max(1, side // 4)
    gradient = np.zeros_like(y)
    gradient[:, :-1] += np.abs(np.diff(y, axis=1))
    gradient[:-1, :] += np.abs(np.diff(y, axis=0))
    area = side * side
    means = _box_sums(y, side, side)[::stride, ::stride] / area
    texture = _box_sums(gradient, side, side)[::stride, ::stride] / area / np.maximum(means, 1e-3)
    visible = means >= _PITCH_BLACK
    if not visible.any():
        visible = np.ones_like(visible)
    dark = visible & (means <= np.quantile(means[visible], _DARK_QUANTILE))
    row, col = np.unravel_index(int(np.argmax(np.where(dark, texture, -np.inf))), texture.shape)
    return int(col * stride), int(row * stride), side, side


# ----------------------------------------------------------------------------- QF plots

_MARKERS = ("o", "s", "^", "D", "v")


def plot_metric_vs_qf(results, out_dir: str | Path, metrics: Sequence[str] = TABLE_METRICS) -> list[Path]:
    """One PNG per (set, metric), ``out_dir/<set>_<metric>_vs_qf.png``; a line per method.

    ``results``: the loaded results dict, ``results.json`` or its run folder. Colours are
    per method (markers change once the palette repeats), line styles per setting
    (enhancement, E+D, D+E, ...); mlsm rows are drawn thick and on top, the shipped ``mlsm`` in black.
    """
    results, _ = _results_and_dir(results, None)
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
            written.append(_save(figure, Path(out_dir) / f"{set_name}_{metric}_vs_qf.png"))
    return written


# ----------------------------------------------------------------------------- panels

def _draw_panels(panels: Sequence[dict], crop_of, out_path: Path, title: str, columns: int,
                 thumb_side: int, zoom_side: int) -> Path:
    """Panels (image + label, or error text) in groups of two rows: whole image and zoom."""
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
    return _save(figure, out_path)


# ----------------------------------------------------------------------------- zoom grid

def _record(results: Mapping, method: str, set_name: str, quality: int, image: str) -> Mapping | None:
    for record in results["records"]:
        if (record["method"] == method and record["set"] == set_name and int(record["quality"]) == quality
                and record["image"] == image):
            return record
    return None


def _metric_label(record: Mapping | None) -> str:
    if not record or record.get("error") or record.get("psnr") is None:
        return ""
    return f"{record['psnr']:.2f} dB / {record['ssim']:.4f}"


def zoom_grid(results_or_path, set_name: str, quality: int, image_name: str, out_path: str | Path,
              crop: tuple[int, int, int, int] | None = None, methods: Sequence[str] | None = None,
              peers_dir=None, device: str = "cpu", run_dir: str | Path | None = None,
              crop_size: int = 96, columns: int = 6, thumb_side: int = 256) -> Path:
    """Input, each method and the ground truth for one image, whole and zoomed (Figs. 1, 7).

    Args:
        results_or_path: ``results.json``, its run folder, or the loaded dict (then pass
            ``run_dir`` for the saved outputs).
        set_name, quality, image_name: which image (the set's name in the results).
        out_path: the PNG to write.
        crop: (x, y, w, h) in pixels of the full image; default :func:`blocking_crop` of the input.
        methods: which methods (default: every method with a successful record for the image,
            except ``identity``, which is the input panel).
        peers_dir, device: used only to recompute outputs missing from ``RUN/images``.
        crop_size: side of the automatic crop.
        columns: panels per row.
        thumb_side: longest side of the whole-image thumbnails.

    Labels: ``PSNR dB / SSIM`` of each output from the results (the input's from the
    ``identity`` record when it was evaluated).
    """
    from mlsm.baselines.registry import build_method
    from mlsm.data.evalset import load_evalset
    from mlsm.io import read_image, write_image

    results, run_dir = _results_and_dir(results_or_path, run_dir)
    quality = int(quality)
    entry = next((s for s in results["sets"] if s["name"] == set_name), None)
    if entry is None:
        raise FigureError(f"no set {set_name!r} in the results (sets: {', '.join(s['name'] for s in results['sets'])})")
    if quality not in entry.get("qualities", []):
        raise FigureError(f"set {set_name!r} was evaluated at QF {entry.get('qualities')}, not {quality}")
    evalset = load_evalset(entry["root"])
    item = next((i for i in evalset.items if i.name == image_name), None)
    if item is None:
        names = [i.name for i in evalset.items]
        raise FigureError(f"no image {image_name!r} in set {set_name!r} (e.g. {', '.join(names[:8])})")
    low, _ = read_image(item.low_path(quality))
    gt, _ = read_image(item.gt)
    height, width = low.shape[:2]
    crop = _check_crop(crop, width, height) if crop is not None else blocking_crop(low, crop_size)
    if methods is None:
        methods = [m for m in results["methods"] if m != "identity"
                   and (r := _record(results, m, set_name, quality, image_name)) and not r.get("error")]
    methods = order_methods(methods)

    panels = [{"title": f"input (QF {quality})", "image": low,
               "label": _metric_label(_record(results, "identity", set_name, quality, image_name))}]
    for method_name in methods:
        record = _record(results, method_name, set_name, quality, image_name)
        panel = {"title": method_name, "label": _metric_label(record)}
        saved = output_image_path(run_dir, set_name, method_name, quality, image_name) if run_dir else None
        try:
            if saved is not None and saved.is_file():
                panel["image"], _ = read_image(saved)
            else:
                output = _to_uint8(np.clip(build_method(method_name, peers_dir=peers_dir, device=device)(low), 0, 1))
                if saved is not None:
                    write_image(saved, output, overwrite=True)
                panel["image"] = output
        except Exception as error:  # show the failure in its panel, keep the others
            panel["error"] = f"{method_name}:\n{type(error).__name__}: {' '.join(str(error).split())[:120]}"
        panels.append(panel)
    panels.append({"title": "ground truth", "image": gt, "label": ""})
    title = f"{set_name} / {image_name} / QF {quality} - crop x={crop[0]} y={crop[1]} {crop[2]}x{crop[3]}"
    return _draw_panels(panels, lambda panel: crop, Path(out_path), title, columns, thumb_side,
                        zoom_side=thumb_side)


# ----------------------------------------------------------------------------- contact sheet

def contact_sheet(image_paths: Sequence[str | Path], methods: Sequence[str], out_path: str | Path,
                  peers_dir=None, device: str = "cpu", max_side: int = 384, zoom_size: int = 96) -> Path:
    """Run every method on real dark photos (no ground truth) and tile input + outputs.

    Each image gets one row of whole images (thumbnails of at most ``max_side`` px) and a row
    of zooms on its :func:`darkest_region` (``zoom_size`` px, full resolution, nearest
    neighbour): where enhancement amplifies JPEG blocks, noise and colour casts the most.
    Methods run on the full-resolution decoded JPEG. A method that cannot be built or fails
    on an image gets a grey panel with the message; unknown names raise
    :class:`mlsm.eval.runner.EvalConfigError`.

    Args:
        image_paths: files or folders of JPEGs (folders: their images, sorted).
        methods: registry names.
        out_path: the PNG to write.
        peers_dir, device: for the CNN peers.
        max_side: longest side of the whole-image thumbnails.
        zoom_size: side of the zoomed region in pixels of the original.
    """
    from mlsm.baselines.registry import build_method
    from mlsm.io import iter_image_files, read_image

    methods = validate_methods(methods)
    files = iter_image_files([str(p) for p in image_paths])
    if not files:
        raise FigureError(f"no images found in {', '.join(map(str, image_paths))}")
    built: dict[str, object] = {}
    reasons: dict[str, str] = {}
    for name in methods:
        try:
            built[name] = build_method(name, peers_dir=peers_dir, device=device)
        except Exception as error:
            reasons[name] = f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"

    panels, crops = [], []
    for path in files:
        image, _ = read_image(path)
        region = darkest_region(image, zoom_size)
        row = [{"title": f"{path.name} (input)", "image": image}]
        for name in methods:
            panel = {"title": name}
            if name in reasons:
                panel["error"] = f"not built:\n{reasons[name]}"
            else:
                try:
                    panel["image"] = _to_uint8(np.clip(built[name](image), 0, 1))
                except Exception as error:
                    panel["error"] = f"failed:\n{type(error).__name__}: {' '.join(str(error).split())[:120]}"
            row.append(panel)
        panels.extend(row)
        crops.extend([region] * len(row))
    for panel, region in zip(panels, crops):
        panel["crop"] = region
    title = f"{len(files)} dark photo(s) x {len(methods)} method(s); zoom: darkest textured region"
    return _draw_panels(panels, lambda panel: panel["crop"], Path(out_path), title, 1 + len(methods),
                        max_side, zoom_side=max_side)
