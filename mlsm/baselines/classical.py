"""Classical (training-free) enhancement baselines: identity, gamma, HE and CLAHE.

Every class here is a :class:`mlsm.baselines.base.Method`: ``method(image) -> image`` on
float32 RGB arrays (H, W, 3) in [0, 1], returning the same shape, float32, in [0, 1].
They are deterministic, vectorised (numpy / scikit-image) and accept any size, 1x1 included.

* :class:`Identity` returns the input: the "do nothing" row of a comparison table.
* :class:`GammaCorrection` maps ``x -> x ** gamma`` per channel; ``gamma="auto"`` picks the
  gamma that sends the mean intensity to 0.5.
* :class:`HistogramEqualization` equalises the V channel of HSV (hue and saturation kept).
* :class:`CLAHE` runs contrast-limited adaptive histogram equalisation (Zuiderveld,
  Graphics Gems IV, 1994) on the lightness L* of CIE Lab (a*, b* kept).

Constant images (all black, all white, 1x1) have no histogram to equalise: HE and CLAHE
return them unchanged instead of scikit-image's arbitrary mapping of a single grey level.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from skimage import color, exposure

__all__ = [
    "InvalidImageError",
    "validate_image",
    "Identity",
    "GammaCorrection",
    "HistogramEqualization",
    "CLAHE",
]

_RANGE_TOLERANCE = 1e-4
_FLAT_SPREAD = 1e-6  # a channel whose max - min is below this is treated as constant


class InvalidImageError(ValueError):
    """An input is not a float RGB array (H, W, 3) with finite values in [0, 1]."""


def validate_image(image: np.ndarray, argument: str = "image") -> np.ndarray:
    """Check a method's input and return it as a contiguous float32 array clipped to [0, 1].

    Raises:
        InvalidImageError: not an ndarray, not (H, W, 3) with H, W >= 1, an integer dtype
            (convert uint8 with ``image / 255`` first), a NaN/inf, or a value outside [0, 1]
            by more than 1e-4.
    """
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"{argument}: expected a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidImageError(f"{argument}: expected shape (H, W, 3), got {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise InvalidImageError(
            f"{argument}: expected a float array in [0, 1], got dtype {image.dtype}")
    if not np.all(np.isfinite(image)):
        raise InvalidImageError(f"{argument}: contains NaN or infinite values")
    low, high = float(image.min()), float(image.max())
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise InvalidImageError(f"{argument}: values must lie in [0, 1], got [{low:.4g}, {high:.4g}]")
    return np.clip(np.ascontiguousarray(image, dtype=np.float32), 0.0, 1.0)


def _finish(image: np.ndarray) -> np.ndarray:
    """float32, clipped to [0, 1], contiguous: the common output contract."""
    return np.clip(np.ascontiguousarray(image, dtype=np.float32), 0.0, 1.0)


def _is_flat(channel: np.ndarray) -> bool:
    return float(channel.max() - channel.min()) < _FLAT_SPREAD


class Identity:
    """The "do nothing" baseline: returns (a float32 copy of) the input."""

    name = "identity"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return validate_image(image).copy()


class GammaCorrection:
    """Power-law brightening ``out = image ** gamma`` applied to each RGB channel.

    Args:
        gamma: exponent > 0 (values < 1 brighten), default 1/2.2; or ``"auto"``: the mean
            intensity ``m`` of the image (mean over pixels and channels) is sent to 0.5,
            ``gamma = ln(0.5) / ln(m)``, with ``m`` clipped to [1e-3, 1 - 1e-3] and the result
            clipped to [0.1, 10] so black and white images stay black and white.
    """

    name = "gamma"
    AUTO_GAMMA_RANGE = (0.1, 10.0)
    AUTO_MEAN_RANGE = (1e-3, 1.0 - 1e-3)

    def __init__(self, gamma: float | str = 1 / 2.2):
        if isinstance(gamma, str):
            if gamma != "auto":
                raise ValueError(f"gamma: expected a positive number or 'auto', got {gamma!r}")
        elif not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma > 0):
            raise ValueError(f"gamma: expected a positive finite number or 'auto', got {gamma!r}")
        self.gamma = gamma

    def gamma_for(self, image: np.ndarray) -> float:
        """The exponent used on ``image`` (the fixed one, or the automatic choice)."""
        if self.gamma != "auto":
            return float(self.gamma)
        mean = float(np.clip(image.mean(), *self.AUTO_MEAN_RANGE))
        return float(np.clip(math.log(0.5) / math.log(mean), *self.AUTO_GAMMA_RANGE))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_image(image)
        return _finish(np.power(image, self.gamma_for(image)))


class HistogramEqualization:
    """Global histogram equalisation of the HSV value channel ``V = max(R, G, B)``.

    Equalising V (``skimage.exposure.equalize_hist``, 256 bins) and converting back keeps
    each pixel's hue and saturation; equalising R, G, B separately would shift colours.
    An image whose V is constant is returned unchanged.
    """

    name = "he"

    def __init__(self, nbins: int = 256):
        if nbins < 2:
            raise ValueError(f"nbins: expected >= 2, got {nbins}")
        self.nbins = nbins

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_image(image)
        hsv = color.rgb2hsv(image)
        value = hsv[..., 2]
        if _is_flat(value):
            return image.copy()
        hsv[..., 2] = exposure.equalize_hist(value, nbins=self.nbins)
        return _finish(color.hsv2rgb(hsv))


class CLAHE:
    """Contrast-limited adaptive histogram equalisation of the CIE Lab lightness L*.

    Uses ``skimage.exposure.equalize_adapthist`` on ``L* / 100`` and keeps a*, b*; note that
    scikit-image first stretches L* to its full range and rescales the result to [0, 1].
    An image whose L* is constant is returned unchanged. Colours that leave the sRGB gamut
    on the way back (``skimage.color.lab2rgb``) are clipped.

    Args:
        clip_limit: normalised clip limit in (0, 1]; higher gives more contrast.
        kernel_size: side of the contextual regions in pixels; ``None`` uses 1/8 of the
            height and width (scikit-image's default).
    """

    name = "clahe"

    def __init__(self, clip_limit: float = 0.01, kernel_size: int | tuple[int, int] | None = None,
                 nbins: int = 256):
        if not 0 < clip_limit <= 1:
            raise ValueError(f"clip_limit: expected a value in (0, 1], got {clip_limit}")
        if kernel_size is not None and np.any(np.asarray(kernel_size) < 1):
            raise ValueError(f"kernel_size: expected positive sizes or None, got {kernel_size}")
        self.clip_limit = clip_limit
        self.kernel_size = kernel_size
        self.nbins = nbins

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_image(image)
        lab = color.rgb2lab(image)
        lightness = np.clip(lab[..., 0] / 100.0, 0.0, 1.0)
        if _is_flat(lightness):
            return image.copy()
        lab[..., 0] = 100.0 * exposure.equalize_adapthist(
            lightness, kernel_size=self.kernel_size, clip_limit=self.clip_limit, nbins=self.nbins)
        with warnings.catch_warnings():
            # lab2rgb warns when out-of-gamut colours give negative XYZ; they are clipped.
            warnings.simplefilter("ignore", UserWarning)
            rgb = color.lab2rgb(lab)
        return _finish(rgb)
