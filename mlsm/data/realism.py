"""How real do the synthetic inputs look? Image statistics of synthetic vs real dark photos.

Degradation v2 (:mod:`mlsm.data.degrade`) claims to look like real dark JPEGs; this module
measures it with statistics that need no ground truth, per image:

* luminance percentiles: 50/90/99/99.5/100 % of BT.601 luma Y (:func:`mlsm.metrics.rgb_to_y`)
  and of the max channel max(R, G, B) (the top 1 % shows lamps, windows and sky at white);
* the noise power spectrum (NPS) of flat dark areas: in the ``patches`` flattest 32x32 patches
  whose mean Y is in the image's darker half, the high-pass residual of Y (patch minus its
  Gaussian blur, sigma 2 px) is Fourier-transformed, its power radially averaged over
  frequency bins 0-0.5 cycles/pixel and normalised to sum 1 (shape only); summarised by its
  centroid (mean frequency: white noise ~0.33, demosaiced / denoised noise lower) and by the
  residual's standard deviation in 8-bit units (the noise level);
* the block-edge ratio (:func:`mlsm.metrics.block_edge_ratio`, 1 = no visible 8x8 grid).

:func:`coverage` then says, per statistic, whether the real set's median falls inside a
synthetic set's 5-95 % range. ``scripts/realism_report.py`` draws the figure and writes the
summary (``docs/realism.png``, ``docs/realism.md``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import ndimage

from mlsm.data.degrade import DegradationRanges, degrade, sample_params
from mlsm.metrics import block_edge_ratio, rgb_to_y

__all__ = [
    "PERCENTILES",
    "NPS_BINS",
    "ImageStats",
    "luminance_percentiles",
    "flat_dark_patches",
    "noise_power_spectrum",
    "image_stats",
    "synthetic_inputs",
    "stat_table",
    "coverage",
]

PERCENTILES = (50.0, 90.0, 99.0, 99.5, 100.0)
NPS_BINS = 16
PATCH = 32


@dataclass(frozen=True)
class ImageStats:
    """Statistics of one image (see the module docstring).

    Attributes:
        y_percentiles: Y at :data:`PERCENTILES`, in [16/255, 235/255].
        max_percentiles: max(R, G, B) at :data:`PERCENTILES`, in [0, 1].
        nps: radially averaged, normalised NPS (:data:`NPS_BINS` bins over 0-0.5 cycles/px),
            or ``None`` when the image has no dark patch.
        noise_std: std of the high-pass residual of Y in the flat dark patches, 8-bit units.
        block_edge_ratio: :func:`mlsm.metrics.block_edge_ratio` of the whole image.
    """

    y_percentiles: tuple[float, ...]
    max_percentiles: tuple[float, ...]
    nps: tuple[float, ...] | None
    noise_std: float
    block_edge_ratio: float

    @property
    def nps_centroid(self) -> float:
        """Mean frequency of the NPS in cycles/pixel (0-0.5); ``nan`` without an NPS."""
        if self.nps is None:
            return float("nan")
        return float(np.dot(self.nps, _bin_centres()))

    def scalars(self) -> dict[str, float]:
        """Every statistic as one float, keyed by a readable name."""
        out = {f"Y p{p:g}": v for p, v in zip(PERCENTILES, self.y_percentiles)}
        out.update({f"maxRGB p{p:g}": v for p, v in zip(PERCENTILES, self.max_percentiles)})
        out.update({"noise std (8-bit)": self.noise_std, "NPS centroid (cyc/px)": self.nps_centroid,
                    "block-edge ratio": self.block_edge_ratio})
        return out


def _bin_centres() -> np.ndarray:
    return (np.arange(NPS_BINS) + 0.5) * 0.5 / NPS_BINS


def luminance_percentiles(image: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(Y percentiles, max-channel percentiles) of an RGB image in [0, 1] at :data:`PERCENTILES`."""
    luma = rgb_to_y(image)
    peak = np.asarray(image, dtype=np.float64).max(axis=2)
    return (tuple(float(v) for v in np.percentile(luma, PERCENTILES)),
            tuple(float(v) for v in np.percentile(peak, PERCENTILES)))


def _residual(luma: np.ndarray) -> np.ndarray:
    return luma - ndimage.gaussian_filter(luma, 2.0, mode="reflect")


