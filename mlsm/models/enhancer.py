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
from mlsm.models.mapper import LatentMapping
from mlsm.models.vae import MultiLevelVAE
from mlsm.tiling import crop_to, pad_to_multiple

__all__ = ["Enhancer", "DirectEnhancer"]


class Enhancer(nn.Module):
    """D_N ∘ {M_i} ∘ E_C (eq. 19)."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        self.vae_c = MultiLevelVAE(config.vae)
        self.vae_n = MultiLevelVAE(config.vae)
        self.mapping = LatentMapping(config.vae.widths, config.mapper)

    @property
    def size_multiple(self) -> int:
        return self.config.size_multiple

    @property
    def mapped_levels(self) -> int:
        return self.mapping.mapped_levels

    def map_latents(self, latents_c: list[torch.Tensor]) -> list[torch.Tensor]:
        """Eq. 16: l̃_n^i = M_i(l_c^i, l_c^{k-1}↑); unmapped (ablation) levels become zeros."""
        return self.mapping(latents_c)

    def forward(self, image: torch.Tensor) -> dict:
        height, width = image.shape[-2:]
        padded = pad_to_multiple(image, self.size_multiple)
        latents = self.vae_c.encode(padded)["latents"]
        mapped = self.map_latents(latents)
        out = self.vae_n.decode(mapped)                                  # eq. 17
        return {"image": crop_to(out, height, width), "mapped": mapped, "latents": latents}


class DirectEnhancer(nn.Module):
    """No-mapping ablation (IV-F): one multi-level encoder-decoder trained C -> N directly."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        self.network = MultiLevelVAE(config.vae, variational=False)

    @property
    def size_multiple(self) -> int:
        return self.network.size_multiple

    def forward(self, image: torch.Tensor) -> dict:
        height, width = image.shape[-2:]
        padded = pad_to_multiple(image, self.size_multiple)
        latents = self.network.encode(padded)["latents"]
        return {"image": crop_to(self.network.decode(latents), height, width)}
