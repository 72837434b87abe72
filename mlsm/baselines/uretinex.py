"""URetinex-Net: Retinex-based deep unfolding network (CPU-capable re-implementation).

Wu et al., "URetinex-Net: Retinex-based Deep Unfolding Network for Low-light Image
Enhancement", CVPR 2022. Parameter names match the authors' ``init_low.pth``,
``unfolding.pth`` and ``L_adjust.pth`` (sub-dicts ``state_dict.model_R`` / ``model_L`` /
``model_A``).

The low-light input ``I`` is decomposed into reflectance ``P`` and illumination ``Q``
(initial decomposition net), then refined for ``rounds`` unfolded iterations; round t > 0
solves the two least-squares sub-problems in closed form (eq. 9-10 of the paper)::

    P = (I·Q + w_p·R) / (w_p + Q²)                    w_p = gamma + p_offset·t
    Q = (Σ_c I_c·P_c + w_q·L) / (Σ_c P_c² + w_q)      w_q = lamda + q_offset·t

and every round sets ``R = model_R(P, Q)`` (a half-DnCNN with SE attention that denoises
the reflectance) and ``L = model_L(Q)``. Finally ``model_A`` brightens ``L`` given a
constant ratio map, and the output is ``model_A(L, ratio) · R``.

Note: the SE attention in ``model_R`` pools over the whole image.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["URetinexNet", "UnfoldingOptions", "update_reflectance", "update_illumination",
           "InitialDecomposition", "ReflectanceRestorer", "IlluminationRefiner", "IlluminationAdjuster",
           "DEFAULT_RATIO"]

DEFAULT_RATIO = 5.0


@dataclass(frozen=True)
class UnfoldingOptions:
    """Unfolding hyper-parameters of the release (``opts`` of ``unfolding.pth``)."""

    rounds: int = 3
    gamma: float = 0.1
    lamda: float = 0.5
    p_offset: float = 0.05
    q_offset: float = 0.05


def update_reflectance(image: torch.Tensor, illumination: torch.Tensor, prior: torch.Tensor,
                       weight: float) -> torch.Tensor:
    """argmin_P ||I - P·Q||² + weight·||P - R||² (per pixel and channel, closed form).

    ``image`` (N, 3, H, W), ``illumination`` Q (N, 1, H, W), ``prior`` R (N, 3, H, W).
    """
    return (image * illumination + weight * prior) / (weight + illumination * illumination)


def update_illumination(image: torch.Tensor, reflectance: torch.Tensor, prior: torch.Tensor,
                        weight: float) -> torch.Tensor:
    """argmin_Q Σ_c ||I_c - P_c·Q||² + weight·||Q - L||² (closed form, one channel).

    ``image`` and ``reflectance`` P (N, 3, H, W), ``prior`` L (N, 1, H, W).
    """
    numerator = (image * reflectance).sum(dim=1, keepdim=True) + weight * prior
    return numerator / ((reflectance * reflectance).sum(dim=1, keepdim=True) + weight)


class InitialDecomposition(nn.Module):
    """Four 3x3 convs (LeakyReLU 0.2, final ReLU): I -> (P0 3 ch, Q0 1 ch); 20,548 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.decom = nn.Sequential(
            nn.Conv2d(3, 32, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 32, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 32, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 4, 3, 1, 1), nn.ReLU(),
        )

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.decom(image)
        return out[:, 0:3], out[:, 3:4]


class SqueezeExcitation(nn.Module):
    """Channel attention: global average → Linear(C, C/16) → ReLU → Linear → sigmoid (no bias)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(),
            nn.Linear(channels // reduction, channels, bias=False), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


class ReflectanceRestorer(nn.Module):
    """``model_R`` (HalfDnCNNSE, 188,099 parameters): R = P + net(P, Q)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 1, 1)
        self.conv2 = nn.Conv2d(1, 32, 3, 1, 1)
        self.se_layer = SqueezeExcitation(64)
        self.conv3 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv4 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv5 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv6 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv7 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv8 = nn.Conv2d(64, 3, 3, 1, 1)

    def forward(self, reflectance: torch.Tensor, illumination: torch.Tensor) -> torch.Tensor:
        features = torch.cat([F.relu(self.conv1(reflectance)), F.relu(self.conv2(illumination))], dim=1)
        x = self.se_layer(features)
        for conv in (self.conv3, self.conv4, self.conv5, self.conv6, self.conv7):
            x = F.relu(conv(x))
        return reflectance + self.conv8(x)


class IlluminationRefiner(nn.Module):
    """``model_L`` (77,761 parameters): four 5x5 convs (LeakyReLU 0.2), 1x1 conv, ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, 1, 2)
        self.conv2 = nn.Conv2d(32, 32, 5, 1, 2)
        self.conv3 = nn.Conv2d(32, 32, 5, 1, 2)
        self.conv4 = nn.Conv2d(32, 32, 5, 1, 2)
        self.conv5 = nn.Conv2d(32, 1, 1, 1, 0)

    def forward(self, illumination: torch.Tensor) -> torch.Tensor:
        x = illumination
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.leaky_relu(conv(x), 0.2)
        return F.relu(self.conv5(x))


class IlluminationAdjuster(nn.Module):
    """``model_A`` (53,697 parameters): brightens L given a ratio map; four 5x5 convs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 32, 5, 1, 2)
        self.conv2 = nn.Conv2d(32, 32, 5, 1, 2)
        self.conv3 = nn.Conv2d(32, 32, 5, 1, 2)
        self.conv4 = nn.Conv2d(32, 1, 5, 1, 2)

    def forward(self, illumination: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        x = self.conv1(torch.cat([illumination, ratio], dim=1))
        x = self.conv2(F.leaky_relu(x, 0.2))
        x = self.conv3(F.leaky_relu(x, 0.2))
        x = self.conv4(F.leaky_relu(x, 0.2))
        return F.relu(x)


class URetinexNet(nn.Module):
    """URetinex-Net enhancer: (N, 3, H, W) in [0, 1] -> (N, 3, H, W), any size.

    Args:
        ratio: illumination amplification given to ``model_A`` (authors recommend 3-5).
        options: unfolding hyper-parameters (read from ``unfolding.pth`` when loading).
    """

    def __init__(self, ratio: float = DEFAULT_RATIO, options: UnfoldingOptions | None = None) -> None:
        super().__init__()
        if ratio <= 0:
            raise ValueError(f"ratio must be positive, got {ratio!r}")
        self.ratio = float(ratio)
        self.options = options or UnfoldingOptions()
        self.decom_low = InitialDecomposition()
        self.model_R = ReflectanceRestorer()
        self.model_L = IlluminationRefiner()
        self.model_A = IlluminationAdjuster()

    def unfold(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unfolded decomposition: returns restored reflectance R and refined illumination L."""
        opts = self.options
        reflectance, illumination = self.decom_low(image)
        restored = self.model_R(reflectance, illumination)
        refined = self.model_L(illumination)
        for t in range(1, opts.rounds):
            w_p = opts.gamma + opts.p_offset * t
            w_q = opts.lamda + opts.q_offset * t
            reflectance = update_reflectance(image, illumination, restored, w_p)
            illumination = update_illumination(image, reflectance, refined, w_q)
            restored = self.model_R(reflectance, illumination)
            refined = self.model_L(illumination)
        return restored, refined

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        restored, refined = self.unfold(image)
        ratio_map = torch.full_like(refined, self.ratio)
        return self.model_A(refined, ratio_map) * restored
