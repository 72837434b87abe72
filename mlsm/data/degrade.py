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

Every random choice is drawn from a ``numpy.random.Generator`` the caller passes, so one
seed gives the same input bit for bit. :func:`compress` is the paper's own setting (IV-B):
JPEG-compress an existing (real) dark image at a given QF.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

__all__ = [
    "DegradationRanges",
    "DarkJpegParams",
    "srgb_to_linear",
    "linear_to_srgb",
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
    """

    exposure: tuple[float, float] = (0.03, 0.3)
    colour_cast: float = 0.1
    photons_at_white: tuple[float, float] | None = (2000.0, 20000.0)
    read_noise_std: tuple[float, float] = (0.0005, 0.003)
    quality: tuple[int, int] = (60, 95)
    subsampling: str = "4:2:0"


@dataclass(frozen=True)
class DarkJpegParams:
    """One concrete degradation (see :class:`DegradationRanges` for each field's meaning)."""

    exposure: float
    colour_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    photons_at_white: float | None = None
    read_noise_std: float = 0.0
    quality: int | None = 90
    subsampling: str = "4:2:0"
    extra: dict = field(default_factory=dict, compare=False)


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function (IEC 61966-2-1), [0, 1] -> linear [0, 1]."""
    image = np.asarray(image, dtype=np.float32)
    return np.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """sRGB transfer function (IEC 61966-2-1), linear [0, 1] -> [0, 1]."""
    linear = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


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
    return DarkJpegParams(exposure, gains, photons, read_std, quality, ranges.subsampling)


def darken(clean: np.ndarray, params: DarkJpegParams, rng: np.random.Generator) -> np.ndarray:
    """Dark, noisy, 8-bit-quantised sRGB image (H, W, 3) float32 before JPEG.

    ``clean`` is sRGB float (H, W, 3) in [0, 1]; noise is drawn from ``rng``.
    """
    linear = srgb_to_linear(clean) * np.float32(params.exposure)
    linear = linear * np.asarray(params.colour_gains, dtype=np.float32)
    variance = np.full_like(linear, params.read_noise_std ** 2)
    if params.photons_at_white:
        variance += np.clip(linear, 0, None) / np.float32(params.photons_at_white)
    if float(variance.max()) > 0:
        linear = linear + rng.standard_normal(linear.shape, dtype=np.float32) * np.sqrt(variance)
    srgb = linear_to_srgb(linear)
    return np.round(srgb * 255.0).astype(np.float32) / 255.0


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
    pixels = np.clip(np.round(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=int(quality), subsampling=subsampling)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as decoded:
        out = np.asarray(decoded.convert("RGB"), dtype=np.float32) / 255.0
    return out, len(data)


def degrade(clean: np.ndarray, params: DarkJpegParams, rng: np.random.Generator) -> np.ndarray:
    """Clean sRGB photo -> compressed dark photo (float32 (H, W, 3) in [0, 1]).

    ``params.quality = None`` skips the JPEG step (dark and noisy only).
    """
    dark = darken(clean, params, rng)
    if params.quality is None:
        return dark
    return compress(dark, params.quality, params.subsampling)[0]
