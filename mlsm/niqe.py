"""NIQE, the "completely blind" natural image quality evaluator (no reference; lower is better).

Mittal, Soundararajan and Bovik, *Making a "Completely Blind" Image Quality Analyzer*, IEEE
Signal Processing Letters 20(3), 2013. Written here from the paper and checked against the
authors' MATLAB release (``baboon.png`` scores 5.729576; MATLAB R2021a gives 5.729573)::

    RGB -> Y (BT.601, MATLAB rgb2ycbcr, 0-255) -> round -> crop to whole 96x96 blocks
      for scale in (1, 1/2):                            (1/2: MATLAB imresize, bicubic, antialiased)
        MSCN  I^ = (I - mu) / (sigma + 1)               (eq. 1-3; 7x7 Gaussian window)
        per block (96 * scale px):
          AGGD fit of I^            -> shape, (beta_l + beta_r) / 2           2 features
          AGGD fit of I^ * shift(I^) for shifts (0,1) (1,0) (1,1) (1,-1)
                                    -> shape, mean (eq. 6), beta_l, beta_r    4 x 4 features
    36 features per block -> MVG (nu_d, Sigma_d): NaN-aware mean, covariance of complete rows
    NIQE = sqrt((nu_p - nu_d)^T ((Sigma_p + Sigma_d) / 2)^+ (nu_p - nu_d))         (eq. 10)

The pristine model (nu_p, Sigma_p and the window) is the authors' ``modelparameters.mat`` as
re-saved by BasicSR (Apache-2.0); it ships as ``mlsm/assets/niqe_pris_params.npz``.

Notes on matching the release: the first fit of each block uses the *asymmetric* estimator
and reports the mean of its two scales (the paper's symmetric GGD, eq. 4, when the MSCN
histogram is symmetric), as the MATLAB ``computefeature.m`` does; the neighbour products use
a circular shift inside the block (MATLAB ``circshift``); the shape is the grid point of
0.2:0.001:10 whose moment ratio is closest to the sample's. A block without negative (or
positive) values has NaN scales and takes the first grid shape, 0.2, as MATLAB's ``min``
over all-NaN values returns index 1.

Precision: the MSCN coefficients are computed in single precision (float32), as BasicSR's
port does. The score is sensitive at the 1e-4 level to this: a shape estimate can move by
one grid step and the distorted covariance is nearly singular. In float32 ``baboon.png``
scores 5.7295756 (MATLAB R2021a 5.72957338, BasicSR 5.7295763); in float64 5.72996.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import correlate
from scipy.special import gamma as gamma_function

from mlsm.metrics import rgb_to_y

__all__ = ["NIQE_BLOCK", "DEFAULT_PARAMS", "NiqeParamsError", "PristineModel", "load_pristine_model",
           "imresize_half", "mscn", "aggd_fit", "niqe_features", "niqe"]

NIQE_BLOCK = 96
DEFAULT_PARAMS = Path(__file__).resolve().parent / "assets" / "niqe_pris_params.npz"
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
_SHAPES = np.arange(0.2, 10.001, 0.001)  # 0.2:0.001:10 as MATLAB builds it (9801 values)
_RATIO = gamma_function(2 / _SHAPES) ** 2 / (gamma_function(1 / _SHAPES) * gamma_function(3 / _SHAPES))
assert np.all(np.diff(_RATIO) > 0), "the AGGD moment ratio must increase with the shape"


class NiqeParamsError(FileNotFoundError):
    """The pristine-model file is missing or lacks the expected arrays."""


class PristineModel:
    """The pristine MVG: ``mean`` (36,), ``cov`` (36, 36) and the 7x7 ``window``."""

    def __init__(self, mean: np.ndarray, cov: np.ndarray, window: np.ndarray):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.cov = np.asarray(cov, dtype=np.float64)
        self.window = np.asarray(window, dtype=np.float64)
        if self.mean.shape != (36,) or self.cov.shape != (36, 36) or self.window.ndim != 2:
            raise NiqeParamsError(f"pristine model: expected mean (36,), cov (36, 36) and a 2-D window, got "
                                  f"{self.mean.shape}, {self.cov.shape}, {self.window.shape}")


_CACHE: dict[str, PristineModel] = {}


def load_pristine_model(path: str | Path | None = None) -> PristineModel:
    """Read ``mu_pris_param``, ``cov_pris_param`` and ``gaussian_window`` from an ``.npz``.

    Args:
        path: the file; None: :data:`DEFAULT_PARAMS` (shipped with mlsm).

    Raises:
        NiqeParamsError: the file is missing or lacks one of the three arrays.
    """
    path = Path(path) if path is not None else DEFAULT_PARAMS
    key = str(path.resolve())
    if key in _CACHE:
        return _CACHE[key]
    if not path.is_file():
        raise NiqeParamsError(f"NIQE pristine model not found: {path} (the BasicSR niqe_pris_params.npz; "
                              f"mlsm ships it as {DEFAULT_PARAMS})")
    with np.load(path) as data:
        missing = {"mu_pris_param", "cov_pris_param", "gaussian_window"} - set(data.files)
        if missing:
            raise NiqeParamsError(f"{path}: missing array(s) {', '.join(sorted(missing))}")
        model = PristineModel(data["mu_pris_param"], data["cov_pris_param"], data["gaussian_window"])
    _CACHE[key] = model
    return model


# ----------------------------------------------------------------------------- resize

def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB ``imresize`` 'bicubic')."""
    ax = np.abs(x)
    ax2, ax3 = ax ** 2, ax ** 3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _resize_matrix(in_length: int, scale: float) -> np.ndarray:
    """(out, in) weights of MATLAB ``imresize`` along one axis, bicubic, antialiased for scale < 1.

    As MATLAB's ``contributions``: output pixel x (1-based) sits at u = x / s + (1 - 1/s) / 2
    in the input; the kernel is stretched to s * cubic(s * d) (width 4 / s) when s < 1;
    weights are normalised per output pixel and taps outside the image are mirrored
    (symmetric padding: ..., 2, 1, 1, 2, ..., n, n, n-1, ...).
    """
    out_length = int(np.ceil(in_length * scale))
    width = 4.0 / scale if scale < 1 else 4.0
    u = np.arange(1, out_length + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(np.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    distance = u[:, None] - indices
    weights = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    columns = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.repeat(np.arange(out_length), taps), columns.reshape(-1)), weights.reshape(-1))
    return matrix


