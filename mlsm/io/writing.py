"""Writing images atomically (:func:`write_image`), 16-bit PNG/TIFF encoders: see :mod:`mlsm.io`."""
from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np
from PIL import Image

from mlsm.atomic import default_file_mode, temporary_file
from mlsm.io.common import _EXIF_HEADER, _WRITE_FORMATS, ImageWriteError, ImageWriteNote, PathLike, _one_line
from mlsm.io.convert import _as_image_array, to_uint8, to_uint16
from mlsm.io.exif import JPEG_EXIF_LIMIT, _normalise_exif, exif_within
from mlsm.io.jpeg import _check_quality, _check_subsampling


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
    are embedded where the format allows; EXIF too long for a JPEG segment is trimmed (see
    :func:`~mlsm.io.exif.exif_within`) with an :class:`ImageWriteNote` warning naming the file.

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
    pixels = to_uint16(array) if bit_depth == 16 else to_uint8(array)
    exif = _normalise_exif(exif)
    if exif is not None and image_format == "JPEG":
        exif, note = exif_within(exif, JPEG_EXIF_LIMIT)
        if note:
            warnings.warn(ImageWriteNote(target, note), stacklevel=2)
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
        handle, temp = temporary_file(target)
    except OSError as exc:
        raise ImageWriteError(target, f"cannot write in folder {folder} ({_one_line(exc)})") from exc

    try:
        with os.fdopen(handle, "wb") as fp:
            _encode_into(fp, pixels, image_format, bit_depth, quality, subsampling, exif, icc)
            fp.flush()
            os.fsync(fp.fileno())
        mode = (target.stat().st_mode & 0o7777) if target.exists() else default_file_mode()
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


