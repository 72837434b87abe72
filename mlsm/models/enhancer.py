"""The whole enhancer ñ = D_N ∘ {M_i} ∘ E_C (paper eq. 17-19) and the Section IV-F ablations.

::

    c ─E_C─> l_c^0..l_c^{k-1} ─M_i─> l̃_n^0..l̃_n^{k-1} ─D_N─> ñ

* :class:`Enhancer` holds VAE_C (only its encoder is used at inference), VAE_N (only its
  decoder) and one :class:`~mlsm.models.mapper.LatentMapper` per mapped level.
  ``MapperConfig.mapped_levels = j < k`` maps only the top j levels; the lower levels'
  skip inputs to D_N are zeros (the "mapping on 1/2 levels" ablation).
* :class:`DirectEnhancer` is the "no mapping" ablation: one encoder-decoder of the VAE's
  shape trained directly from C to N (deterministic: latents are the posterior means).

Both accept any input size: the image is reflect-padded to ``size_multiple`` and cropped
back. ``forward`` returns a dict: ``image`` (N, 3, H, W), and for :class:`Enhancer`
``mapped`` (l̃_n^i list) and ``latents`` (l_c^i list).
"""
from __future__ import annotations

import torch
from torch import nn

from mlsm.models.configs import ModelConfig
from mlsm.models.mapper import LatentMapper
from mlsm.models.vae import MultiLevelVAE
from mlsm.tiling import crop_to, pad_to_multiple

__all__ = ["Enhancer", "DirectEnhancer"]


class Enhancer(nn.Module):
    """D_N ∘ {M_i} ∘ E_C (eq. 19)."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        levels = config.vae.levels
        self.mapped_levels = config.mapper.mapped_levels or levels
        if not 1 <= self.mapped_levels <= levels:
            raise ValueError(f"mapped_levels must be in 1..{levels}, got {self.mapped_levels}")
        self.vae_c = MultiLevelVAE(config.vae)
        self.vae_n = MultiLevelVAE(config.vae)
        widths = config.vae.widths
        self.mappers = nn.ModuleList(
            LatentMapper(widths[i], None if i == levels - 1 else widths[-1], config.mapper)
            for i in range(levels - self.mapped_levels, levels))

    @property
    def size_multiple(self) -> int:
        return self.config.size_multiple

    def map_latents(self, latents_c: list[torch.Tensor]) -> list[torch.Tensor]:
        """Eq. 16: l̃_n^i = M_i(l_c^i, l_c^{k-1}↑); unmapped (ablation) levels become zeros."""
        levels = len(latents_c)
        first = levels - self.mapped_levels
        top = latents_c[-1]
        mapped = [torch.zeros_like(latent) for latent in latents_c[:first]]
        for mapper, latent in zip(self.mappers, latents_c[first:]):
            mapped.append(mapper(latent, top))
        return mapped

    def forward(self, image: torch.Tensor) -> dict:
        height, width = image.shape[-2:]
        padded = pad_to_multiple(image, self.size_multiple)
        latents = self.vae_c.encode(padded)["latents"]
        mapped = self.map_latents(latents)
        out = self.vae_n.decode(mapped)                                  # eq. 17
        return {"image": crop_to(out, height, width), "mapped": mapped, "latents": latents}

    @torch.no_grad()
    def enhance(self, image: torch.Tensor) -> torch.Tensor:
        """Inference: (N, 3, H, W) in [0, 1] -> enhanced (N, 3, H, W) clamped to [0, 1]."""
        return self.forward(image)["image"].clamp(0.0, 1.0)


class DirectEnhancer(nn.Module):
    """No-mapping ablation (IV-F): one multi-level encoder-decoder trained C -> N directly."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        self.network = MultiLevelVAE(config.vae)

    @property
    def size_multiple(self) -> int:
        return self.network.size_multiple

    def forward(self, image: torch.Tensor) -> dict:
        height, width = image.shape[-2:]
        padded = pad_to_multiple(image, self.size_multiple)
        latents = self.network.encode(padded)["means"]
        return {"image": crop_to(self.network.decode(latents), height, width)}

    @torch.no_grad()
    def enhance(self, image: torch.Tensor) -> torch.Tensor:
        return self.forward(image)["image"].clamp(0.0, 1.0)
