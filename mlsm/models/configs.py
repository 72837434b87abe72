"""Architecture configs (typed) and the named presets.

A preset name (a key of :data:`PRESETS`) is the first part of a zoo name
(``mlsm_small.synth_dark_jpeg``); the network class built from a config is its ``arch``
(``enhancer`` or ``direct``, :data:`mlsm.models.zoo.ARCHS`).

* ``mlsm_small``: the CPU default. Pixel-unshuffle x2 at the input (level 0 runs at half
  resolution), widths 16/32/64, no normalisation (exact tiled inference), so 1080p inference
  costs fewer multiply-accumulates per pixel than Zero-DCE (79 k MAC/pixel).
* ``mlsm_paper``: the paper's full-size choices for GPU users: full-resolution level 0,
  InstanceNorm (III-C), widths 64/128/256, channel+spatial attention in the mappers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["VAEConfig", "MapperConfig", "ModelConfig", "PRESETS", "preset"]


@dataclass
class VAEConfig:
    """Multi-level VAE (eq. 9-13).

    Attributes:
        levels: k, the number of latent levels (resolution halves per level).
        widths: latent channels per level (length ``levels``).
        input_unshuffle: pixel-unshuffle factor applied to the image before level 0 (1 = none,
            2 = level 0 at half resolution: 4x fewer pixels for the heavy level-0 layers).
        convs_per_level: extra 3x3 conv layers per sub-encoder / sub-decoder.
        norm: "instance" (paper) or "none".
        output_refine: width of a full-resolution residual refinement after the final pixel
            shuffle (ours; 0 = none, the shipped ``mlsm_small.synth_dark_jpeg``). Without it,
            every output pixel of a 2x2 superpixel comes from one half-resolution position,
            and the output carries a 2-pixel periodic structure (pairs inside a superpixel
            smoother than pairs across): on real night photos it lifts the 8x8 block-edge
            ratio (LIME 1: 1.031 in, 1.379 out; ``scripts/grid_probe.py``). Two 3x3 convs at
            full resolution (the second zero-initialised, so the module starts as identity)
            see both sides of every superpixel edge; cost ``2 * 9 * 3 * width`` MAC/pixel.
    """

    levels: int = 3
    widths: list[int] = field(default_factory=lambda: [16, 32, 64])
    input_unshuffle: int = 2
    convs_per_level: int = 1
    norm: str = "none"
    output_refine: int = 0

    def __post_init__(self):
        if not 0 <= self.output_refine <= 256:
            raise ValueError(f"output_refine must be in 0..256, got {self.output_refine}")
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")
        if len(self.widths) != self.levels:
            raise ValueError(f"widths {self.widths} must have one entry per level ({self.levels})")
        if self.input_unshuffle not in (1, 2, 4):
            raise ValueError(f"input_unshuffle must be 1, 2 or 4, got {self.input_unshuffle}")


@dataclass
class MapperConfig:
    """Latent mapping network M_i (eq. 14-16, Fig. 6).

    Attributes:
        aspp_dilations: ASPP dilation rates (paper: 1, 6, 12, 18).
        aspp_branch_ratio: ASPP branch width as a fraction of the latent width.
        unet_depth: downsample/upsample blocks of the deblocking UNet (paper: 2).
        deblock_branch: use the deblocking branch (eq. 15); the top level always skips it,
            since l^{k-1} - l^{k-1}↑ is zero there.
        attention: channel + spatial attention after the first two ResBlocks (III-D text).
        mapped_levels: how many levels are mapped, counted from the top (Section IV-F
            ablation); unmapped levels feed zeros to the decoder's skip additions.
    """

    aspp_dilations: list[int] = field(default_factory=lambda: [1, 6, 12, 18])
    aspp_branch_ratio: float = 0.5
    unet_depth: int = 2
    deblock_branch: bool = True
    attention: bool = False
    mapped_levels: int | None = None


@dataclass
class ModelConfig:
    """A whole enhancer: two VAEs of the same shape plus the mappers."""

    vae: VAEConfig = field(default_factory=VAEConfig)
    mapper: MapperConfig = field(default_factory=MapperConfig)

    @property
    def size_multiple(self) -> int:
        """Input H and W must be multiples of this (the model pads internally)."""
        return self.vae.input_unshuffle * 2 ** (self.vae.levels - 1) * 2 ** self.mapper.unet_depth


PRESETS: dict[str, ModelConfig] = {
    "mlsm_small": ModelConfig(),
    "mlsm_paper": ModelConfig(
        vae=VAEConfig(levels=3, widths=[64, 128, 256], input_unshuffle=1, convs_per_level=2, norm="instance"),
        mapper=MapperConfig(aspp_branch_ratio=1.0, attention=True),
    ),
}


def preset(name: str, **vae_overrides) -> ModelConfig:
    """A copy of the named preset, optionally with VAE fields replaced."""
    if name not in PRESETS:
        raise KeyError(f"unknown model preset {name!r}; known: {sorted(PRESETS)}")
    base = PRESETS[name]
    return ModelConfig(vae=replace(base.vae, **vae_overrides), mapper=replace(base.mapper))
