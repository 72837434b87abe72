"""Synthetic (compressed dark, clean) training pairs from a folder of clean photos.

Each item: a random ``crop_size`` crop of a random photo, random horizontal/vertical flips
and 90-degree rotation, degraded by :func:`mlsm.data.degrade.degrade` with parameters drawn
from :class:`~mlsm.data.degrade.DegradationRanges` (random QF in a range, random exposure,
noise and colour cast). The JPEG grid is anchored at the crop's top-left corner, as it is
at the top-left of a full photo at inference.

Every random draw comes from a ``numpy.random.Generator`` seeded from (seed, index), so the
same index always gives the same pair: training resumes exactly and DDP ranks agree.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mlsm.data.degrade import DegradationRanges, degrade, sample_params
from mlsm.io import iter_image_files, read_image
from mlsm.io.convert import to_tensor

__all__ = ["load_photos", "random_crop_augment", "SyntheticPairs"]


def load_photos(paths: Sequence[str | Path], min_size: int = 0) -> list[np.ndarray]:
    """Read every image under ``paths`` (files or folders, recursively) as float32 RGB arrays.

    Images smaller than ``min_size`` on either side are skipped; an empty result raises.
    """
    files = iter_image_files([str(p) for p in paths], recursive=True)
    photos = [image for image, _ in map(read_image, files) if min(image.shape[:2]) >= min_size]
    if not photos:
        raise FileNotFoundError(f"no usable photos (>= {min_size} px) under {', '.join(map(str, paths))}")
    return photos


def random_crop_augment(image: np.ndarray, crop_size: int, rng: np.random.Generator) -> np.ndarray:
    """Random ``crop_size`` square crop plus random flips and 90-degree rotation."""
    height, width = image.shape[:2]
    top = int(rng.integers(0, height - crop_size + 1))
    left = int(rng.integers(0, width - crop_size + 1))
    crop = image[top:top + crop_size, left:left + crop_size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    crop = np.rot90(crop, int(rng.integers(0, 4)))
    return np.ascontiguousarray(crop)


class SyntheticPairs(Dataset):
    """Map-style data set of (dark JPEG, clean) crops, ``length`` items per epoch.

    Returns dicts ``{"low": (3, S, S), "high": (3, S, S)}`` float32 tensors in [0, 1].
    """

    def __init__(self, photos: list[np.ndarray], crop_size: int = 64, length: int = 10_000,
                 ranges: DegradationRanges = DegradationRanges(), seed: int = 0):
        self.photos = [p for p in photos if min(p.shape[:2]) >= crop_size]
        if not self.photos:
            raise ValueError(f"no photo is at least {crop_size} px on both sides")
        self.crop_size = crop_size
        self.length = length
        self.ranges = ranges
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def get_item(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """The pair drawn with ``rng`` (the training loop's per-(seed, step, index) generator)."""
        photo = self.photos[int(rng.integers(0, len(self.photos)))]
        clean = random_crop_augment(photo, self.crop_size, rng)
        dark = degrade(clean, sample_params(rng, self.ranges), rng)
        return {"low": to_tensor(dark, batch=False).contiguous(), "high": to_tensor(clean, batch=False).contiguous()}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.get_item(index, np.random.default_rng([self.seed, int(index)]))
