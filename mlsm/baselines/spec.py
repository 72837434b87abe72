"""The method-name grammar, parsed in one place (:class:`MethodSpec`)::

    NAME := STEP ("+" STEP)*       a pipeline: the steps run left to right
    STEP := classical | peer       a name of :func:`mlsm.baselines.registry.list_methods`
          | "mlsm"                 mlsm's default model
          | "mlsm:" WEIGHTS        an mlsm zoo name or weight file
          | MLSM "[" K=V,... "]"   either, with inference options replaced (fields of
                                   mlsm.inference.InferenceOptions), e.g. ``mlsm[detail=0]``

Spaces around a name and around each step are ignored. A ``+`` always separates steps (a
weight path holding ``+`` cannot be named). Used by the registry (building), eval (checking
names, sharing pipeline prefixes, weight fingerprints), the report (the paper's settings)
and the demo (which peer weights a pipeline needs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

__all__ = ["PIPELINE_SEPARATOR", "MLSM_PREFIX", "MethodSpec", "is_mlsm_spec", "join_steps"]

PIPELINE_SEPARATOR = "+"
MLSM_PREFIX = "mlsm"


def is_mlsm_spec(step: str) -> bool:
    """``"mlsm"`` (the default model) or ``"mlsm:NAME_OR_PATH"``, either optionally with
    ``"[option=value,...]"``.

    >>> is_mlsm_spec("mlsm"), is_mlsm_spec("mlsm:run/model.safetensors"), is_mlsm_spec("mlsmx")
    (True, True, False)
    >>> is_mlsm_spec("mlsm[detail=0]")
    True
    """
    return step == MLSM_PREFIX or step.startswith((MLSM_PREFIX + ":", MLSM_PREFIX + "["))


def join_steps(steps: Iterable[str]) -> str:
    """Step names -> the pipeline's name: ``["a", "b"] -> "a+b"``."""
    return PIPELINE_SEPARATOR.join(steps)


@dataclass(frozen=True)
class MethodSpec:
    """A parsed method name: ``name`` (stripped) and its ``steps`` (each stripped).

    >>> spec = MethodSpec.parse(" dncnn3 + mlsm:a.safetensors ")
    >>> spec.name, spec.steps, spec.is_pipeline, spec.mlsm_steps
    ('dncnn3 + mlsm:a.safetensors', ('dncnn3', 'mlsm:a.safetensors'), True, ('mlsm:a.safetensors',))
    >>> MethodSpec.parse("a+b+c").prefixes()
    ['a', 'a+b']
    """

    name: str
    steps: tuple[str, ...]

    @classmethod
    def parse(cls, name: str) -> MethodSpec:
        """Split ``name`` at ``+``; raises TypeError for a non-str (empty steps are kept, see
        :attr:`has_empty_step`, so that callers can name the bad method)."""
        if not isinstance(name, str):
            raise TypeError(f"name: expected a str, got {type(name).__name__}")
        name = name.strip()
        return cls(name, tuple(step.strip() for step in name.split(PIPELINE_SEPARATOR)))

    @property
    def is_pipeline(self) -> bool:
        return len(self.steps) > 1

    @property
    def has_empty_step(self) -> bool:
        """``"a+"``, ``"+b"``, ``"a++b"`` or ``""``."""
        return any(not step for step in self.steps)

    @property
    def mlsm_steps(self) -> tuple[str, ...]:
        """The steps that are mlsm models (:func:`is_mlsm_spec`)."""
        return tuple(step for step in self.steps if is_mlsm_spec(step))

    def prefix(self, count: int) -> str:
        """The name of the pipeline of the first ``count`` steps."""
        return join_steps(self.steps[:count])

    def prefixes(self) -> list[str]:
        """Names of the proper prefixes, shortest first (empty for a single step)."""
        return [self.prefix(count) for count in range(1, len(self.steps))]
