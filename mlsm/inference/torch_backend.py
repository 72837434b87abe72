"""The PyTorch backend: an mlsm network behind the :class:`~mlsm.inference.base.InferenceModel` API."""
from __future__ import annotations

import torch

from mlsm.inference.base import InferenceModel
from mlsm.inference.options import InferenceOptions

__all__ = ["EnhancementModel"]


class EnhancementModel(InferenceModel):
    """A loaded torch network (``network(x)["image"]``) with ``enhance`` (see :class:`InferenceModel`)."""

    def __init__(self, network: torch.nn.Module, metadata: dict | None = None, device: str | torch.device = "cpu",
                 options: InferenceOptions | None = None, **overrides):
        self.network = network.eval().to(device)
        super().__init__(metadata, device, network.size_multiple, options, name="mlsm", **overrides)

    def _run_tile(self, image: torch.Tensor) -> torch.Tensor:
        return self.network(image)["image"].clamp(0.0, 1.0)
