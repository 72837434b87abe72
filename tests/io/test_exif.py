"""Tests for mlsm.io.exif: EXIF orientation and ICC profiles."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import mlsm.io as mio
from mlsm.io import (
    read_image,
    to_uint8,
)

from io_samples import smooth_rgb


def oriented_png(path: Path, pixels: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "mlsm-test"  # Make, must survive the orientation reset
    Image.fromarray(pixels).save(path, exif=exif.tobytes())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
    oriented_png(tmp_path / "o.png", pixels, orientation)
    image, info = read_image(tmp_path / "o.png")
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    np.testing.assert_array_equal(to_uint8(image), expected)
    assert info.orientation == orientation
    assert (info.height, info.width) == expected.shape[:2]


def test_exif_orientation_6_rotates_jpeg_and_resets_tag(tmp_path):
    pixels = smooth_rgb(16, 40)
    pixels[:4, :8] = (255, 0, 0)  # red marker at top-left of the stored image
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "mlsm-test"
    Image.fromarray(pixels).save(tmp_path / "rot.jpg", quality=95, exif=exif.tobytes())
    image, info = read_image(tmp_path / "rot.jpg")
    assert image.shape == (40, 16, 3) and (info.width, info.height) == (16, 40)
    assert info.orientation == 6
    # orientation 6 = rotate 90 degrees clockwise to display: stored top-left -> top-right
    assert image[1, -2, 0] > 0.8 and image[1, -2, 1] < 0.2
    assert info.exif.startswith(b"Exif\x00\x00")
    reread = Image.Exif()
    reread.load(info.exif)
    assert reread[0x0112] == 1 and reread[0x010F] == "mlsm-test"


@pytest.mark.parametrize("deep", [False, True])
def test_tiff_orientation_tag_applied_once(tmp_path, deep):
    """Pillow's TIFF loader rotates by itself; the tag must be reported, not applied twice."""
    pixels = np.arange(4 * 6 * 3, dtype=np.uint16).reshape(4, 6, 3) * (300 if deep else 1)
    if deep:
        tifffile = pytest.importorskip("tifffile")
        tifffile.imwrite(tmp_path / "o.tif", pixels, photometric="rgb", extratags=[(274, 3, 1, 6, True)])
    else:
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "o.tif", tiffinfo={274: 6})
    image, info = read_image(tmp_path / "o.tif")
    assert info.orientation == 6 and image.shape == (6, 4, 3)
    scale = 65535 if deep else 255
    np.testing.assert_array_equal(np.rint(image * scale).astype(np.uint16), np.rot90(pixels, k=-1))


def test_icc_profile_kept_only_for_rgb():
    header = bytearray(128)
    header[16:20] = b"CMYK"
    assert mio.exif._icc_if_rgb(bytes(header)) is None
    header[16:20] = b"RGB "
    assert mio.exif._icc_if_rgb(bytes(header)) == bytes(header)
