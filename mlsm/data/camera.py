"""Camera stages of degradation v2 (see :mod:`mlsm.data.degrade` for the whole pipeline).

Each function is one physical stage, deterministic given its concrete parameters (the random
draws happen in :func:`mlsm.data.degrade.sample_params`, except the sensor noise, drawn from
the ``numpy.random.Generator`` passed in)::

    scene light    illumination_field (smooth, spans S stops), vignette, light_source_mask
    sensor         bayer_noise: RGGB mosaic, shot + read noise in linear raw, bilinear demosaic
    capture        all of it for one DarkJpegParams (what degrade.darken calls for v2)
    ISP            tone_curve (sRGB / gamma / filmic S-curve), camera_denoise (chroma), sharpen
    resampling     resize_plane / resize_rgb (Pillow, antialiased when shrinking)

Images are float32 (H, W, 3); linear values are fractions of the sensor's full scale.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from mlsm.colour import linear_to_srgb, luma, srgb_to_linear
from mlsm.io.convert import quantize_8bit

__all__ = [
    "TONE_CURVES",
    "illumination_field",
    "vignette",
    "light_source_mask",
    "bayer_masks",
    "demosaic_bilinear",
    "bayer_noise",
    "tone_curve",
    "camera_denoise",
    "sharpen",
    "resize_rgb",
    "capture",
]

TONE_CURVES = ("srgb", "gamma", "filmic")

# The studio luma of mlsm.colour.luma as offset + weights . RGB, read off the one definition.
_LUMA_OFFSET = float(luma(np.zeros((2, 2, 3)), studio=True)[0, 0])
_LUMA_WEIGHTS = tuple(float(v) - _LUMA_OFFSET for v in luma(np.tile(np.eye(3)[None], (2, 1, 1)), studio=True)[0])
_LUMA_PER_GREY = sum(_LUMA_WEIGHTS)      # one unit added to R, G and B raises the luma by this


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in frame units: y in (0, 1) down, x in (0, 1) across."""
    return ((np.arange(height, dtype=np.float32) + 0.5) / height,
            (np.arange(width, dtype=np.float32) + 0.5) / width)


