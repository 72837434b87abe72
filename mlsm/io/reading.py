"""Reading images (:func:`read_image`, :func:`decode_image_bytes`): see :mod:`mlsm.io`."""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, JpegImagePlugin, TiffImagePlugin, UnidentifiedImageError

from mlsm.io.common import (_ORIENTATION_TAG, _READ_FORMATS, DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, ImageError,
                             ImageInfo, ImageReadError, ImageTooLargeError, PathLike, REGULAR_FILE, _one_line,
                             why_not_a_file)
from mlsm.io.exif import (_apply_orientation, _exif_with_orientation_reset, _icc_if_rgb, _normalise_exif,
                           _orientation_of, _valid_orientation)
from mlsm.io.jpeg import MAX_JPEG_SCANS, _jpeg_subsampling, _natural_order_tables, count_jpeg_scans, estimate_jpeg_quality


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


_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8", "JPEG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
               (b"BM", "BMP"), (b"GIF8", "GIF"), (b"RIFF", "WebP"))
_JPEG_FRAMES = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive", 0xC3: "lossless",
                0xC5: "differential", 0xC6: "differential progressive", 0xC7: "differential lossless",
                0xC9: "arithmetic-coded", 0xCA: "arithmetic-coded progressive", 0xCB: "arithmetic-coded lossless",
                0xCD: "arithmetic-coded differential", 0xCE: "arithmetic-coded differential progressive",
                0xCF: "arithmetic-coded differential lossless"}


def _unsupported_jpeg(head: bytes) -> str | None:
    """Why the JPEG starting with ``head`` cannot be decoded by Pillow (12-bit samples, lossless
    or arithmetic coding), or None if its frame header is of a supported kind."""
    position = 2
    while position + 9 < len(head) and head[position] == 0xFF:
        marker = head[position + 1]
        if marker in _JPEG_FRAMES:
            precision = head[position + 4]
            if precision != 8:
                return f"{precision}-bit JPEG is not supported (8 bits per sample only)"
            if marker not in (0xC0, 0xC1, 0xC2):
                return f"{_JPEG_FRAMES[marker]} JPEG is not supported (baseline and progressive only)"
            return None
        position += 2 + int.from_bytes(head[position + 2:position + 4], "big")
    return None


def _why_unidentified(stream: BinaryIO) -> str:
    """What is wrong with a file Pillow could not identify, as precisely as its first bytes tell:
    an unsupported JPEG kind (12-bit, lossless, arithmetic), a PNG chunk with a bad CRC, the
    header of a known format that is corrupt, or no known format at all."""
    stream.seek(0)
    head = stream.read(1 << 16)
    kind = next((name for signature, name in _SIGNATURES if head.startswith(signature)), None)
    if kind == "PNG":
        position = 8
        while position + 12 <= len(head):
            length = int.from_bytes(head[position:position + 4], "big")
            chunk = head[position + 4:position + 8]
            end = position + 12 + length
            if end > len(head) or chunk == b"IDAT":
                break
            stored = int.from_bytes(head[end - 4:end], "big")
            if zlib.crc32(head[position + 4:end - 4]) != stored:
                return f"corrupt PNG: CRC error in the {chunk.decode('latin-1')} chunk"
            position = end
        return "corrupt PNG header"
    if kind == "JPEG":
        return _unsupported_jpeg(head) or "corrupt JPEG header"
    if kind is not None:
        return f"corrupt {kind} header"
    return f"not a recognised image (readable formats: {', '.join(_READ_FORMATS)})"


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
        raise ImageReadError(label, _why_unidentified(stream)) from exc
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
    """Decode with Pillow's warnings caught: a warning about an image that still decodes (a
    corrupt EXIF block, say) becomes one of :attr:`ImageInfo.notes` instead of two lines on
    stderr that name no file; warnings of other kinds are passed on unchanged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image, info = _decode(stream, label, max_pixels)
    notes = []
    for warning in caught:
        if issubclass(warning.category, UserWarning) and not issubclass(warning.category, DeprecationWarning):
            text = " ".join(str(warning.message).split()).rstrip(". ")
            if text and text not in notes:
                notes.append(text)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    info.notes = tuple(f"ignored: {text}" for text in notes)
    return image, info


def _refuse_scan_bombs(stream: BinaryIO, label: PathLike) -> None:
    """Refuse a JPEG with more than :data:`~mlsm.io.jpeg.MAX_JPEG_SCANS` scans before decoding."""
    position = stream.tell()
    stream.seek(0)
    scans = count_jpeg_scans(stream.read(), stop_after=MAX_JPEG_SCANS)
    stream.seek(position)
    if scans > MAX_JPEG_SCANS:
        raise ImageReadError(
            label, f"JPEG with more than {MAX_JPEG_SCANS} scans refused (real encoders write a "
            "few dozen at most; thousands of scans make decoding take minutes)")


def _decode(stream: BinaryIO, label: PathLike, max_pixels: int | None):
    limit = _resolve_max_pixels(max_pixels)
    stream.seek(0, os.SEEK_END)
    if stream.tell() == 0:
        raise ImageReadError(label, "file is empty (0 bytes)")
    im = _open_header(stream, label, limit)
    with im:
        if isinstance(im, JpegImagePlugin.JpegImageFile):
            _refuse_scan_bombs(stream, label)
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
            if isinstance(im, JpegImagePlugin.JpegImageFile):
                stream.seek(0)
                unsupported = _unsupported_jpeg(stream.read(1 << 16))
                if unsupported:
                    raise ImageReadError(label, unsupported) from exc
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
    reason = why_not_a_file(label)
    if reason not in (REGULAR_FILE, "permission denied"):  # never block on a FIFO or device
        raise ImageReadError(label, reason)
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


