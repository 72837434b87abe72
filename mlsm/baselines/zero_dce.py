"""Zero-DCE and Zero-DCE++: zero-reference deep curve estimation.

* Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement",
  CVPR 2020 (Zero-DCE).
* Li, Guo and Loy, "Learning to Enhance Low-Light Image via Zero-Reference Deep Curve
  Estimation", TPAMI 2021 (Zero-DCE++).

Both networks predict per-pixel curve parameters ``A`` in [-1, 1] and brighten the input
with the quadratic light-enhancement curve, applied eight times:

.. math::  x_{n} = x_{n-1} + A_n \\odot (x_{n-1}^2 - x_{n-1}),\\quad x_0 = I

::

    I ─ conv1 ─ conv2 ─ conv3 ─ conv4 ┐
          │       │       └──[x3,x4]─ conv5 ┐
          │       └──────────────[x2,x5]─ conv6 ┐
          └─────────────────────────[x1,x6]─ conv7 ─ tanh ─ A ─ curve x8 ─ output

Zero-DCE predicts eight 3-channel maps ``A_1..A_8`` (24 channels); Zero-DCE++ uses
depthwise-separable convolutions, predicts one 3-channel map reused eight times, and may
estimate it on the input downscaled by ``scale_factor`` (bilinear) before upsampling it back.
Parameter names match the authors' released ``Epoch99.pth`` files.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlsm.tiling import run_padded

__all__ = ["ZeroDCE", "ZeroDCEPlusPlus", "DepthwiseSeparableConv", "apply_curve"]

_WIDTH = 32
_ITERATIONS = 8


def apply_curve(image: torch.Tensor, curve_maps: list[torch.Tensor]) -> torch.Tensor:
    """Apply ``x <- x + A (x^2 - x)`` once per map in ``curve_maps`` (each broadcastable)."""
    x = image
    for curve in curve_maps:
        x = x + curve * (x * x - x)
    return x


class ZeroDCE(nn.Module):
    """Zero-DCE curve estimator (79,416 parameters): (N, 3, H, W) in [0, 1] -> same."""

    def __init__(self) -> None:
        super().__init__()
        self.e_conv1 = nn.Conv2d(3, _WIDTH, 3, 1, 1)
        self.e_conv2 = nn.Conv2d(_WIDTH, _WIDTH, 3, 1, 1)
        self.e_conv3 = nn.Conv2d(_WIDTH, _WIDTH, 3, 1, 1)
        self.e_conv4 = nn.Conv2d(_WIDTH, _WIDTH, 3, 1, 1)
        self.e_conv5 = nn.Conv2d(2 * _WIDTH, _WIDTH, 3, 1, 1)
        self.e_conv6 = nn.Conv2d(2 * _WIDTH, _WIDTH, 3, 1, 1)
        self.e_conv7 = nn.Conv2d(2 * _WIDTH, 3 * _ITERATIONS, 3, 1, 1)

    def curve_parameters(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 24, H, W) curve maps A_1..A_8 in [-1, 1]."""
        x1 = F.relu(self.e_conv1(image))
        x2 = F.relu(self.e_conv2(x1))
        x3 = F.relu(self.e_conv3(x2))
        x4 = F.relu(self.e_conv4(x3))
        x5 = F.relu(self.e_conv5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.e_conv6(torch.cat([x2, x5], 1)))
        return torch.tanh(self.e_conv7(torch.cat([x1, x6], 1)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        curves = self.curve_parameters(image)
        return apply_curve(image, list(torch.split(curves, 3, dim=1)))


class DepthwiseSeparableConv(nn.Module):
    """3x3 depthwise convolution followed by a 1x1 pointwise one, both with bias."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depth_conv = nn.Conv2d(in_channels, in_channels, 3, 1, 1, groups=in_channels)
        self.point_conv = nn.Conv2d(in_channels, out_channels, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(x))


class ZeroDCEPlusPlus(nn.Module):
    """Zero-DCE++ (10,561 parameters): (N, 3, H, W) in [0, 1] -> same, any H and W.

    Args:
        scale_factor: the curve map is estimated on the input downscaled by this integer
            factor (the release uses 12 for large photos; 1 runs at full resolution). The
            input is reflect-padded to a multiple of it and the output cropped back.
    """

    def __init__(self, scale_factor: int = 1) -> None:
        super().__init__()
        if int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(f"scale_factor must be a positive integer, got {scale_factor!r}")
        self.scale_factor = int(scale_factor)
        self.e_conv1 = DepthwiseSeparableConv(3, _WIDTH)
        self.e_conv2 = DepthwiseSeparableConv(_WIDTH, _WIDTH)
        self.e_conv3 = DepthwiseSeparableConv(_WIDTH, _WIDTH)
        self.e_conv4 = DepthwiseSeparableConv(_WIDTH, _WIDTH)
        self.e_conv5 = DepthwiseSeparableConv(2 * _WIDTH, _WIDTH)
        self.e_conv6 = DepthwiseSeparableConv(2 * _WIDTH, _WIDTH)
        self.e_conv7 = DepthwiseSeparableConv(2 * _WIDTH, 3)

    def curve_parameters(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) with H, W multiples of ``scale_factor`` -> (N, 3, H, W) map A."""
        height, width = image.shape[-2:]
        scale = self.scale_factor
        small = image
        if scale != 1:
            # The release calls F.interpolate(scale_factor=1/s, bilinear, align_corners=False)
            # and upsamples with nn.UpsamplingBilinear2d (align_corners=True).
            small = F.interpolate(image, size=(height // scale, width // scale), mode="bilinear",
                                  align_corners=False)
        x1 = F.relu(self.e_conv1(small))
        x2 = F.relu(self.e_conv2(x1))
        x3 = F.relu(self.e_conv3(x2))
        x4 = F.relu(self.e_conv4(x3))
        x5 = F.relu(self.e_conv5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.e_conv6(torch.cat([x2, x5], 1)))
        curve = torch.tanh(self.e_conv7(torch.cat([x1, x6], 1)))
        if scale != 1:
            curve = F.interpolate(curve, size=(height, width), mode="bilinear", align_corners=True)
        return curve

    def _forward_aligned(self, image: torch.Tensor) -> torch.Tensor:
        curve = self.curve_parameters(image)
        return apply_curve(image, [curve] * _ITERATIONS)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return run_padded(self._forward_aligned, image, self.scale_factor)
