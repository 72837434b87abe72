"""Image reading and writing for mlsm: pixels, EXIF, JPEG tables and quality, atomic writes.

Conventions shared by every function here:

* Pixels are ``numpy`` arrays in **RGB channel order**, shape ``(H, W, 3)``, ``float32`` in
  ``[0, 1]`` (``uint8`` only where a name says so). Row 0 is the top of the image as a viewer
  shows it: the EXIF orientation tag is applied on read and reset to 1 in the returned EXIF.
* Greyscale becomes three equal channels. Alpha (LA, RGBA, palette or colour-key
  transparency) is **dropped, not composited**: the stored colour of each pixel is kept and
  :attr:`ImageInfo.has_alpha` records that there was an alpha channel.
* CMYK (including Adobe's inverted CMYK JPEGs, which Pillow un-inverts) is converted with
  Pillow's profile-free formula ``R = (255 - C)(255 - K) / 255`` (likewise G from M, B from
  Y); an embedded CMYK profile is not applied and is not returned.
* No colour management: RGB pixel values are returned as stored. :attr:`ImageInfo.icc_profile`
  holds the embedded profile only when it describes RGB data (so it can be re-embedded in
  an output made from these pixels).
* 16-bit PNG and TIFF keep their full precision (value / 65535). Pillow decodes 16-bit RGB(A)
  down to 8 bits, so such images are decoded twice (high and low byte planes, see
  :func:`_decode_16bit_colour`) and recombined; no extra package is needed.
* Every failure raises an :class:`ImageError` subclass whose ``str`` is one line,
  ``"<path>: <cause>"``.

Decompression bombs are refused from the header (``width * height > max_pixels``) before any
pixel is decoded. The limit is ``max_pixels`` if given, else the environment variable
``MLSM_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`. Pillow's own guard
(``PIL.Image.MAX_IMAGE_PIXELS``) still raises its error above twice its limit; that error is
reported as :class:`ImageTooLargeError` too, while its softer warning is superseded by
``max_pixels``.

JPEG quality (:func:`estimate_jpeg_quality`) follows the IJG scaling of the tables in
Annex K of ITU-T T.81 (the libjpeg ``jpeg_quality_scaling`` formula).
"""
from __future__ import annotations

import contextlib
import functools
import glob
import io
import os
import struct
import sys
import tempfile
import threading
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence, Union

import numpy as np
from PIL import Image, ImageFile, JpegImagePlugin, TiffImagePlugin, UnidentifiedImageError

__all__ = [
    "ImageError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "IMAGE_EXTENSIONS",
    "ImageInfo",
    "read_image",
    "decode_image_bytes",
    "estimate_jpeg_quality",
    "ijg_quantization_tables",
    "encode_jpeg",
    "write_image",
    "to_uint8",
    "to_float32",
    "iter_image_files",
]

PathLike = Union[str, os.PathLike]

DEFAULT_MAX_PIXELS = 120_000_000
"""Largest ``width * height`` read by default (about a 12,000 x 10,000 photo)."""

MAX_PIXELS_ENV = "MLSM_MAX_PIXELS"
"""Environment variable that overrides :data:`DEFAULT_MAX_PIXELS`."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
"""File extensions treated as images (compared case-insensitively)."""

# Pillow plugins read_image may use; others (EPS via Ghostscript, etc.) are never tried.
# (Multi-picture phone JPEGs open through the JPEG plugin and report format "MPO".)
_READ_FORMATS = ("JPEG", "PNG", "BMP", "DIB", "TIFF", "WEBP", "GIF", "PPM")

_WRITE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}

_SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112


# --------------------------------------------------------------------------- errors


class ImageError(Exception):
    """An image could not be read or written; ``str(err) == f"{path}: {cause}"``, one line."""

    def __init__(self, path: PathLike | str, cause: str):
        self.path = path
        self.cause = " ".join(str(cause).split()) or "unknown error"
        super().__init__(f"{path}: {self.cause}")

    def __reduce__(self):  # keep (path, cause) through pickling (worker processes)
        return (type(self), (self.path, self.cause))


class ImageReadError(ImageError):
    """Missing, empty, truncated, corrupt, not an image, or an unsupported kind of image."""


class ImageTooLargeError(ImageReadError):
    """The header announces more pixels than allowed (a possible decompression bomb)."""


class ImageWriteError(ImageError):
    """Unwritable folder, existing or protected target, unknown extension, encoder failure."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- info record