def flat_dark_patches(image: np.ndarray, patches: int = 4) -> list[np.ndarray]:
    """High-pass residuals (32, 32) of Y in the ``patches`` flattest dark 32x32 tiles.

    Tiles of the 32-px grid whose mean Y is at most the median tile's are "dark"; the flattest
    are those whose Gaussian-blurred Y (the scene content, not the noise) varies least.
    """
    luma = rgb_to_y(image)
    height, width = luma.shape
    rows, cols = height // PATCH, width // PATCH
    if rows == 0 or cols == 0:
        return []
    tiles = luma[: rows * PATCH, : cols * PATCH].reshape(rows, PATCH, cols, PATCH).swapaxes(1, 2)
    tiles = tiles.reshape(-1, PATCH, PATCH)
    means = tiles.mean(axis=(1, 2))
    dark = np.flatnonzero(means <= np.median(means))
    smooth = np.asarray([ndimage.gaussian_filter(tiles[i], 2.0, mode="reflect").std() for i in dark])
    chosen = dark[np.argsort(smooth, kind="stable")[:patches]]
    return [_residual(tiles[i]) for i in chosen]


def noise_power_spectrum(residuals: Sequence[np.ndarray]) -> np.ndarray | None:
    """Radially averaged power spectrum of the residual patches, normalised to sum 1.

    Returns :data:`NPS_BINS` values over radial frequency 0-0.5 cycles/pixel (corners of the
    2-D spectrum beyond 0.5 are dropped), or ``None`` for no patch or zero power.
    """
    if not residuals:
        return None
    power = np.mean([np.abs(np.fft.fft2(r - r.mean())) ** 2 for r in residuals], axis=0)
    fy = np.fft.fftfreq(PATCH)[:, None]
    fx = np.fft.fftfreq(PATCH)[None, :]
    radius = np.sqrt(fy ** 2 + fx ** 2)
    bins = np.floor(radius / 0.5 * NPS_BINS).astype(int)
    inside = (bins < NPS_BINS) & (radius > 0)
    sums = np.bincount(bins[inside], weights=power[inside], minlength=NPS_BINS)
    counts = np.bincount(bins[inside], minlength=NPS_BINS)
    radial = sums / np.maximum(counts, 1)
    total = radial.sum()
    return None if total <= 0 else radial / total


def image_stats(image: np.ndarray, patches: int = 4) -> ImageStats:
    """All statistics of one RGB image (H, W, 3) in [0, 1], at least 32 px on each side."""
    image = np.asarray(image, dtype=np.float32)
    y_pct, max_pct = luminance_percentiles(image)
    residuals = flat_dark_patches(image, patches)
    nps = noise_power_spectrum(residuals)
    noise = float(np.sqrt(np.mean([np.var(r) for r in residuals])) * 255.0) if residuals else float("nan")
    return ImageStats(y_pct, max_pct, None if nps is None else tuple(float(v) for v in nps), noise,
                      float(block_edge_ratio(image)))


def synthetic_inputs(photos: Sequence[np.ndarray], ranges: DegradationRanges, count: int,
                     seed: int = 0) -> Iterable[np.ndarray]:
    """``count`` degraded inputs: sample ``i`` degrades ``photos[i % len(photos)]`` (whole photo)
    with ``numpy.random.default_rng([seed, i])`` and ``ranges``."""
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        photo = photos[index % len(photos)]
        yield degrade(photo, sample_params(rng, ranges), rng)


def stat_table(stats: Sequence[ImageStats]) -> dict[str, np.ndarray]:
    """Per statistic name, the values over ``stats`` (NaN where undefined)."""
    names = list(stats[0].scalars())
    return {name: np.asarray([s.scalars()[name] for s in stats], dtype=np.float64) for name in names}


def coverage(real: Sequence[ImageStats], synthetic: Sequence[ImageStats],
             low: float = 5.0, high: float = 95.0) -> dict[str, dict[str, float | bool]]:
    """Per statistic: real median, synthetic median and [low, high] percentiles, and whether
    the real median lies inside the synthetic range (``covered``)."""
    real_table, synthetic_table = stat_table(real), stat_table(synthetic)
    out = {}
    for name, real_values in real_table.items():
        values = synthetic_table[name][np.isfinite(synthetic_table[name])]
        real_median = float(np.nanmedian(real_values))
        lo, hi = (float(v) for v in np.percentile(values, (low, high))) if values.size else (np.nan, np.nan)
        synthetic_median = float(np.median(values)) if values.size else float("nan")
        out[name] = {"real_median": real_median, "synthetic_median": synthetic_median,
                     "synthetic_low": lo, "synthetic_high": hi, "covered": bool(lo <= real_median <= hi)}
    return out
