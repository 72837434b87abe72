"""Experiment config (one YAML per stage and model size) and the builders it drives.

A config has five sections, each a dataclass checked by :func:`mlsm.config.load_config`
(unknown keys are errors; ``--set section.key=value`` overrides)::

    model:  ModelConfig   architecture (``mlsm.models.configs``)
    data:   DataConfig    clean photos, crop size and the degradation ranges
    loss:   LossConfig    loss weights (``mlsm.train.stages``)
    train:  TrainOptions  steps, batch, lr and its linear decay, checkpoints (``mlsm.train.loop``)
    exposure: ExposureOptions  fit of the global exposure head (``mlsm.train.exposure``)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mlsm.data.degrade import DegradationRanges, degrade, sample_params
from mlsm.data.synthetic import SyntheticPairs, load_photos
from mlsm.models.configs import ModelConfig
from mlsm.train.exposure import ExposureOptions
from mlsm.train.loop import TrainOptions
from mlsm.train.stages import LossConfig

__all__ = ["DataConfig", "MappingOptions", "Experiment", "build_training_data", "build_validation"]


@dataclass
class DataConfig:
    """Where the clean photos come from and how they are degraded (``mlsm.data.degrade``).

    Relative paths are resolved against the current directory. ``validation`` photos are
    centre-cropped to ``validation_crop`` and degraded once with ``validation_seed``.
    """

    photos: list[str] = field(default_factory=lambda: ["../shared/data/photos/cbsd68",
                                                       "../shared/data/photos/mcmaster"])
    crop_size: int = 64
    length: int = 1_000_000
    # degradation defaults come from the degradation model's own ranges
    exposure: tuple[float, float] = DegradationRanges.exposure
    colour_cast: float = DegradationRanges.colour_cast
    photons_at_white: tuple[float, float] | None = DegradationRanges.photons_at_white
    read_noise_std: tuple[float, float] = DegradationRanges.read_noise_std
    quality: tuple[int, int] = DegradationRanges.quality
    subsampling: str = DegradationRanges.subsampling
    validation: list[str] = field(default_factory=lambda: ["../shared/data/photos/kodak24"])
    validation_images: int = 6
    validation_crop: int = 128
    validation_seed: int = 2024

    def ranges(self) -> DegradationRanges:
        return DegradationRanges(exposure=tuple(self.exposure), colour_cast=self.colour_cast,
                                 photons_at_white=tuple(self.photons_at_white) if self.photons_at_white else None,
                                 read_noise_std=tuple(self.read_noise_std), quality=tuple(self.quality),
                                 subsampling=self.subsampling)


@dataclass
class MappingOptions:
    """Stage-2 options: ``tune_decoder`` also trains D_N, ``tune_encoder`` also trains E_C
    (our extensions; the paper freezes both VAEs in stage 2)."""

    tune_decoder: bool = False
    tune_encoder: bool = False


@dataclass
class Experiment:
    """One training run of any stage (vae, map) or of the direct ablation."""

    model: ModelConfig = field(default_factory=ModelConfig)
    mapping: MappingOptions = field(default_factory=MappingOptions)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainOptions = field(default_factory=TrainOptions)
    exposure: ExposureOptions = field(default_factory=ExposureOptions)


def build_training_data(data: DataConfig, seed: int) -> SyntheticPairs:
    photos = load_photos([Path(p) for p in data.photos], min_size=data.crop_size)
    return SyntheticPairs(photos, data.crop_size, data.length, data.ranges(), seed)


def build_validation(data: DataConfig) -> list[dict]:
    """Fixed validation pairs: centre crops of the first ``validation_images`` photos."""
    if not data.validation or data.validation_images == 0:
        return []
    photos = load_photos([Path(p) for p in data.validation], min_size=data.validation_crop)
    items = []
    for index, photo in enumerate(photos[:data.validation_images]):
        rng = np.random.default_rng([data.validation_seed, index])
        height, width = photo.shape[:2]
        top, left = (height - data.validation_crop) // 2, (width - data.validation_crop) // 2
        clean = np.ascontiguousarray(photo[top:top + data.validation_crop, left:left + data.validation_crop])
        dark = degrade(clean, sample_params(rng, data.ranges()), rng)
        items.append({"low": torch.from_numpy(dark).permute(2, 0, 1).contiguous(),
                      "high": torch.from_numpy(clean).permute(2, 0, 1).contiguous()})
    return items
