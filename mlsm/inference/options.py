"""The one record of inference options, with the one set of defaults.

Light on purpose (no torch): the command lines read their defaults from here.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["DEFAULT_TILE", "DEFAULT_OVERLAP", "DEFAULT_OPSET", "InferenceOptions"]

DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128
DEFAULT_OPSET = 17  # ONNX opset of mlsm export-onnx and of in-memory exports


@dataclass(frozen=True)
class InferenceOptions:
    """How a loaded model runs (every backend reads the same record).

    Attributes:
        tile: tile side in pixels; images up to ``tile`` a side run whole, larger ones in
            overlapping tiles (:func:`mlsm.tiling.run_tiled`), so memory stays bounded.
        overlap: pixels shared by neighbouring tiles (blended with a raised-cosine window).
        calibrate_exposure: set the output's brightness with the weights' exposure head
            (:mod:`mlsm.models.exposure`), when they carry one.
        brightness: scale of the output's brightness in linear light (> 0; 1 = unchanged),
            applied after the exposure head, with or without one.
    """

    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    calibrate_exposure: bool = True
    brightness: float = 1.0

    def __post_init__(self):
        if not self.tile >= 1:
            raise ValueError(f"tile must be >= 1, got {self.tile}")
        if not self.overlap >= 0:
            raise ValueError(f"overlap must be >= 0, got {self.overlap}")
        if not 0 < self.brightness < float("inf"):
            raise ValueError(f"brightness must be a finite number > 0, got {self.brightness}")

    @classmethod
    def resolve(cls, options: InferenceOptions | None = None, **overrides) -> InferenceOptions:
        """``options`` (default: the defaults) with the named fields replaced.

        Raises:
            TypeError: an override that is not a field (a typo never passes silently).
        """
        unknown = set(overrides) - {field.name for field in fields(cls)}
        if unknown:
            raise TypeError(f"unknown inference option(s) {sorted(unknown)}; known: "
                            f"{[field.name for field in fields(cls)]}")
        base = options if options is not None else cls()
        return replace(base, **overrides) if overrides else base
