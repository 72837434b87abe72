"""Pixel conversions, one definition each: dtypes (float32 <-> uint8/uint16) and layout.

* :func:`to_float32`, :func:`to_uint8`: the dtype conventions of every image in mlsm
  (float32 in [0, 1]; 8 bit is ``round(x * 255)`` clipped, round half to even).
* :func:`quantize_8bit`: float32 rounded to the 8-bit levels, ``to_uint8(x) / 255``, as a
  saved PNG or a camera would store it.
* :func:`to_tensor`, :func:`to_array`: (H, W, C) numpy <-> (1, C, H, W) torch (torch is
  imported only by these two).
"""
from __future__ import annotations


import numpy as np


# --------------------------------------------------------------------------- conversions


def to_float32(array: np.ndarray) -> np.ndarray:
    """uint8 -> /255, uint16 -> /65535, bool -> 0/1, floats -> float32 unchanged in value."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535)
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    raise ValueError(f"array: unsupported dtype {array.dtype} (expected uint8, uint16 or float)")


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Float in [0, 1] -> round(x * 255) clipped to 0..255; uint16 -> round(x / 257).

    uint8 input is returned unchanged. Non-finite floats raise ValueError rather than
    silently turning into black pixels.
    """
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return np.rint(array / 257.0).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError("array: contains NaN or infinite values")
        return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    raise ValueError(f"array: unsupported dtype {array.dtype} (expected uint8, uint16 or float)")


def quantize_8bit(array: np.ndarray) -> np.ndarray:
    """Float image -> float32 on the 8-bit levels: ``to_uint8(array) / 255``.

    >>> float(quantize_8bit(np.float32([0.5]))[0]) == 128 / 255
    True
    """
    return to_uint8(array).astype(np.float32) / np.float32(255)


def to_tensor(image: np.ndarray, batch: bool = True):
    """(H, W, C) float array -> (1, C, H, W) float32 tensor, or (C, H, W) with ``batch=False``.

    The tensor is a view of the (float32, C-contiguous) array: channels-last strides, no
    copy. Call ``.contiguous()`` where a channels-first copy is wanted.
    """
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    return tensor[None] if batch else tensor


def to_array(tensor) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) tensor -> (H, W, C) float32 C-contiguous array (on the CPU)."""
    if tensor.ndim == 4:
        tensor = tensor[0]
    return tensor.permute(1, 2, 0).contiguous().cpu().numpy().astype(np.float32)


def to_uint16(array: np.ndarray) -> np.ndarray:
    """Float in [0, 1] -> round(x * 65535) clipped; uint8 -> x * 257; uint16 unchanged."""
    if array.dtype == np.uint16:
        return array
    if array.dtype == np.uint8:
        return array.astype(np.uint16) * np.uint16(257)
    if not np.all(np.isfinite(array)):
        raise ValueError("image: contains NaN or infinite values")
    return np.clip(np.rint(array.astype(np.float64) * 65535.0), 0, 65535).astype(np.uint16)


def _as_image_array(image) -> np.ndarray:
    """Validate shape/dtype: (H, W), (H, W, 1) -> (H, W); (H, W, 3) kept."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"image must be (H, W), (H, W, 1) or (H, W, 3), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image is empty, shape {array.shape}")
    if not (array.dtype in (np.uint8, np.uint16) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"image: unsupported dtype {array.dtype} (expected float, uint8, uint16)")
    return array


