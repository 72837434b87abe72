"""Full-reference quality metrics used in the paper's tables: PSNR, SSIM and PSNR-B.

Zeng et al. (Sec. IV-A) report PSNR, SSIM and PSNR-B [Yim & Bovik 2011] of enhanced images
against normal-light references. Every function here takes the *restored* (test) image first
and the *reference* second; the order matters for PSNR-B, whose blocking term is measured on
the restored image only.

Inputs are float arrays (H, W, 3) RGB or (H, W) grey with values in ``[0, data_range]``;
everything is computed in float64. Bad input raises :class:`MetricInputError` (a
``ValueError``) with a one-line message naming the argument.

Channel conventions (the ``channel`` argument):

* ``"rgb"``: the metric is taken over the three RGB channels (PSNR: one MSE over all pixels
  and channels; SSIM: the mean of the per-channel SSIMs; PSNR-B: per-channel MSE-B averaged).
* ``"y"``: the metric is taken on BT.601 luma, :func:`rgb_to_y` (MATLAB ``rgb2ycbcr``).
* A grey (H, W) input is its own single channel; ``channel`` then makes no difference.

:func:`compute_metrics` fixes the convention used in mlsm's evaluation tables: PSNR and SSIM
on RGB (the paper's colour results), PSNR-B on Y (the usual deblocking convention), plus
PSNR and SSIM on Y for comparison with Y-only papers.
"""
from __future__ import annotations

import math
from typing import Literal, Mapping, Sequence

import numpy as np
from scipy import ndimage

from mlsm.colour import luma

__all__ = [
    "MetricInputError",
    "rgb_to_y",
    "psnr",
    "ssim",
    "blocking_effect_factor",
    "psnr_b",
    "block_edge_ratio",
    "colourfulness",
    "compute_metrics",
    "average",
]

Channel = Literal["rgb", "y"]

# SSIM constants of Wang et al. 2004 and scikit-image's Gaussian window truncation.
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5


class MetricInputError(ValueError):
    """An image or argument passed to a metric is unusable (shape, ndim, NaN/inf, range)."""


# ----------------------------------------------------------------------------- validation

def _as_image(image: np.ndarray, name: str) -> np.ndarray:
    """``image`` as a finite float64 (H, W) or (H, W, 3) array, else :class:`MetricInputError`."""
    try:
        array = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MetricInputError(f"{name}: cannot be read as a float array ({error})") from None
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise MetricInputError(
            f"{name}: expected shape (H, W) or (H, W, 3), got {tuple(array.shape)}")
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise MetricInputError(f"{name}: image must be at least 2x2, got {tuple(array.shape)}")
    if not np.all(np.isfinite(array)):
        raise MetricInputError(f"{name}: contains NaN or infinite values")
    return array


