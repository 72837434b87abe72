"""Multi-level VAE (paper Section III-C, eq. 9-13, Algorithm 1, Fig. 5).

Encoding (eq. 9)::

    c --[unshuffle]--> E^0 --> l^0 --↓--> E^1 --> l^1 --↓--> ... --> l^{k-1}

Decoding (eq. 10)::

    y^{k-2} = D^{k-1}(l^{k-1})↑ + l^{k-2};  y^{i-1} = D^i(y^i)↑ + l^{i-1};  ĉ = D^0(y^0)

With ``input_unshuffle > 1``, ĉ is pixel-shuffled back to full resolution and, when
``output_refine > 0`` (ours), refined there: ĉ + R(ĉ), R = conv3x3 -> ReLU -> conv3x3 (see
:class:`~mlsm.models.configs.VAEConfig`).

Each sub-encoder E^i is a stride-2 3x3 conv (↓, for i > 0) followed by 3x3 conv + norm +
ReLU layers, and two 1x1 heads give the per-level Gaussian posterior (mean, log-variance).
In training l^i is sampled with the reparameterisation trick; in eval mode l^i = mean, so
inference is deterministic. KL(l^i || N(0, 1)) per level is returned for eq. 12-13.

``forward`` returns a dict with keys ``image`` (reconstruction, N x 3 x H x W, unclamped),
``latents`` (list of l^i), ``means``, ``logvars`` (lists, for the KL term).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlsm.models.blocks import ConvNormAct, upsample2x
from mlsm.models.configs import VAEConfig

__all__ = ["SubEncoder", "SubDecoder", "OutputRefinement", "MultiLevelVAE"]


class SubEncoder(nn.Module):
    """E^i: (↓ stride-2 conv for i > 0) + conv/norm/ReLU layers + mean/log-variance heads."""

    def __init__(self, in_channels: int, channels: int, downsample: bool, convs: int, norm: str,
                 variational: bool = True):
        super().__init__()
        layers = [ConvNormAct(in_channels, channels, stride=2 if downsample else 1, norm=norm)]
        layers += [ConvNormAct(channels, channels, norm=norm) for _ in range(convs)]
        self.body = nn.Sequential(*layers)
        self.mean = nn.Conv2d(channels, channels, 1)
        self.logvar = nn.Conv2d(channels, channels, 1) if variational else None
        if self.logvar is not None:  # start with a narrow posterior (std ~0.05): sampling noise
            nn.init.constant_(self.logvar.bias, -6.0)  # of std 1 would hide the image early on

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self.body(x)
        logvar = self.logvar(features).clamp(-20.0, 10.0) if self.logvar is not None else None
        return self.mean(features), logvar


class SubDecoder(nn.Module):
    """D^i: conv/norm/ReLU layers then a 3x3 projection to the next level's width."""

    def __init__(self, channels: int, out_channels: int, convs: int, norm: str):
        super().__init__()
        layers = [ConvNormAct(channels, channels, norm=norm) for _ in range(convs)]
        layers.append(nn.Conv2d(channels, out_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class OutputRefinement(nn.Module):
    """Full-resolution residual x + conv(ReLU(conv(x))) after the pixel shuffle; the last conv
    starts at zero, so a network fine-tuned from weights without it starts unchanged."""

    def __init__(self, width: int):
        super().__init__()
        self.expand = nn.Conv2d(3, width, 3, padding=1)
        self.project = nn.Conv2d(width, 3, 3, padding=1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(F.relu(self.expand(x)))


class MultiLevelVAE(nn.Module):
    """k-level VAE of eq. 9-10; ``encode``/``decode`` are exposed for the mapping stage.

    ``variational=False`` drops the log-variance heads: a deterministic multi-level
    encoder-decoder of the same shape (the no-mapping ablation's network).
    """

    def __init__(self, config: VAEConfig | None = None, variational: bool = True):
        super().__init__()
        self.config = config = config or VAEConfig()
        self.variational = variational
        unshuffled = 3 * config.input_unshuffle ** 2
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level, width in enumerate(config.widths):
            in_channels = unshuffled if level == 0 else config.widths[level - 1]
            self.encoders.append(SubEncoder(in_channels, width, level > 0, config.convs_per_level, config.norm,
                                            variational))
            out_channels = unshuffled if level == 0 else config.widths[level - 1]
            self.decoders.append(SubDecoder(width, out_channels, config.convs_per_level, config.norm))
        self.refine = OutputRefinement(config.output_refine) if config.output_refine else None

    @property
    def size_multiple(self) -> int:
        return self.config.input_unshuffle * 2 ** (self.config.levels - 1)

    def encode(self, image: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Eq. 9: image (N, 3, H, W), H and W multiples of ``size_multiple``."""
        x = F.pixel_unshuffle(image, self.config.input_unshuffle) if self.config.input_unshuffle > 1 else image
        means, logvars, latents = [], [], []
        for encoder in self.encoders:
            mean, logvar = encoder(x)
            sample = self.training and logvar is not None
            latent = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
            means.append(mean)
            logvars.append(logvar)
            latents.append(latent)
            x = latent
        return {"latents": latents, "means": means, "logvars": logvars}

    def decode(self, latents: list[torch.Tensor]) -> torch.Tensor:
        """Eq. 10: y^{i-1} = D^i(y^i)↑ + l^{i-1}, image = D^0(y^0)."""
        y = latents[-1]
        for level in range(len(latents) - 1, 0, -1):
            skip = latents[level - 1]
            y = upsample2x(self.decoders[level](y), size=skip.shape[-2:]) + skip
        out = self.decoders[0](y)
        if self.config.input_unshuffle > 1:
            out = F.pixel_shuffle(out, self.config.input_unshuffle)
        if self.refine is not None:
            out = self.refine(out)
        return out

    def forward(self, image: torch.Tensor) -> dict:
        encoded = self.encode(image)
        return {"image": self.decode(encoded["latents"]), **encoded}
