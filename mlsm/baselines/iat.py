"""IAT: Illumination-Adaptive Transformer (91,348 parameters).

Cui et al., "You Only Need 90K Parameters to Adapt Light: a Light Weight Transformer for
Image Enhancement and Exposure Correction", BMVC 2022. Re-implemented from the paper and
the authors' released graph so that their ``best_Epoch_lol_v1.pth`` loads by name.

::

    I ─ conv3x3+LReLU ─ g ─┬─ 3 x ConvBlock ─ (+g) ─ conv3x3 ─ ReLU ─ M   (local_net)
                           └─ 3 x ConvBlock ─ (+g) ─ conv3x3 ─ tanh ─ A
    I' = I · M + A
    I ─ 2 x strided conv ─ query attention (10 learned queries) ─┬─ gamma (scalar)
                                                                 └─ 3x3 colour matrix C
    output = clamp(I' · Cᵀ, 1e-8, 1) ** gamma                                  (global_net)

Input RGB in [0, 1] without normalisation, any size. The global branch pools over the
whole image, so results depend on it being seen whole (run large tiles).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["IAT", "LocalPredictor", "GlobalPredictor", "ConvBlock", "ChannelAffine"]


class ChannelAffine(nn.Module):
    """IAT's colour normalisation on (N, L, C) tokens: ``(x Cᵀ) · alpha + beta``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))
        self.color = nn.Parameter(torch.eye(dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.matmul(tokens, self.color.t()) * self.alpha + self.beta


class ConvMlp(nn.Module):
    """1x1 conv → GELU → 1x1 conv."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def _normalise_channels(norm: ChannelAffine, x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    tokens = norm(x.flatten(2).transpose(1, 2))
    return tokens.transpose(1, 2).reshape(n, c, h, w)


class ConvBlock(nn.Module):
    """Light conv block (positional depthwise conv, depthwise 5x5 'attention', conv MLP),
    each residual branch scaled by a learned per-channel ``gamma`` (layer scale)."""

    def __init__(self, dim: int = 16, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = ChannelAffine(dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.attn = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.norm2 = ChannelAffine(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))
        self.gamma_1 = nn.Parameter(1e-4 * torch.ones(1, dim, 1, 1))
        self.gamma_2 = nn.Parameter(1e-4 * torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        x = x + self.gamma_1 * self.conv2(self.attn(self.conv1(_normalise_channels(self.norm1, x))))
        return x + self.gamma_2 * self.mlp(_normalise_channels(self.norm2, x))


class LocalPredictor(nn.Module):
    """Per-pixel multiplier M >= 0 and offset A in [-1, 1] (the ``local_net``)."""

    def __init__(self, dim: int = 16, blocks: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, dim, 3, padding=1)
        self.mul_blocks = nn.Sequential(*[ConvBlock(dim) for _ in range(blocks)])
        self.add_blocks = nn.Sequential(*[ConvBlock(dim) for _ in range(blocks)])
        self.mul_end = nn.Sequential(nn.Conv2d(dim, 3, 3, 1, 1), nn.ReLU())
        self.add_end = nn.Sequential(nn.Conv2d(dim, 3, 3, 1, 1), nn.Tanh())

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stem = F.leaky_relu(self.conv1(image), 0.2)
        multiplier = self.mul_end(self.mul_blocks(stem) + stem)
        offset = self.add_end(self.add_blocks(stem) + stem)
        return multiplier, offset


class ConvEmbedding(nn.Module):
    """Two stride-2 3x3 convs with BatchNorm (GELU between): (N, 3, H, W) -> (N, C, H/4, W/4)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, out_channels // 2, 3, 2, 1), nn.BatchNorm2d(out_channels // 2), nn.GELU(),
            nn.Conv2d(out_channels // 2, out_channels, 3, 2, 1), nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class QueryAttention(nn.Module):
    """Cross-attention from ``queries`` learned tokens to the image tokens (no q/k/v bias)."""

    def __init__(self, dim: int, heads: int, queries: int = 10) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Parameter(torch.ones(1, queries, dim))
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n, length, dim = tokens.shape
        head_dim = dim // self.heads
        keys = self.k(tokens).reshape(n, length, self.heads, head_dim).transpose(1, 2)
        values = self.v(tokens).reshape(n, length, self.heads, head_dim).transpose(1, 2)
        queries = self.q.expand(n, -1, -1).reshape(n, -1, self.heads, head_dim).transpose(1, 2)
        weights = torch.softmax(torch.matmul(queries, keys.transpose(-2, -1)) * self.scale, dim=-1)
        out = torch.matmul(weights, values).transpose(1, 2).reshape(n, -1, dim)
        return self.proj(out)


class TokenMlp(nn.Module):
    """Linear → GELU → Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class QueryBlock(nn.Module):
    """Positional depthwise conv, then query attention (no residual: the output tokens are
    the queries) and a residual MLP: (N, C, h, w) -> (N, queries, C)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = QueryAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = TokenMlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        tokens = self.attn(self.norm1(x.flatten(2).transpose(1, 2)))
        return tokens + self.mlp(self.norm2(tokens))


class GlobalPredictor(nn.Module):
    """Image-level gamma (N, 1) and colour matrix (N, 3, 3) (the ``global_net``)."""

    def __init__(self, dim: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.gamma_base = nn.Parameter(torch.ones(1))
        self.color_base = nn.Parameter(torch.eye(3))
        self.conv_large = ConvEmbedding(3, dim)
        self.generator = QueryBlock(dim, heads)
        self.gamma_linear = nn.Linear(dim, 1)
        self.color_linear = nn.Linear(dim, 1)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.generator(self.conv_large(image))
        gamma = self.gamma_linear(tokens[:, :1]).squeeze(-1) + self.gamma_base
        color = self.color_linear(tokens[:, 1:]).squeeze(-1).view(-1, 3, 3) + self.color_base
        return gamma, color


class IAT(nn.Module):
    """IAT enhancer: (N, 3, H, W) in [0, 1] -> (N, 3, H, W) in (0, 1], any size."""

    def __init__(self) -> None:
        super().__init__()
        self.local_net = LocalPredictor()
        self.global_net = GlobalPredictor()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        multiplier, offset = self.local_net(image)
        locally_adjusted = image * multiplier + offset
        gamma, color = self.global_net(image)
        # Colour matrix acts on each pixel's RGB vector: out_c = sum_k C[c, k] · in_k.
        recoloured = torch.einsum("nkhw,nck->nchw", locally_adjusted, color)
        return torch.clamp(recoloured, 1e-8, 1.0) ** gamma[:, :, None, None]
