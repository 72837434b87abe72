"""JPEG quantization tables, the IJG quality estimate (from a file's tables or from decoded
pixels) and the JPEG encoder of :mod:`mlsm.io`."""
from __future__ import annotations

import functools
import io
from typing import Sequence

import numpy as np
from PIL import Image

from mlsm.io.common import _SUBSAMPLINGS
from mlsm.io.convert import _as_image_array


# --------------------------------------------------------------------------- JPEG tables

# ITU-T T.81 Annex K tables K.1 (luminance) and K.2 (chrominance), natural order.
_IJG_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)
_IJG_CHROMA = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)


def _zigzag_to_natural_index() -> np.ndarray:
    """``index[k]`` = row-major position of the k-th coefficient in zigzag scan order."""
    order = []
    for diagonal in range(15):
        rows = range(max(0, diagonal - 7), min(diagonal, 7) + 1)
        rows = reversed(rows) if diagonal % 2 == 0 else rows
        order.extend(row * 8 + (diagonal - row) for row in rows)
    return np.asarray(order)


_ZIGZAG = _zigzag_to_natural_index()


def ijg_quantization_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """Luminance and chrominance tables (natural order) that libjpeg uses at ``quality``.

    ``scale = 5000 / q`` for ``q < 50`` else ``200 - 2 q``; each entry is
    ``clamp((base * scale + 50) // 100, 1, 255)`` (baseline-limited, as Pillow encodes).
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality!r}")
    quality = int(quality)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    tables = []
    for base in (_IJG_LUMA, _IJG_CHROMA):
        entries = (np.asarray(base, dtype=np.int64) * scale + 50) // 100
        tables.append(np.clip(entries, 1, 255))
    return tables[0], tables[1]


@functools.lru_cache(maxsize=1)
def _ijg_table_stack() -> np.ndarray:
    """(100, 2, 64) scaled IJG tables for q = 1..100."""
    return np.stack([np.stack(ijg_quantization_tables(q)) for q in range(1, 101)])


def estimate_jpeg_quality(quantization: dict[int, Sequence[int]] | None) -> int | None:
    """Estimate the IJG quality factor (1-100) that produced these quantization tables.

    ``quantization`` maps slot 0 to the luminance table and slot 1 (if present) to the
    chrominance table, 64 entries each in natural order (zigzag order is also recognised).
    The estimate is the q whose scaled standard tables (:func:`ijg_quantization_tables`) are
    closest in summed absolute difference; ties (identical tables near q = 100) give the
    middle of the tied range. Tables not made by IJG scaling get the nearest q all the same.
    Returns None when there is no usable luminance table.

    >>> estimate_jpeg_quality({0: list(ijg_quantization_tables(75)[0])})
    75
    """
    if not quantization or 0 not in quantization:
        return None
    tables = []
    for slot in (0, 1):
        table = quantization.get(slot)
        if table is None:
            break
        table = np.asarray(list(table), dtype=np.int64)
        if table.shape != (64,):
            if slot == 0:
                return None
            break
        tables.append(table)
    candidates = _ijg_table_stack()[:, : len(tables)]  # (100, n, 64)
    observed = np.stack(tables)
    from_zigzag = np.empty_like(observed)
    from_zigzag[:, _ZIGZAG] = observed
    errors = np.minimum(
        np.abs(candidates - observed).sum(axis=(1, 2)),
        np.abs(candidates - from_zigzag).sum(axis=(1, 2)),
    )
    best = np.flatnonzero(errors == errors.min()) + 1
    return int(best[len(best) // 2])


# --------------------------------------------------------------------------- quality from pixels

STEP_POSITIONS = (1, 8, 9, 2, 16, 10, 17, 18)
"""Natural-order positions of the luma DCT coefficients :func:`estimate_quality_from_pixels`
reads: the eight lowest AC frequencies, the ones that stay non-zero longest in dark images."""
MAX_STEP = 32
"""Largest quantization step looked for (the IJG tables reach it at these positions near
quality 25; lower qualities are reported as about 25)."""
MIN_COEFFICIENTS = 200
"""Coefficients of magnitude >= 1 a frequency needs before its step is judged at all."""
MIN_SAMPLES = 30
"""Coefficients of at least half a step that a step test needs."""
MAX_BLOCKS = 16384
"""Blocks read at most (evenly spaced rows of blocks beyond it: a 1080p frame has 32 k)."""
PERIODICITY_THRESHOLD = 0.2
"""Least mean ``cos(2 pi c / q)`` that counts as a step ``q``, raised to three standard
deviations of chance, ``3 / sqrt(2 n)``, for ``n`` samples (a never-quantized image scores
about 0; step 2 at quality 90 scores 0.3-0.4 after decoding's rounding; large true steps 0.8+)."""


def luma_dct_coefficients(image: np.ndarray, max_blocks: int = MAX_BLOCKS) -> np.ndarray:
    """(blocks, 64) orthonormal 8x8 DCT of the JFIF luma (``0.299 R + 0.587 G + 0.114 B``,
    x255 - 128) of RGB ``image`` in [0, 1] on the grid anchored at the top-left corner: the
    coefficients a JPEG encoder quantized, up to decoding's rounding (JPEG's FDCT is the
    orthonormal DCT-II). Beyond ``max_blocks`` blocks, evenly spaced rows of blocks."""
    from scipy.fft import dctn

    array = np.asarray(image)
    rows, columns = array.shape[0] // 8, array.shape[1] // 8
    if rows == 0 or columns == 0:
        return np.zeros((0, 64))
    keep = np.arange(rows)
    if rows * columns > max_blocks:
        keep = np.unique(np.linspace(0, rows - 1, max(1, max_blocks // max(columns, 1))).round().astype(int))
    pixels = np.stack([array[8 * row: 8 * row + 8, : columns * 8, :3] for row in keep]).astype(np.float64)
    y = pixels @ np.array([0.299, 0.587, 0.114]) * 255.0 - 128.0  # (kept rows, 8, W)
    blocks = y.reshape(len(keep), 8, columns, 8).transpose(0, 2, 1, 3)
    return dctn(blocks, axes=(2, 3), norm="ortho").reshape(-1, 64)


def estimate_luma_steps(image: np.ndarray) -> dict[int, int | None]:
    """The quantization step of each :data:`STEP_POSITIONS` frequency that ``image`` (RGB in
    [0, 1], decoded pixels) went through, from its pixels alone.

    A decoded JPEG's DCT coefficients sit near multiples of their step ``q``: for each ``q``
    in 2..:data:`MAX_STEP` the test is the mean of ``cos(2 pi c / q)`` over the coefficients
    ``|c| >= q / 2`` (zeros say nothing; at least :data:`MIN_SAMPLES`); the step is the ``q``
    that scores highest above :data:`PERIODICITY_THRESHOLD` (a multiple of the true step scores low, since odd
    multiples land on ``cos = -1``; a divisor scores lower, since rounding noise is larger
    relative to it), else 1 (not quantized). None where fewer than :data:`MIN_COEFFICIENTS`
    coefficients reach 1 (a flat or black image says nothing). The grid is the one anchored
    at the top-left pixel: a JPEG cropped off its 8-pixel grid reads as never quantized.
    The periodicity test is the one of Fan and de Queiroz, "Identification of bitmap
    compression history: JPEG detection and quantizer estimation" (IEEE TIP 2003).
    """
    coefficients = luma_dct_coefficients(image)
    steps: dict[int, int | None] = {}
    for position in STEP_POSITIONS:
        values = coefficients[:, position]
        magnitudes = np.abs(values)
        if np.count_nonzero(magnitudes >= 1.0) < MIN_COEFFICIENTS:
            steps[position] = None
            continue
        best, best_score = 1, -1.0
        for step in range(2, MAX_STEP + 1):
            samples = values[magnitudes >= step / 2]
            if len(samples) < MIN_SAMPLES:
                break
            score = float(np.cos(2 * np.pi * samples / step).mean())
            if score >= max(PERIODICITY_THRESHOLD, 3.0 / np.sqrt(2 * len(samples))) and score >= best_score:
                best, best_score = step, score
        steps[position] = best
    return steps


def estimate_quality_from_pixels(image: np.ndarray) -> int | None:
    """The IJG quality (25-100) that best explains ``image``'s luma quantization steps
    (:func:`estimate_luma_steps`), or None when no frequency can be judged.

    The estimate is the quality whose standard luminance table
    (:func:`ijg_quantization_tables`) is closest to the measured steps in summed absolute
    difference, the middle of a tied range (so a never-quantized image, all steps 1, reads
    as 98: qualities 97-100 have steps of 1 at these frequencies). Unlike
    :func:`estimate_jpeg_quality` it needs no file: it works on a decoded array, a frame or
    a crop that kept the grid. On the 96 synthetic Kodak24 inputs (QF 90/80/70/60) it is
    exact on every image (``tests/io/test_jpeg_pixels.py``).
    """
    steps = {position: step for position, step in estimate_luma_steps(image).items() if step is not None}
    if not steps:
        return None
    candidates = _ijg_table_stack()[:, 0][:, list(steps)]  # (100, k)
    errors = np.abs(candidates - np.array(list(steps.values()))).sum(axis=1)
    best = np.flatnonzero(errors == errors.min()) + 1
    return int(best[len(best) // 2])


@functools.lru_cache(maxsize=1)
def _pillow_tables_are_zigzag() -> bool:
    """Whether this Pillow reports ``im.quantization`` in zigzag order (older releases)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="JPEG", quality=50)
    with Image.open(buffer) as probe:
        table = list(probe.quantization[0])
    # Natural order starts 16, 11, 10 (row 0); zigzag starts 16, 11, 12 (then row 1).
    return table[2] == _IJG_LUMA[8]


def _natural_order_tables(quantization: dict[int, Sequence[int]]) -> dict[int, list[int]]:
    tables = {}
    for slot, table in sorted(quantization.items()):
        values = [int(v) for v in table]
        if len(values) == 64 and _pillow_tables_are_zigzag():
            natural = [0] * 64
            for k, position in enumerate(_ZIGZAG):
                natural[position] = values[k]
            values = natural
        tables[int(slot)] = values
    return tables


def _jpeg_subsampling(layers: Sequence[tuple]) -> str | None:
    """Name the chroma subsampling from the SOF component list ``(id, h, v, table)``."""
    if len(layers) < 3:
        return None
    luma_h, luma_v = layers[0][1], layers[0][2]
    chroma = {(layer[1], layer[2]) for layer in layers[1:3]}
    if len(chroma) != 1:
        return None
    chroma_h, chroma_v = chroma.pop()
    if chroma_h == 0 or chroma_v == 0:
        return None
    names = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0",
             (4, 1): "4:1:1", (4, 2): "4:1:0"}
    ratio = (luma_h // chroma_h, luma_v // chroma_v)
    return names.get(ratio)



# --------------------------------------------------------------------------- encoding


def _check_quality(quality) -> int:
    if isinstance(quality, bool) or int(quality) != quality or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer in 1..100, got {quality!r}")
    return int(quality)


def _check_subsampling(subsampling) -> str:
    if subsampling not in _SUBSAMPLINGS:
        raise ValueError(f"subsampling must be one of {', '.join(_SUBSAMPLINGS)}, got {subsampling!r}")
    return subsampling


def encode_jpeg(image_uint8_rgb: np.ndarray, quality: int, subsampling: str = "4:2:0") -> bytes:
    """Encode ``(H, W, 3)`` (or ``(H, W)`` grey) uint8 pixels as a baseline JPEG with Pillow.

    ``quality`` is the IJG quality factor 1..100 (libjpeg's standard tables scaled, see
    :func:`ijg_quantization_tables`); ``subsampling`` is "4:4:4", "4:2:2" or "4:2:0".
    """
    array = _as_image_array(image_uint8_rgb)
    if array.dtype != np.uint8:
        raise ValueError(f"image_uint8_rgb must be uint8, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(
        buffer, format="JPEG", quality=_check_quality(quality),
        subsampling=_check_subsampling(subsampling),
    )
    return buffer.getvalue()




# --------------------------------------------------------------------------- scan limit

MAX_JPEG_SCANS = 500
"""Most scans :func:`~mlsm.io.read_image` decodes in one JPEG (libjpeg-turbo's suggested
``TJPARAM_SCANLIMIT``). Real encoders write 1 (baseline) to a few dozen (progressive) scans;
thousands of empty scans make a small file take minutes to decode (a known attack on the
progressive mode), so such files are refused before decoding."""


def count_jpeg_scans(data: bytes, stop_after: int | None = None) -> int:
    """Number of scans (SOS markers) in the first image of the JPEG ``data``.

    Walks the marker segments (skipping APPn payloads such as EXIF thumbnails by their length)
    and each scan's entropy-coded data (where ``FF 00`` is a stuffed byte and ``FF D0``-``D7``
    are restart markers) up to EOI. Stops counting once more than ``stop_after`` are seen.
    """
    size, pos, scans = len(data), 2, 0
    while pos + 1 < size:
        if data[pos] != 0xFF:  # garbage between segments: resynchronise
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if pos + 4 > size:
            break
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker != 0xDA:
            pos = end
            continue
        scans += 1
        if stop_after is not None and scans > stop_after:
            break
        pos = end
        while True:  # the scan's entropy-coded data ends at the next real marker
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= size:
                return scans
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                pos += 1
                continue
            break
    return scans