@dataclass
class ImageInfo:
    """What :func:`read_image` learnt about a file besides its pixels.

    ``width``/``height`` are those of the returned array (after the EXIF orientation);
    ``mode`` is Pillow's mode of the stored data (``"RGB"`` also for 16-bit RGB, see
    ``bit_depth``); ``orientation`` is the EXIF value that was applied (1 when none);
    ``exif`` starts with ``b"Exif\\0\\0"`` and has its orientation reset to 1 (None if
    absent or if the reset failed); ``icc_profile`` is the embedded profile only when it
    describes RGB data (grey and CMYK profiles are dropped, the pixels being RGB now);
    ``jpeg_quantization`` maps table slot to 64 entries in natural (row-major) order;
    ``jpeg_quality`` is :func:`estimate_jpeg_quality` of those tables; ``progressive``
    marks a progressive JPEG; ``bit_depth`` is bits per sample (16 for 16-bit PNG/TIFF).
    """

    path: Path
    format: str
    mode: str
    width: int
    height: int
    bit_depth: int = 8
    has_alpha: bool = False
    orientation: int = 1
    jpeg_quantization: dict[int, list[int]] | None = field(default=None, repr=False)
    jpeg_quality: int | None = None
    jpeg_subsampling: str | None = None
    progressive: bool = False
    exif: bytes | None = field(default=None, repr=False)
    icc_profile: bytes | None = field(default=None, repr=False)


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


# --------------------------------------------------------------------------- EXIF helpers


def _normalise_exif(raw: bytes | None) -> bytes | None:
    if not raw:
        return None
    raw = bytes(raw)
    return raw if raw.startswith(_EXIF_HEADER) else _EXIF_HEADER + raw


def _exif_with_orientation_reset(exif: bytes) -> bytes | None:
    """Copy of ``exif`` (with ``Exif\\0\\0`` header) whose IFD0 orientation reads 1.

    The value is patched in place so every other byte (maker notes, thumbnail) survives.
    Returns None if the block cannot be parsed, so a stale orientation is never passed on.
    """
    data = bytearray(exif)
    tiff = len(_EXIF_HEADER)
    try:
        order = {b"II": "<", b"MM": ">"}[bytes(data[tiff:tiff + 2])]
        (ifd0,) = struct.unpack_from(order + "I", data, tiff + 4)
        (count,) = struct.unpack_from(order + "H", data, tiff + ifd0)
        for index in range(count):
            entry = tiff + ifd0 + 2 + 12 * index
            tag, kind = struct.unpack_from(order + "HH", data, entry)
            if tag == _ORIENTATION_TAG:
                if kind == 3:  # SHORT
                    struct.pack_into(order + "H", data, entry + 8, 1)
                elif kind in (4, 9):  # LONG / SLONG
                    struct.pack_into(order + "I", data, entry + 8, 1)
                else:
                    return None
                return bytes(data)
    except (KeyError, struct.error):
        return None
    return bytes(data)


