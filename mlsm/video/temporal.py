"""Temporal stability: one smooth brightness over a clip instead of a guess per frame.

A photo's brightness is set by one global estimate: the exposure head predicts the log mean
linear luminance of the normal-light image and scales the network output to it
(:meth:`mlsm.models.exposure.ExposureHead.log_gain`; without a head, the network's own
output mean). Estimated anew on every frame of a video, that target follows noise,
compression and small content changes and the output flickers. Here the per-frame target

    target_t = log mean_lin(calibrated output_t)

is smoothed with a causal exponential moving average of time constant ``tau`` seconds::

    alpha_t = 1 - exp(-(time_t - time_{t-1}) / tau)
    smooth_t = smooth_{t-1} + alpha_t * (target_t - smooth_{t-1})

and each frame is scaled in linear light so that its mean is ``smooth_t`` (as a camera's
auto-exposure settles over about ``tau``). Frame times come from the stream, so a variable
frame rate gets the right ``alpha``.

Scene cuts reset the average: when the input's mean log-luminance jumps by more than
``scene_cut`` (natural log; 0.5 is about 0.7 stop) from one frame to the next, the new
frame's own target is taken as is, so a cut (or a light switched on) is not faded in.

The same average smooths the colour balance's target (:func:`mlsm.inference.balance.set_colour_balance`:
three log-chroma numbers per frame, given as an array), so a frame-to-frame change of the
photo step's colour correction (its floor share follows that frame's lift) is not a colour flicker.
"""
from __future__ import annotations

import math

__all__ = ["DEFAULT_SCENE_CUT", "DEFAULT_TEMPORAL_SMOOTHING", "BrightnessSmoother"]

DEFAULT_TEMPORAL_SMOOTHING = 1.0  # seconds
DEFAULT_SCENE_CUT = 0.5  # jump of the input's mean log-luminance (natural log) read as a cut


class BrightnessSmoother:
    """Causal exponential moving average of the per-frame brightness target, reset at scene cuts.

    Args:
        time_constant: ``tau`` in seconds; 0 turns smoothing off (every frame its own target).
        scene_cut: a jump of the input's mean log-luminance larger than this resets the average.

    >>> smoother = BrightnessSmoother(time_constant=1.0)
    >>> smoother.update(target=1.0, log_luminance=-4.0, time=0.0)
    1.0
    >>> round(smoother.update(target=2.0, log_luminance=-4.0, time=1.0), 4)  # 1 + (1 - e^-1)
    1.6321
    >>> smoother.update(target=3.0, log_luminance=-2.0, time=2.0)  # a cut: reset
    3.0
    """

    def __init__(self, time_constant: float = DEFAULT_TEMPORAL_SMOOTHING, scene_cut: float = DEFAULT_SCENE_CUT):
        if not 0.0 <= time_constant < math.inf:
            raise ValueError(f"temporal smoothing must be a finite number of seconds >= 0, got {time_constant}")
        if not scene_cut > 0.0:
            raise ValueError(f"scene cut threshold must be > 0, got {scene_cut}")
        self.time_constant = float(time_constant)
        self.scene_cut = float(scene_cut)
        self.cuts = 0  # scene cuts seen (resets after the first frame)
        self._state: tuple[float, float, float] | None = None  # (smoothed target, log luminance, time)

    def update(self, target, log_luminance: float, time: float):
        """The smoothed target for a frame at ``time`` seconds with its own ``target`` (a float,
        or a numpy array smoothed entry by entry) and input mean log-luminance ``log_luminance``."""
        if self._state is None or self.time_constant == 0.0:
            smooth = target
        else:
            previous, previous_luminance, previous_time = self._state
            if abs(log_luminance - previous_luminance) > self.scene_cut:
                self.cuts += 1
                smooth = target
            else:
                step = max(time - previous_time, 0.0)
                alpha = 1.0 - math.exp(-step / self.time_constant)
                smooth = previous + alpha * (target - previous)
        self._state = (smooth, log_luminance, time)
        return smooth
