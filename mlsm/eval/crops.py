"""Where to zoom: automatic crops of a photo, numpy only (no plotting).

* :func:`blocking_crop` (zoom grids): the input is brightened by one global gain (mean luma
  to 0.45, as an enhancer would) and, over windows aligned to the 8x8 JPEG grid, the one
  with the largest ``D_B - D_B^c`` (mean squared luma step across block boundaries minus
  that inside blocks, Yim & Bovik's blocking terms) is chosen: where enhancement will show
  the most blocking. Side ``size`` (96 px), at most half the image.
* :func:`darkest_region` (contact sheets, the demo's zoom): of the windows that are not
  pitch black (mean luma >= ``min_mean``, 4/255 by default), the darkest quarter; among them
  the one with the most texture relative to its brightness (where an enhancer's gain
  reveals blocks, noise and colour casts). Every window position is tried, on the luma
  subsampled to about 512 px a side (so a 40 MP photo costs milliseconds; exact on images
  up to 1023 px).

Luma is full-range BT.601 (:func:`mlsm.colour.luma`); images are (H, W, 3) float in [0, 1]
or uint8; windows are returned as (x, y, w, h) in pixels of the image.
"""
from __future__ import annotations

import numpy as np

from mlsm.colour import luma

__all__ = ["PITCH_BLACK", "box_sums", "blocking_crop", "darkest_region"]

PITCH_BLACK = 4 / 255   # darkest_region skips pitch-black windows: luma below this ...
_MAX_BLACK = 0.5        # ... that is, windows with more than half their pixels that dark
_DARK_QUANTILE = 0.25   # ... and keeps the darkest quarter of the others
_SEARCH_SIDE = 512      # darkest_region searches on the luma subsampled to about this side
_BLOCK = 8


def _unit_luma(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    return luma(array / 255.0 if array.dtype == np.uint8 else array)


def box_sums(grid: np.ndarray, size_rows: int, size_cols: int) -> np.ndarray:
    """Sum of every ``size_rows x size_cols`` window of a 2-D array (valid positions), from a
    summed-area table.

    >>> box_sums(np.ones((3, 4)), 2, 2).tolist()
    [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """
    integral = np.zeros((grid.shape[0] + 1, grid.shape[1] + 1))
    integral[1:, 1:] = grid.cumsum(0).cumsum(1)
    return (integral[size_rows:, size_cols:] - integral[:-size_rows, size_cols:]
            - integral[size_rows:, :-size_cols] + integral[:-size_rows, :-size_cols])


def blocking_crop(image: np.ndarray, size: int = 96) -> tuple[int, int, int, int]:
    """The grid-aligned window (x, y, w, h) where a brightened ``image`` shows most blocking.

    See the module docstring. ``image``: (H, W, 3) float in [0, 1] or uint8; the window side
    is ``size`` rounded down to a multiple of 8, at most half the image (at least 16 px).
    """
    y = _unit_luma(image)
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
    boundary_mean = box_sums(boundary, k_rows, k_cols) / np.maximum(box_sums(boundary_count, k_rows, k_cols), 1)
    inside_mean = box_sums(inside, k_rows, k_cols) / box_sums(inside_count, k_rows, k_cols)
    score = boundary_mean - inside_mean
    row, col = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(col * _BLOCK), int(row * _BLOCK), int(k_cols * _BLOCK), int(k_rows * _BLOCK)


def darkest_region(image: np.ndarray, size: int = 96, *, min_mean: float = PITCH_BLACK) -> tuple[int, int, int, int]:
    """A dark window (x, y, w, h) with something in it: where enhancement gains the most.

    Square windows of side ``size`` (at most half the image, at least 8 px or the image) at
    every position of the search grid (see the module docstring). Windows whose mean luma
    is below ``min_mean`` are left out (0: keep even pitch-black ones) unless all are; of
    the rest, the darkest quarter (by mean luma) is kept and, among those, the one with the
    most relative texture (mean absolute luma gradient / mean luma) is returned.
    """
    array = np.asarray(image)
    height, width = array.shape[:2]
    side = int(max(1, min(int(size), max(8, height // 2), max(8, width // 2), height, width)))
    step = max(1, max(height, width) // _SEARCH_SIDE)
    y = _unit_luma(array[::step, ::step])
    rows, cols = min(max(1, side // step), y.shape[0]), min(max(1, side // step), y.shape[1])
    gradient = np.zeros_like(y)
    gradient[:, :-1] += np.abs(np.diff(y, axis=1))
    gradient[:-1, :] += np.abs(np.diff(y, axis=0))
    area = rows * cols
    means = box_sums(y, rows, cols) / area
    texture = box_sums(gradient, rows, cols) / area / np.maximum(means, 1e-3)
    black = box_sums((y < min_mean).astype(np.float64), rows, cols) / area
    visible = black <= _MAX_BLACK
    if not visible.any():
        visible = np.ones_like(visible)
    dark = visible & (means <= np.quantile(means[visible], _DARK_QUANTILE))
    row, col = np.unravel_index(int(np.argmax(np.where(dark, texture, -np.inf))), texture.shape)
    return min(int(col) * step, width - side), min(int(row) * step, height - side), side, side