def _valid_orientation(value) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _orientation_of(im: Image.Image) -> int:
    try:
        return _valid_orientation(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # malformed EXIF must not stop the pixels from loading
        return 1


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip ``pixels`` (H, W, ...) as ``PIL.ImageOps.exif_transpose`` would."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(pixels, k=-1)
    if orientation == 7:
        return pixels.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(pixels, k=1)
    return pixels


def _icc_if_rgb(profile: bytes | None) -> bytes | None:
    """Keep an ICC profile only if its data colour space (header bytes 16-19) is RGB."""
    if profile and len(profile) >= 20 and bytes(profile[16:20]) == b"RGB ":
        return bytes(profile)
    return None


# --------------------------------------------------------------------------- reading


def _resolve_max_pixels(max_pixels: int | None) -> int:
    if max_pixels is None:
        text = os.environ.get(MAX_PIXELS_ENV)
        if text is None or not text.strip():
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(text.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"{MAX_PIXELS_ENV} must be a positive integer, got {text!r}") from None
        if max_pixels <= 0:
            raise ValueError(f"{MAX_PIXELS_ENV} must be a positive integer, got {text!r}")
        return max_pixels
    if isinstance(max_pixels, bool) or int(max_pixels) != max_pixels or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return int(max_pixels)


_TRUNCATION_LOCK = threading.Lock()


@contextlib.contextmanager
def _strict_truncation():
    """Make Pillow raise on truncated data even if ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set.

    The global flag is only touched (under a lock) when someone has switched it on.
    """
    if not ImageFile.LOAD_TRUNCATED_IMAGES:
        yield
        return
    with _TRUNCATION_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _open_header(stream: BinaryIO, label: PathLike, limit: int) -> Image.Image:
    """Parse the header only and refuse oversized images before any pixel is decoded."""
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # Superseded by ``limit`` (checked just below), which may be larger.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(stream, formats=_READ_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            label, f"refused by Pillow's decompression-bomb guard ({_one_line(exc)}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS to allow it"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(
            label, f"not a recognised image (readable formats: {', '.join(_READ_FORMATS)})"
        ) from exc
    except Exception as exc:
        raise ImageReadError(label, f"corrupt image header ({_one_line(exc)})") from exc
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageReadError(label, f"invalid image size {width}x{height}")
    if width * height > limit:
        raise ImageTooLargeError(
            label, f"{width}x{height} = {width * height} pixels exceeds the limit of {limit} "
            f"(pass max_pixels or set {MAX_PIXELS_ENV} to allow it)"
        )
    return im


def _swap_byte_order(rawmode: str) -> str | None:
    """``"RGB;16B"`` -> ``"RGB;16L"`` and back (``N`` = native); None if not 16-bit."""
    base, _, depth = rawmode.rpartition(";")
    if not base or depth not in ("16B", "16L", "16N"):
        return None
    if depth == "16N":
        depth = "16L" if sys.byteorder == "little" else "16B"
    return f"{base};{'16L' if depth == '16B' else '16B'}"


def _tile_rawmode(tile) -> str | None:
    args = tile.args if hasattr(tile, "args") else tile[3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


def _with_rawmode(tile, rawmode: str):
    args = tile[3]
    new_args = rawmode if isinstance(args, str) else (rawmode,) + tuple(args[1:])
    return tile._replace(args=new_args) if hasattr(tile, "_replace") else (*tile[:3], new_args)


def _is_16bit_colour(im: Image.Image) -> bool:
    """Whether Pillow would decode this 16-bit RGB/RGBA/LA image to 8 bits."""
    if im.mode not in ("RGB", "RGBA") or not getattr(im, "tile", None):
        return False
    rawmodes = {_tile_rawmode(tile) for tile in im.tile}
    if rawmodes == {"LA;16B"}:
        return True
    return all(rawmode is not None and _swap_byte_order(rawmode) for rawmode in rawmodes)


def _decode_16bit_colour(im: Image.Image, stream: BinaryIO, label, limit) -> np.ndarray:
    """Full-precision uint16 pixels of a 16-bit RGB(A)/LA file that Pillow maps to 8 bits.

    Pillow's unpackers for ``RGB;16B`` keep the first byte of each sample. Decoding the same
    tiles again with the opposite byte order keeps the other byte; filters and compression
    work on raw bytes, so ``high * 256 + low`` is exact. 16-bit grey+alpha (``LA;16B``)
    has 4 bytes per pixel, which decode losslessly as 8-bit RGBA = (Lhi, Llo, Ahi, Alo).
    """
    tiles = list(im.tile)
    if {_tile_rawmode(tile) for tile in tiles} == {"LA;16B"}:
        im.tile = [_with_rawmode(tile, "RGBA") for tile in tiles]
        im.load()
        packed = np.asarray(im).astype(np.uint16)
        grey = (packed[..., 0] << 8) | packed[..., 1]
        return np.repeat(grey[..., None], 3, axis=2)
    im.load()
    high = np.asarray(im).astype(np.uint16)
    low_im = _open_header(stream, label, limit)
    with low_im:
        low_im.tile = [_with_rawmode(tile, _swap_byte_order(_tile_rawmode(tile))) for tile in tiles]
        low_im.load()
        low = np.asarray(low_im).astype(np.uint16)
    return ((high << 8) | low)[..., :3]


class _UnsupportedImage(Exception):
    """Decoded fine but cannot be expressed as RGB (e.g. LAB, HSV)."""


def _pixels_of(im: Image.Image) -> tuple[np.ndarray, float]:
    """Decoded pixels (H, W, 3) or (H, W) in a numeric dtype, and the value of full scale."""
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.float32), 65535.0
    if mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.float32), 65535.0
    if mode == "F":
        return np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0), 1.0
    if mode == "1":
        return np.asarray(im.convert("L")), 255.0
    if mode == "L":
        return np.asarray(im), 255.0
    if mode in ("LA", "La"):
        return np.asarray(im.convert("LA"))[..., 0], 255.0
    if mode in ("RGBA", "RGBa", "PA", "P"):
        return np.asarray(im.convert("RGBA"))[..., :3], 255.0
    if mode in ("RGB",):
        return np.asarray(im), 255.0
    try:
        return np.asarray(im.convert("RGB")), 255.0  # CMYK, YCbCr, RGBX, ...
    except ValueError as exc:
        raise _UnsupportedImage(f"unsupported colour mode {mode}") from exc


