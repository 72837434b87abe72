"""Colour conventions, one definition each, for numpy arrays and torch tensors.

* sRGB transfer function (IEC 61966-2-1): :func:`srgb_to_linear`, :func:`linear_to_srgb`.
  Both clamp their input to [0, 1] first. numpy: float32 in, float32 out; torch: in the
  tensor's dtype.
* BT.601 luma of float RGB in [0, data_range]: :func:`luma`, ``studio=False`` (full range,
  ``0.299 R + 0.587 G + 0.114 B``) or ``studio=True`` (MATLAB ``rgb2ycbcr``'s Y,
  ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``, in [16/255, 235/255]).
* BT.601 studio-swing YCbCr of (N, 3, H, W) tensors (DnCNN-3's colour space):
  :func:`rgb_to_ycbcr_studio`, :func:`ycbcr_studio_to_rgb`.

The studio weights are the full-range ones times 219 (the Y code range 16..235), written
out as MATLAB writes them; numpy luma is computed in float64.
"""
from __future__ import annotations

import functools
import sys

import numpy as np

__all__ = ["BT601_LUMA", "STUDIO_OFFSET", "STUDIO_MATRIX", "srgb_to_linear", "linear_to_srgb", "luma",
           "rgb_to_ycbcr_studio", "ycbcr_studio_to_rgb"]

BT601_LUMA = (0.299, 0.587, 0.114)
# MATLAB rgb2ycbcr on RGB in [0, 1]: (Y, Cb, Cr) codes in 0..255 = offset + matrix @ rgb.
STUDIO_OFFSET = (16.0, 128.0, 128.0)
STUDIO_MATRIX = ((65.481, 128.553, 24.966),
                 (-37.797, -74.203, 112.0),
                 (112.0, -93.786, -18.214))


def _is_tensor(value) -> bool:
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    return torch is not None and isinstance(value, torch.Tensor)


# ----------------------------------------------------------------------------- sRGB transfer


def srgb_to_linear(image):
    """Inverse sRGB transfer function (IEC 61966-2-1): [0, 1] -> linear light [0, 1].

    ``image``: a numpy array (returned as float32) or a torch tensor (same dtype).

    >>> float(srgb_to_linear(np.float32([0.5]))[0])  # doctest: +ELLIPSIS
    0.2140...
    """
    if _is_tensor(image):
        import torch

        x = image.clamp(0.0, 1.0)
        return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    x = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear):
    """sRGB transfer function (IEC 61966-2-1): linear light, clamped to [0, 1] -> [0, 1].

    ``linear``: a numpy array (returned as float32) or a torch tensor (same dtype; the power
    is taken of ``max(x, 0.0031308)`` so its gradient stays finite at 0).

    >>> float(linear_to_srgb(srgb_to_linear(np.float32([0.5])))[0])  # doctest: +ELLIPSIS
    0.5...
    """
    if _is_tensor(linear):
        import torch

        x = linear.clamp(0.0, 1.0)
        return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)
    x = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


# ----------------------------------------------------------------------------- BT.601


def luma(image: np.ndarray, *, studio: bool = False, data_range: float = 1.0) -> np.ndarray:
    """BT.601 luma (H, W) float64 of RGB (H, W, 3+) in [0, data_range] (extra channels ignored).

    ``studio=False``: ``0.299 R + 0.587 G + 0.114 B``, in [0, data_range].
    ``studio=True``: MATLAB ``rgb2ycbcr``'s Y, ``(16 data_range + 65.481 R + 128.553 G +
    24.966 B) / 255``, in [16/255, 235/255] * data_range.

    >>> float(luma(np.ones((1, 1, 3)))[0, 0]), float(luma(np.ones((1, 1, 3)), studio=True)[0, 0]) * 255
    (1.0, 235.0)
    """
    array = np.asarray(image, dtype=np.float64)[..., :3]
    if studio:
        return (STUDIO_OFFSET[0] * data_range + array @ np.array(STUDIO_MATRIX[0])) / 255.0
    return array @ np.array(BT601_LUMA)


@functools.lru_cache(maxsize=1)
def _studio_tensors():
    """(matrix / 255, its inverse, offset / 255) as float64 CPU tensors, built once."""
    import torch

    matrix = torch.tensor(STUDIO_MATRIX, dtype=torch.float64) / 255.0
    offset = torch.tensor(STUDIO_OFFSET, dtype=torch.float64) / 255.0
    return matrix, torch.linalg.inv(matrix), offset


def rgb_to_ycbcr_studio(rgb):
    """(N, 3, H, W) RGB tensor in [0, 1] -> YCbCr as MATLAB ``rgb2ycbcr`` (Y in [16/255, 235/255])."""
    import torch

    matrix, _, offset = _studio_tensors()
    return torch.einsum("ck,nkhw->nchw", matrix.to(rgb), rgb) + offset.to(rgb)[None, :, None, None]


def ycbcr_studio_to_rgb(ycbcr):
    """Exact inverse of :func:`rgb_to_ycbcr_studio` (no clipping)."""
    import torch

    _, inverse, offset = _studio_tensors()
    centred = ycbcr - offset.to(ycbcr)[None, :, None, None]
    return torch.einsum("ck,nkhw->nchw", inverse.to(ycbcr), centred)
