"""Padding and tiled inference shared by mlsm and the peer models.

Any network here takes (N, 3, H, W) tensors in [0, 1] of any size:

* :func:`pad_to_multiple` reflect-pads the bottom/right edge so H and W are multiples of
  the network's stride product, and :func:`crop_to` takes the result back;
* :func:`run_tiled` runs a network on overlapping tiles aligned to its stride grid and
  blends them with a separable raised-cosine (Hann) window, so peak memory is bounded by
  the tile size and seams vanish.

Reflect padding needs the padded amount to be smaller than the side; tiny inputs (1xN)
fall back to replicate padding.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["pad_to_multiple", "crop_to", "run_padded", "run_tiled"]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``x`` (N, C, H, W) on the bottom/right so H and W are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    pad_h = (-h) % multiple
    pad_w = (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if (pad_h < h and pad_w < w) else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def crop_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop the top-left ``height`` x ``width`` region of ``x``."""
    return x[..., :height, :width]


def run_padded(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Run ``fn`` on ``x`` padded to ``multiple`` and crop the result back to the input size."""
    h, w = x.shape[-2:]
    return crop_to(fn(pad_to_multiple(x, multiple)), h, w)


_MAX_STRIP = 3  # longest side of a strip's tiles, in tiles


def _round_up(length: int, multiple: int) -> int:
    return -(-length // multiple) * multiple


def _tile_spans(length: int, tile: int, step: int, multiple: int) -> list[tuple[int, int]]:
    """(start, size) of the tiles along one axis.

    Starts are multiples of ``multiple`` (the network's stride product) and at most ``step``
    apart; the last tile ends at ``length`` (so it may be up to ``multiple - 1`` pixels longer
    than ``tile``). Aligned starts keep each tile on the same stride grid (and JPEG 8x8 grid)
    as the whole image, and give the last tile the same bottom/right padding as the whole.
    """
    if length <= tile:
        return [(0, length)]
    last = (length - tile) // multiple * multiple
    starts = list(range(0, last, step)) + [last]
    return [(start, tile) for start in starts[:-1]] + [(last, length - last)]


def _blend_ramp(size: int, overlap: int, taper_low: bool, taper_high: bool, device, dtype) -> torch.Tensor:
    """1-D blending weight of one tile; tapered only on sides that face another tile.

    On a tapered side the first ``overlap // 4`` pixels get weight 0 (they see the tile's
    artificial border), the next ``overlap - 2 * (overlap // 4)`` rise along a raised cosine
    (Hann) ramp, the rest weigh 1. Sides on the image border are not tapered.
    """
    weight = torch.ones(size, dtype=dtype, device=device)
    margin = overlap // 4
    ramp_length = overlap - 2 * margin
    if ramp_length <= 0:
        return weight
    t = (torch.arange(ramp_length, dtype=dtype, device=device) + 0.5) / ramp_length
    up = 0.5 - 0.5 * torch.cos(math.pi * t)
    if taper_low:
        weight[:margin] = 0.0
        weight[margin:margin + ramp_length] = up
    if taper_high:
        weight[size - margin:] = 0.0
        weight[size - margin - ramp_length:size - margin] = weight[size - margin - ramp_length:size - margin] * up.flip(0)
    return weight


@torch.no_grad()
def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    multiple: int = 1,
    batch_pixels: int = 0,
) -> torch.Tensor:
    """Run ``fn`` over overlapping ``tile`` x ``tile`` windows of ``x`` and blend the outputs.

    Tile starts are multiples of ``multiple``; neighbouring tiles share at least ``overlap``
    pixels (clamped to ``tile // 4``), blended as described in :func:`_blend_ramp`. A strip
    (one side within ``tile``) gets one row (column) of tiles up to ``3 * tile`` long, within
    the ``tile * tile`` pixel budget: a 7 x 100000 photo runs in 34 tiles 3072 wide, not 112. For an
    ``fn`` whose receptive field has radius <= ``overlap // 4`` (a pointwise map, a small
    blur) the result equals ``run_padded(fn, x, multiple)`` up to float rounding; for a deep
    network the seams are blended away.

    Args:
        fn: maps (N, C, h, w) to (N, C_out, h, w) (same spatial size).
        x: input (N, C, H, W).
        tile: tile side in pixels (rounded up to ``multiple``); images that fit are run whole.
            The last tile along an axis may be up to ``multiple - 1`` pixels longer. No
            default here: mlsm's is :data:`mlsm.inference.options.DEFAULT_TILE`.
        overlap: pixels shared by neighbouring tiles (mlsm's default:
            :data:`mlsm.inference.options.DEFAULT_OVERLAP`).
        multiple: each tile is padded to a multiple of this before ``fn``.
        batch_pixels: 0 runs one tile per ``fn`` call; otherwise tiles of one size are
            stacked along the batch axis, up to this many pixels per call (small tiles run
            several times faster so; ``fn`` must treat the images of a batch independently).

    Returns:
        (N, C_out, H, W) tensor.
    """
    n, _, h, w = x.shape
    tile = int(math.ceil(tile / multiple) * multiple)
    if h <= tile and w <= tile:
        return run_padded(fn, x, multiple)
    overlap = max(0, min(overlap, tile // 4))
    tile_h = tile_w = tile
    if h <= tile:  # a strip: one row of longer tiles, within the pixel budget and 3x the side
        tile_w = max(tile, min(_MAX_STRIP * tile, tile * tile // _round_up(h, multiple) // multiple * multiple))
    elif w <= tile:
        tile_h = max(tile, min(_MAX_STRIP * tile, tile * tile // _round_up(w, multiple) // multiple * multiple))
    step_h = max(multiple, (tile_h - overlap) // multiple * multiple)
    step_w = max(multiple, (tile_w - overlap) // multiple * multiple)
    overlap = min(overlap, tile_h - step_h, tile_w - step_w)
    rows = _tile_spans(h, tile_h, step_h, multiple)
    cols = _tile_spans(w, tile_w, step_w, multiple)
    groups: dict[tuple[int, int], list[tuple[int, int, torch.Tensor]]] = {}
    for row, (top, height) in enumerate(rows):
        row_weight = _blend_ramp(height, overlap, row > 0, row < len(rows) - 1, x.device, x.dtype)
        for col, (left, width) in enumerate(cols):
            col_weight = _blend_ramp(width, overlap, col > 0, col < len(cols) - 1, x.device, x.dtype)
            groups.setdefault((height, width), []).append((top, left, row_weight[:, None] * col_weight[None, :]))
    out = None
    weight_sum = torch.zeros(1, 1, h, w, dtype=x.dtype, device=x.device)
    for (height, width), tiles in groups.items():
        per_call = max(1, batch_pixels // (n * _round_up(height, multiple) * _round_up(width, multiple)))
        for first in range(0, len(tiles), per_call):
            chunk = tiles[first:first + per_call]
            patches = torch.cat([x[..., top:top + height, left:left + width] for top, left, _ in chunk])
            results = run_padded(fn, patches, multiple)
            if out is None:
                out = torch.zeros(n, results.shape[1], h, w, dtype=results.dtype, device=x.device)
            for index, (top, left, window) in enumerate(chunk):
                out[..., top:top + height, left:left + width] += results[index * n:(index + 1) * n] * window
                weight_sum[..., top:top + height, left:left + width] += window
    return out / weight_sum