def _bit_depth(mode: str) -> int:
    if mode == "1":
        return 1
    if mode.startswith("I;16"):
        return 16
    if mode in ("I", "F"):
        return 32
    return 8


def _has_alpha(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        return True
    if "transparency" in im.info:
        return True
    palette = getattr(im, "palette", None)
    return im.mode == "P" and palette is not None and palette.mode == "RGBA"


def _decode_stream(stream: BinaryIO, label: PathLike, max_pixels: int | None):
    limit = _resolve_max_pixels(max_pixels)
    stream.seek(0, os.SEEK_END)
    if stream.tell() == 0:
        raise ImageReadError(label, "file is empty (0 bytes)")
    im = _open_header(stream, label, limit)
    with im:
        mode = im.mode
        # Pillow's TIFF plugin applies (and deletes) the orientation tag while loading.
        tiff_tags = getattr(im, "tag_v2", None) if isinstance(im, TiffImagePlugin.TiffImageFile) else None
        tiff_orientation = _valid_orientation(tiff_tags.get(_ORIENTATION_TAG, 1)) if tiff_tags else 1
        try:
            with _strict_truncation():
                if _is_16bit_colour(im):
                    pixels, full_scale, bit_depth = _decode_16bit_colour(im, stream, label, limit), 65535.0, 16
                else:
                    im.load()
                    (pixels, full_scale), bit_depth = _pixels_of(im), _bit_depth(mode)
        except ImageError:
            raise
        except _UnsupportedImage as exc:
            raise ImageReadError(label, str(exc)) from exc
        except MemoryError as exc:
            raise ImageTooLargeError(label, "not enough memory to decode the image") from exc
        except Exception as exc:
            text = _one_line(exc)
            if "truncated" in text.lower():
                raise ImageReadError(label, f"truncated image data ({text})") from exc
            raise ImageReadError(label, f"corrupt or unreadable image data ({text})") from exc

        if tiff_orientation != 1 and _ORIENTATION_TAG not in im.tag_v2:
            orientation, pending_orientation = tiff_orientation, 1  # already applied by Pillow
        else:
            orientation = pending_orientation = _orientation_of(im)
        exif = _normalise_exif(im.info.get("exif"))
        if exif is not None and orientation != 1:
            exif = _exif_with_orientation_reset(exif)
        quantization = quality = subsampling = None
        if isinstance(im, JpegImagePlugin.JpegImageFile):
            quantization = _natural_order_tables(getattr(im, "quantization", None) or {})
            quality = estimate_jpeg_quality(quantization)
            subsampling = _jpeg_subsampling(getattr(im, "layer", []))
        info_format = im.format or "unknown"
        has_alpha = _has_alpha(im)
        progressive = bool(im.info.get("progressive") or im.info.get("progression"))
        icc = _icc_if_rgb(im.info.get("icc_profile"))

    if pixels.ndim == 2:
        pixels = pixels[..., None]
    pixels = _apply_orientation(pixels, pending_orientation)
    image = np.empty(pixels.shape[:2] + (3,), dtype=np.float32)
    np.divide(pixels, np.float32(full_scale), out=image, dtype=np.float32, casting="unsafe")
    np.clip(image, 0.0, 1.0, out=image)
    info = ImageInfo(
        path=Path(label),
        format=info_format,
        mode=mode,
        width=image.shape[1],
        height=image.shape[0],
        bit_depth=bit_depth,
        has_alpha=has_alpha,
        orientation=orientation,
        jpeg_quantization=quantization,
        jpeg_quality=quality,
        jpeg_subsampling=subsampling,
        progressive=progressive,
        exif=exif,
        icc_profile=icc,
    )
    return image, info


def read_image(path: PathLike, max_pixels: int | None = None) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file as float32 RGB ``(H, W, 3)`` in ``[0, 1]`` plus its :class:`ImageInfo`.

    Handles JPEG (baseline, progressive, greyscale, CMYK and Adobe inverted CMYK), PNG (1-16
    bit grey/RGB, palette with transparency, LA/RGBA), BMP, TIFF (8 and 16 bit) and WebP;
    the first frame of multi-frame files. See the module docstring for the colour rules.

    Raises:
        ImageReadError: missing, empty, truncated or corrupt file, not an image, unsupported.
        ImageTooLargeError: the header announces more than ``max_pixels`` pixels.
    """
    label = Path(path)
    try:
        stream = open(label, "rb")
    except FileNotFoundError as exc:
        raise ImageReadError(label, "no such file") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(label, "is a folder, not an image file") from exc
    except PermissionError as exc:
        raise ImageReadError(label, "permission denied") from exc
    except OSError as exc:
        raise ImageReadError(label, f"cannot open ({_one_line(exc)})") from exc
    with stream:
        return _decode_stream(stream, label, max_pixels)


def decode_image_bytes(
    data: bytes, name: str = "<bytes>", max_pixels: int | None = None
) -> tuple[np.ndarray, ImageInfo]:
    """:func:`read_image` for an in-memory encoded image; ``name`` labels errors and the info."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return _decode_stream(io.BytesIO(bytes(data)), name, max_pixels)


# --------------------------------------------------------------------------- conversions


def to_float32(array: np.ndarray) -> np.ndarray:
    """uint8 -> /255, uint16 -> /65535, bool -> 0/1, floats -> float32 unchanged in value."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535)
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    raise ValueError(f"array: unsupported dtype {array.dtype} (expected uint8, uint16 or float)")


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Float in [0, 1] -> round(x * 255) clipped to 0..255; uint16 -> round(x / 257).

    uint8 input is returned unchanged. Non-finite floats raise ValueError rather than
    silently turning into black pixels.
    """
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return np.rint(array / 257.0).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError("array: contains NaN or infinite values")
        return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    raise ValueError(f"array: unsupported dtype {array.dtype} (expected uint8, uint16 or float)")


def _to_uint16(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint16:
        return array
    if array.dtype == np.uint8:
        return array.astype(np.uint16) * np.uint16(257)
    if not np.all(np.isfinite(array)):
        raise ValueError("image: contains NaN or infinite values")
    return np.clip(np.rint(array.astype(np.float64) * 65535.0), 0, 65535).astype(np.uint16)


def _as_image_array(image) -> np.ndarray:
    """Validate shape/dtype: (H, W), (H, W, 1) -> (H, W); (H, W, 3) kept."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"image must be (H, W), (H, W, 1) or (H, W, 3), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image is empty, shape {array.shape}")
    if not (array.dtype in (np.uint8, np.uint16) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"image: unsupported dtype {array.dtype} (expected float, uint8, uint16)")
    return array


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


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _write_png16(fp: BinaryIO, pixels: np.ndarray, exif: bytes | None, icc: bytes | None) -> None:
    """16-bit grey or RGB PNG (Pillow cannot write 16-bit colour PNG); rows use the Sub filter."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    rows = pixels.astype(">u2").reshape(height, width * channels).view(np.uint8)
    step = 2 * channels
    filtered = rows.copy()
    filtered[:, step:] = rows[:, step:] - rows[:, :-step]  # uint8 wrap-around, PNG filter 1
    scanlines = np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1)
    fp.write(b"\x89PNG\r\n\x1a\n")
    colour_type = 0 if channels == 1 else 2
    fp.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)))
    if icc:
        fp.write(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        fp.write(_png_chunk(b"eXIf", exif[len(_EXIF_HEADER):] if exif.startswith(_EXIF_HEADER) else exif))
    compressed = zlib.compress(scanlines.tobytes(), 6)
    for start in range(0, max(len(compressed), 1), 1 << 24):
        fp.write(_png_chunk(b"IDAT", compressed[start:start + (1 << 24)]))
    fp.write(_png_chunk(b"IEND", b""))


def _write_tiff16(fp: BinaryIO, pixels: np.ndarray, icc: bytes | None) -> None:
    """16-bit grey or RGB little-endian TIFF, one Deflate strip with horizontal predictor."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    samples = pixels.reshape(height, width, channels).astype("<u2")
    predicted = samples.copy()
    predicted[:, 1:] = samples[:, 1:] - samples[:, :-1]  # Predictor 2, uint16 wrap-around
    strip = zlib.compress(predicted.tobytes(), 6)
    extra = bytearray()
    tags = []

    def external(payload: bytes) -> int:  # offset filled in once the IFD size is known
        extra.extend(payload + b"\x00" * (len(payload) % 2))
        return len(extra) - len(payload) - len(payload) % 2

    SHORT, LONG, UNDEFINED = 3, 4, 7
    bits_offset = external(struct.pack("<3H", 16, 16, 16)) if channels == 3 else None
    icc_offset = external(icc) if icc else None
    tags.append((256, LONG, 1, width))
    tags.append((257, LONG, 1, height))
    tags.append((258, SHORT, channels, ("extra", bits_offset) if channels == 3 else 16))
    tags.append((259, SHORT, 1, 8))  # Adobe Deflate
    tags.append((262, SHORT, 1, 2 if channels == 3 else 1))
    tags.append((273, LONG, 1, ("strip", 0)))
    tags.append((277, SHORT, 1, channels))
    tags.append((278, LONG, 1, height))
    tags.append((279, LONG, 1, len(strip)))
    tags.append((284, SHORT, 1, 1))
    tags.append((317, SHORT, 1, 2))
    if icc:
        tags.append((34675, UNDEFINED, len(icc), ("extra", icc_offset)))
    ifd_size = 2 + 12 * len(tags) + 4
    extra_start = 8 + ifd_size
    strip_start = extra_start + len(extra)
    if strip_start + len(strip) >= 1 << 32:
        raise ValueError("16-bit TIFF larger than 4 GiB is not supported")
    ifd = bytearray(struct.pack("<H", len(tags)))
    for tag, kind, count, value in tags:
        if isinstance(value, tuple):
            value = (extra_start if value[0] == "extra" else strip_start) + value[1]
            ifd += struct.pack("<HHII", tag, kind, count, value)
        elif kind == SHORT:
            ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    fp.write(b"II*\x00" + struct.pack("<I", 8) + bytes(ifd) + bytes(extra) + strip)


def _encode_into(fp: BinaryIO, pixels, image_format, bit_depth, quality, subsampling, exif, icc):
    if bit_depth == 16:
        if image_format == "PNG":
            return _write_png16(fp, pixels, exif, icc)
        return _write_tiff16(fp, pixels, icc)
    params: dict = {}
    if image_format == "JPEG":
        params.update(quality=quality, subsampling=subsampling)
    elif image_format == "WEBP":
        params.update(quality=quality)
    elif image_format == "TIFF":
        params.update(compression="tiff_adobe_deflate")
    if image_format != "BMP":
        if exif:
            params["exif"] = exif
        if icc:
            params["icc_profile"] = icc
    Image.fromarray(np.ascontiguousarray(pixels)).save(fp, format=image_format, **params)


# --------------------------------------------------------------------------- writing


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_image(
    path: PathLike,
    image: np.ndarray,
    *,
    quality: int = 95,
    subsampling: str = "4:2:0",
    overwrite: bool = False,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    bit_depth: int = 8,
    protected: Iterable[PathLike] = (),
) -> Path:
    """Write ``image`` atomically; the format follows the extension of ``path``.

    ``image`` is float ``(H, W, 3)``/``(H, W)`` in [0, 1] (clipped), or uint8/uint16.
    ``.jpg/.jpeg`` use ``quality`` and ``subsampling``; ``.webp`` uses ``quality``;
    ``.png``, ``.tif/.tiff`` may be 16-bit (``bit_depth=16``; 16-bit TIFF carries no EXIF);
    ``.bmp`` carries no metadata. ``exif`` (e.g. :attr:`ImageInfo.exif`) and ``icc_profile``
    are embedded where the format allows.

    The file is encoded into a hidden temporary file in the target folder and moved into
    place (``os.link`` when not overwriting, so an existing file is never clobbered, else
    ``os.replace``); on any failure the temporary file is removed and no partial file is
    left. Missing parent folders are created.

    Raises:
        ImageWriteError: unknown extension, target exists (without ``overwrite``), target is
            one of ``protected`` (even with ``overwrite``), folder not writable, encoder error.
        ValueError: bad ``image``, ``quality``, ``subsampling`` or ``bit_depth``.
    """
    target = Path(path)
    image_format = _WRITE_FORMATS.get(target.suffix.lower())
    if image_format is None:
        raise ImageWriteError(
            target, f"unsupported extension {target.suffix or '(none)'!r} "
            f"(use one of {', '.join(sorted(_WRITE_FORMATS))})"
        )
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    if bit_depth == 16 and image_format not in ("PNG", "TIFF"):
        raise ImageWriteError(target, f"16-bit output needs .png or .tif, not {target.suffix}")
    quality = _check_quality(quality)
    subsampling = _check_subsampling(subsampling)
    array = _as_image_array(image)
    pixels = _to_uint16(array) if bit_depth == 16 else to_uint8(array)
    exif = _normalise_exif(exif)
    icc = bytes(icc_profile) if icc_profile else None

    for item in protected:
        if _same_file(target, Path(item)):
            raise ImageWriteError(target, f"refusing to overwrite an input file ({item})")
    if target.is_dir():
        raise ImageWriteError(target, "is a folder")
    if target.exists() and not overwrite:
        raise ImageWriteError(target, "file exists (pass overwrite=True to replace it)")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise ImageWriteError(target, f"cannot write in folder {folder} ({_one_line(exc)})") from exc

    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as fp:
            _encode_into(fp, pixels, image_format, bit_depth, quality, subsampling, exif, icc)
            fp.flush()
            os.fsync(fp.fileno())
        mode = (target.stat().st_mode & 0o7777) if target.exists() else 0o666 & ~_current_umask()
        os.chmod(temp, mode)
        if overwrite:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)  # atomic and fails if the target appeared meanwhile
            except FileExistsError:
                raise ImageWriteError(target, "file exists (pass overwrite=True to replace it)") from None
            except OSError:  # file system without hard links
                if target.exists():
                    raise ImageWriteError(target, "file exists (pass overwrite=True to replace it)") from None
                os.replace(temp, target)
    except ImageWriteError:
        raise
    except Exception as exc:
        raise ImageWriteError(target, f"could not write {image_format} ({_one_line(exc)})") from exc
    finally:
        try:
            temp.unlink()
        except OSError:  # already moved into place (os.replace) or never created
            pass
    return target


# --------------------------------------------------------------------------- listing


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def iter_image_files(paths: PathLike | Iterable[PathLike], recursive: bool = False) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted, de-duplicated list of images.

    Folders contribute files whose extension is in :data:`IMAGE_EXTENSIONS` (any case), all
    levels deep when ``recursive``; hidden entries (names starting with ".") are skipped.
    Patterns (``*``, ``?``, ``[``) are expanded with :mod:`glob` (``**`` when ``recursive``)
    and may match nothing.

    Raises:
        ImageReadError: a named file or folder does not exist, or a named file does not have
            an image extension.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: set[Path] = set()

    def add_folder(folder: Path) -> None:
        entries = folder.rglob("*") if recursive else folder.iterdir()
        for entry in entries:
            relative = entry.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts):
                continue
            if _is_image_name(entry) and entry.is_file():
                found.add(entry)

    for item in paths:
        candidate = Path(item)
        text = str(item)
        if candidate.is_dir():
            add_folder(candidate)
        elif candidate.is_file():
            if not _is_image_name(candidate):
                raise ImageReadError(candidate, f"not an image file extension (expected one of {', '.join(IMAGE_EXTENSIONS)})")
            found.add(candidate)
        elif any(char in text for char in "*?["):
            for match in glob.glob(text, recursive=recursive):
                match_path = Path(match)
                if match_path.is_dir():
                    add_folder(match_path)
                elif match_path.is_file() and _is_image_name(match_path):
                    found.add(match_path)
        else:
            raise ImageReadError(candidate, "no such file or folder")
    return sorted(found)
