"""Building blocks shared by the multi-level VAE and the latent mapping network.

Paper: Zeng et al., "Multiple Latent Space Mapping for Compressed Dark Image Enhancement",
Section III-C (sub-encoders: 3x3 conv + InstanceNorm + ReLU, stride-2 conv down, bilinear up)
and Fig. 6 (ResBlock, ASPP with dilations 1/6/12/18, UNet-style deblocking branch).

``norm`` is "instance" (the paper) or "none". Instance normalisation makes a pixel depend on
statistics of the whole input, so tiled and whole-image inference disagree; the default
CPU models use "none" for exact tiling (see ``mlsm.models.configs``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["make_norm", "ConvNormAct", "ResBlock", "ASPP", "ChannelSpatialAttention", "DeblockUNet", "upsample2x"]


def make_norm(norm: str, channels: int) -> nn.Module:
    """Normalisation layer by name: "instance" (affine InstanceNorm2d) or "none"."""
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; expected 'instance' or 'none'")


def upsample2x(x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Bilinear x2 upsampling (the paper's ↑), or to an explicit ``size``."""
    if size is None:
        size = (x.shape[-2] * 2, x.shape[-1] * 2)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ConvNormAct(nn.Sequential):
    """3x3 convolution (optionally stride 2) + normalisation + ReLU: one sub-encoder layer."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, norm: str = "instance",
                 activation: bool = True):
        layers = [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=norm == "none"),
                  make_norm(norm, out_channels)]
        if activation:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Fig. 6(b): x + conv3x3(ReLU(conv3x3(x))) (normalisation after each conv when enabled)."""

    def __init__(self, channels: int, norm: str = "none"):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), make_norm(norm, channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1), make_norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ASPP(nn.Module):
    """Atrous Spatial Pyramid Pooling (Chen et al., DeepLab; the paper's [46]), Fig. 6(a).

    Parallel 3x3 convolutions with the given dilations (default 1, 6, 12, 18), each producing
    ``branch_channels``, concatenated, ReLU, fused by a 1x1 convolution back to ``channels``.
    """

    def __init__(self, channels: int, dilations: tuple[int, ...] = (1, 6, 12, 18),
                 branch_channels: int | None = None):
        super().__init__()
        branch_channels = branch_channels or channels
        self.dilations = tuple(dilations)
        self.branches = nn.ModuleList(
            nn.Conv2d(channels, branch_channels, 3, padding=d, dilation=d) for d in self.dilations)
        self.fuse = nn.Conv2d(branch_channels * len(self.dilations), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.fuse(F.relu(features))


class ChannelSpatialAttention(nn.Module):
    """Channel then spatial attention (CBAM, Woo et al. 2018).

    The paper's text (III-D) also mentions channel and spatial attention in the mapping
    network, while Fig. 6 does not show it: enabled by ``MapperConfig.attention``.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.channel_mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                         nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channel_gate = torch.sigmoid(self.channel_mlp(x.mean((2, 3), keepdim=True))
                                     + self.channel_mlp(x.amax((2, 3), keepdim=True)))
        x = x * channel_gate
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class DeblockUNet(nn.Module):
    """UNet-style deblocking branch g(.) of Fig. 6(a) (eq. 15).

    ``depth`` (2 in the paper) downsample blocks, each a 3x3 convolution with stride 2 and
    padding 1 + ReLU doubling the width, then as many 2x2 stride-2 deconvolutions
    (ConvTranspose2d) back, with additive skip connections. Input H and W must be
    multiples of ``2 ** depth``.
    """

    def __init__(self, channels: int, depth: int = 2):
        super().__init__()
        self.depth = depth
        self.head = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True))
        widths = [channels * 2 ** i for i in range(depth + 1)]
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1), nn.ReLU(inplace=True))
            for i in range(depth))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth)))
        self.tail = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        skips = []
        for down in self.downs:
            skips.append(x)
            x = down(x)
        for up, skip in zip(self.ups, reversed(skips)):
            x = F.relu(up(x) + skip)
        return self.tail(x)
