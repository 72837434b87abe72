"""What ``model.enhance`` accepts, and how each kind of input is scaled and given back.

Every input is either enhanced, scaled by its true range, or refused with a one-line
``ValueError``/``TypeError`` that says what is wrong (never a silent white, black or NaN image):

=============================  ======================  ==========================================
input                          read as                 returned as
=============================  ======================  ==========================================
numpy uint8 (H, W, 3)           /255                    uint8 (H, W, 3)
numpy uint16 (H, W, 3)          /65535                  uint16 (H, W, 3)
numpy float (H, W, 3)           values in [0, 1]        the same float dtype (H, W, 3)
PIL 1, L, P, RGB(A), LA, CMYK   8 bit, converted to RGB  RGB PIL image
PIL I;16, I                     /65535 (clipped)        RGB PIL image
PIL F                           values in [0, 1]        RGB PIL image
torch (3, H, W), (N, 3, H, W)   uint8 /255, float [0,1]  a tensor of the same dtype and shape
=============================  ======================  ==========================================

Refused: other dtypes (int32, bool, complex...), NaN or infinite pixels, floats outside
[0, 1] (by more than half an 8-bit step: a 0-255 float image), empty images, other shapes
(grey or 4-channel arrays, channels-last tensors, 1-D, batches of arrays).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from PIL import Image

from mlsm.io.convert import to_array, to_tensor, to_uint8, to_uint16

__all__ = ["as_batch"]

_FLOAT_SLACK = 0.5 / 255  # rounding noise around [0, 1] that is clipped rather than refused
_EIGHT_BIT_MODES = ("1", "L", "P", "RGB", "RGBA", "RGBX", "LA", "La", "PA", "RGBa", "CMYK", "YCbCr", "LAB", "HSV")


def _check_float(values: np.ndarray | torch.Tensor, what: str) -> None:
    finite = torch.isfinite(values) if isinstance(values, torch.Tensor) else np.isfinite(values)
    if not bool(finite.all()):
        count = int((~finite).sum())
        raise ValueError(f"{what} has {count} NaN or infinite value{'s' if count > 1 else ''}; "
                         "replace them (e.g. numpy.nan_to_num) before enhancing")
    low, high = float(values.min()), float(values.max())
    if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
        hint = " (a 0-255 image? divide by 255 or pass uint8)" if high > 1.5 else ""
        raise ValueError(f"{what} values must be in [0, 1], got {low:g}..{high:g}{hint}")


def _check_size(height: int, width: int, what: str) -> None:
    if height == 0 or width == 0:
        raise ValueError(f"{what} is empty ({height}x{width} pixels)")


def _array_batch(array: np.ndarray) -> tuple[torch.Tensor, Callable]:
    if array.ndim != 3 or array.shape[2] != 3:
        hint = " (grey? numpy.repeat(a[..., None], 3, axis=2))" if array.ndim == 2 else ""
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {array.shape}{hint}")
    _check_size(array.shape[0], array.shape[1], "image")
    dtype = array.dtype
    if dtype == np.uint8:
        floats = array.astype(np.float32) / 255.0
        restore = to_uint8
    elif dtype == np.uint16:
        floats = array.astype(np.float32) / 65535.0
        restore = to_uint16
    elif np.issubdtype(dtype, np.floating):
        _check_float(array, "image")
        floats = np.clip(array.astype(np.float32), 0.0, 1.0)
        restore = lambda out: out.astype(dtype, copy=False)  # noqa: E731
    else:
        raise ValueError(f"unsupported image dtype {dtype}: pass uint8 (0-255), uint16 (0-65535) "
                         "or float in [0, 1]")
    return to_tensor(floats), lambda out: restore(to_array(out))


def _pil_batch(image: Image.Image) -> tuple[torch.Tensor, Callable]:
    _check_size(image.height, image.width, f"PIL image ({image.mode})")
    mode = image.mode
    if mode in _EIGHT_BIT_MODES:
        floats = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    elif mode.startswith("I;16") or mode == "I":
        grey = np.clip(np.asarray(image).astype(np.float32), 0, 65535) / 65535.0
        floats = np.repeat(grey[..., None], 3, axis=2)
    elif mode == "F":
        grey = np.asarray(image, dtype=np.float32)
        _check_float(grey, "PIL image (mode F)")
        floats = np.repeat(np.clip(grey, 0.0, 1.0)[..., None], 3, axis=2)
    else:
        raise ValueError(f"unsupported PIL image mode {mode}: convert it to RGB first")
    def restore(out: torch.Tensor) -> Image.Image:
        return Image.fromarray(to_uint8(to_array(out)), "RGB")
    return to_tensor(floats), restore


def _tensor_batch(tensor: torch.Tensor) -> tuple[torch.Tensor, Callable]:
    shape = tuple(tensor.shape)
    batched = tensor.ndim == 4
    if tensor.ndim not in (3, 4) or shape[-3] != 3:
        hint = " (channels last? use .permute(2, 0, 1))" if tensor.ndim == 3 and shape[-1] == 3 else ""
        raise ValueError(f"expected a (3, H, W) or (N, 3, H, W) tensor, got shape {shape}{hint}")
    _check_size(shape[-2], shape[-1], "tensor")
    if shape[0] == 0:
        raise ValueError("tensor batch is empty")
    dtype = tensor.dtype
    if dtype == torch.uint8:
        floats = tensor.to(torch.float32) / 255.0
        restore = lambda out: torch.round(out * 255.0).to(torch.uint8)  # noqa: E731
    elif dtype.is_floating_point:
        _check_float(tensor, "tensor")
        floats = tensor.to(torch.float32).clamp(0.0, 1.0)
        restore = lambda out: out.to(dtype)  # noqa: E731
    else:
        raise ValueError(f"unsupported tensor dtype {dtype}: pass uint8 (0-255) or float in [0, 1]")
    floats = floats if batched else floats[None]
    return floats, (lambda out: restore(out)) if batched else (lambda out: restore(out[0]))


def as_batch(image) -> tuple[torch.Tensor, Callable]:
    """``(batch, restore)``: ``image`` as an (N, 3, H, W) float32 tensor in [0, 1], and the
    function that turns the enhanced batch back into the input's kind (see the module table).

    Raises:
        TypeError: not a numpy array, PIL image or torch tensor.
        ValueError: a dtype, mode, shape or value that cannot be read as an image.
    """
    if isinstance(image, torch.Tensor):
        return _tensor_batch(image)
    if isinstance(image, Image.Image):
        return _pil_batch(image)
    if isinstance(image, np.ndarray):
        return _array_batch(image)
    raise TypeError(f"expected a numpy array, a PIL image or a torch tensor, got {type(image).__name__}")
