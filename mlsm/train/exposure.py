"""Fit the global exposure head (:mod:`mlsm.models.exposure`) and attach it to a weight file.

``mlsm train exposure --config C --init MODEL.safetensors --out RUN`` degrades every
training photo ``draws`` times with the config's degradation ranges (whole photos, not
crops: the head is a whole-image statistic), regresses the log linear mean of the clean
photo on the dark photo's features by ridge regression, and writes
``RUN/model.safetensors``: the network's tensors unchanged plus the head. It takes seconds
of fitting after about a minute of degrading photos; no gradient step touches the network.

v2 (for real photos): real pairs (LOL, ...) join the fit, their low image JPEG-compressed at a
random QF and their target the reference's log mean; ``unchanged_draws`` adds every clean photo
as its own input (x1, with and without JPEG: a well-exposed photo must keep its brightness);
``log_mean_knots`` bends the regression (see :class:`~mlsm.models.exposure.ExposureHead`).

v4 (``output_feature``): every sample is also enhanced by the network being calibrated (its
default inference up to the head: windows, shift ensemble, monotone gain; no detail transfer),
and the log mean of that output is a feature, so the fit corrects the network's brightness
rather than replacing it; ``keep_input`` is stored for the do-no-harm blend. Minutes instead of
seconds: one network pass per sample.

The keep gate (``mlsm train keep-gate``, :func:`fit_keep_gate`): a logistic regression that tells
an already well-exposed photo (every clean photo unchanged, with and without JPEG) from a dark
one (``keep_gate_draws`` degradations of each photo under every preset of
``keep_gate_negatives``, and the real pairs' low images JPEG-compressed); attached to a model's
existing head, whose regression stays as it was.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from mlsm.colour import srgb_to_linear
from mlsm.data.degrade import DegradationRanges, compress, degrade, sample_params
from mlsm.inference.balance import log_chroma
from mlsm.io.convert import to_tensor
from mlsm.models.exposure import KEEP_PERCENTILES, PERCENTILES, ExposureHead

__all__ = ["ExposureOptions", "fit_exposure_head", "fit_keep_gate", "attach_exposure_head"]


@dataclass
class ExposureOptions:
    """``exposure`` section of an experiment: how the exposure head is fitted.

    Attributes:
        draws: degradations drawn per training photo.
        ridge: L2 penalty of the regression (on features of order 1-10); 1.0 had the lowest
            5-fold cross-validated error over the training photos (of 1e-3 ... 1).
        grid_cells: cells of the luminance grid the percentiles are taken over.
        max_gain: largest factor the calibration may scale a network output by.
        pair_draws: JPEG compressions drawn per real pair (QF uniform in ``pair_quality``).
        pair_quality: inclusive QF range of those compressions.
        unchanged_draws: 0, or 1-2: each clean photo as its own input, uncompressed and (2) at
            a QF drawn from the degradation ranges; the target is its own brightness.
        unchanged_weight: weight of each unchanged sample in the regression (their brightness
            must be kept: 3 cut the unchanged photos' cross-validated error from 0.34 to 0.27
            for 0.005 more on LOL, ``configs/mlsm_small_v2.yaml``).
        percentiles: quantile features (None: the head's defaults).
        log_mean_knots: hinge knots on the log mean (empty: a linear head, as v1).
        exposure_range: exposures the head speaks for (None: the degradation's range).
        output_feature: the network's output brightness is a feature (v4; the fit then runs
            the network once per sample).
        keep_input: implied exposures ``(low, high)`` of the do-no-harm blend (None: off).
        keep_gate_draws: degradations of each photo per preset in ``keep_gate_negatives``
            (the keep gate's dark examples; ``mlsm train keep-gate``).
        keep_gate_negatives: :class:`~mlsm.data.degrade.DegradationRanges` presets (``v1``,
            ``v2``) the dark examples are drawn from.
        keep_gate_percentiles: the gate's quantile features (None: ``KEEP_PERCENTILES``).
        keep_gate_l2: L2 penalty on the gate's standardised weights.
        floor_quantile: None, or the quantile of the real pairs' normal-light images' log linear
            mean (the training photos' without pairs) that becomes the head's brightness floor
            (fitted with the keep gate; 0.25 had the best LOL-validation PSNR of 0.05, 0.1, 0.25
            and 0.5).
        floor_chroma: with the floor, fit its colour share (:mod:`mlsm.inference.balance`): the
            least-squares slope of the pairs' normal-light log-chroma on their JPEG'd low
            images' (clipped to [0, 1]; none without pairs).
        keep_gate_band: probabilities ``(p0, p1)``: the photo is kept from ``p1``, not at all
            up to ``p0`` (0.35-0.65: an uncertain band around the decision, narrow enough that
            the training photos are kept fully and their degradations left untouched, and
            partial blends, whose output is neither photo's brightness, stay rare).
    """

    draws: int = 25
    ridge: float = 1.0
    grid_cells: int = 15625
    max_gain: float = 4.0
    pair_draws: int = 2
    pair_quality: tuple[int, int] = (60, 95)
    unchanged_draws: int = 0
    unchanged_weight: float = 1.0
    percentiles: list[float] | None = None
    log_mean_knots: list[float] = field(default_factory=list)
    exposure_range: tuple[float, float] | None = None
    output_feature: bool = False
    keep_input: tuple[float, float] | None = None
    keep_gate_draws: int = 3
    keep_gate_negatives: list[str] = field(default_factory=lambda: ["v1", "v2"])
    keep_gate_percentiles: list[float] | None = None
    keep_gate_l2: float = 1.0e-2
    keep_gate_band: tuple[float, float] = (0.35, 0.65)
    floor_quantile: float | None = 0.25
    floor_chroma: bool = True

    def __post_init__(self):
        if self.floor_quantile is not None and not 0.0 <= self.floor_quantile <= 1.0:
            raise ValueError(f"exposure.floor_quantile must be None or in [0, 1], got {self.floor_quantile}")
        if self.keep_gate_draws < 1:
            raise ValueError(f"exposure.keep_gate_draws must be >= 1, got {self.keep_gate_draws}")
        unknown = [name for name in self.keep_gate_negatives if name not in ("v1", "v2")]
        if unknown or not self.keep_gate_negatives:
            raise ValueError(f"exposure.keep_gate_negatives must name presets v1 and/or v2, got {self.keep_gate_negatives}")
        if not 0 <= self.unchanged_draws <= 2:
            raise ValueError(f"exposure.unchanged_draws must be 0, 1 or 2, got {self.unchanged_draws}")
        if not self.unchanged_weight > 0:
            raise ValueError(f"exposure.unchanged_weight must be > 0, got {self.unchanged_weight}")
        if self.pair_draws < 0:
            raise ValueError(f"exposure.pair_draws must be >= 0, got {self.pair_draws}")
        if self.draws < 1:
            raise ValueError(f"exposure.draws must be >= 1, got {self.draws}")
        if self.ridge < 0:
            raise ValueError(f"exposure.ridge must be >= 0, got {self.ridge}")


def _target(photo: np.ndarray) -> float:
    """Log linear-light mean of a clean photo: what the head predicts."""
    return float(np.log(srgb_to_linear(photo).mean()))


def fit_exposure_head(photos: list[np.ndarray], ranges: DegradationRanges, options: ExposureOptions,
                      seed: int = 0, pairs: list[tuple[np.ndarray, np.ndarray]] = (),
                      enhance: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[ExposureHead, dict]:
    """Ridge-fit an :class:`ExposureHead` on ``draws`` degradations of each photo, plus
    ``pair_draws`` compressions of each real ``(low, high)`` pair and the unchanged photos.
    ``enhance`` (float (H, W, 3) -> float): the network's output before the head, which an
    ``output_feature`` head reads.

    Returns the head and a record of the fit: sample counts, training RMSE of the log mean per
    group (natural log: 0.1 = about 10 % brightness error) and the seconds it took.
    """
    if not photos and not pairs:
        raise ValueError("no training photos or pairs to fit the exposure head on")
    if options.output_feature and enhance is None:
        raise ValueError("exposure.output_feature needs the network's outputs: pass enhance=")
    start = time.monotonic()
    exposure_range = tuple(options.exposure_range or ranges.exposure)
    head = ExposureHead(options.grid_cells, options.percentiles or PERCENTILES, options.max_gain,
                        exposure_range, options.log_mean_knots, options.output_feature,
                        tuple(options.keep_input) if options.keep_input is not None else None)
    rng = np.random.default_rng(seed)
    features, targets, groups = [], [], []

    def add(image: np.ndarray, target: float, group: str) -> None:
        output = to_tensor(enhance(image)) if options.output_feature else None
        features.append(head.features(to_tensor(image), output)[0])
        targets.append(target)
        groups.append(group)

    for photo in photos:
        target = _target(photo)
        for _ in range(options.draws):
            add(degrade(photo, sample_params(rng, ranges), rng), target, "synthetic")
        if options.unchanged_draws >= 1:
            add(photo, target, "unchanged")
        if options.unchanged_draws >= 2:
            add(compress(photo, int(rng.integers(ranges.quality[0], ranges.quality[1] + 1)))[0], target, "unchanged")
    low_q, high_q = options.pair_quality
    for low, high in pairs:
        target = _target(high)
        for _ in range(options.pair_draws):
            add(compress(low, int(rng.integers(low_q, high_q + 1)))[0], target, "pairs")
    a = torch.stack(features)
    y = torch.tensor(targets, dtype=torch.float64)
    group_array = np.array(groups)
    sample_weight = torch.from_numpy(np.where(group_array == "unchanged", options.unchanged_weight, 1.0))
    penalty = options.ridge * torch.eye(a.shape[1], dtype=torch.float64)
    weighted = a * sample_weight[:, None]
    weight = torch.linalg.solve(weighted.T @ a + penalty, weighted.T @ y)
    head.weight.copy_(weight.float())
    residual = (a @ weight - y).numpy()
    rmse = {group: round(float(np.sqrt((residual[group_array == group] ** 2).mean())), 4)
            for group in sorted(set(groups))}
    return head, {"samples": len(targets), "photos": len(photos), "pairs": len(pairs), "draws": options.draws,
                  "pair_draws": options.pair_draws, "unchanged_draws": options.unchanged_draws,
                  "unchanged_weight": options.unchanged_weight, "output_feature": options.output_feature,
                  "ridge": options.ridge, "train_rmse_log_mean": round(float(np.sqrt((residual ** 2).mean())), 4),
                  "train_rmse_by_group": rmse, "seed": seed, "seconds": round(time.monotonic() - start, 1)}


def fit_keep_gate(head: ExposureHead, photos: list[np.ndarray], options: ExposureOptions, seed: int = 0,
                  pairs: list[tuple[np.ndarray, np.ndarray]] = ()) -> tuple[dict, dict]:
    """Fit the keep gate of ``head`` (its grid; its regression is not touched) and its brightness
    floor: logistic regression, classes weighted equally, of "already well exposed" (each photo as it is, and
    JPEG-compressed at a QF of the v1 range) against dark (each photo degraded
    ``keep_gate_draws`` times per preset of ``keep_gate_negatives``; each pair's low image
    at a QF of ``pair_quality``).

    Returns the gate record (``ExposureHead(keep_gate=...)``) and a record of the fit:
    ``floor_log_mean`` (the ``floor_quantile`` of the pairs' normal-light log means, of the
    photos' without pairs; absent when it is None), ``floor_chroma`` with it (the floor's colour
    share, from the pairs, ``options.floor_chroma``; :mod:`mlsm.inference.balance`), sample
    counts and, per group, the fractions the gate keeps (probability above 0.5), keeps fully
    (above ``band[1]``) and leaves untouched (at most ``band[0]``), seed, seconds.
    """
    if not photos:
        raise ValueError("no training photos to fit the keep gate on")
    start = time.monotonic()
    percentiles = tuple(options.keep_gate_percentiles or KEEP_PERCENTILES)
    rng = np.random.default_rng(seed)
    features, labels, groups = [], [], []

    def add(image: np.ndarray, label: float, group: str) -> None:
        features.append(head.keep_features(to_tensor(image), percentiles)[0])
        labels.append(label)
        groups.append(group)

    # v2's own do-no-harm samples (unchanged_probability) are positives here, not dark ones
    presets = {"v1": DegradationRanges.v1(), "v2": replace(DegradationRanges.v2(), unchanged_probability=0.0)}
    for photo in photos:
        add(photo, 1.0, "unchanged")
        add(compress(photo, int(rng.integers(presets["v1"].quality[0], presets["v1"].quality[1] + 1)))[0], 1.0,
            "unchanged_jpeg")
        for name in options.keep_gate_negatives:
            for _ in range(options.keep_gate_draws):
                add(degrade(photo, sample_params(rng, presets[name]), rng), 0.0, name)
    low_q, high_q = options.pair_quality
    low_chroma, high_chroma = [], []
    for low, high in pairs:
        compressed = compress(low, int(rng.integers(low_q, high_q + 1)))[0]
        add(compressed, 0.0, "pairs")
        low_chroma.append(log_chroma(to_tensor(compressed))[0])
        high_chroma.append(log_chroma(to_tensor(high))[0])
    a = torch.stack(features)
    y = torch.tensor(labels, dtype=torch.float64)
    positive = y > 0.5
    sample_weight = torch.where(positive, 0.5 / positive.sum(), 0.5 / (~positive).sum())
    mean, std = a[:, :-1].mean(0), a[:, :-1].std(0).clamp_min(1e-3)
    standard = torch.cat([(a[:, :-1] - mean) / std, a[:, -1:]], dim=1)
    weight = torch.zeros(a.shape[1], dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight], max_iter=1000, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = (sample_weight * torch.nn.functional.binary_cross_entropy_with_logits(
            standard @ weight, y, reduction="none")).sum() + options.keep_gate_l2 * (weight[:-1] ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    standard_weight = weight.detach()
    raw = torch.cat([standard_weight[:-1] / std, (standard_weight[-1] - (standard_weight[:-1] * mean / std).sum())[None]])
    logit = (a @ raw).numpy()
    group_array = np.array(groups)
    untouched_below, kept_from = (float(np.log(p / (1.0 - p))) for p in options.keep_gate_band)
    kept = {group: {"p>0.5": round(float((logit[group_array == group] > 0).mean()), 4),
                    "fully_kept": round(float((logit[group_array == group] >= kept_from).mean()), 4),
                    "untouched": round(float((logit[group_array == group] <= untouched_below).mean()), 4)}
            for group in sorted(set(groups))}
    gate = {"percentiles": list(percentiles), "weight": [float(w) for w in raw], "band": list(options.keep_gate_band)}
    floor = {}
    if options.floor_quantile is not None:
        references = [high for _, high in pairs] or photos
        floor["floor_log_mean"] = float(np.quantile([_target(image) for image in references], options.floor_quantile))
        if options.floor_chroma and pairs:
            floor.update(_fit_floor_chroma(torch.stack(low_chroma), torch.stack(high_chroma)))
    return gate, {**floor, "floor_quantile": options.floor_quantile, "floor_from": "pairs" if pairs else "photos",
                  "samples": len(labels), "photos": len(photos), "pairs": len(pairs), "draws": options.keep_gate_draws,
                  "negatives": list(options.keep_gate_negatives),
                  "l2": options.keep_gate_l2, "band": list(options.keep_gate_band),
                  "kept_fraction_by_group": kept, "seed": seed, "seconds": round(time.monotonic() - start, 1)}


def _fit_floor_chroma(low: torch.Tensor, high: torch.Tensor) -> dict:
    """The floor's colour share: least-squares ``k`` of ``high ~ k * low`` over (M, 3) log-chromas
    (clipped to [0, 1]), with the mean squared residuals at ``k`` and at 1 (the low's own cast)."""
    k = float(((low * high).sum() / (low * low).sum().clamp_min(1e-12)).clamp(0.0, 1.0))
    return {"floor_chroma": k, "floor_chroma_residual": round(float(((high - k * low) ** 2).mean()), 6),
            "floor_chroma_residual_at_1": round(float(((high - low) ** 2).mean()), 6)}


def attach_exposure_head(weights: Path, head: ExposureHead, out: Path, fit: dict) -> Path:
    """Write ``out``: every tensor and the metadata of ``weights`` plus ``head`` (replacing
    any head the file had)."""
    from mlsm.models.weights import save_weights
    from mlsm.models.zoo import load_network

    network, metadata = load_network(weights)
    card = {**metadata["card"], "exposure_head": fit}
    return save_weights(out, network, metadata["arch"], metadata["config"], card, exposure_head=head)
