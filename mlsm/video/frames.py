"""Enhancing a sequence of frames with one smooth brightness over time.

::

    frame_t (H, W, 3) ─> network (tiled, as for photos) ─> out_t
        per-frame target = log mean_lin(out_t · gain_t)
                           (gain_t: the exposure head's, 1 without a head)
        smoothed target  = BrightnessSmoother (EMA over time, reset at scene cuts)
        out_t scaled in linear light so that its mean is the smoothed target, then by ``brightness``
        blended with out_t relit to frame_t's local brightness by the model's keep weight (with
        ``keep_well_exposed``, a frame the keep gate finds well exposed keeps its own brightness)
        colour balance as for photos (mlsm.inference.balance; the floor's share from this frame's
        lift), its target log-chroma smoothed over time like the brightness

:func:`enhance_frames` is the public iterator for callers with their own decoder;
:mod:`mlsm.video.pipeline` uses :class:`FrameEnhancer` between PyAV's decoder and encoder.
With ``temporal_smoothing=0`` every frame gets exactly what ``model.enhance`` gives a photo
(up to float rounding).
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from mlsm.colour import srgb_to_linear
from mlsm.inference.balance import cast_scale, set_colour_balance, target_chroma
from mlsm.inference.shadows import neutral_shadows
from mlsm.inference.inputs import as_batch
from mlsm.inference.maps import relight
from mlsm.models.exposure import scale_brightness
from mlsm.video.temporal import DEFAULT_SCENE_CUT, DEFAULT_TEMPORAL_SMOOTHING, BrightnessSmoother

__all__ = ["FrameEnhancer", "enhance_frames"]

_EPS = 1e-5
_CUT_GRID = (36, 64)  # the scene-cut statistic is read on a grid this size (noise matters little)
_CUT_FLOOR = 1e-3  # added to linear luminance before the log (black pixels stay finite)
_MAX_GAIN_WITHOUT_HEAD = 4.0


def _log_mean_linear(image: torch.Tensor) -> float:
    return math.log(max(float(srgb_to_linear(image).mean()), _EPS))


def _mean_log_luminance(image: torch.Tensor) -> float:
    luminance = srgb_to_linear(image).mean(1, keepdim=True)
    size = (min(_CUT_GRID[0], luminance.shape[-2]), min(_CUT_GRID[1], luminance.shape[-1]))
    return float(torch.log(F.adaptive_avg_pool2d(luminance, size) + _CUT_FLOOR).mean())


class FrameEnhancer:
    """Enhances frames one at a time, carrying the smoothed brightness from frame to frame.

    Args:
        model: a loaded :class:`~mlsm.inference.base.InferenceModel` (torch or onnx); its
            options (tile, overlap, exposure calibration, brightness) apply to every frame.
        temporal_smoothing: time constant in seconds of the brightness's moving average (0: off).
        scene_cut: input mean log-luminance jump read as a scene cut (resets the average).
    """

    def __init__(self, model, temporal_smoothing: float = DEFAULT_TEMPORAL_SMOOTHING,
                 scene_cut: float = DEFAULT_SCENE_CUT):
        self.model = model
        self.smoother = BrightnessSmoother(temporal_smoothing, scene_cut)
        self.colour_smoother = BrightnessSmoother(temporal_smoothing, scene_cut)  # the balance's target chroma
        head = model.exposure_head
        self.max_log_gain = math.log(head.max_gain if head is not None else _MAX_GAIN_WITHOUT_HEAD)
        self.targets: list[tuple[float, float]] = []  # (own, smoothed) log output mean per frame, for reports

    @torch.no_grad()
    def enhance_tensor(self, image: torch.Tensor, time: float) -> torch.Tensor:
        """One frame (1, 3, H, W) float in [0, 1] at ``time`` seconds -> enhanced, same shape."""
        model = self.model
        image = image.to(model.device, torch.float32)
        out = model.run_network(image)  # the network part of InferenceModel.enhance_tensor
        head = model.exposure_head
        log_gain = lift = 0.0
        if head is not None:
            gain, lift = (float(part[0]) for part in head.log_gain_parts(image, out))
            log_gain = min(max(gain + lift, -self.max_log_gain), self.max_log_gain)
        log_output = _log_mean_linear(out)
        target = log_output + log_gain  # the log mean this frame gets as a photo
        log_luminance = _mean_log_luminance(image)
        smooth = self.smoother.update(target, log_luminance, time)
        self.targets.append((target, smooth))
        gain = min(max(smooth - log_output, -self.max_log_gain), self.max_log_gain)
        scale = math.exp(gain) * model.options.brightness
        result = out if scale == 1.0 else scale_brightness(out, scale)
        weight = float(model.keep_weight(image, out)[0])
        if weight > 0.0:
            kept = scale_brightness(relight(out, image), model.options.brightness)
            result = result.mul(1.0 - weight).add_(kept.mul_(weight))
        if model.options.colour_balance:
            floor_chroma = head.floor_chroma if head is not None else None
            chroma = target_chroma(image, cast_scale(lift * (1.0 - weight), floor_chroma))
            chroma = self.colour_smoother.update(chroma[0].numpy(), log_luminance, time)
            result = set_colour_balance(result, torch.from_numpy(chroma))
        if model.options.neutral_shadows:
            result = neutral_shadows(image, result)
        return result

    def __call__(self, frame: np.ndarray, time: float) -> np.ndarray:
        """One RGB frame (H, W, 3) uint8 (or any dtype ``model.enhance`` takes) -> the same kind."""
        batch, restore = as_batch(frame)
        if batch.shape[0] != 1:
            raise ValueError(f"expected one frame, got a batch of {batch.shape[0]}")
        return restore(self.enhance_tensor(batch, time).cpu())


def enhance_frames(model, frames: Iterable[np.ndarray], fps: float, *,
                   temporal_smoothing: float = DEFAULT_TEMPORAL_SMOOTHING, scene_cut: float = DEFAULT_SCENE_CUT,
                   times: Iterable[float] | None = None) -> Iterator[np.ndarray]:
    """Enhance frames from any decoder, lazily: one frame in, one frame out.

    Args:
        model: a loaded model (``mlsm.load_model()``, torch or onnx backend).
        frames: RGB frames (H, W, 3) uint8 (or another dtype ``model.enhance`` accepts), in order.
        fps: frame rate, used for frame times when ``times`` is not given.
        temporal_smoothing: seconds; time constant of the output brightness's moving average (0: off).
        scene_cut: input mean log-luminance jump (natural log) that resets the average.
        times: presentation time of each frame in seconds (variable frame rate); default ``i / fps``.

    Yields:
        enhanced frames, same shape and dtype as given.

    >>> import mlsm, numpy as np                                       # doctest: +SKIP
    >>> dark = (np.random.rand(24, 48, 64, 3) * 40).astype(np.uint8)   # doctest: +SKIP
    >>> bright = list(enhance_frames(mlsm.load_model(), dark, fps=24))  # doctest: +SKIP
    """
    if not 0 < fps < math.inf:
        raise ValueError(f"fps must be a finite number > 0, got {fps}")
    enhancer = FrameEnhancer(model, temporal_smoothing, scene_cut)
    clock = iter(times) if times is not None else None
    for index, frame in enumerate(frames):
        time = float(next(clock)) if clock is not None else index / fps
        yield enhancer(frame, time)
