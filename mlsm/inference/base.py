"""What every inference backend shares: options, exposure calibration, input dispatch.

::

    numpy (H, W, 3) | PIL | tensor ─> (N, 3, H, W) float32 in [0, 1]
        ─> run_network (tiles of mlsm.tiling.run_tiled through the backend's _run_tile, each clamped;
           with options.shift_ensemble the mean of two passes, the second shifted by SHIFT = 41 pixels)
        ─> clamp [0, 1] ─> exposure head (mlsm.models.exposure) or brightness scale
        ─> monotone local gain (mlsm.inference.tone: shadows gain at least what brighter tones do;
           before the head for a head that reads the output, v4, which may also keep an
           already well-exposed photo's own local brightness)
        ─> the head's brightness floor (not for a photo its keep gate keeps)
        ─> colour balance (mlsm.inference.balance: the input's global colour balance, a share of its
           cast where the floor lifts; options.colour_balance)
        ─> highlight headroom (mlsm.inference.highlights: a photo's lit parts held under a ceiling
           from the input's own brightness, the mean luma kept; options.highlight_headroom)
        ─> input detail transfer (mlsm.inference.detail; strength from the input's JPEG quality)
        ─> chroma denoise (mlsm.inference.chroma: the flat, lifted areas' colour blotches, camera-quality
           inputs only; options.chroma_denoise)
        ─> neutral shadows (mlsm.inference.shadows; options.neutral_shadows)
        ─> the input's type back

A backend subclasses :class:`InferenceModel` and implements :meth:`_run_tile` (one padded
tile, (N, 3, h, w) -> (N, 3, h, w)).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mlsm.inference.balance import cast_scale, keep_colour_balance
from mlsm.inference.chroma import denoise_chroma
from mlsm.inference.detail import input_strength, transfer_detail
from mlsm.inference.highlights import highlight_headroom
from mlsm.inference.inputs import as_batch
from mlsm.inference.maps import relight
from mlsm.io.convert import to_array, to_tensor
from mlsm.inference.options import CONTEXT_OVERLAP, InferenceOptions
from mlsm.inference.shadows import neutral_shadows
from mlsm.inference.tone import monotone_gain
from mlsm.models.exposure import scale_brightness
from mlsm.tiling import run_tiled

__all__ = ["InferenceModel", "SHIFT"]

SHIFT = 41
"""Pixels (down and right) of the second pass of the shift ensemble: odd, so the pass sits on
the opposite phase of the network's 2x2 superpixel grid; 1 modulo 8, off its 8x8 top-latent
grid; and about half the 80 px step of the default model's 96 px context windows, so the two
passes' window seams interleave. Each window sets its own brightness (one with a lamp in it comes
out darker): where the seams of both passes fell on the same lines (a shift of 1, inference
revisions 2-6) such a window left a rectangle with sharp edges (the ceiling of DICM 29); now each
edge is half as high and the rectangles of the two passes overlap. LOL validation 21.40 -> 21.41
dB at QF 90 (20.79 -> 20.81 at QF 60), Kodak24 22.73 -> 22.76 (22.08 at QF 60 both)."""


class InferenceModel:
    """A loaded enhancer with a friendly ``enhance`` for arrays, PIL images and tensors.

    Large images are processed in overlapping tiles blended with a raised-cosine window,
    so memory stays bounded; images up to ``options.tile`` pixels a side run whole. When the
    weights carry an exposure head (``metadata["exposure_head"]``) and
    ``options.calibrate_exposure`` is on, the output's brightness is then set from
    whole-image statistics (:mod:`mlsm.models.exposure`); ``options.brightness`` then scales
    it in linear light (with or without a head).

    Args:
        metadata: the weight file's record (``arch``, ``config``, ``card``, ``exposure_head``).
        device: where tensors run.
        size_multiple: each tile is padded to a multiple of this (the network's stride product).
        options: the :class:`InferenceOptions` (default: the defaults); keyword ``overrides``
            (``tile=``, ``overlap=``, ``calibrate_exposure=``, ``brightness=``, ``detail=``...)
            replace fields.
        name: the method name eval and the demo show.
    """

    def __init__(self, metadata: dict | None, device: str | torch.device, size_multiple: int,
                 options: InferenceOptions | None = None, *, name: str, **overrides):
        self.metadata = metadata or {}
        self.device = torch.device(device)
        self.size_multiple = int(size_multiple)
        self.name = name
        self.options = InferenceOptions.resolve(options, **overrides)
        head = self.metadata.get("exposure_head")
        self.exposure_head = head.to(self.device) if (head is not None and self.options.calibrate_exposure) else None

    @property
    def tile(self) -> int:
        return self.options.tile

    @property
    def overlap(self) -> int:
        return self.options.overlap

    @property
    def brightness(self) -> float:
        return self.options.brightness

    @brightness.setter
    def brightness(self, value: float) -> None:  # the demo's slider
        self.options = InferenceOptions.resolve(self.options, brightness=float(value))

    def _run_tile(self, image: torch.Tensor) -> torch.Tensor:
        """One padded tile (N, 3, h, w) -> the network's output, clamped to [0, 1]."""
        raise NotImplementedError

    def run_network(self, image: torch.Tensor) -> torch.Tensor:
        """The network alone on (N, 3, H, W) in [0, 1], tiled, clamped to [0, 1]: the output
        before the exposure head and the brightness scale (video smooths those over time)."""
        out = self._run_pass(image)
        if self.options.shift_ensemble:
            # mirrored (the padding is real content for the windows that see it); edge-replicated
            # for an image too small to mirror
            mode = "reflect" if min(image.shape[-2:]) > SHIFT else "replicate"
            shifted = F.pad(image, (SHIFT, 0, SHIFT, 0), mode=mode)
            out = out.add_(self._run_pass(shifted)[..., SHIFT:, SHIFT:]).mul_(0.5)
        return out

    @property
    def context(self) -> int:
        """Side of the windows the network runs on (0: whole images up to ``tile``); see
        :class:`~mlsm.inference.options.InferenceOptions`."""
        if self.options.context is not None:
            return self.options.context
        return int((self.metadata.get("card") or {}).get("context", 0) or 0)

    def _run_pass(self, image: torch.Tensor) -> torch.Tensor:
        # each tile is clamped before blending, as the exported ONNX graph does
        context = self.context
        if context and context < self.options.tile:
            return run_tiled(self._run_tile, image, tile=context, overlap=context // CONTEXT_OVERLAP,
                             multiple=self.size_multiple,
                             batch_pixels=self.options.tile * self.options.tile).clamp(0.0, 1.0)
        return run_tiled(self._run_tile, image, tile=self.options.tile, overlap=self.options.overlap,
                         multiple=self.size_multiple).clamp(0.0, 1.0)

    @torch.no_grad()
    def enhance_tensor(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> enhanced, same shape, clamped to [0, 1]."""
        image = image.to(self.device, torch.float32)
        out = self.run_network(image)
        head = self.exposure_head
        # a head that reads the output was fitted on the monotone-gained one (v4); older heads
        # calibrate the network's own output and the monotone gain follows (the shipped order)
        tone_first = head is not None and head.output_feature
        if self.options.monotone_gain and tone_first:
            out = monotone_gain(image, out)
        # the do-no-harm weight, once: the blend and the floor both read it
        weight = self.keep_weight(image, out)
        if head is not None:
            out = self._calibrate(image, out, weight)
        elif self.options.brightness != 1.0:
            out = scale_brightness(out, self.options.brightness)
        if self.options.monotone_gain and not tone_first:
            out = monotone_gain(image, out)
        lift = torch.zeros(image.shape[0], dtype=torch.float64)
        if head is not None and head.floor_log_mean is not None:
            out, lift = self._floor(out, weight)
        if self.options.colour_balance:
            out = keep_colour_balance(image, out, cast_scale(lift, head.floor_chroma if head is not None else None))
        if self.options.highlight_headroom:
            out = highlight_headroom(image, out)
        camera_quality = input_strength(image) if (self.options.detail is None or self.options.chroma_denoise) else None
        out = transfer_detail(image, out, self.options.detail if self.options.detail is not None else camera_quality)
        if self.options.chroma_denoise:
            out = denoise_chroma(image, out, camera_quality)
        return neutral_shadows(image, out) if self.options.neutral_shadows else out

    def _calibrate(self, image: torch.Tensor, out: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The exposure head's brightness and its do-no-harm blend, by ``weight``
        (:meth:`keep_weight`): a photo the head finds already well exposed keeps its own local
        brightness."""
        head, brightness = self.exposure_head, self.options.brightness
        calibrated = head.calibrate(image, out, brightness)
        if not bool((weight > 0).any()):
            return calibrated
        # the network's output at the input's local brightness, scaled to the prediction
        kept = relight(out, image)
        kept = scale_brightness(kept, torch.exp(head.log_gain(image, kept, out)) * brightness)
        weight = weight.to(calibrated.dtype).reshape(-1, 1, 1, 1)
        return calibrated.mul_(1.0 - weight).add_(kept.mul_(weight))

    def keep_weight(self, image: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """(N,) weight of the do-no-harm branch: the head's :meth:`~ExposureHead.input_weight`
        (a v4 ``keep_input`` head always; a keep gate only with ``options.keep_well_exposed``)."""
        head = self.exposure_head
        if head is None or (head.keep_gate is not None and not self.options.keep_well_exposed):
            return torch.zeros(image.shape[0], dtype=torch.float64)
        return head.input_weight(image, out)

    def _floor(self, out: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lift the output to the head's brightness floor (times the user's brightness), in
        proportion to ``1 - weight`` (:meth:`keep_weight`): a kept photo is not lifted. Returns
        the output and the lift's natural-log gain (N,)."""
        head = self.exposure_head
        log_gain = head.floor_log_gain(out, self.options.brightness) * (1.0 - weight)
        if not bool((log_gain > 0).any()):
            return out, log_gain
        return scale_brightness(out, torch.exp(log_gain)), log_gain

    def enhance(self, image):
        """Enhance a numpy array, a PIL image or a tensor; returns the same kind.

        uint8 in -> uint8 out, uint16 -> uint16, float -> float, PIL -> RGB PIL, tensor ->
        tensor of its dtype and shape. What is accepted and refused:
        :mod:`mlsm.inference.inputs`.
        """
        batch, restore = as_batch(image)
        return restore(self.enhance_tensor(batch))

    def enhance_video(self, src, dst, **options):
        """Enhance the video file ``src`` into the MP4 ``dst`` with this model; returns a
        :class:`mlsm.video.VideoResult`. ``options``: ``crf``, ``temporal_smoothing``,
        ``max_frames``, ``start``, ``duration``, ``overwrite``, ``progress``... (see
        :func:`mlsm.video.enhance_video`). Needs PyAV (``pip install 'mlsm[video]'``)."""
        from mlsm.video import enhance_video

        return enhance_video(self, src, dst, **options)

    def _enhance_array(self, array: np.ndarray) -> np.ndarray:
        return to_array(self.enhance_tensor(to_tensor(array)))

    def __call__(self, array: np.ndarray) -> np.ndarray:
        """The baselines' Method protocol: float (H, W, 3) -> float."""
        return self._enhance_array(array)
