"""EXIF orientation and ICC helpers of :mod:`mlsm.io`."""
from __future__ import annotations

import struct

import numpy as np
from PIL import Image

from mlsm.io.common import _EXIF_HEADER, _ORIENTATION_TAG


# --------------------------------------------------------------------------- EXIF helpers

JPEG_EXIF_LIMIT = 65533
"""Most bytes of EXIF (``Exif\\0\\0`` header included) one JPEG APP1 segment can hold."""

_EXIF_IFD, _MAKER_NOTE = 0x8769, 0x927C


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




def exif_within(exif: bytes, limit: int = JPEG_EXIF_LIMIT) -> tuple[bytes | None, str | None]:
    """``exif`` cut to at most ``limit`` bytes, and a note saying what was dropped (None if nothing).

    First the maker note and the thumbnail go (re-serialising keeps IFD0, the Exif and GPS
    IFDs only), then the largest remaining tags one by one (never the orientation); if the
    block cannot be parsed or still does not fit, all EXIF is dropped.
    """
    if len(exif) <= limit:
        return exif, None
    size = f"EXIF of {len(exif):,} bytes is over the format's {limit:,}-byte limit"
    try:
        fields = Image.Exif()
        fields.load(exif)
        fields.get_ifd(_EXIF_IFD).pop(_MAKER_NOTE, None)
        trimmed = _normalise_exif(fields.tobytes())
        dropped = 0
        while trimmed is not None and len(trimmed) > limit:
            sizes = {tag: len(value) if isinstance(value, (bytes, str)) else 0 for tag, value in fields.items()
                     if tag not in (_ORIENTATION_TAG, _EXIF_IFD)}
            if not sizes or max(sizes.values()) == 0:
                trimmed = None
                break
            del fields[max(sizes, key=sizes.get)]
            dropped += 1
            trimmed = _normalise_exif(fields.tobytes())
    except Exception:  # unparseable EXIF
        trimmed = None
    if trimmed is None or len(trimmed) > limit:
        return None, f"{size}: dropped it"
    extra = f" and the {dropped} largest tag{'s' if dropped > 1 else ''}" if dropped else ""
    return trimmed, f"{size}: dropped the maker note, the thumbnail{extra} ({len(trimmed):,} bytes kept)"
