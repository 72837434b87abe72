"""Experiment config (one YAML per stage and model size) and the builders it drives.

A config has five sections, each a dataclass checked by :func:`mlsm.config.load_config`
(unknown keys are errors; ``--set section.key=value`` overrides)::

    model:  ModelConfig   architecture (``mlsm.models.configs``)
    data:   DataConfig    clean photos, degradation ranges, real pairs and their mix, validation
    loss:   LossConfig    loss weights (``mlsm.train.stages``)
    train:  TrainOptions  steps, batch, lr and its linear decay, checkpoints (``mlsm.train.loop``)
    exposure: ExposureOptions  fit of the global exposure head (``mlsm.train.exposure``)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlsm.data.degrade import DegradationRanges, degrade, sample_params
from mlsm.data.folders import PairedFolder, collect_pairs, read_name_list
from mlsm.data.paired import MixedPairs
from mlsm.data.synthetic import SyntheticPairs, load_photos
from mlsm.io.convert import to_tensor
from mlsm.models.configs import ModelConfig
from mlsm.train.exposure import ExposureOptions
from mlsm.train.loop import TrainOptions
from mlsm.train.stages import LossConfig

__all__ = ["DataConfig", "MappingOptions", "Experiment", "build_training_data", "build_validation"]


@dataclass
class DataConfig:
    """Training and validation data: clean photos degraded by ``mlsm.data.degrade``, and real
    (dark, normal-light) pairs from folders, mixed at a chosen ratio.

    Relative paths are resolved against the current directory.

    Attributes:
        photos: folders (or files) of clean photos for the synthetic pairs.
        crop_size: side of the square training crops (synthetic and real).
        length: items per epoch of the training data (the step sampler's index range).
        degradation: the ranges the synthetic degradation is drawn from; every field of
            :class:`~mlsm.data.degrade.DegradationRanges` is a key (``data.degradation.quality``).
        pairs: real-pair roots in any layout of :mod:`mlsm.data.folders`, as ``ROOT`` (layout
            detected) or ``ROOT:LAYOUT`` (``lol``, ``lsrw``, ``sice``, ``rellisur``).
        pairs_fraction: probability that a training item is a real pair (the rest synthetic).
        pairs_quality: inclusive QF range at which the real dark crop is JPEG-compressed (the
            seed paper's protocol compresses real dark images at QF 90-60).
        pairs_exclude: pair names never trained on, in every root (LOL's 648 is shifted).
        pairs_validation_list: text file of held-out pair names (one a line, ``#`` comments),
            e.g. ``configs/splits/lol_our485_val.txt``; they are excluded from training in
            every root and, with ``validation_pairs``, form the real validation set.
        validation: clean photos of the synthetic validation set: the first
            ``validation_images`` photos, centre-cropped to ``validation_crop`` and degraded once
            with ``validation_seed`` (validation keys ``val_psnr``, ``val_identity_psnr``).
        validation_pairs: real-pair roots of the real validation set (only the names of
            ``pairs_validation_list`` when it is set); the dark image is compressed whole at
            ``validation_pairs_quality`` (deterministic) and both are centre-cropped to
            ``validation_pairs_crop`` (``None``: whole images). Keys ``val_real_psnr``,
            ``val_real_identity_psnr``, usable as ``train.keep_best``.
    """

    photos: list[str] = field(default_factory=lambda: ["../shared/data/photos/cbsd68",
                                                       "../shared/data/photos/mcmaster"])
    crop_size: int = 64
    length: int = 1_000_000
    degradation: DegradationRanges = field(default_factory=DegradationRanges)
    pairs: list[str] = field(default_factory=list)
    pairs_fraction: float = 0.0
    pairs_quality: tuple[int, int] = (60, 95)
    pairs_exclude: list[str] = field(default_factory=lambda: ["648"])
    pairs_validation_list: str | None = None
    validation: list[str] = field(default_factory=lambda: ["../shared/data/photos/kodak24"])
    validation_images: int = 6
    validation_crop: int = 128
    validation_seed: int = 2024
    validation_pairs: list[str] = field(default_factory=list)
    validation_pairs_quality: int = 90
    validation_pairs_crop: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.pairs_fraction <= 1.0:
            raise ValueError(f"pairs_fraction must be in [0, 1], got {self.pairs_fraction}")
        if self.pairs_fraction > 0 and not self.pairs:
            raise ValueError("pairs_fraction > 0 needs data.pairs (real-pair roots)")
        if self.pairs and self.pairs_fraction == 0:
            raise ValueError("data.pairs is set but pairs_fraction is 0: no real pair would be used")
        low, high = self.pairs_quality
        if not 1 <= low <= high <= 100:
            raise ValueError(f"pairs_quality must be an increasing range of QFs in 1..100, got {self.pairs_quality}")
        if not 1 <= self.validation_pairs_quality <= 100:
            raise ValueError(f"validation_pairs_quality must be in 1..100, got {self.validation_pairs_quality}")

    def ranges(self) -> DegradationRanges:
        """The synthetic degradation ranges (``degradation``)."""
        return self.degradation

    def held_out_names(self) -> list[str]:
        """Names of ``pairs_validation_list`` (empty when unset)."""
        return read_name_list(self.pairs_validation_list) if self.pairs_validation_list else []

    def training_pairs(self) -> list:
        """The real pairs trained on: ``pairs`` minus ``pairs_exclude`` and the held-out names."""
        return collect_pairs(self.pairs, [*self.pairs_exclude, *self.held_out_names()]) if self.pairs else []


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


def build_training_data(data: DataConfig, seed: int) -> SyntheticPairs | MixedPairs:
    """Synthetic pairs from ``data.photos``, mixed with the real pairs of ``data.pairs``
    (minus ``pairs_exclude`` and the validation names) at ``pairs_fraction``."""
    photos = load_photos([Path(p) for p in data.photos], min_size=data.crop_size)
    synthetic = SyntheticPairs(photos, data.crop_size, data.length, data.ranges(), seed)
    if not data.pairs:
        return synthetic
    real = PairedFolder(data.training_pairs(), quality=tuple(data.pairs_quality), crop_size=data.crop_size, seed=seed,
                        subsampling=data.ranges().subsampling, rot90=True, cache=True)
    return MixedPairs(real, synthetic, data.pairs_fraction, data.length)


def build_validation(data: DataConfig) -> list[dict]:
    """Fixed validation pairs: the synthetic set (``"set": "synthetic"``, centre crops of the
    first ``validation_images`` photos) then the real set (``"set": "real"``)."""
    return _synthetic_validation(data) + _real_validation(data)


def _synthetic_validation(data: DataConfig) -> list[dict]:
    if not data.validation or data.validation_images == 0:
        return []
    photos = load_photos([Path(p) for p in data.validation], min_size=data.validation_crop)
    items = []
    for index, photo in enumerate(photos[:data.validation_images]):
        rng = np.random.default_rng([data.validation_seed, index])
        (clean,) = _centre_crop([photo], data.validation_crop)
        dark = degrade(clean, sample_params(rng, data.ranges()), rng)
        items.append({"low": to_tensor(dark, batch=False).contiguous(),
                      "high": to_tensor(clean, batch=False).contiguous(), "set": "synthetic"})
    return items


def _real_validation(data: DataConfig) -> list[dict]:
    if not data.validation_pairs:
        return []
    pairs = collect_pairs(data.validation_pairs)
    names = data.held_out_names()
    if names:
        by_name = {pair.name: pair for pair in pairs}
        missing = [name for name in names if name not in by_name]
        if missing:
            raise FileNotFoundError(f"{data.pairs_validation_list}: pairs {missing[:5]} are not under "
                                    f"{', '.join(data.validation_pairs)}")
        pairs = [by_name[name] for name in names]
    folder = PairedFolder(pairs, quality=data.validation_pairs_quality, subsampling=data.ranges().subsampling)
    items = []
    for index in range(len(folder)):
        item = folder[index]   # the whole dark image compressed at one QF: no random draw
        low, high = item["low"], item["high"]
        if data.validation_pairs_crop is not None:
            low, high = _centre_crop([low.permute(1, 2, 0), high.permute(1, 2, 0)], data.validation_pairs_crop)
            low, high = low.permute(2, 0, 1).contiguous(), high.permute(2, 0, 1).contiguous()
        items.append({"low": low, "high": high, "set": "real"})
    return items


def _centre_crop(images: list, size: int) -> list:
    height, width = images[0].shape[:2]
    if min(height, width) < size:
        raise ValueError(f"validation image {width}x{height} is smaller than the crop {size}")
    top, left = (height - size) // 2, (width - size) // 2
    return [np.ascontiguousarray(image[top:top + size, left:left + size]) if isinstance(image, np.ndarray)
            else image[top:top + size, left:left + size] for image in images]
