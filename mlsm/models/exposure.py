"""Global exposure calibration: the whole image decides how bright the output is.

Why it exists. A compressed dark photo is (before noise and JPEG) ``c = e * n`` in linear
light, with the exposure ``e`` unknown (x0.03-0.3 in training, a 10x range). Every method
has to guess the normal-light brightness, and on Kodak24 that guess dominates PSNR: with the
output's mean set to the ground truth's, the stage-2b model gains +2.0 dB
(``scripts/brightness_bias.py``). The CNN guesses ``e`` from a few hundred pixels of
context (and from 64-128 px training crops); the strongest cue is global: the brightest
objects of a scene are near white in a normal exposure, so the top percentiles of the
whole image pin down ``e``. This head reads them.

What it computes (no learned convolution, 12 numbers):

* ``features``: the linear-light luminance (channel mean after the inverse sRGB curve)
  averaged over a grid of about ``grid_cells`` cells (so 8x8 JPEG blocks, noise and image
  size matter little), then ``log`` of its mean and of the ``PERCENTILES`` of the cells,
  plus a constant 1;
* optional hinge terms ``max(log mean - t, 0)`` for ``log_mean_knots`` t (ours, v2): the
  normal brightness is a bent function of the input's, about constant for very dark photos
  (LOL's references sit near one brightness whatever the exposure) and equal to the input's
  for a photo that is already well exposed (do no harm), which no single line fits;
* ``forward``: ``w . features`` = the predicted log linear mean of the normal-light image,
  ``w`` fitted by ridge regression on degraded training photos
  (:func:`mlsm.train.exposure.fit_exposure_head`);
* ``calibrate``: scales the network output in linear light so its mean is the prediction,
  the gain clipped to ``[1 / max_gain, max_gain]``, then by a user ``brightness``;
  ``log_gain`` gives that gain without applying it (video smooths it over time).

v4 (issue 14, an experiment: ``configs/exposure_head_v4.yaml``; not the shipped head) reads two more things:

* ``output_feature``: the log mean of the output it calibrates (the network's, after the
  monotone gain) joins the features, so the fit corrects the network's own brightness guess
  instead of replacing it (the network reads local exposure cues the percentiles cannot);
* ``keep_input``: do no harm. Where the implied exposure is at least ``keep_input[1]`` (the
  photo is about as bright as the prediction: already well exposed), the output keeps the
  input's own local brightness (the network's output relit to it, :func:`mlsm.inference.maps.relight`,
  then scaled to the prediction); below ``keep_input[0]`` it is the calibrated network output;
  in between a blend, linear in log exposure (:meth:`input_weight`). The network always
  brightens, and locally (it was trained on dark photos only): a global gain cannot undo that
  on a well-exposed photo, whose highlights it clips.

The keep gate (issue 14, do no harm; ``mlsm train keep-gate``) answers a different question
than the regression: *is this photo already well exposed?* A logistic regression on the log
mean and the log quantiles of the same grid cells (``KEEP_PERCENTILES``, the shadows included:
a dark photo with a lit window has a bright top but a black bottom), fitted on clean photos
(unchanged, with and without JPEG) against their degradations and real dark captures (LOL).
Its logit ``z`` gives :meth:`input_weight`: 0 below the probability ``band[0]``, 1 above
``band[1]``, linear in ``z`` in between; the blend is the same as ``keep_input``'s. Its weights
live in the spec (a few numbers), so every weight format that carries the head carries it.

The brightness floor (``floor_log_mean``, fitted with the keep gate): a normal-light photo is
rarely darker than the darker real references (the first quartile of LOL's normal-light
images, linear mean about 0.16), so the calibrated output of a photo the gate finds dark is
raised to at least that (after the monotone gain, :mod:`mlsm.inference.tone`), whatever the
regression says or whether it has a say; the photo the gate keeps is not. The network and the v1 regression leave LOL's rooms and real night shots
(lamps at white: outside the fitted range) far too dark; the floor is a prior, not a fit to
them.

The head only speaks for photos like those it was fitted on: the exposure its prediction
implies (input mean / predicted mean) must lie in the fitted ``exposure_range``. Outside it
(a real night shot with street lamps at white looks "normally exposed" to the
percentiles) its say fades over one stop and the network's own brightness is kept.

The statistics come from the whole image before tiling, so tiled and whole inference get
the same gain.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mlsm.colour import linear_to_srgb, srgb_to_linear

__all__ = ["PERCENTILES", "KEEP_PERCENTILES", "ExposureHead", "linear_mean", "scale_brightness"]

PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 1.0)
KEEP_PERCENTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 1.0)
"""Grid-cell quantiles the keep gate reads (the shadows as well as the highlights)."""
EPS = 1e-5
_ROWS = 512  # rows per chunk when converting big images (bounded temporary memory)


def _linear_luminance(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB -> (N, H, W) linear luminance (channel mean), in row chunks."""
    rows = [srgb_to_linear(image[:, :, top:top + _ROWS].float()).mean(1)
            for top in range(0, image.shape[-2], _ROWS)]
    return torch.cat(rows, dim=1)