def _as_pair(restored: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    restored_array = _as_image(restored, "restored")
    reference_array = _as_image(reference, "reference")
    if restored_array.shape != reference_array.shape:
        raise MetricInputError(
            f"restored and reference shapes differ: {restored_array.shape} vs {reference_array.shape}")
    return restored_array, reference_array


def _check_data_range(data_range: float) -> float:
    value = float(data_range)
    if not math.isfinite(value) or value <= 0:
        raise MetricInputError(f"data_range: must be a positive finite number, got {data_range!r}")
    return value


def _check_border(border: int, shape: tuple[int, ...]) -> int:
    if int(border) != border or border < 0:
        raise MetricInputError(f"border: must be a non-negative integer, got {border!r}")
    border = int(border)
    if 2 * border >= min(shape[0], shape[1]) - 1:
        raise MetricInputError(f"border: {border} leaves less than 2x2 of a {shape[:2]} image")
    return border


def _select_channel(image: np.ndarray, channel: str, data_range: float) -> np.ndarray:
    """The planes a metric is computed on: (H, W, 3) for "rgb", (H, W, 1) for "y" or grey."""
    if channel not in ("rgb", "y"):
        raise MetricInputError(f"channel: must be 'rgb' or 'y', got {channel!r}")
    if image.ndim == 2:
        return image[:, :, None]
    if channel == "y":
        return rgb_to_y(image, data_range=data_range)[:, :, None]
    return image


def _crop(image: np.ndarray, border: int) -> np.ndarray:
    if border == 0:
        return image
    return image[border:-border, border:-border]


# ----------------------------------------------------------------------------- colour

def rgb_to_y(image: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """BT.601 luma of an RGB image, as MATLAB ``rgb2ycbcr`` computes it (validated
    :func:`mlsm.colour.luma` with ``studio=True``).

    For RGB in [0, 1]: ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255``, so Y lies in
    [16/255, 235/255]. For RGB in [0, data_range] the same formula is applied to
    ``RGB / data_range`` and the result scaled back by ``data_range``.

    Args:
        image: (H, W, 3) float RGB in [0, data_range].
        data_range: the value of full white.

    Returns:
        (H, W) float64 luma in [16/255, 235/255] * data_range.

    >>> import numpy as np
    >>> float(rgb_to_y(np.ones((2, 2, 3)))[0, 0]) == 235 / 255
    True
    >>> round(float(rgb_to_y(np.zeros((2, 2, 3)))[0, 0]) * 255, 6)
    16.0
    """
    array = _as_image(image, "image")
    if array.ndim != 3:
        raise MetricInputError(f"image: rgb_to_y needs (H, W, 3), got {tuple(array.shape)}")
    return luma(array, studio=True, data_range=_check_data_range(data_range))


# ----------------------------------------------------------------------------- PSNR

def _psnr_from_mse(mse: float, data_range: float) -> float:
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range ** 2 / mse)


def psnr(restored: np.ndarray, reference: np.ndarray, data_range: float = 1.0,
         channel: Channel = "rgb", border: int = 0) -> float:
    """Peak signal-to-noise ratio, ``10 log10(data_range^2 / MSE)`` in dB.

    The MSE is the mean over all pixels and all channels selected by ``channel`` after
    cropping ``border`` pixels from each edge. Identical images give ``math.inf``.

    Args:
        restored: (H, W, 3) or (H, W) test image in [0, data_range].
        reference: reference image of the same shape.
        data_range: peak value (1.0 for [0, 1] images, 255 for 8-bit scale).
        channel: "rgb" (all three channels) or "y" (BT.601 luma, :func:`rgb_to_y`).
        border: pixels cropped from every edge before measuring.

    >>> import numpy as np
    >>> round(psnr(np.full((8, 8, 3), 0.5), np.full((8, 8, 3), 0.4)), 6)
    20.0
    >>> psnr(np.zeros((4, 4)), np.zeros((4, 4)))
    inf
    """
    restored_array, reference_array = _as_pair(restored, reference)
    data_range = _check_data_range(data_range)
    border = _check_border(border, restored_array.shape)
    restored_planes = _crop(_select_channel(restored_array, channel, data_range), border)
    reference_planes = _crop(_select_channel(reference_array, channel, data_range), border)
    mse = float(np.mean((restored_planes - reference_planes) ** 2))
    return _psnr_from_mse(mse, data_range)


# ----------------------------------------------------------------------------- SSIM

def _gaussian_window_1d(sigma: float = _SSIM_SIGMA, truncate: float = _SSIM_TRUNCATE) -> np.ndarray:
    """Normalised 1-D Gaussian taps; radius ``int(truncate * sigma + 0.5)`` (11 taps at 1.5)."""
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    return taps / taps.sum()


def _gaussian_blur(plane: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable Gaussian filtering of an (H, W) plane, ``reflect`` padding as scikit-image."""
    rows_filtered = ndimage.correlate1d(plane, taps, axis=0, mode="reflect")
    return ndimage.correlate1d(rows_filtered, taps, axis=1, mode="reflect")


def _ssim_plane(restored: np.ndarray, reference: np.ndarray, data_range: float) -> float:
    """Mean SSIM of one (H, W) plane over the region the window does not overhang.

    Wang et al. 2004, eq. 13 with Gaussian-weighted local statistics and population
    covariance, averaged over pixels at least one window radius from every edge.
    """
    taps = _gaussian_window_1d()
    radius = (taps.size - 1) // 2
    mean_restored = _gaussian_blur(restored, taps)
    mean_reference = _gaussian_blur(reference, taps)
    var_restored = _gaussian_blur(restored * restored, taps) - mean_restored ** 2
    var_reference = _gaussian_blur(reference * reference, taps) - mean_reference ** 2
    covariance = _gaussian_blur(restored * reference, taps) - mean_restored * mean_reference
    c1 = (_SSIM_K1 * data_range) ** 2
    c2 = (_SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mean_restored * mean_reference + c1) * (2 * covariance + c2)
                / ((mean_restored ** 2 + mean_reference ** 2 + c1) * (var_restored + var_reference + c2)))
    return float(ssim_map[radius:-radius, radius:-radius].mean())


def ssim(restored: np.ndarray, reference: np.ndarray, data_range: float = 1.0,
         channel: Channel = "rgb", border: int = 0) -> float:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli, IEEE TIP 2004).

    11x11 Gaussian window (sigma 1.5, radius ``int(3.5 * 1.5 + 0.5) = 5``), K1 = 0.01,
    K2 = 0.03, population covariance, SSIM map averaged over the pixels whose window lies
    inside the image. This matches ``skimage.metrics.structural_similarity(restored,
    reference, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=data_range, channel_axis=-1)``; RGB SSIM is the mean of the three channels.

    Args:
        restored: (H, W, 3) or (H, W) test image in [0, data_range]; after the border crop
            at least 11x11.
        reference: reference image of the same shape.
        data_range: peak value; sets C1 = (K1 data_range)^2 and C2 = (K2 data_range)^2.
        channel: "rgb" (mean over channels) or "y" (BT.601 luma).
        border: pixels cropped from every edge before measuring.

    Two constant images a = 0.5 and b = 0.4 have zero variances, so SSIM reduces to the
    luminance term (2ab + C1) / (a^2 + b^2 + C1) = 0.4001 / 0.4101:

    >>> import numpy as np
    >>> round(ssim(np.full((16, 16), 0.5), np.full((16, 16), 0.4)), 6)
    0.975616
    >>> ssim(np.full((16, 16, 3), 0.3), np.full((16, 16, 3), 0.3))
    1.0
    """
    restored_array, reference_array = _as_pair(restored, reference)
    data_range = _check_data_range(data_range)
    border = _check_border(border, restored_array.shape)
    restored_planes = _crop(_select_channel(restored_array, channel, data_range), border)
    reference_planes = _crop(_select_channel(reference_array, channel, data_range), border)
    window_size = _gaussian_window_1d().size
    if min(restored_planes.shape[:2]) < window_size:
        raise MetricInputError(
            f"restored: SSIM needs at least {window_size}x{window_size} pixels after the border crop, "
            f"got {restored_planes.shape[:2]}")
    scores = [_ssim_plane(restored_planes[:, :, index], reference_planes[:, :, index], data_range)
              for index in range(restored_planes.shape[2])]
    return float(np.mean(scores))


# ----------------------------------------------------------------------------- PSNR-B

def _boundary_indices(length: int, block_size: int) -> np.ndarray:
    """Left/top index ``j`` of every adjacent pair (j, j + 1) with j + 1 a multiple of B, j + 1 < length."""
    return np.arange(block_size - 1, length - 1, block_size)


def _grid_pair_sums(plane: np.ndarray, block_size: int) -> tuple[float, int, float, int]:
    """Squared differences of adjacent pixel pairs on the B x B grid anchored at (0, 0):
    (sum over H_B u V_B, N_HB + N_VB, sum over H_B^c u V_B^c, N_HBc + N_VBc), Yim & Bovik eq. 3-5."""
    height, width = plane.shape  # N_V, N_H
    horizontal_sq = (plane[:, 1:] - plane[:, :-1]) ** 2  # (N_V, N_H - 1): pairs (j, j + 1)
    vertical_sq = (plane[1:, :] - plane[:-1, :]) ** 2  # (N_V - 1, N_H): pairs (i, i + 1)
    columns_at_boundary = _boundary_indices(width, block_size)
    rows_at_boundary = _boundary_indices(height, block_size)
    boundary_sum = horizontal_sq[:, columns_at_boundary].sum() + vertical_sq[rows_at_boundary, :].sum()
    non_boundary_sum = horizontal_sq.sum() + vertical_sq.sum() - boundary_sum
    n_horizontal_boundary = height * columns_at_boundary.size  # N_HB = N_V (N_H / B - 1)
    n_vertical_boundary = width * rows_at_boundary.size  # N_VB = N_H (N_V / B - 1)
    n_horizontal_other = height * (width - 1) - n_horizontal_boundary  # N_HBc
    n_vertical_other = width * (height - 1) - n_vertical_boundary  # N_VBc
    return (boundary_sum, n_horizontal_boundary + n_vertical_boundary,
            non_boundary_sum, n_horizontal_other + n_vertical_other)


def _blocking_effect_factor_plane(plane: np.ndarray, block_size: int) -> float:
    """BEF of one (N_V, N_H) plane, Yim & Bovik 2011 eq. 3-8 (see :func:`blocking_effect_factor`)."""
    height, width = plane.shape  # N_V, N_H
    boundary_sum, n_boundary, non_boundary_sum, n_other = _grid_pair_sums(plane, block_size)
    if n_boundary == 0 or n_other == 0:
        return 0.0  # no block boundary (image smaller than two blocks) or nothing to compare with
    boundary_mean = boundary_sum / n_boundary  # D_B
    other_mean = non_boundary_sum / n_other  # D_B^c
    if boundary_mean <= other_mean:
        return 0.0
    eta = math.log2(block_size) / math.log2(min(width, height))
    return float(eta * (boundary_mean - other_mean))


def _check_block_size(block_size: int) -> int:
    if int(block_size) != block_size or block_size < 2:
        raise MetricInputError(f"block_size: must be an integer >= 2, got {block_size!r}")
    return int(block_size)


def blocking_effect_factor(image: np.ndarray, block_size: int = 8) -> float:
    """Blocking effect factor BEF of Yim & Bovik, "Quality assessment of deblocked images", TIP 2011.

    For an N_V x N_H grey image (height x width) and block size B, with the B x B grid
    anchored at pixel (0, 0) of the image as given (crop nothing before calling this):

    * H_B: horizontally adjacent pixel pairs (j, j + 1) with j + 1 a multiple of B (pairs
      straddling a vertical grid line); H_B^c: all other horizontally adjacent pairs.
      V_B, V_B^c likewise for vertically adjacent pairs.
    * ``D_B   = sum_{H_B u V_B} (a - b)^2 / (N_HB + N_VB)``  (eq. 3-5)
    * ``D_B^c = sum_{H_B^c u V_B^c} (a - b)^2 / (N_HBc + N_VBc)``
    * ``N_HB = N_V (N_H / B - 1)``, ``N_HBc = N_V (N_H - 1) - N_HB``, and
      ``N_VB = N_H (N_V / B - 1)``, ``N_VBc = N_H (N_V - 1) - N_VB``.
    * ``eta = log2(B) / log2(min(N_H, N_V))`` if ``D_B > D_B^c`` else 0;
      ``BEF = eta (D_B - D_B^c)`` (eq. 6-8).

    When N_H is not a multiple of B, N_HB is the number of pairs actually summed,
    ``N_V * floor((N_H - 1) / B)`` (the last, partial block also has a boundary on its
    left), so D_B stays a mean; for multiples of B it equals the paper's N_V (N_H / B - 1).

    Not inherited from other implementations: torchmetrics' and sewar's PSNR-B normalise with
    ``N_V * (N_H / B) - 1`` instead of ``N_V * (N_H / B - 1)``, which underweights D_B by about
    half on 16-pixel images; torchmetrics also sums BEF over a batch. KAIR crops the border
    before locating the grid, which shifts it.

    Args:
        image: (H, W) grey or (H, W, 3) RGB in any range (BEF is in squared units of it).
            For RGB the BEF of each channel is computed and averaged (use ``rgb_to_y`` first
            for the luma BEF).
        block_size: B, the coding block size (8 for JPEG).

    Returns:
        BEF >= 0, in squared image units.

    Two 8x8-block halves 0 | 1 on a 16 x 16 image: the 16 pairs across the vertical grid
    line differ by 1, every other pair by 0, N_HB = N_VB = 16, so D_B = 16 / 32 = 0.5,
    D_B^c = 0, eta = log2 8 / log2 16 = 0.75 and BEF = 0.375:

    >>> import numpy as np
    >>> halves = np.zeros((16, 16)); halves[:, 8:] = 1.0
    >>> blocking_effect_factor(halves)
    0.375
    """
    array = _as_image(image, "image")
    block_size = _check_block_size(block_size)
    planes = array[:, :, None] if array.ndim == 2 else array
    return float(np.mean([_blocking_effect_factor_plane(planes[:, :, index], block_size)
                          for index in range(planes.shape[2])]))


def block_edge_ratio(image: np.ndarray, block_size: int = 8) -> float:
    """Visible-blocking score of one image, no reference needed: 1.0 means no 8x8 grid.

    On BT.601 luma (:func:`rgb_to_y`; a grey image is used as it is), the mean squared
    difference of adjacent pixel pairs that straddle the B x B grid anchored at (0, 0)
    (the pairs H_B u V_B of :func:`blocking_effect_factor`) divided by the mean squared
    difference of all other adjacent pairs (H_B^c u V_B^c). A ratio is independent of
    brightness and contrast scaling, unlike BEF; values above 1 mean steps at the block
    edges, below 1 edges smoothed more than block interiors.

    Args:
        image: (H, W, 3) RGB in [0, 1] or (H, W) grey, at least two blocks on each side.
        block_size: B (8 for JPEG).

    Returns:
        D_B / D_B^c; ``nan`` for a flat image (no differences at all).

    A ramp rising by 1 per column with a step of 5 across the grid line: the 16 pairs on
    the vertical line give 25, the 16 on the horizontal line 0 (mean 12.5); elsewhere the
    224 horizontal pairs give 1 and the 224 vertical pairs 0 (mean 0.5), so the ratio is 25:

    >>> import numpy as np
    >>> columns = np.arange(16.0) + 4.0 * (np.arange(16) >= 8)
    >>> block_edge_ratio(np.tile(columns, (16, 1)))
    25.0
    """
    array = _as_image(image, "image")
    block_size = _check_block_size(block_size)
    plane = rgb_to_y(array) if array.ndim == 3 else array.astype(np.float64)
    height, width = plane.shape
    if height < 2 * block_size or width < 2 * block_size:
        raise MetricInputError(f"image: block_edge_ratio needs at least {2 * block_size} px per side, "
                               f"got {width}x{height}")
    boundary_sum, n_boundary, other_sum, n_other = _grid_pair_sums(plane, block_size)
    boundary_mean, other_mean = boundary_sum / n_boundary, other_sum / n_other
    if other_mean == 0:
        return math.nan if boundary_mean == 0 else math.inf
    return float(boundary_mean / other_mean)


def colourfulness(image: np.ndarray, data_range: float = 1.0) -> float:
    """Colourfulness M^(3) of Hasler & Suesstrunk, *Measuring colourfulness in natural images*
    (SPIE Human Vision and Electronic Imaging VIII, 2003), no reference needed.

    On RGB scaled to 0-255, with the opponent planes rg = R - G and yb = (R + G) / 2 - B:
    ``M = sqrt(sigma_rg^2 + sigma_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2)`` (population standard
    deviations over all pixels). 0 for a grey image; the authors' scale calls about 15
    "slightly", 33 "moderately", 45 "averagely", 59 "quite", 82 "highly" colourful.

    Args:
        image: (H, W, 3) RGB in [0, data_range].
        data_range: the value of full white.

    A flat pure red image has rg = 255, yb = 127.5 and no spread: M = 0.3 * 285.0987...

    >>> import numpy as np
    >>> round(colourfulness(np.tile([1.0, 0.0, 0.0], (4, 4, 1))), 4)
    85.5296
    >>> colourfulness(np.full((4, 4, 3), 0.5))
    0.0
    """
    array = _as_image(image, "image")
    if array.ndim != 3:
        raise MetricInputError(f"image: colourfulness needs (H, W, 3), got {tuple(array.shape)}")
    rgb = array * (255.0 / _check_data_range(data_range))
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = math.sqrt(float(rg.std()) ** 2 + float(yb.std()) ** 2)
    return spread + 0.3 * math.sqrt(float(rg.mean()) ** 2 + float(yb.mean()) ** 2)


def psnr_b(restored: np.ndarray, reference: np.ndarray, data_range: float = 1.0,
           channel: Channel = "y", block_size: int = 8, border: int = 0) -> float:
    """PSNR-B of Yim & Bovik, IEEE TIP 2011: PSNR with a blocking penalty on the restored image.

    ``MSE-B = MSE(restored, reference) + BEF(restored)`` and
    ``PSNR-B = 10 log10(data_range^2 / MSE-B)`` (eq. 9-10). BEF (see
    :func:`blocking_effect_factor`) is measured on the restored image only, on the B x B
    grid of the full image anchored at (0, 0). ``border`` crops only the MSE term; the BEF
    always uses the full, uncropped restored image so the grid is never shifted.

    Channel convention: ``"y"`` (default, the usual one for colour deblocking) computes MSE
    and BEF on BT.601 luma; ``"rgb"`` computes MSE and BEF per channel and averages
    MSE-B over the three channels before taking the logarithm. Grey input: one channel.

    Not inherited: torchmetrics / sewar's normaliser ``N_V (N_H / B) - 1`` (should be
    ``N_V (N_H / B - 1)``) and torchmetrics' BEF summed over a batch.

    Args:
        restored: (H, W, 3) or (H, W) test image in [0, data_range].
        reference: reference image of the same shape.
        data_range: peak value.
        channel: "y" (default) or "rgb".
        block_size: B, the coding block size (8 for JPEG).
        border: pixels cropped from every edge for the MSE term only.

    Returns:
        PSNR-B in dB; ``math.inf`` only when the images are identical and BEF is 0.

    The restored image is the blocky 0 | 1 halves of :func:`blocking_effect_factor`, equal
    to its reference: MSE = 0, so MSE-B = BEF = 0.375 and PSNR-B = 10 log10(1 / 0.375):

    >>> import numpy as np
    >>> halves = np.zeros((16, 16)); halves[:, 8:] = 1.0
    >>> round(psnr_b(halves, halves), 6)
    4.259687
    >>> psnr(halves, halves)
    inf
    """
    restored_array, reference_array = _as_pair(restored, reference)
    data_range = _check_data_range(data_range)
    block_size = _check_block_size(block_size)
    border = _check_border(border, restored_array.shape)
    restored_planes = _select_channel(restored_array, channel, data_range)
    reference_planes = _select_channel(reference_array, channel, data_range)
    squared_error = (_crop(restored_planes, border) - _crop(reference_planes, border)) ** 2
    mse_b_per_channel = [
        float(squared_error[:, :, index].mean())
        + _blocking_effect_factor_plane(restored_planes[:, :, index], block_size)
        for index in range(restored_planes.shape[2])
    ]
    return _psnr_from_mse(float(np.mean(mse_b_per_channel)), data_range)


# ----------------------------------------------------------------------------- tables

def compute_metrics(restored: np.ndarray, reference: np.ndarray, data_range: float = 1.0) -> dict[str, float]:
    """The per-image metrics of mlsm's evaluation tables.

    Keys (fixed):

    * ``"psnr"``: PSNR on RGB (all channels) - the paper's PSNR column.
    * ``"ssim"``: SSIM on RGB (mean of per-channel SSIM) - the paper's SSIM column.
    * ``"psnr_b"``: PSNR-B on BT.601 Y, 8x8 grid - the paper's PSNR-B column (Y is the
      standard convention for deblocking evaluation).
    * ``"psnr_y"``, ``"ssim_y"``: PSNR and SSIM on Y, for comparison with Y-only papers.

    No border is cropped. Grey (H, W) inputs give equal RGB and Y values.

    >>> import numpy as np
    >>> scores = compute_metrics(np.full((16, 16, 3), 0.5), np.full((16, 16, 3), 0.4))
    >>> sorted(scores)
    ['psnr', 'psnr_b', 'psnr_y', 'ssim', 'ssim_y']
    >>> round(scores["psnr"], 6), round(scores["ssim"], 6)
    (20.0, 0.975616)
    """
    return {
        "psnr": psnr(restored, reference, data_range, channel="rgb"),
        "ssim": ssim(restored, reference, data_range, channel="rgb"),
        "psnr_b": psnr_b(restored, reference, data_range, channel="y"),
        "psnr_y": psnr(restored, reference, data_range, channel="y"),
        "ssim_y": ssim(restored, reference, data_range, channel="y"),
    }


def average(per_image: Sequence[Mapping[str, float]], skip_infinite: bool = False) -> dict[str, float]:
    """Mean of each key over a list of per-image metric dicts (e.g. from :func:`compute_metrics`).

    Infinite values (PSNR of an image identical to its reference) are handled explicitly:

    * ``skip_infinite=False`` (default): a key with any ``+inf`` averages to ``+inf`` (the
      honest IEEE result; a set containing a perfect reconstruction has unbounded mean PSNR).
    * ``skip_infinite=True``: infinite values are left out and the mean is over the finite
      ones; a key whose values are all infinite stays ``+inf``.

    NaN is never produced: NaN inputs and ``-inf`` are errors, as are an empty list, dicts with
    different keys, and non-numeric values.

    >>> average([{"psnr": 20.0, "ssim": 0.5}, {"psnr": 30.0, "ssim": 0.7}])
    {'psnr': 25.0, 'ssim': 0.6}
    >>> average([{"psnr": 20.0}, {"psnr": float("inf")}])
    {'psnr': inf}
    >>> average([{"psnr": 20.0}, {"psnr": float("inf")}], skip_infinite=True)
    {'psnr': 20.0}
    """
    if len(per_image) == 0:
        raise MetricInputError("per_image: cannot average an empty list")
    keys = list(per_image[0].keys())
    for index, scores in enumerate(per_image):
        if set(scores.keys()) != set(keys):
            raise MetricInputError(
                f"per_image[{index}]: keys {sorted(scores)} differ from per_image[0] keys {sorted(keys)}")
    result: dict[str, float] = {}
    for key in keys:
        values = []
        for index, scores in enumerate(per_image):
            value = scores[key]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise MetricInputError(f"per_image[{index}][{key!r}]: not a number ({value!r})")
            value = float(value)
            if math.isnan(value) or value == -math.inf:
                raise MetricInputError(f"per_image[{index}][{key!r}]: {value} cannot be averaged")
            values.append(value)
        finite = [value for value in values if math.isfinite(value)]
        if len(finite) == len(values):
            result[key] = math.fsum(finite) / len(finite)
        elif skip_infinite and finite:
            result[key] = math.fsum(finite) / len(finite)
        else:
            result[key] = math.inf
    return result