def illumination_field(shape: tuple[int, int], stops: float,
                       pools: tuple[tuple[float, float, float, float], ...] = (),
                       gradient: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Smooth relative illumination of the scene, (H, W) float32 in [2**-stops, 1].

    The light falling on the scene is the sum of a few Gaussian light pools (lamps, a window's
    patch of light) on a linear gradient (light from one side); its log2 is rescaled so the
    best-lit point gets 1 (the drawn exposure) and the darkest point ``stops`` stops less.

    Args:
        shape: (H, W) of the frame.
        stops: span of the field in photographic stops (log2 of brightest / darkest), >= 0.
        pools: (centre_y, centre_x, radius, strength) per pool, centre and radius in frame
            units (the frame is 1 x 1), strength relative to the gradient's.
        gradient: (per-frame rise along y, along x) of the ambient light, in units of its mean.
    """
    height, width = shape
    ys, xs = _grid(height, width)
    light = 1.0 + gradient[0] * (ys[:, None] - 0.5) + gradient[1] * (xs[None, :] - 0.5)
    for centre_y, centre_x, radius, strength in pools:       # separable Gaussians
        gy = np.exp(-0.5 * ((ys - centre_y) / radius) ** 2)
        gx = np.exp(-0.5 * ((xs - centre_x) / radius) ** 2)
        light = light + strength * gy[:, None] * gx[None, :]
    light = np.log2(np.maximum(light, 1e-3))
    span = float(light.max() - light.min())
    relative = (light - light.max()) / span if span > 0 else np.zeros_like(light)
    return np.exp2(np.float32(stops) * relative).astype(np.float32)


def vignette(shape: tuple[int, int], strength: float) -> np.ndarray:
    """Lens vignetting, (H, W) float32: 1 at the centre, ``1 - strength`` in the corners.

    A radial fall-off ``1 - strength * (r / r_corner)**4`` (close to the cos^4 law of a
    wide lens); ``strength`` in [0, 1) is the fraction of light lost in the corners.
    """
    height, width = shape
    ys, xs = _grid(height, width)
    radius_sq = ((ys[:, None] - 0.5) ** 2 + (xs[None, :] - 0.5) ** 2) / 0.5
    return (1.0 - np.float32(strength) * radius_sq ** 2).astype(np.float32)


def light_source_mask(linear: np.ndarray, fraction: float) -> np.ndarray:
    """Soft mask (H, W) in [0, 1] of the brightest ``fraction`` of the scene (lamps, windows, sky).

    The scene's brightest regions are its light sources and what they light directly; in a
    real dark photo they stay near (or above) normal exposure while the rest is dark. The mask
    rises from 0 at the ``(1 - 2 fraction)`` quantile of linear luminance to 1 at the
    ``(1 - fraction)`` quantile, then is blurred by one pixel so its edge is not a step.
    """
    luminance = linear @ np.asarray([0.2126, 0.7152, 0.0722], dtype=np.float32)
    flat = luminance.reshape(-1)
    count = flat.size
    low_index = min(count - 1, int((1.0 - 2.0 * fraction) * count))
    high_index = min(count - 1, int((1.0 - fraction) * count))
    parted = np.partition(flat, (low_index, high_index))
    low, high = float(parted[low_index]), float(parted[high_index])
    mask = np.clip((luminance - low) / max(high - low, 1e-6), 0.0, 1.0)
    return ndimage.gaussian_filter(mask, 1.0, mode="nearest").astype(np.float32)


def bayer_masks(shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 0/1 masks of an RGGB colour-filter array (R at (0, 0), B at (1, 1))."""
    height, width = shape
    masks = np.zeros((height, width, 3), dtype=np.float32)
    masks[0::2, 0::2, 0] = 1.0
    masks[0::2, 1::2, 1] = 1.0
    masks[1::2, 0::2, 1] = 1.0
    masks[1::2, 1::2, 2] = 1.0
    return masks


_TAPS_RB = np.asarray([0.5, 1.0, 0.5], dtype=np.float32)       # [1 2 1]/4 (x) [1 2 1]/4 x 4


def demosaic_bilinear(mosaic: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of an RGGB mosaic (H, W) -> (H, W, 3) float32.

    Each missing colour is the mean of its nearest samples of that colour (2 or 4 neighbours;
    kernels [[1,2,1],[2,4,2],[1,2,1]]/4 for red and blue, [[0,1,0],[1,4,1],[0,1,0]]/4 for
    green), so noise of one photosite spreads to its neighbours: the spatially correlated
    noise of real camera output (its cross-channel correlation comes from
    :func:`camera_denoise`). Mirror padding keeps the RGGB phase at the borders.
    """
    mosaic = np.asarray(mosaic, dtype=np.float32)
    out = np.zeros(mosaic.shape + (3,), dtype=np.float32)
    out[0::2, 0::2, 0] = mosaic[0::2, 0::2]
    out[0::2, 1::2, 1] = mosaic[0::2, 1::2]
    out[1::2, 0::2, 1] = mosaic[1::2, 0::2]
    out[1::2, 1::2, 2] = mosaic[1::2, 1::2]
    for channel in (0, 2):
        plane = ndimage.correlate1d(out[..., channel], _TAPS_RB, axis=0, mode="mirror")
        out[..., channel] = ndimage.correlate1d(plane, _TAPS_RB, axis=1, mode="mirror")
    padded = np.pad(out[..., 1], 1, mode="reflect")                    # numpy reflect = scipy mirror
    out[..., 1] += 0.25 * (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:])
    return out


def bayer_noise(linear: np.ndarray, white_balance: tuple[float, float, float], photons_at_white: float | None,
                read_noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor and demosaicing: linear RGB (H, W, 3) -> noisy, demosaiced, white-balanced RGB.

    ``linear / white_balance`` is the raw signal of each colour filter (a sensor sees less red
    and blue than green under daylight); it saturates at full well (clip to [0, 1], where light
    sources clip), is sampled on an RGGB mosaic, gets heteroscedastic Gaussian noise of
    variance ``raw / photons_at_white + read_noise_std**2`` per photosite, is demosaiced
    (:func:`demosaic_bilinear`), then multiplied by the white-balance gains, which amplify the
    red and blue noise as in a camera. Output is clipped to [0, 1].
    """
    gains = np.asarray(white_balance, dtype=np.float32)
    raw = np.clip(linear / gains, 0.0, 1.0)
    mosaic = np.empty(raw.shape[:2], dtype=np.float32)
    mosaic[0::2, 0::2] = raw[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = raw[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = raw[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = raw[1::2, 1::2, 2]
    variance = np.float32(read_noise_std ** 2) + (mosaic / np.float32(photons_at_white) if photons_at_white else 0.0)
    if np.any(variance > 0):
        mosaic = mosaic + rng.standard_normal(mosaic.shape, dtype=np.float32) * np.sqrt(variance)
    return np.clip(demosaic_bilinear(mosaic.astype(np.float32)) * gains, 0.0, 1.0)


def tone_curve(linear: np.ndarray, name: str = "srgb", strength: float = 0.0) -> np.ndarray:
    """Camera tone curve: linear [0, 1] -> encoded [0, 1] float32.

    * ``"srgb"``: the sRGB transfer function (:func:`mlsm.colour.linear_to_srgb`);
      ``strength`` unused.
    * ``"gamma"``: a pure power law ``x ** (1 / gamma)`` with gamma = 1.8 + 0.8 strength
      (1.8-2.6: flatter or steeper shadows than sRGB).
    * ``"filmic"``: sRGB followed by a contrast S-curve, ``y + strength (smoothstep(y) - y)``
      (strength in [0, 1]: deeper shadows and a highlight shoulder, a camera's "vivid" look).
    """
    linear = np.clip(linear, 0.0, 1.0)
    if name == "srgb":
        return linear_to_srgb(linear)
    if name == "gamma":
        return (linear ** np.float32(1.0 / (1.8 + 0.8 * strength))).astype(np.float32)
    if name == "filmic":
        encoded = linear_to_srgb(linear)
        s_curve = encoded * encoded * (3.0 - 2.0 * encoded)
        return (encoded + np.float32(strength) * (s_curve - encoded)).astype(np.float32)
    raise ValueError(f"tone curve must be one of {', '.join(TONE_CURVES)}, got {name!r}")


def _add_luma(image: np.ndarray, delta_luma: np.ndarray) -> np.ndarray:
    """Add a luma change (in studio luma units, :func:`mlsm.colour.luma`) to all three channels equally."""
    return image + (delta_luma / _LUMA_PER_GREY).astype(np.float32)[..., None]


def camera_denoise(encoded: np.ndarray, sigma: float) -> np.ndarray:
    """In-camera chroma noise reduction on an encoded image (H, W, 3) in [0, 1].

    The colour differences R - G and B - G are blurred with a Gaussian of ``sigma`` pixels
    (0.5-2 typical) and the image rebuilt with its own luma (:func:`mlsm.colour.luma`, studio):
    colour noise is smoothed, luminance detail and luminance noise are kept. ``sigma = 0`` is a
    no-op.
    """
    if sigma <= 0:
        return encoded
    red_green = ndimage.gaussian_filter(encoded[..., 0] - encoded[..., 1], sigma, mode="nearest", truncate=3.0)
    blue_green = ndimage.gaussian_filter(encoded[..., 2] - encoded[..., 1], sigma, mode="nearest", truncate=3.0)
    weight_r, weight_g, weight_b = _LUMA_WEIGHTS
    luma_y = (luma(encoded, studio=True) - _LUMA_OFFSET).astype(np.float32)
    green = (luma_y - weight_r * red_green - weight_b * blue_green) / np.float32(weight_r + weight_g + weight_b)
    return np.clip(np.stack([green + red_green, green, green + blue_green], axis=-1), 0.0, 1.0)


def sharpen(encoded: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """In-camera unsharp mask on luma: ``Y + amount (Y - blur_sigma(Y))`` added to R, G, B.

    ``amount`` in [0, ~1.5] (0 = off) scales the luma high-pass; it also sharpens the noise,
    as camera sharpening does. Output clipped to [0, 1].
    """
    if amount <= 0:
        return encoded
    luma_y = luma(encoded, studio=True)
    detail = luma_y - ndimage.gaussian_filter(luma_y, sigma, mode="nearest", truncate=3.0)
    return np.clip(_add_luma(encoded, amount * detail), 0.0, 1.0)


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float (H, W, 3) image to ``size`` = (height, width) with Pillow.

    Bicubic, antialiased when shrinking (Pillow widens the kernel by the scale factor), per
    channel in 32-bit float, so no 8-bit rounding happens here.
    """
    height, width = size
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F")
                         .resize((width, height), Image.BICUBIC)) for c in range(3)]
    return np.stack(planes, axis=-1).astype(np.float32)


def capture(clean: np.ndarray, params, rng: np.random.Generator) -> np.ndarray:
    """Degradation v2's camera: clean sRGB (H, W, 3) in [0, 1] -> dark 8-bit-quantised sRGB.

    Scene light (exposure x illumination field, light sources, vignetting, colour cast), the
    sensor (:func:`bayer_noise`, or v1's independent noise when ``params.bayer_noise`` is
    off), then the ISP (:func:`tone_curve`, :func:`camera_denoise`, :func:`sharpen`), rounded
    to 8 bits. Only the sensor noise is drawn from ``rng``. ``params`` is a
    :class:`mlsm.data.degrade.DarkJpegParams` (not imported here: degrade imports this module).
    """
    linear = srgb_to_linear(clean)
    shape = linear.shape[:2]
    gain = np.full(shape, np.float32(params.exposure), dtype=np.float32)
    if params.illumination_stops:
        gain = gain * illumination_field(shape, params.illumination_stops, params.light_pools, params.light_gradient)
    if params.light_source_gain:
        mask = light_source_mask(linear, params.light_source_fraction)
        gain = gain + mask * (np.float32(params.light_source_gain) - gain)
    if params.vignetting:
        gain = gain * vignette(shape, params.vignetting)
    linear = linear * gain[..., None] * np.asarray(params.colour_gains, dtype=np.float32)
    if params.bayer_noise:
        linear = bayer_noise(linear, params.white_balance, params.photons_at_white, params.read_noise_std, rng)
    else:
        variance = np.float32(params.read_noise_std ** 2) + (
            np.clip(linear, 0, None) / np.float32(params.photons_at_white) if params.photons_at_white else 0.0)
        if np.any(variance > 0):
            linear = linear + rng.standard_normal(linear.shape, dtype=np.float32) * np.sqrt(variance)
    encoded = tone_curve(linear, params.tone_curve, params.tone_strength)
    encoded = camera_denoise(encoded, params.camera_denoise_sigma)
    encoded = sharpen(encoded, params.sharpen_amount)
    return quantize_8bit(encoded)
