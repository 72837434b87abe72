"""SCI: self-calibrated illumination learning, test-time model.

Ma et al., "Toward Fast, Flexible, and Robust Low-Light Image Enhancement", CVPR 2022.

At test time SCI keeps only its tiny illumination estimator (the self-calibration module
is a training-time device); the enhanced image is the Retinex reflectance:

.. math::  i = \\mathrm{clamp}(\\sigma(\\mathrm{out}(f)) + I,\\ 10^{-4},\\ 1),\\qquad
           r = \\mathrm{clamp}(I / i,\\ 0,\\ 1)

with ``f = g + block(g)``, ``g = relu(in_conv(I))`` and ``block`` = conv3x3 → BatchNorm → ReLU.
The released files store that one shared block twice (``enhance.conv`` and
``enhance.blocks.0``), as the authors' module does; their ``calibrate.*`` keys are the
training-only calibration network and are dropped on load (:data:`TRAINING_ONLY_PREFIX`).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["SCIIlluminationEstimator", "SCI", "TRAINING_ONLY_PREFIX", "inference_state_dict"]

TRAINING_ONLY_PREFIX = "calibrate."


class SCIIlluminationEstimator(nn.Module):
    """Illumination estimator of width ``channels`` with ``layers`` applications of one shared block."""

    def __init__(self, layers: int = 1, channels: int = 3) -> None:
        super().__init__()
        self.in_conv = nn.Sequential(nn.Conv2d(3, channels, 3, 1, 1), nn.ReLU())
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        # Same module object repeated, as in the release (weights shared across layers).
        self.blocks = nn.ModuleList([self.conv for _ in range(layers)])
        self.out_conv = nn.Sequential(nn.Conv2d(channels, 3, 3, 1, 1), nn.Sigmoid())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> illumination (N, 3, H, W) in [1e-4, 1]."""
        features = self.in_conv(image)
        for block in self.blocks:
            features = features + block(features)
        return torch.clamp(self.out_conv(features) + image, 1e-4, 1.0)


class SCI(nn.Module):
    """SCI test-time enhancer: (N, 3, H, W) in [0, 1] -> reflectance in [0, 1], any size."""

    def __init__(self) -> None:
        super().__init__()
        self.enhance = SCIIlluminationEstimator(layers=1, channels=3)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        illumination = self.enhance(image)
        return torch.clamp(image / illumination, 0.0, 1.0)


def inference_state_dict(checkpoint: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the training-only ``calibrate.*`` entries of an official SCI file."""
    return {key: value for key, value in checkpoint.items() if not key.startswith(TRAINING_ONLY_PREFIX)}

