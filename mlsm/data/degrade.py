"""The degradation model: clean normal-light sRGB photo -> compressed dark photo.

mlsm is trained on pairs (c, n) where n is a clean photo and c its compressed dark version
(the paper's compressed dark image space C, Section III-A). Without a public low-light data
set on hand, c is synthesised with a camera-like pipeline::

    n (sRGB, [0, 1])
      -> linear light               (inverse sRGB transfer function, IEC 61966-2-1)
      -> x exposure                 (fraction of the normal exposure: 0.03 = about 5 stops under)
      -> x colour cast              (per-channel gains: a wrong white balance under dim light)
      -> + shot and read noise      (heteroscedastic Gaussian: var = x / photons_at_white + read_noise_std^2)
      -> clip, sRGB transfer function, 8-bit quantisation (what the camera stores)
      -> JPEG at quality QF         (Pillow / libjpeg(-turbo), IJG quality scale, 4:2:0 by default)

That is version 1, ``DegradationRanges.v1()`` (also ``DegradationRanges()``, whose v2 stages
are all off): one global exposure over the whole photo, so its brightest pixel never passes
~0.6, and independent per-pixel noise. Version 2, ``DegradationRanges.v2()``, adds the stages
of a real camera in a dark scene (:mod:`mlsm.data.camera`)::

    n (sRGB) -> linear light
      -> x exposure x illumination field (smooth, spans illumination_stops; light pools + gradient)
         with the brightest scene regions (light sources) at light_source_gain x normal exposure
      -> x vignetting, x colour cast
      -> / white balance, clip at full well, RGGB mosaic, shot + read noise per photosite,
         bilinear demosaic, x white balance                                   (bayer_noise)
      -> camera tone curve (sRGB, gamma or filmic S-curve), chroma denoise, unsharp mask, 8 bit
      -> camera JPEG (QF 85-98, 4:2:0) -> downscale by `resize` -> final JPEG (QF 60-95,
         4:2:0 or 4:4:4)
    or, with unchanged_probability: the clean photo at exposure x1, with or without JPEG.

With ``resize`` < 1 the camera stages run at size / resize (the clean photo upsampled), and the
camera's image is shrunk back to the clean photo's size before the final JPEG, so the input
always has the target's size and the final 8x8 grid sits at (0, 0). The target stays the
clean photo in every case (uneven light included: dark parts need more gain than lit ones).

Every random choice is drawn from a ``numpy.random.Generator`` the caller passes, so one
seed gives the same input bit for bit. :func:`compress` is the paper's own setting (IV-B):
JPEG-compress an existing (real) dark image at a given QF.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.data import camera
from mlsm.io import encode_jpeg, to_float32, to_uint8
from mlsm.io.convert import quantize_8bit

__all__ = [
    "DegradationRanges",
    "DarkJpegParams",
    "sample_params",
    "darken",
    "compress",
    "degrade",
]


@dataclass(frozen=True)
class DegradationRanges:
    """Ranges from which :func:`sample_params` draws one degradation (uniform unless stated).

    Attributes:
        exposure: fraction of the normal exposure kept, drawn log-uniformly; 0.3 is ~1.7
            stops under-exposed, 0.03 is ~5 stops.
        colour_cast: maximum relative deviation of the red and blue gains from 1 (the green
            gain stays 1), as a mis-set white balance in dim light gives; 0 disables it.
        photons_at_white: range of photo-electrons a pixel collects at full well / white at
            normal exposure, drawn log-uniformly. Shot-noise variance in linear units is
            ``x / photons_at_white``; fewer photons = noisier. ``None`` disables shot noise.
        read_noise_std: range of the standard deviation of the signal-independent read noise
            in linear units of full scale (sensor + ADC).
        quality: inclusive range of the IJG JPEG quality factor (QF).
        subsampling: chroma subsampling of the JPEG, "4:2:0" (camera default) or "4:4:4".

    Version-2 stages (all off by default, so ``DegradationRanges()`` is v1 bit for bit; each
    is drawn only when enabled, after the v1 draws):

        illumination_probability: probability that the light over the frame is uneven.
        illumination_stops: span of the illumination field in stops (log2 brightest / darkest
            point); ``exposure`` is then the exposure of the best-lit point.
        light_pools: inclusive range of the number of Gaussian light pools (lamps, patches of
            window light) on the ambient gradient; radii 0.1-0.5 of the frame.
        light_source_probability: probability that the brightest scene regions are light
            sources kept near or above normal exposure (lamps, windows, sky: they clip at white).
        light_source_fraction: range of the fraction of the frame's pixels that are light
            sources (its brightest ones).
        light_source_gain: range (log-uniform) of the light sources' exposure relative to the
            normal exposure; above 1 they clip at white.
        vignetting: range of the fraction of light lost in the frame's corners (0 = none).
        bayer_noise: noise on an RGGB mosaic + bilinear demosaicing (spatially and
            cross-channel correlated) instead of independent per-pixel noise.
        white_balance_red, white_balance_blue: ranges of the camera's white-balance gains on
            red and blue (green 1), applied after the noise (they amplify red/blue noise).
        camera_denoise_probability, camera_denoise_sigma: probability and Gaussian radius
            (pixels) of in-camera chroma noise reduction.
        sharpen_probability, sharpen_amount: probability and strength of the in-camera
            unsharp mask on luma.
        tone_curves: camera tone curves drawn from uniformly ("srgb", "gamma", "filmic");
            see :func:`mlsm.data.camera.tone_curve`.
        tone_strength: range of the tone curve's strength (gamma 1.8-2.6, S-curve amount).
        camera_quality: inclusive QF range of the camera's own JPEG (4:2:0) before the final
            encode; ``None`` skips it.
        resize_probability, resize: probability and range of the downscale factor applied
            between the camera JPEG and the final JPEG (1 = same size).
        subsampling_444_probability: probability that the final JPEG is 4:4:4 instead of
            ``subsampling``.
        unchanged_probability: probability of a "do no harm" sample: the clean photo at
            exposure x1, no noise, no camera stages.
        unchanged_jpeg_probability: probability that such a sample is JPEG-compressed at a QF
            from ``quality`` (else it is the clean photo quantised to 8 bits).
    """

    exposure: tuple[float, float] = (0.03, 0.3)
    colour_cast: float = 0.1
    photons_at_white: tuple[float, float] | None = (2000.0, 20000.0)
    read_noise_std: tuple[float, float] = (0.0005, 0.003)
    quality: tuple[int, int] = (60, 95)
    subsampling: str = "4:2:0"
    illumination_probability: float = 0.0
    illumination_stops: tuple[float, float] = (1.0, 5.0)
    light_pools: tuple[int, int] = (1, 4)
    light_source_probability: float = 0.0
    light_source_fraction: tuple[float, float] = (0.005, 0.08)
    light_source_gain: tuple[float, float] = (1.0, 8.0)
    vignetting: tuple[float, float] = (0.0, 0.0)
    bayer_noise: bool = False
    white_balance_red: tuple[float, float] = (1.6, 2.4)
    white_balance_blue: tuple[float, float] = (1.2, 2.0)
    camera_denoise_probability: float = 0.0
    camera_denoise_sigma: tuple[float, float] = (0.5, 2.0)
    sharpen_probability: float = 0.0
    sharpen_amount: tuple[float, float] = (0.2, 1.0)
    tone_curves: tuple[str, ...] = ("srgb",)
    tone_strength: tuple[float, float] = (0.0, 1.0)
    camera_quality: tuple[int, int] | None = None
    resize_probability: float = 0.0
    resize: tuple[float, float] = (0.5, 1.0)
    subsampling_444_probability: float = 0.0
    unchanged_probability: float = 0.0
    unchanged_jpeg_probability: float = 0.5

    def __post_init__(self):
        probabilities = {name: getattr(self, name) for name in (
            "illumination_probability", "light_source_probability", "camera_denoise_probability",
            "sharpen_probability", "resize_probability", "subsampling_444_probability",
            "unchanged_probability", "unchanged_jpeg_probability")}
        for name, value in probabilities.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        unknown = [curve for curve in self.tone_curves if curve not in camera.TONE_CURVES]
        if unknown or not self.tone_curves:
            raise ValueError(f"tone_curves must be a non-empty subset of {camera.TONE_CURVES}, "
                             f"got {self.tone_curves!r}")
        if not 0.0 < self.resize[0] <= self.resize[1] <= 1.0:
            raise ValueError(f"resize must be a range inside (0, 1], got {self.resize!r}")
        if not 0.0 <= self.vignetting[0] <= self.vignetting[1] < 1.0:
            raise ValueError(f"vignetting must be a range inside [0, 1), got {self.vignetting!r}")

    @classmethod
    def v1(cls) -> "DegradationRanges":
        """The first release's model: global exposure, independent noise, one JPEG (the default).

        The synthetic Kodak24 evaluation set (:mod:`mlsm.data.evalset`) is made with it."""
        return cls()

    @classmethod
    def v2(cls) -> "DegradationRanges":
        """Degradation v2: uneven light, light sources, Bayer noise, camera ISP and JPEG chain.

        Ranges chosen so that the synthetic inputs cover the real dark photos' statistics
        (``docs/realism.md``, made by ``scripts/realism_report.py``)."""
        return cls(**V2_DEFAULTS)

    @property
    def is_v1(self) -> bool:
        """True when every v2 stage is off (then sampling and degrading follow v1 exactly)."""
        return not (self.illumination_probability or self.light_source_probability or self.bayer_noise
                    or self.vignetting[1] > 0 or self.camera_denoise_probability or self.sharpen_probability
                    or tuple(self.tone_curves) != ("srgb",) or self.camera_quality is not None
                    or self.resize_probability or self.subsampling_444_probability or self.unchanged_probability)


# The v2 ranges that differ from the dataclass defaults (tuned with scripts/realism_report.py).
V2_DEFAULTS: dict = {
    "exposure": (0.04, 0.8),
    "photons_at_white": (3000.0, 100000.0),
    "read_noise_std": (0.0001, 0.0015),
    "illumination_probability": 0.8,
    "illumination_stops": (1.0, 4.0),
    "light_source_probability": 0.7,
    "vignetting": (0.0, 0.5),
    "bayer_noise": True,
    "camera_denoise_probability": 0.5,
    "sharpen_probability": 0.8,
    "sharpen_amount": (0.3, 1.5),
    "tone_curves": camera.TONE_CURVES,
    "camera_quality": (85, 98),
    "resize_probability": 0.4,
    "subsampling_444_probability": 0.2,
    "unchanged_probability": 0.05,
}


@dataclass(frozen=True)
class DarkJpegParams:
    """One concrete degradation (see :class:`DegradationRanges` for each field's meaning).

    The v2 fields default to "off" (v1 behaviour): ``illumination_stops = 0`` is even light,
    ``light_pools`` are (centre_y, centre_x, radius, strength) in frame units and
    ``light_gradient`` the ambient rise along (y, x) (:func:`mlsm.data.camera.illumination_field`);
    ``light_source_gain = 0`` disables light sources; ``white_balance`` are the camera's gains
    applied after the noise when ``bayer_noise``; ``resize`` < 1 shrinks the camera image by that
    factor before the final JPEG; ``camera_quality = None`` skips the camera's own JPEG.
    """

    exposure: float
    colour_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    photons_at_white: float | None = None
    read_noise_std: float = 0.0
    quality: int | None = 90
    subsampling: str = "4:2:0"
    illumination_stops: float = 0.0
    light_pools: tuple[tuple[float, float, float, float], ...] = ()
    light_gradient: tuple[float, float] = (0.0, 0.0)
    light_source_fraction: float = 0.0
    light_source_gain: float = 0.0
    vignetting: float = 0.0
    bayer_noise: bool = False
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    camera_denoise_sigma: float = 0.0
    sharpen_amount: float = 0.0
    tone_curve: str = "srgb"
    tone_strength: float = 0.0
    camera_quality: int | None = None
    resize: float = 1.0
    extra: dict = field(default_factory=dict, compare=False)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def sample_params(rng: np.random.Generator, ranges: DegradationRanges = DegradationRanges()) -> DarkJpegParams:
    """Draw one :class:`DarkJpegParams` from ``ranges`` with ``rng``."""
    exposure = _log_uniform(rng, *ranges.exposure)
    cast = ranges.colour_cast
    gains = (1.0 + float(rng.uniform(-cast, cast)), 1.0, 1.0 + float(rng.uniform(-cast, cast)))
    photons = _log_uniform(rng, *ranges.photons_at_white) if ranges.photons_at_white else None
    read_std = float(rng.uniform(*ranges.read_noise_std))
    quality = int(rng.integers(ranges.quality[0], ranges.quality[1] + 1))
    params = DarkJpegParams(exposure, gains, photons, read_std, quality, ranges.subsampling)
    if ranges.is_v1:
        return params
    return _sample_v2(rng, ranges, params)


def _chance(rng: np.random.Generator, probability: float) -> bool:
    """One Bernoulli draw; no draw at all for probability 0 or 1."""
    if probability <= 0:
        return False
    return probability >= 1 or bool(rng.random() < probability)


def _sample_v2(rng: np.random.Generator, ranges: DegradationRanges, params: DarkJpegParams) -> DarkJpegParams:
    """Draw the v2 stages on top of the v1 draws in ``params`` (fixed order, one ``rng``)."""
    if _chance(rng, ranges.unchanged_probability):
        quality = params.quality if _chance(rng, ranges.unchanged_jpeg_probability) else None
        subsampling = "4:4:4" if _chance(rng, ranges.subsampling_444_probability) else ranges.subsampling
        return DarkJpegParams(1.0, (1.0, 1.0, 1.0), None, 0.0, quality, subsampling, extra={"unchanged": True})
    changes: dict = {}
    if _chance(rng, ranges.illumination_probability):
        count = int(rng.integers(ranges.light_pools[0], ranges.light_pools[1] + 1))
        changes["illumination_stops"] = float(rng.uniform(*ranges.illumination_stops))
        changes["light_pools"] = tuple((float(rng.uniform(0, 1)), float(rng.uniform(0, 1)),
                                        float(rng.uniform(0.1, 0.5)), _log_uniform(rng, 0.5, 20.0))
                                       for _ in range(count))
        changes["light_gradient"] = (float(rng.uniform(-1.5, 1.5)), float(rng.uniform(-1.5, 1.5)))
    if _chance(rng, ranges.light_source_probability):
        changes["light_source_fraction"] = float(rng.uniform(*ranges.light_source_fraction))
        changes["light_source_gain"] = _log_uniform(rng, *ranges.light_source_gain)
    if ranges.vignetting[1] > 0:
        changes["vignetting"] = float(rng.uniform(*ranges.vignetting))
    if ranges.bayer_noise:
        changes["bayer_noise"] = True
        changes["white_balance"] = (float(rng.uniform(*ranges.white_balance_red)), 1.0,
                                    float(rng.uniform(*ranges.white_balance_blue)))
    if _chance(rng, ranges.camera_denoise_probability):
        changes["camera_denoise_sigma"] = float(rng.uniform(*ranges.camera_denoise_sigma))
    if _chance(rng, ranges.sharpen_probability):
        changes["sharpen_amount"] = float(rng.uniform(*ranges.sharpen_amount))
    curves = tuple(ranges.tone_curves)
    changes["tone_curve"] = curves[int(rng.integers(len(curves)))] if len(curves) > 1 else curves[0]
    if changes["tone_curve"] != "srgb":
        changes["tone_strength"] = float(rng.uniform(*ranges.tone_strength))
    if ranges.camera_quality is not None:
        changes["camera_quality"] = int(rng.integers(ranges.camera_quality[0], ranges.camera_quality[1] + 1))
    if _chance(rng, ranges.resize_probability):
        changes["resize"] = float(rng.uniform(*ranges.resize))
    if _chance(rng, ranges.subsampling_444_probability):
        changes["subsampling"] = "4:4:4"
    return replace(params, **changes)


def darken(clean: np.ndarray, params: DarkJpegParams, rng: np.random.Generator) -> np.ndarray:
    """Dark, noisy, 8-bit-quantised sRGB image (H, W, 3) float32 before JPEG.

    ``clean`` is sRGB float (H, W, 3) in [0, 1]; noise is drawn from ``rng``. With any v2
    field of ``params`` set, this is :func:`mlsm.data.camera.capture` (light, sensor, ISP); the
    camera JPEG, the resize and the final JPEG are :func:`degrade`'s.
    """
    if _uses_v2_camera(params):
        return camera.capture(clean, params, rng)
    linear = srgb_to_linear(clean) * np.float32(params.exposure)
    linear = linear * np.asarray(params.colour_gains, dtype=np.float32)
    variance = np.full_like(linear, params.read_noise_std ** 2)
    if params.photons_at_white:
        variance += np.clip(linear, 0, None) / np.float32(params.photons_at_white)
    if float(variance.max()) > 0:
        linear = linear + rng.standard_normal(linear.shape, dtype=np.float32) * np.sqrt(variance)
    return quantize_8bit(linear_to_srgb(linear))


def _uses_v2_camera(params: DarkJpegParams) -> bool:
    return bool(params.illumination_stops or params.light_source_gain or params.vignetting or params.bayer_noise
                or params.camera_denoise_sigma or params.sharpen_amount or params.tone_curve != "srgb")


def compress(image: np.ndarray, quality: int, subsampling: str = "4:2:0") -> tuple[np.ndarray, int]:
    """JPEG-encode ``image`` at IJG ``quality`` with Pillow and decode it again.

    This is the paper's setting (IV-B) when ``image`` is a real dark photo.

    Returns:
        (decoded float32 (H, W, 3) in [0, 1], size of the JPEG file in bytes).
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    if subsampling not in ("4:2:0", "4:2:2", "4:4:4"):
        raise ValueError(f"subsampling must be 4:2:0, 4:2:2 or 4:4:4, got {subsampling!r}")
    data = encode_jpeg(to_uint8(np.asarray(image, dtype=np.float32)), int(quality), subsampling)
    with Image.open(io.BytesIO(data)) as decoded:
        out = to_float32(np.asarray(decoded.convert("RGB")))
    return out, len(data)


def degrade(clean: np.ndarray, params: DarkJpegParams, rng: np.random.Generator) -> np.ndarray:
    """Clean sRGB photo -> compressed dark photo (float32 (H, W, 3) in [0, 1]).

    ``params.quality = None`` skips the final JPEG step (dark and noisy only). With
    ``params.camera_quality`` the camera's own JPEG (4:2:0) comes first; with ``params.resize``
    < 1 the camera works at ``size / resize`` and its image is shrunk to the clean size before
    the final JPEG (output always has the clean photo's shape).
    """
    height, width = clean.shape[:2]
    resized = params.resize < 1.0
    if resized:
        big = (int(round(height / params.resize)), int(round(width / params.resize)))
        clean = np.clip(camera.resize_rgb(clean, big), 0.0, 1.0)
    dark = darken(clean, params, rng)
    if params.camera_quality is not None:
        dark = compress(dark, params.camera_quality, "4:2:0")[0]
    if resized:
        dark = np.clip(camera.resize_rgb(dark, (height, width)), 0.0, 1.0)
        if params.quality is None:
            dark = quantize_8bit(dark)
    if params.quality is None:
        return dark
    return compress(dark, params.quality, params.subsampling)[0]
