"""Images and checks shared by the mlsm.io tests (built here, independent of mlsm.io's encoders)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from mlsm.io import (
    ImageError,
)


def smooth_rgb(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth uint8 RGB test picture (gradients + a little noise), easy on JPEG."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200 + 20
    image += rng.normal(0, 3, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, samples: np.ndarray,
              filters: tuple[int, ...] = (0,), header_only: bool = False) -> bytes:
    """A PNG built by hand, independent of mlsm.io and of Pillow's encoder.

    ``samples`` is (H, W*channels) big-endian-ready integers; row r uses filter
    ``filters[r % len(filters)]`` (0 none, 1 Sub, 2 Up) so decoders must undo real filters.
    """
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    if header_only:
        idat = zlib.compress(b"\x00" * 64)
    else:
        dtype = ">u2" if bit_depth == 16 else np.uint8
        rows = np.ascontiguousarray(samples.astype(dtype)).view(np.uint8).reshape(height, -1)
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
        step = channels * (2 if bit_depth == 16 else 1)
        lines = []
        for r in range(height):
            kind = filters[r % len(filters)]
            row = rows[r]
            if kind == 1:
                out = row.copy()
                out[step:] = row[step:] - row[:-step]
            elif kind == 2:
                out = row - (rows[r - 1] if r > 0 else 0)
            else:
                out = row
            lines.append(bytes([kind]) + out.astype(np.uint8).tobytes())
        idat = zlib.compress(b"".join(lines))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def assert_one_line_names(err: ImageError, path) -> None:
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert str(Path(path).name) in text
    assert err.path is not None and err.cause and "Traceback" not in text


def srgb_profile() -> bytes:
    ImageCms = pytest.importorskip("PIL.ImageCms")
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
