"""Training mixtures of real pairs (:class:`~mlsm.data.folders.PairedFolder`) and synthetic
pairs (:class:`~mlsm.data.synthetic.SyntheticPairs`).

Each item first draws ``u ~ U[0, 1)`` from the loop's per-(seed, step, index) generator: an
item with ``u < real_fraction`` is a real pair, the others synthetic, and the rest of the
item is drawn from the same generator, so a step's batch is a function of (seed, step) only
and resume stays exact (:class:`mlsm.train.loop.SeededDataset`)::

    index, rng ──► u < real_fraction ? real.get_item(index, rng) : synthetic.get_item(index, rng)
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["MixedPairs"]


class MixedPairs(Dataset):
    """``length`` items, a fraction ``real_fraction`` of them (in expectation) real pairs.

    Items are ``{"low", "high"}`` (3, S, S) float32 tensors in [0, 1] from either source (the
    real items' ``"name"`` is dropped so that both kinds collate together). Both sources must
    give crops of the same size and follow the ``get_item(index, rng)`` protocol.
    """

    def __init__(self, real: Dataset, synthetic: Dataset, real_fraction: float, length: int):
        if not 0.0 <= real_fraction <= 1.0:
            raise ValueError(f"real_fraction must be in [0, 1], got {real_fraction}")
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if getattr(real, "crop_size", None) != getattr(synthetic, "crop_size", None):
            raise ValueError(f"real and synthetic crops differ: {getattr(real, 'crop_size', None)} "
                             f"vs {getattr(synthetic, 'crop_size', None)}")
        self.real = real
        self.synthetic = synthetic
        self.real_fraction = float(real_fraction)
        self.length = int(length)

    def __len__(self) -> int:
        return self.length

    def get_item(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        source = self.real if rng.random() < self.real_fraction else self.synthetic
        item = source.get_item(index, rng)
        return {"low": item["low"], "high": item["high"]}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        return self.get_item(index, np.random.default_rng([0, int(index)]))