def imresize_half(plane: np.ndarray) -> np.ndarray:
    """``imresize(plane, 0.5)`` of MATLAB (bicubic, antialiasing on) for a float (H, W) plane.

    A constant plane stays constant, and a 4x4 checkerboard of period 2 (the Nyquist
    frequency) is averaged away by the antialiasing filter:

    >>> import numpy as np
    >>> bool(np.allclose(imresize_half(np.full((6, 8), 3.0)), 3.0))
    True
    >>> bool(np.allclose(imresize_half(np.indices((8, 8)).sum(0) % 2 * 1.0), 0.5, atol=0.04))
    True
    """
    plane = np.asarray(plane, dtype=np.float64)
    rows = _resize_matrix(plane.shape[0], 0.5)
    columns = _resize_matrix(plane.shape[1], 0.5)
    return rows @ plane @ columns.T


# ----------------------------------------------------------------------------- features

def mscn(plane: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients (I - mu) / (sigma + 1) (paper eq. 1-3).

    ``mu`` and ``sigma`` are the local mean and deviation under ``window`` with
    nearest-neighbour borders (as MATLAB ``imfilter(..., 'replicate')``), computed in the
    precision of ``plane`` (float32 planes give float32 coefficients).
    """
    mu = correlate(plane, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(plane * plane, window, mode="nearest") - mu * mu))
    return (plane - mu) / (sigma + 1)


def aggd_fit(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric generalised Gaussian fit of each row of ``samples`` (N, M), by moment matching.

    Lasmar, Stitou and Berthoumieu (ICIP 2009), as used by BRISQUE/NIQE: with sigma_l, sigma_r
    the RMS of the negative and positive samples, g = sigma_l / sigma_r and
    r = mean(|x|)^2 / mean(x^2), the shape alpha is the grid value (0.2:0.001:10) whose
    Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)) is closest to r (g^3 + 1)(g + 1) / (g^2 + 1)^2;
    beta_{l,r} = sigma_{l,r} sqrt(Gamma(1/a) / Gamma(3/a)).

    Returns:
        (alpha, beta_left, beta_right), each (N,).

    Gaussian samples (shape 2) give alpha near 2 and equal scales near sigma * sqrt(2):

    >>> import numpy as np
    >>> alpha, left, right = aggd_fit(np.random.default_rng(0).normal(0, 1, (1, 200000)))
    >>> round(float(alpha[0]), 1), round(float(left[0]), 1), round(float(right[0]), 1)
    (2.0, 1.4, 1.4)
    """
    x = np.asarray(samples, dtype=np.float64)
    squares = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt((squares * (x < 0)).sum(axis=1) / (x < 0).sum(axis=1))
        right_std = np.sqrt((squares * (x > 0)).sum(axis=1) / (x > 0).sum(axis=1))
        g = left_std / right_std
        r = np.abs(x).mean(axis=1) ** 2 / squares.mean(axis=1)
        target = r * (g ** 3 + 1) * (g + 1) / (g ** 2 + 1) ** 2
    # nearest grid point of the increasing ratio (first one on a tie, as argmin); NaN -> index 0
    upper = np.clip(np.searchsorted(_RATIO, np.nan_to_num(target, nan=-np.inf)), 1, len(_RATIO) - 1)
    lower = upper - 1
    index = np.where(np.abs(target - _RATIO[lower]) <= np.abs(_RATIO[upper] - target), lower, upper)
    index = np.where(np.isfinite(target), index, 0)
    alpha = _SHAPES[index]
    factor = np.sqrt(gamma_function(1 / alpha) / gamma_function(3 / alpha))
    return alpha, left_std * factor, right_std * factor


def _blocks(plane: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size) non-overlapping blocks of an (h * size, w * size) plane."""
    rows, columns = plane.shape[0] // size, plane.shape[1] // size
    return plane.reshape(rows, size, columns, size).transpose(0, 2, 1, 3).reshape(-1, size, size)


def _block_features(coefficients: np.ndarray, size: int) -> np.ndarray:
    """(N, 18) features of the MSCN blocks of one scale (see the module docstring)."""
    blocks = _blocks(coefficients, size)
    flat = blocks.reshape(len(blocks), -1)
    alpha, left, right = aggd_fit(flat)
    features = [alpha, (left + right) / 2]
    for shift in _SHIFTS:
        product = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(len(blocks), -1)
        alpha, left, right = aggd_fit(product)
        mean = (right - left) * gamma_function(2 / alpha) / gamma_function(1 / alpha)
        features += [alpha, mean, left, right]
    return np.stack(features, axis=1)


def niqe_features(luma: np.ndarray, window: np.ndarray, block: int = NIQE_BLOCK) -> np.ndarray:
    """(N_blocks, 36) NIQE features of a 0-255 luma plane (already rounded and cropped).

    The plane's sides must be multiples of ``block`` (at least one block each).
    """
    plane = np.asarray(luma, dtype=np.float64)
    if plane.ndim != 2 or plane.shape[0] % block or plane.shape[1] % block or min(plane.shape) < block:
        raise ValueError(f"niqe_features: need an (H, W) plane with sides multiples of {block}, got {plane.shape}")
    # MSCN in single precision, as the references compute it (see the module docstring)
    fine = _block_features(mscn(plane.astype(np.float32), window), block)
    coarse = _block_features(mscn((imresize_half(plane / 255.0) * 255.0).astype(np.float32), window), block // 2)
    return np.concatenate([fine, coarse], axis=1)


def niqe(image: np.ndarray, params: str | Path | PristineModel | None = None, data_range: float = 1.0,
         crop_border: int = 0) -> float:
    """NIQE score of one image (Mittal et al. 2013, eq. 10); lower is better.

    Args:
        image: (H, W, 3) RGB or (H, W) grey in [0, data_range], at least 96x96 after the crop.
            RGB is turned into MATLAB ``rgb2ycbcr`` luma (:func:`mlsm.metrics.rgb_to_y`); a grey
            image is taken as that luma already. Either is scaled to 0-255 and rounded.
        params: the pristine model, a path to its ``.npz``, or None for the shipped one.
        data_range: the value of full white (1.0 for float images, 255 for uint8).
        crop_border: pixels removed on every side before scoring.

    Raises:
        ValueError: the image is too small for one 96x96 block or not (H, W[, 3]).
        NiqeParamsError: the pristine-model file is missing.

    Returns:
        the score; ``nan`` for an image without texture (a flat or linear image, whose MSCN
        coefficients are all zero).

    Uniform white noise is far from natural-scene statistics and scores badly:

    >>> import numpy as np
    >>> round(niqe(np.random.default_rng(0).random((192, 192))), 2)
    76.39
    """
    model = params if isinstance(params, PristineModel) else load_pristine_model(params)
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3 and array.shape[2] == 3:
        luma = rgb_to_y(array, data_range) * (255.0 / data_range)
    elif array.ndim == 2:
        luma = array * (255.0 / data_range)
    else:
        raise ValueError(f"niqe: expected an (H, W, 3) or (H, W) image, got shape {array.shape}")
    luma = np.round(luma)
    if crop_border:
        luma = luma[crop_border:-crop_border, crop_border:-crop_border]
    rows, columns = luma.shape[0] // NIQE_BLOCK, luma.shape[1] // NIQE_BLOCK
    if rows < 1 or columns < 1:
        raise ValueError(f"niqe: the image ({luma.shape[0]}x{luma.shape[1]} after cropping) is smaller "
                         f"than one {NIQE_BLOCK}x{NIQE_BLOCK} block")
    features = niqe_features(luma[:rows * NIQE_BLOCK, :columns * NIQE_BLOCK], model.window)
    if np.isnan(features).all(axis=0).any():
        return float("nan")
    mean = np.nanmean(features, axis=0)
    complete = features[~np.isnan(features).any(axis=1)]
    cov = np.cov(complete, rowvar=False) if len(complete) > 1 else np.zeros((36, 36))
    difference = model.mean - mean
    distance = difference @ np.linalg.pinv((model.cov + cov) / 2) @ difference
    return float(np.sqrt(distance))
