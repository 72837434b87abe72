"""The one small protocol every comparison method follows, and the torch wrapper for CNN peers."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from mlsm.io.convert import to_array as _to_hwc
from mlsm.io.convert import to_tensor
from mlsm.tiling import run_tiled

__all__ = ["Method", "TorchMethod", "flush_subnormal_weights", "to_tensor", "to_array"]


@runtime_checkable
class Method(Protocol):
    """An image-to-image method: float32 RGB (H, W, 3) in [0, 1] -> same shape and range."""

    name: str

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


def to_array(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) float32 array clipped to [0, 1] (a method's output).

    :func:`to_tensor` is :func:`mlsm.io.convert.to_tensor`, (H, W, 3) -> (1, 3, H, W).
    """
    return _to_hwc(tensor[0].clamp(0, 1))


@torch.no_grad()
def flush_subnormal_weights(module: nn.Module) -> nn.Module:
    """Set every subnormal entry of ``module``'s floating-point parameters and buffers to 0, in
    place; returns ``module``."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            tensor.masked_fill_(tensor.abs() < torch.finfo(tensor.dtype).tiny, 0.0)
    return module


class TorchMethod:
    """Wraps an ``nn.Module`` (N, 3, H, W) -> (N, 3, H, W) as a :class:`Method`.

    Any input size: the image is reflect-padded to ``multiple`` and, above ``tile`` pixels a
    side, processed in overlapping blended tiles (bounded memory on 12+ MP photos).
    Note that tiling changes results of methods with global statistics (IAT's colour
    matrix, Zero-DCE++'s downscaled curve estimate); ``tile`` is large by default.

    Subnormal weights (below ``torch.finfo(dtype).tiny``, about 1.2e-38 in float32) are set to
    zero (:func:`flush_subnormal_weights`): the official Zero-DCE, Zero-DCE++, IAT and Zero-IG
    files hold 685-92,836 of them, which add nothing a float32 sum can hold but make Intel
    CPUs take the slow microcode path in every convolution (Zero-DCE on a 640x480 photo: 11.8 s
    with them, 0.5 s without, on an AVX-512 Xeon; AMD EPYC barely slows). Setting
    ``torch.set_flush_denormal`` does not reach OpenMP's worker threads.
    """

    def __init__(self, name: str, module: nn.Module, multiple: int = 1, tile: int = 1024,
                 overlap: int = 32, device: str | torch.device = "cpu"):
        self.name = name
        self.module = flush_subnormal_weights(module).eval().to(device)
        self.multiple = multiple
        self.tile = tile
        self.overlap = overlap
        self.device = torch.device(device)

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = to_tensor(image).to(self.device)
        y = run_tiled(self.module, x, tile=self.tile, overlap=self.overlap, multiple=self.multiple)
        return to_array(y)
