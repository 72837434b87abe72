"""Shared pieces of :mod:`mlsm.io`: path type, limits, extensions, errors, the info record."""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union




PathLike = Union[str, os.PathLike]

DEFAULT_MAX_PIXELS = 120_000_000
"""Largest ``width * height`` read by default (about a 12,000 x 10,000 photo)."""

MAX_PIXELS_ENV = "MLSM_MAX_PIXELS"
"""Environment variable that overrides :data:`DEFAULT_MAX_PIXELS`."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
"""File extensions treated as images (compared case-insensitively)."""

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
"""File extensions that ``mlsm enhance`` reads as videos (``iter_image_files(videos=True)``)."""

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


REGULAR_FILE = "a regular file"


def why_not_a_file(path: PathLike) -> str:
    """Why ``path`` cannot be read as a file, in a few words ("no such file or folder", "a
    symbolic link loop", "a FIFO, socket or device, not a regular file", ...), or :data:`REGULAR_FILE`."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if os.path.islink(path):
            return f"a broken symbolic link (to {os.readlink(path)})"
        if exc.errno == errno.EACCES:
            return "permission denied"
        return "no such file or folder"
    if stat.S_ISDIR(mode):
        return "is a folder, not an image file"
    if not stat.S_ISREG(mode):
        return "a FIFO, socket or device, not a regular file"
    return REGULAR_FILE


class ImageWriteNote(UserWarning):
    """The image was written, but some metadata could not be (``str(note) == f"{path}: {what}"``)."""

    def __init__(self, path: PathLike | str, what: str):
        self.path = path
        self.what = what
        super().__init__(f"{path}: {what}")


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
    marks a progressive JPEG; ``bit_depth`` is bits per sample (16 for 16-bit PNG/TIFF);
    ``notes`` are one-line remarks on what was tolerated (e.g. corrupt EXIF ignored), which the
    decoder would otherwise have printed as warnings that name no file.
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
    notes: tuple[str, ...] = ()


