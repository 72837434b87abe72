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

# Bounds on every size (configs also come from files users download): a typo or a hostile
# weight file must fail here, before a network of 10^9 layers or 10^6 channels is built.
MAX_LEVELS, MAX_WIDTH, MAX_CONVS, MAX_DILATION, MAX_UNET_DEPTH = 6, 2048, 16, 64, 4


def _integer(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    return value


def _integers(name: str, values, low: int, high: int, length: tuple[int, int]) -> None:
    if not isinstance(values, (list, tuple)) or not length[0] <= len(values) <= length[1]:
        raise ValueError(f"{name} must be a list of {length[0]}..{length[1]} integers, got {values!r}")
    for index, value in enumerate(values):
        _integer(f"{name}[{index}]", value, low, high)


def _flag(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")


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
        _integer("output_refine", self.output_refine, 0, 256)
        _integer("levels", self.levels, 1, MAX_LEVELS)
        _integers("widths", self.widths, 1, MAX_WIDTH, (1, MAX_LEVELS))
        _integer("convs_per_level", self.convs_per_level, 0, MAX_CONVS)
        if self.norm not in ("none", "instance"):
            raise ValueError(f"norm must be 'none' or 'instance', got {self.norm!r}")
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

    def __post_init__(self):
        _integers("aspp_dilations", self.aspp_dilations, 1, MAX_DILATION, (1, 8))
        ratio = self.aspp_branch_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 4:
            raise ValueError(f"aspp_branch_ratio must be a number in (0, 4], got {ratio!r}")
        _integer("unet_depth", self.unet_depth, 0, MAX_UNET_DEPTH)
        _flag("deblock_branch", self.deblock_branch)
        _flag("attention", self.attention)
        if self.mapped_levels is not None:
            _integer("mapped_levels", self.mapped_levels, 1, MAX_LEVELS)


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