def linear_mean(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB -> (N,) float64 mean linear luminance."""
    return _linear_luminance(image).double().flatten(1).mean(1)


def channel_means(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB -> (N, 3) float64 linear-light channel means, in row chunks."""
    total = sum(srgb_to_linear(image[:, :, top:top + _ROWS].float()).double().sum((2, 3))
                for top in range(0, image.shape[-2], _ROWS))
    return total / (image.shape[-2] * image.shape[-1])


def scale_brightness(image: torch.Tensor, gain: torch.Tensor | float) -> torch.Tensor:
    """(N, 3, H, W) sRGB times ``gain`` in linear light, clipped to [0, 1]; a new tensor,
    computed in row chunks. ``gain``: a number, one per image (N,), or one per image and
    channel (N, 3)."""
    gain = torch.as_tensor(gain, dtype=torch.float32)
    gain = gain.reshape(-1, 3, 1, 1) if gain.ndim == 2 else gain.reshape(-1, 1, 1, 1)
    gain = gain.to(image.device)
    result = torch.empty_like(image)
    for top in range(0, image.shape[-2], _ROWS):
        rows = image[:, :, top:top + _ROWS].float()
        result[:, :, top:top + _ROWS] = linear_to_srgb(srgb_to_linear(rows) * gain).to(image.dtype)
    return result


class ExposureHead(nn.Module):
    """Predicts the log linear-light mean of the normal-light image from the whole dark image.

    Args:
        grid_cells: the luminance is averaged to a grid of about this many cells first.
        percentiles: quantiles of the grid cells used as features (besides the mean).
        max_gain: the calibration never scales the network output by more than this factor
            (or less than its inverse).
        exposure_range: exposures (dark / normal, linear light) the head was fitted on.
        log_mean_knots: knots of the hinge features on the log mean (empty: the v1 head).
        output_feature: the log mean of the output being calibrated is a feature (v4).
        keep_input: None, or implied exposures ``(low, high)``: at ``high`` and above the
            output is the network's relit to the input's local brightness (then scaled to the
            prediction), at ``low`` and below the calibrated network output, a blend in between
            (v4's do no harm).
        keep_gate: None, or ``{"percentiles": [...], "weight": [...], "band": [p0, p1]}``: the
            fitted well-exposed classifier (``weight``: one per :meth:`keep_features` column);
            excludes ``keep_input``.
        floor_log_mean: None, or the smallest log linear mean :meth:`calibrate` gives an output
            (the brightness floor).
        floor_chroma: None, or the share of the input's colour cast a photo the floor lifts
            keeps (:mod:`mlsm.inference.balance`; fitted on the pairs with the floor).
    """

    def __init__(self, grid_cells: int = 15625, percentiles: Sequence[float] = PERCENTILES,
                 max_gain: float = 4.0, exposure_range: tuple[float, float] = (0.03, 0.3),
                 log_mean_knots: Sequence[float] = (), output_feature: bool = False,
                 keep_input: tuple[float, float] | None = None, keep_gate: dict | None = None,
                 floor_log_mean: float | None = None, floor_chroma: float | None = None):
        super().__init__()
        if floor_chroma is not None and not 0.0 <= floor_chroma <= 1.0:
            raise ValueError(f"floor_chroma must be None or in [0, 1], got {floor_chroma}")
        self.floor_chroma = None if floor_chroma is None else float(floor_chroma)
        if floor_log_mean is not None and not math.isfinite(floor_log_mean):
            raise ValueError(f"floor_log_mean must be None or finite, got {floor_log_mean}")
        self.floor_log_mean = None if floor_log_mean is None else float(floor_log_mean)
        if keep_gate is not None and keep_input is not None:
            raise ValueError("an exposure head takes keep_input or keep_gate, not both")
        self.keep_gate = None if keep_gate is None else _check_keep_gate(keep_gate)
        if keep_input is not None and not 0.0 < keep_input[0] < keep_input[1]:
            raise ValueError(f"keep_input must be None or 0 < low < high, got {keep_input}")
        self.output_feature = bool(output_feature)
        self.keep_input = None if keep_input is None else (float(keep_input[0]), float(keep_input[1]))
        if grid_cells < 1:
            raise ValueError(f"grid_cells must be >= 1, got {grid_cells}")
        if not percentiles or not all(0.0 <= q <= 1.0 for q in percentiles):
            raise ValueError(f"percentiles must be a non-empty list in [0, 1], got {percentiles}")
        if max_gain < 1.0:
            raise ValueError(f"max_gain must be >= 1, got {max_gain}")
        if not 0.0 < exposure_range[0] <= exposure_range[1]:
            raise ValueError(f"exposure_range must be 0 < low <= high, got {exposure_range}")
        self.exposure_range = (float(exposure_range[0]), float(exposure_range[1]))
        self.grid_cells = int(grid_cells)
        self.percentiles = tuple(float(q) for q in percentiles)
        self.max_gain = float(max_gain)
        self.log_mean_knots = tuple(float(t) for t in log_mean_knots)
        if not all(math.isfinite(t) for t in self.log_mean_knots):
            raise ValueError(f"log_mean_knots must be finite, got {list(log_mean_knots)}")
        self.register_buffer("weight", torch.zeros(self.num_features))

    @property
    def num_features(self) -> int:
        # log mean, percentiles, hinges, (the output's log mean), 1
        return len(self.percentiles) + len(self.log_mean_knots) + 2 + int(self.output_feature)

    # ----------------------------------------------------------------------- features
    def grid(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) sRGB -> (N, cells) linear luminance averaged on the grid."""
        luminance = _linear_luminance(image)
        height, width = luminance.shape[-2:]
        block = math.sqrt(height * width / self.grid_cells)
        if block > 1.0:
            size = (max(1, round(height / block)), max(1, round(width / block)))
            luminance = F.adaptive_avg_pool2d(luminance[:, None], size)[:, 0]
        return luminance.flatten(1)

    def _log_cell_stats(self, image: torch.Tensor, percentiles: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1) log mean and (N, len(percentiles)) log quantiles (float64) of the grid cells."""
        cells = self.grid(image).double()
        quantiles = torch.quantile(cells, torch.tensor(tuple(percentiles), dtype=torch.float64), dim=1).T
        return torch.log(cells.mean(1, keepdim=True) + EPS), torch.log(quantiles + EPS)

    def features(self, image: torch.Tensor, output: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 3, H, W) sRGB in [0, 1] (and, for an ``output_feature`` head, the output being
        calibrated) -> (N, num_features) float64 features."""
        log_mean, log_quantiles = self._log_cell_stats(image, self.percentiles)
        knots = torch.tensor(self.log_mean_knots, dtype=torch.float64)
        hinges = (log_mean - knots).clamp_min(0.0)
        columns = [log_mean, log_quantiles, hinges]
        if self.output_feature:
            if output is None:
                raise ValueError("this exposure head reads the output it calibrates: pass output=")
            columns.append(torch.log(linear_mean(output)[:, None] + EPS))
        return torch.cat([*columns, torch.ones_like(log_mean)], dim=1)

    def keep_features(self, image: torch.Tensor, percentiles: Sequence[float] | None = None) -> torch.Tensor:
        """(N, 3, H, W) sRGB -> (N, len(percentiles) + 2) float64: log mean and log quantiles of
        the grid cells, then 1: what the keep gate reads (``percentiles``: its own by default)."""
        if percentiles is None:
            if self.keep_gate is None:
                raise ValueError("this exposure head has no keep gate")
            percentiles = self.keep_gate["percentiles"]
        log_mean, log_quantiles = self._log_cell_stats(image, percentiles)
        return torch.cat([log_mean, log_quantiles, torch.ones_like(log_mean)], dim=1)

    def keep_logit(self, image: torch.Tensor) -> torch.Tensor:
        """(N,) logit of the keep gate: > 0 where the photo looks already well exposed."""
        weight = torch.tensor(self.keep_gate["weight"], dtype=torch.float64)
        return self.keep_features(image) @ weight

    def forward(self, image: torch.Tensor, output: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted log linear mean (N,) of the normal-light version of ``image``."""
        return self.features(image, output) @ self.weight.double()

    # ----------------------------------------------------------------------- calibration
    @torch.no_grad()
    def calibrate(self, image: torch.Tensor, output: torch.Tensor, brightness: float = 1.0) -> torch.Tensor:
        """Scale ``output`` (N, 3, H, W, sRGB) in linear light so its mean is the prediction
        for ``image`` times ``brightness``; returns a new tensor in [0, 1]."""
        if brightness <= 0:
            raise ValueError(f"brightness must be > 0, got {brightness}")
        return scale_brightness(output, torch.exp(self.log_gain(image, output)) * brightness)

    @torch.no_grad()
    def input_weight(self, image: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """(N,) weight of the do-no-harm branch (the photo at its own brightness, see
        :meth:`mlsm.inference.base.InferenceModel.enhance_tensor`): 0 without ``keep_input`` or
        ``keep_gate``; with ``keep_input`` 1 where the implied exposure is at least
        ``keep_input[1]``; with ``keep_gate`` 1 where the gate's probability is at least
        ``band[1]``, 0 at or below ``band[0]``, linear in the logit between."""
        if self.keep_gate is not None:
            low, high = (math.log(p / (1.0 - p)) for p in self.keep_gate["band"])
            return ((self.keep_logit(image) - low) / (high - low)).clamp(0.0, 1.0)
        if self.keep_input is None:
            return torch.zeros(image.shape[0], dtype=torch.float64)
        features = self.features(image, output)
        implied = features[:, 0] - features @ self.weight.double()
        low, high = math.log(self.keep_input[0]), math.log(self.keep_input[1])
        return ((implied - low) / (high - low)).clamp(0.0, 1.0)

    @torch.no_grad()
    def log_gain(self, image: torch.Tensor, output: torch.Tensor, reference: torch.Tensor | None = None,
                 floor: bool = False) -> torch.Tensor:
        """The natural log of the linear-light gain :meth:`calibrate` applies to ``output``
        for ``image`` (float64, (N,)), clipped to ``±log(max_gain)``; 0 where the head has no
        say. ``floor``: raise it to at least :meth:`floor_log_gain` (video, whose frames get no
        later tone step; photos apply the floor after the monotone gain). ``reference``: what an
        ``output_feature`` head reads (default ``output``; the kept input is scaled with the
        network's output as reference). Video smooths this over time (:mod:`mlsm.video.temporal`)
        before applying it."""
        gain, lift = self.log_gain_parts(image, output, reference)
        return (gain + lift if floor else gain).clamp(-math.log(self.max_gain), math.log(self.max_gain))

    def log_gain_parts(self, image: torch.Tensor, output: torch.Tensor,
                       reference: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(gain, lift)``, (N,) float64 each, unclipped: the head's own log gain for ``output``
        and what the brightness floor adds to it (``max(gain, floor) = gain + lift``; 0 without
        a floor)."""
        features = self.features(image, output if reference is None else reference)
        predicted = features @ self.weight.double()                       # log mean, (N,)
        implied = features[:, 0] - predicted                                # log exposure
        low, high = math.log(self.exposure_range[0]), math.log(self.exposure_range[1])
        outside = (implied - high).clamp_min(0) + (low - implied).clamp_min(0)
        say = (1.0 - outside / math.log(2.0)).clamp(0.0, 1.0)              # fades over one stop
        log_current = torch.log(linear_mean(output).clamp_min(EPS))       # (N,)
        gain = say * (predicted - log_current)
        lift = (self._floor_log_gain(log_current) - gain).clamp_min(0.0)
        return gain, lift

    @torch.no_grad()
    def floor_log_gain(self, output: torch.Tensor, brightness: float = 1.0) -> torch.Tensor:
        """(N,) float64 natural log of the gain that lifts ``output`` to the brightness floor
        (times ``brightness``, the user's scale, so the floor never undoes a darker choice): 0
        where it is at or above it or the head has no floor; at most ``log(max_gain)``."""
        if self.floor_log_mean is None:
            return torch.zeros(output.shape[0], dtype=torch.float64)
        return self._floor_log_gain(torch.log(linear_mean(output).clamp_min(EPS)), brightness)

    def _floor_log_gain(self, log_current: torch.Tensor, brightness: float = 1.0) -> torch.Tensor:
        """:meth:`floor_log_gain` from the output's log linear mean (N,) already at hand."""
        if self.floor_log_mean is None:
            return torch.zeros_like(log_current)
        target = self.floor_log_mean + math.log(brightness)
        return (target - log_current).clamp(0.0, math.log(self.max_gain))

    # ----------------------------------------------------------------------- storage
    def spec(self) -> dict:
        """JSON-able description stored next to the weight in a weight file."""
        spec = {"grid_cells": self.grid_cells, "percentiles": list(self.percentiles), "max_gain": self.max_gain,
                "exposure_range": list(self.exposure_range)}
        if self.log_mean_knots:  # v1 heads keep their exact spec
            spec["log_mean_knots"] = list(self.log_mean_knots)
        if self.output_feature:
            spec["output_feature"] = True
        if self.keep_input is not None:
            spec["keep_input"] = list(self.keep_input)
        if self.keep_gate is not None:
            spec["keep_gate"] = {key: list(value) for key, value in self.keep_gate.items()}
        if self.floor_log_mean is not None:
            spec["floor_log_mean"] = self.floor_log_mean
        if self.floor_chroma is not None:
            spec["floor_chroma"] = self.floor_chroma
        return spec

    @classmethod
    def from_spec(cls, spec: dict, weight: torch.Tensor | Sequence[float]) -> "ExposureHead":
        head = cls(int(spec["grid_cells"]), spec["percentiles"], float(spec["max_gain"]),
                   tuple(spec["exposure_range"]), spec.get("log_mean_knots", ()),
                   bool(spec.get("output_feature", False)),
                   tuple(spec["keep_input"]) if spec.get("keep_input") is not None else None,
                   spec.get("keep_gate"), spec.get("floor_log_mean"), spec.get("floor_chroma"))
        weight = torch.as_tensor(weight, dtype=torch.float32).flatten()
        if weight.numel() != head.num_features:
            raise ValueError(f"exposure head: {weight.numel()} weights for {head.num_features} features")
        head.weight.copy_(weight)
        return head


def _check_keep_gate(gate: dict) -> dict:
    """The keep gate's record with its lists as float tuples; ValueError when malformed."""
    try:
        percentiles = tuple(float(q) for q in gate["percentiles"])
        weight = tuple(float(w) for w in gate["weight"])
        band = tuple(float(p) for p in gate["band"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"keep_gate needs percentiles, weight and band lists of numbers ({exc})") from None
    if not percentiles or not all(0.0 <= q <= 1.0 for q in percentiles):
        raise ValueError(f"keep_gate percentiles must be a non-empty list in [0, 1], got {list(percentiles)}")
    if len(weight) != len(percentiles) + 2 or not all(math.isfinite(w) for w in weight):
        raise ValueError(f"keep_gate needs {len(percentiles) + 2} finite weights, got {len(weight)}")
    if len(band) != 2 or not 0.0 < band[0] < band[1] < 1.0:
        raise ValueError(f"keep_gate band must be two probabilities 0 < p0 < p1 < 1, got {list(band)}")
    return {"percentiles": percentiles, "weight": weight, "band": band}
