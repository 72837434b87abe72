"""Zero-IG: zero-shot illumination-guided joint denoising and enhancement, test-time model.

Shi, Liu, Zhang, Tian, Xia and Fu, "ZERO-IG: Zero-Shot Illumination-Guided Joint Denoising
and Adaptive Enhancement for Low-Light Images", CVPR 2024 (release Doyle59217/ZeroIG).
Written for mlsm from the paper and the released graph so that the authors' ``LOL.pt`` and
``LSRW-Huawei.pt`` load by name (198,252 values with the BatchNorm statistics).

At test time (the release's ``Finetunemodel``) two small denoisers sit around a Retinex
illumination estimator::

    I' = I + 1e-4
    L  = clamp(I' − D1(I'), 1e-4, 1)            first denoiser, on the input
    s  = illumination(L)                         in [1e-4, 1]
    H  = clamp(I' / s, 1e-4, 1)                  enhanced (from the noisy input)
    Z  = clamp([H, s] − D2([H, s]), 1e-4, 1)     second denoiser, on image and illumination
    output = Z[:, :3]

The release's test script returns ``(H, Z[:, :3])`` and saves both: ``H`` as
``*_enhance.png``, ``Z[:, :3]`` as ``*_denoise.png``, the method's result. :class:`ZeroIG`
returns the latter; :meth:`ZeroIG.stages` gives all of them.

The illumination estimator is SCI's with width 64 and three applications of one shared
block (conv 3x3, BatchNorm, ReLU) as residual steps; the files store that block under
``enhance.conv`` and again under ``enhance.blocks.{0,1,2}`` (the same module, as in the
release). All convolutions are padded: any input size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlsm.baselines.sci import SCIIlluminationEstimator

__all__ = ["ZeroIG", "ResidualDenoiser", "EPS"]

EPS = 1e-4
_DENOISER_WIDTH = 48
_ENHANCER_WIDTH = 64
_ENHANCER_STEPS = 3


class ResidualDenoiser(nn.Module):
    """Noise predictor: conv 3x3, LeakyReLU(0.2), conv 3x3, LeakyReLU(0.2), conv 1x1.

    Returns the noise estimate (the caller subtracts it), same channels as the input.
    """

    def __init__(self, channels: int, width: int = _DENOISER_WIDTH) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.conv2(x), 0.2)
        return self.conv3(x)


class _IlluminationEstimator(SCIIlluminationEstimator):
    """SCI's estimator without SCI's ``+ input``: clamp(sigmoid(out(f)), 1e-4, 1)."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.in_conv(image)
        for block in self.blocks:
            features = features + block(features)
        return torch.clamp(self.out_conv(features), EPS, 1.0)


class ZeroIG(nn.Module):
    """Zero-IG test-time enhancer: (N, 3, H, W) in [0, 1] -> (N, 3, H, W) in [1e-4, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.enhance = _IlluminationEstimator(layers=_ENHANCER_STEPS, channels=_ENHANCER_WIDTH)
        self.denoise_1 = ResidualDenoiser(3)
        self.denoise_2 = ResidualDenoiser(6)

    def stages(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"denoised_input": L, "illumination": s, "enhanced": H, "output": Z[:, :3],
        "refined_illumination": Z[:, 3:]}``, each (N, C, H, W)."""
        shifted = image + EPS
        denoised = torch.clamp(shifted - self.denoise_1(shifted), EPS, 1.0)
        illumination = self.enhance(denoised)
        enhanced = torch.clamp(shifted / illumination, EPS, 1.0)
        joint = torch.cat([enhanced, illumination], dim=1)
        refined = torch.clamp(joint - self.denoise_2(joint), EPS, 1.0)
        return {"denoised_input": denoised, "illumination": illumination, "enhanced": enhanced,
                "output": refined[:, :3], "refined_illumination": refined[:, 3:]}

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.stages(image)["output"]
