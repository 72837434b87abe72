"""Padding and tiled inference shared by mlsm and the peer models.

Any network here takes (N, 3, H, W) tensors in [0, 1] of any size:

* :func:`pad_to_multiple` reflect-pads the bottom/right edge so H and W are multiples of
  the network's stride product, and :func:`crop_to` takes the result back;
* :func:`run_tiled` runs a network on overlapping tiles and blends them with a separable
  raised-cosine (Hann) window, so peak memory is bounded by the tile size and seams vanish.

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


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    count = math.ceil((length - tile) / step) + 1
    starts = [min(i * step, length - tile) for i in range(count)]
    return sorted(set(starts))


def _blend_window(tile_h: int, tile_w: int, overlap: int, device, dtype) -> torch.Tensor:
    """Separable weight that ramps up over ``overlap`` pixels at each edge (never zero)."""
    def ramp(n: int) -> torch.Tensor:
        weight = torch.ones(n, dtype=dtype, device=device)
        if overlap > 0 and n > 2 * overlap:
            t = (torch.arange(overlap, dtype=dtype, device=device) + 0.5) / overlap
            up = 0.5 - 0.5 * torch.cos(math.pi * t)
            weight[:overlap] = up
            weight[-overlap:] = up.flip(0)
        return weight
    return ramp(tile_h)[:, None] * ramp(tile_w)[None, :]


@torch.no_grad()
def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int = 512,
    overlap: int = 32,
    multiple: int = 1,
) -> torch.Tensor:
    """Run ``fn`` over overlapping ``tile`` x ``tile`` windows of ``x`` and blend the outputs.

    Args:
        fn: maps (N, C, h, w) to (N, C_out, h, w) (same spatial size).
        x: input (N, C, H, W).
        tile: tile side in pixels (rounded up to ``multiple``); images that fit are run whole.
        overlap: pixels shared by neighbouring tiles; blended with a raised-cosine ramp.
        multiple: each tile is padded to a multiple of this before ``fn``.

    Returns:
        (N, C_out, H, W) tensor.
    """
    n, _, h, w = x.shape
    tile = int(math.ceil(tile / multiple) * multiple)
    if h <= tile and w <= tile:
        return run_padded(fn, x, multiple)
    overlap = min(overlap, tile // 4)
    out = None
    weight_sum = torch.zeros(1, 1, h, w, dtype=x.dtype, device=x.device)
    for top in _tile_starts(h, tile, overlap):
        for left in _tile_starts(w, tile, overlap):
            patch = x[..., top:top + tile, left:left + tile]
            result = run_padded(fn, patch, multiple)
            if out is None:
                out = torch.zeros(n, result.shape[1], h, w, dtype=result.dtype, device=x.device)
            ph, pw = patch.shape[-2:]
            window = _blend_window(ph, pw, overlap, x.device, x.dtype)
            out[..., top:top + ph, left:left + pw] += result * window
            weight_sum[..., top:top + ph, left:left + pw] += window
    return out / weight_sum
