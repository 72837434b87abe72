"""Chains of methods, for the mlsm paper's two-stage comparison settings (Sec. I, Fig. 1).

* *enhancement + deblocking*: ``Pipeline([enhancer, deblocker])``, e.g. ``"zero_dce+dncnn3"``
  (Zero-DCE first, then DnCNN-3 on its output);
* *deblocking + enhancement*: ``Pipeline([deblocker, enhancer])``, e.g. ``"dncnn3+zero_dce"``.

A pipeline is itself a :class:`mlsm.baselines.base.Method` named by its steps' names joined
with ``"+"``, in the order they run (first to last).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mlsm.baselines.base import Method
from mlsm.baselines.classical import validate_image
from mlsm.baselines.spec import join_steps

__all__ = ["Pipeline", "PipelineStepError"]


class PipelineStepError(RuntimeError):
    """A step of a pipeline returned something that is not an image of the input's shape."""


class Pipeline:
    """Apply ``steps`` in order: ``Pipeline([a, b])(x) == b(a(x))``, named ``"a+b"``.

    Args:
        steps: one or more methods (objects with ``name`` and ``__call__``).

    Raises:
        ValueError: ``steps`` is empty or an element is not a method.
    """

    def __init__(self, steps: Sequence[Method]):
        steps = list(steps)
        if not steps:
            raise ValueError("steps: a pipeline needs at least one method")
        for index, step in enumerate(steps):
            if not (isinstance(getattr(step, "name", None), str) and callable(step)):
                raise ValueError(f"steps[{index}]: expected a Method (with a str name and "
                                 f"__call__), got {type(step).__name__}")
        self.steps = steps
        self.name = join_steps(step.name for step in steps)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_image(image)
        for step in self.steps:
            output = step(image)
            if not isinstance(output, np.ndarray) or output.shape != image.shape:
                shape = getattr(output, "shape", type(output).__name__)
                raise PipelineStepError(f"pipeline {self.name!r}: step {step.name!r} returned "
                                        f"{shape}, expected an array of shape {image.shape}")
            image = np.clip(np.asarray(output, dtype=np.float32), 0.0, 1.0)
        return image

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"
