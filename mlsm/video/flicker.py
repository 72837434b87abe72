"""Flicker measures for enhanced clips (frames as (H, W, 3) arrays in [0, 1] or uint8).

* :func:`mean_luma_series`: each frame's mean luma (BT.601, :func:`mlsm.colour.luma`).
* :func:`brightness_std`: the standard deviation of that series over the clip: on a clip whose
  true brightness is constant, every bit of it is flicker (or drift).
* :func:`step_std`: the standard deviation of its frame-to-frame steps; slow, real changes
  (a pan into a brighter area) count little, a frame-to-frame jump counts fully.
* :func:`compensated_temporal_difference`: mean absolute difference between consecutive
  frames after undoing a known integer pan (``shift`` pixels (dy, dx) per frame), on the
  region both frames see.

>>> import numpy as np
>>> frames = [np.full((4, 4, 3), v, np.float32) for v in (0.5, 0.5, 0.6, 0.5)]
>>> round(step_std(frames), 4), round(brightness_std(frames), 4)
(0.0816, 0.0433)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mlsm.colour import luma

__all__ = ["brightness_std", "compensated_temporal_difference", "mean_luma_series", "step_std"]


def _float(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)


def mean_luma_series(frames: Sequence[np.ndarray]) -> np.ndarray:
    """(T,) mean luma of each frame, in [0, 1]."""
    return np.array([float(luma(_float(frame)).mean()) for frame in frames])


def brightness_std(frames: Sequence[np.ndarray]) -> float:
    """Standard deviation over time of the frames' mean luma (0..1 scale)."""
    return float(mean_luma_series(frames).std())


def step_std(frames: Sequence[np.ndarray]) -> float:
    """Standard deviation of the frame-to-frame steps of the mean luma (needs >= 3 frames)."""
    series = mean_luma_series(frames)
    if series.size < 3:
        raise ValueError(f"step_std needs at least 3 frames, got {series.size}")
    return float(np.diff(series).std())


def compensated_temporal_difference(frames: Sequence[np.ndarray], shift: tuple[int, int]) -> float:
    """Mean |frame_{t+1}(y, x) - frame_t(y + dy, x + dx)| over the shared region and all
    pairs, for content that moves by ``shift = (dy, dx)`` pixels per frame (a pan of the
    camera by ``(dy, dx)`` moves the content by ``(-dy, -dx)``)."""
    dy, dx = shift
    total, count = 0.0, 0
    for previous, current in zip(frames[:-1], frames[1:]):
        previous, current = _float(previous), _float(current)
        height, width = current.shape[:2]
        if abs(dy) >= height or abs(dx) >= width:
            raise ValueError(f"shift {shift} leaves no overlap in {height}x{width} frames")
        now = current[max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
        before = previous[max(dy, 0):height - max(-dy, 0), max(dx, 0):width - max(-dx, 0)]
        total += float(np.abs(now - before).sum())
        count += now.size
    return total / count
