"""PairLIE: paired low-light image enhancement without normal-light references.

Fu et al., "Learning a Simple Low-light Image Enhancer from Paired Low-light Instances",
CVPR 2023.

Three plain CNNs of width 64 with reflection padding (341,767 parameters in all)::

    I ─ N_net ─ x ─┬─ L_net ─ L (1 ch, sigmoid)
                   └─ R_net ─ R (3 ch, sigmoid)      output = L ** exponent · R

``N_net`` removes content that does not fit the Retinex model; the released test script
raises the illumination to 0.2 (0.14 for LOL). Parameter names match ``PairLIE.pth``.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["PairLIE", "ReflectionCNN", "DEFAULT_EXPONENT"]

DEFAULT_EXPONENT = 0.2
_WIDTH = 64


def _reflection_cnn_layers(in_channels: int, out_channels: int) -> nn.Sequential:
    """Five (reflect-pad 1, conv 3x3) stages, ReLU after the first four.

    Sequential indices of the convolutions are 1, 4, 7, 10, 13, as in the release.
    """
    layers: list[nn.Module] = []
    channels = [in_channels, _WIDTH, _WIDTH, _WIDTH, _WIDTH, out_channels]
    for stage in range(5):
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels[stage], channels[stage + 1], 3, 1, 0)]
        if stage < 4:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ReflectionCNN(nn.Module):
    """One of PairLIE's three sub-networks; ``name`` is its attribute (``N_net``, ...)."""

    def __init__(self, name: str, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.attribute = name
        setattr(self, name, _reflection_cnn_layers(in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(getattr(self, self.attribute)(x))


class PairLIE(nn.Module):
    """PairLIE enhancer: (N, 3, H, W) in [0, 1] -> (N, 3, H, W) in [0, 1], any size >= 2 px."""

    def __init__(self, exponent: float = DEFAULT_EXPONENT) -> None:
        super().__init__()
        self.exponent = float(exponent)
        self.L_net = ReflectionCNN("L_net", 3, 1)
        self.R_net = ReflectionCNN("R_net", 3, 3)
        self.N_net = ReflectionCNN("N_net", 3, 3)

    def decompose(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns ``{"cleaned": x, "illumination": L, "reflectance": R}``."""
        cleaned = self.N_net(image)
        return {"cleaned": cleaned, "illumination": self.L_net(cleaned), "reflectance": self.R_net(cleaned)}

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        parts = self.decompose(image)
        return torch.pow(parts["illumination"], self.exponent) * parts["reflectance"]
