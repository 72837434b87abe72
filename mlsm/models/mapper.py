"""Latent space mapping network M_i (paper Section III-D, eq. 14-16, Fig. 6).

::

    l_c^i ──> ResBlock ─> ResBlock ─> [attention] ─> ASPP(1,6,12,18) ─> ResBlock ──> F_en  (eq. 14)
    l_c^i − P(l_c^{k-1})↑ ──> UNet (2 stride-2 downs, 2 deconv ups) ───────────────> F_de  (eq. 15)
    l̃_n^i = ResBlock(F_en + F_de)                                                         (eq. 16)

Choices where the paper is open (each a field of :class:`~mlsm.models.configs.MapperConfig`):

* Level widths differ (l^{k-1} has more channels than l^i), so the top latent is projected
  by a 1x1 convolution P to the width of level i before the subtraction of eq. 15.
* At the top level the residual l^{k-1} − l^{k-1}↑ is identically zero, so M_{k-1} has no
  deblocking branch.
* The text's "channel and spatial attention" (not in Fig. 6) is optional (``attention``).
"""
from __future__ import annotations

import torch
from torch import nn

from mlsm.models.blocks import ASPP, ChannelSpatialAttention, DeblockUNet, ResBlock, upsample2x
from mlsm.models.configs import MapperConfig

__all__ = ["LatentMapper", "LatentMapping"]


class LatentMapper(nn.Module):
    """M_i: maps l_c^i (N, C_i, h, w) to l̃_n^i (same shape) given the top latent l_c^{k-1}.

    Args:
        channels: C_i, the latent width of level i.
        top_channels: width of l_c^{k-1}; ``None`` marks the top level itself (no deblocking).
        config: :class:`MapperConfig`.
    """

    def __init__(self, channels: int, top_channels: int | None, config: MapperConfig | None = None):
        super().__init__()
        config = config or MapperConfig()
        branch = max(4, int(round(channels * config.aspp_branch_ratio)))
        self.enlighten = nn.Sequential(
            ResBlock(channels), ResBlock(channels),
            ChannelSpatialAttention(channels) if config.attention else nn.Identity(),
            ASPP(channels, tuple(config.aspp_dilations), branch),
            ResBlock(channels),
        )
        self.has_deblock = config.deblock_branch and top_channels is not None
        if self.has_deblock:
            self.top_projection = nn.Conv2d(top_channels, channels, 1)
            self.deblock = DeblockUNet(channels, config.unet_depth)
        self.fuse = ResBlock(channels)

    def forward(self, latent: torch.Tensor, top_latent: torch.Tensor | None = None) -> torch.Tensor:
        features = self.enlighten(latent)                                     # eq. 14
        if self.has_deblock:
            if top_latent is None:
                raise ValueError("this level's mapper needs the top latent l_c^{k-1} (eq. 15)")
            top_up = upsample2x(self.top_projection(top_latent), size=latent.shape[-2:])
            features = features + self.deblock(latent - top_up)               # eq. 15
        return self.fuse(features)                                            # eq. 16


class LatentMapping(nn.Module):
    """{M_i} for all levels (eq. 16): l_c^0..l_c^{k-1} -> l̃_n^0..l̃_n^{k-1}.

    Only the top ``mapped_levels`` levels have a mapper (Section IV-F ablation); the lower
    levels' outputs are zeros, so D_N receives no skip information from them.
    """

    def __init__(self, widths: list[int], config: MapperConfig | None = None):
        super().__init__()
        config = config or MapperConfig()
        levels = len(widths)
        self.levels = levels
        self.mapped_levels = config.mapped_levels or levels
        if not 1 <= self.mapped_levels <= levels:
            raise ValueError(f"mapped_levels must be in 1..{levels}, got {self.mapped_levels}")
        self.mappers = nn.ModuleList(
            LatentMapper(widths[i], None if i == levels - 1 else widths[-1], config)
            for i in range(levels - self.mapped_levels, levels))

    def forward(self, latents_c: list[torch.Tensor]) -> list[torch.Tensor]:
        first = self.levels - self.mapped_levels
        top = latents_c[-1]
        mapped = [torch.zeros_like(latent) for latent in latents_c[:first]]
        mapped += [mapper(latent, top) for mapper, latent in zip(self.mappers, latents_c[first:])]
        return mapped
