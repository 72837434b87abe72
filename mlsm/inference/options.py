"""The one record of inference options, with the one set of defaults.

Light on purpose (no torch): the command lines read their defaults from here.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["DEFAULT_TILE", "DEFAULT_OVERLAP", "DEFAULT_OPSET", "CONTEXT_OVERLAP", "INFERENCE_REVISION",
           "InferenceOptions"]

DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128
DEFAULT_OPSET = 17  # ONNX opset of mlsm export-onnx and of in-memory exports
INFERENCE_REVISION = 10
"""Bumped whenever the default inference changes a weight file's outputs (2: the shift ensemble
and the context windows, issue 14; 3: the input detail transfer on camera-quality inputs; 4: the
monotone local gain; 5: the neutral shadows; 6: the highlight headroom; 7: its lit parts keep the
input's structure and colour above 4 px, and the shift ensemble's second pass moves 41 px, not 1;
8: the detail transfer's noise floor per tone, and only the local mean of its detail where the
input holds few code values, camera-quality inputs only; 9: the chroma denoise of flat, lifted
areas, camera-quality inputs only; 10: the edge-aware local gain of the monotone gain and the
relight, :func:`mlsm.inference.maps.local_gain`: no halos around lights). Cached eval and scorecard cells of an mlsm model carry it
with the weights' digest, so a re-run recomputes what an older inference produced."""
CONTEXT_OVERLAP = 8
"""Context windows share ``context // CONTEXT_OVERLAP`` pixels with each neighbour (1/8 was both
better and faster than 1/4 for the default model: Kodak24 QF 60, 8 photos, 23.57 vs 23.51 dB)."""


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
        context: side of the windows the network runs on, in pixels (rounded up to the
            network's size multiple, 32 for mlsm_small): the image is cut into overlapping
            windows of this side (``context // 8`` shared, blended as the tiles; batched, at
            most ``tile * tile`` pixels per call). None: the weight file's own
            (``card["context"]``: near the crop size it was trained on), whole images when it
            has none; 0: whole images. Why: the network's deep levels (the 1/8-resolution ASPP
            with dilations up to 18) learnt their context from zero-padded training crops; on
            whole photos they see content there instead and the output drifts (the shipped
            model, trained on 64-128 px crops, on 8 Kodak24 photos at QF 60: 22.69 dB whole,
            23.57 dB in 64 px windows, 23.32 in 96, its default, 1.6x faster than 64;
            ``scripts/context_probe.py``; the test-time local converter of Chu et al., ECCV
            2022, fixes the same train/test mismatch of global statistics).
        shift_ensemble: run the network twice, on the image and on the image shifted 41
            pixels down and right (:data:`mlsm.inference.base.SHIFT`), and average the two
            (aligned back). The network's own grids (2x2 pixel-unshuffle superpixels, the
            1/8-resolution top latent) leave a periodic pattern in its output that the 8x8
            block-edge ratio reads as JPEG blocks (1.081 on 13 real dark photos); the shifted
            pass has the opposite phase and the average cancels it (0.993), for twice the time
            (``scripts/grid_probe.py``); and its context-window seams fall between the first
            pass's, so a window that sets its own brightness leaves half a step at its edges.
        monotone_gain: floor the output's local gain so darker tones gain at least as much as
            brighter ones (:mod:`mlsm.inference.tone`): the network crushes deep shadows (an
            S-curve); this lifts them (8 Kodak24 photos: +0.8 dB at QF 90; LOL +1.0 dB).
            Photos only: videos skip it.
        detail: strength in [0, 1] of the input detail transfer (:mod:`mlsm.inference.detail`):
            the input's own texture, lifted to the output's local brightness, added back where
            it stands above the input's noise. None (default): from the input's JPEG quality,
            estimated from its pixels (0 up to QF 90, where the high frequencies hold blocks;
            1 from QF 96, camera quality and never-compressed images); 0: off (the network's
            output alone); a number: that strength for every input. Photos only: videos skip it.
        keep_well_exposed: a photo (or frame) the weights' keep gate finds already well exposed
            keeps its own brightness: the network's output relit to the input's local
            brightness, and no brightness floor (:mod:`mlsm.models.exposure`). Off by default:
            on the 24 clean Kodak24 photos at QF 90 it keeps 24 of 24 within 0.1 of their mean
            luma (29.2 dB; 0 of 24, 11.0 dB without), but it also keeps 41 of the 73 real dark
            photos as they are, and those score a worse NIQE at their own brightness (README,
            "Do no harm"). Weights without a gate ignore it.
        colour_balance: the output keeps the input's global colour balance (the network
            amplifies a dark photo's cast), and a photo the brightness floor lifts keeps only
            the head's fitted share of its cast (LOL's short exposures carry one their normal
            exposures do not; :mod:`mlsm.inference.balance`). LOL validation at QF 90 20.96 ->
            21.25 dB PSNR; Kodak24 QF 90 22.98 -> 22.71.
        neutral_shadows: where the input is too dark to hold colour (its local luma below 8
            code values of 255, none at 1), the output's colour fades to grey at unchanged luma
            (:mod:`mlsm.inference.shadows`): a black sky stays black-grey instead of turning
            olive. Applied last.
        highlight_headroom: a photo with lit parts (lamps, windows, sky: its brightest local
            luma above 0.6) keeps headroom over them: the output's local linear luminance stays
            under the input's plus half of the input's own headroom, and the brightness taken
            from the highlights goes to the mid-tones, so the mean luma stays; where the camera
            exposed well, the structure and colour above 4 px are the input's (clouds, a blue
            sky) at the output's brightness (:mod:`mlsm.inference.highlights`). Photos darkened as a whole (the synthetic sets,
            LOL) are untouched. Photos only: videos skip it.
        chroma_denoise: on a camera-quality input (the detail transfer's automatic strength,
            from its JPEG quality), where the enhancement lifted the photo (2x and more in linear
            light) and its colour is as flat as noise, the colour blotches of the camera's noise
            go to their local mean at unchanged luma (:mod:`mlsm.inference.chroma`; DICM 29's
            ceiling). The paper's setting (QF <= 90) is untouched. Photos only: videos skip it.
    """

    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    calibrate_exposure: bool = True
    brightness: float = 1.0
    context: int | None = None
    shift_ensemble: bool = True
    monotone_gain: bool = True
    detail: float | None = None
    keep_well_exposed: bool = False
    colour_balance: bool = True
    neutral_shadows: bool = True
    highlight_headroom: bool = True
    chroma_denoise: bool = True

    def __post_init__(self):
        if self.context is not None and not (isinstance(self.context, int) and self.context >= 0):
            raise ValueError(f"context must be None or an integer >= 0, got {self.context!r}")
        if self.detail is not None and not (isinstance(self.detail, (int, float)) and not isinstance(self.detail, bool)
                                            and 0.0 <= self.detail <= 1.0):
            raise ValueError(f"detail must be None or a number in [0, 1], got {self.detail!r}")
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
