"""Tests for mlsm.io.writing: atomic writes, round trips, metadata, refusals."""
from __future__ import annotations

import os
import stat
import warnings

import numpy as np
import pytest
from PIL import Image

import mlsm.io as mio
from mlsm.io import (
    ImageWriteError,
    read_image,
    to_float32,
    to_uint8,
    write_image,
)

from io_samples import smooth_rgb, assert_one_line_names, srgb_profile


@pytest.mark.parametrize("name", ["a.png", "a.tif", "a.tiff", "a.bmp", "a.PNG"])
def test_lossless_8bit_round_trip(tmp_path, name):
    pixels = smooth_rgb()
    written = write_image(tmp_path / name, to_float32(pixels))
    assert written == tmp_path / name
    image, info = read_image(written)
    np.testing.assert_array_equal(to_uint8(image), pixels)
    assert info.bit_depth == 8


@pytest.mark.parametrize("name", ["d.png", "d.tif"])
@pytest.mark.parametrize("grey", [False, True])
def test_16bit_round_trip(tmp_path, name, grey):
    rng = np.random.default_rng(4)
    shape = (9, 13) if grey else (9, 13, 3)
    values = rng.integers(0, 65536, shape, dtype=np.uint16)
    image = values.astype(np.float32) / 65535
    write_image(tmp_path / name, image, bit_depth=16)
    back, info = read_image(tmp_path / name)
    assert info.bit_depth == 16
    got = np.rint(back.astype(np.float64) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(got[..., 0] if grey else got, values)
    if grey:
        np.testing.assert_array_equal(got[..., 0], got[..., 2])
    with Image.open(tmp_path / name) as im:  # Pillow agrees on the high byte
        high = np.asarray(im.convert("RGB"))[..., 0] if not grey else np.asarray(im) >> 8
        np.testing.assert_array_equal(high, (values if grey else values[..., 0]) >> 8)


def test_16bit_tiff_readable_by_tifffile(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    values = np.random.default_rng(5).integers(0, 65536, (7, 11, 3), dtype=np.uint16)
    write_image(tmp_path / "x.tif", values, bit_depth=16, icc_profile=b"RGB-profile-bytes")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "x.tif"), values)


def test_jpeg_and_webp_round_trip(tmp_path):
    pixels = smooth_rgb()
    write_image(tmp_path / "a.jpg", pixels, quality=80, subsampling="4:4:4")
    image, info = read_image(tmp_path / "a.jpg")
    assert info.jpeg_quality == 80 and info.jpeg_subsampling == "4:4:4"
    assert np.abs(image - pixels / 255).mean() < 0.03
    write_image(tmp_path / "a.webp", pixels, quality=90)
    image, info = read_image(tmp_path / "a.webp")
    assert info.format == "WEBP" and np.abs(image - pixels / 255).mean() < 0.03


def test_grey_input_writes_grey_file(tmp_path):
    grey = np.linspace(0, 1, 40, dtype=np.float32).reshape(5, 8)
    write_image(tmp_path / "g.png", grey)
    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "L"
    image, _ = read_image(tmp_path / "g.png")
    np.testing.assert_array_equal(to_uint8(image)[..., 1], to_uint8(grey))


def test_metadata_passthrough(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "mlsm-test"
    icc = srgb_profile()
    pixels = smooth_rgb()
    for name, bit_depth in (("m.jpg", 8), ("m.png", 8), ("m16.png", 16), ("m.webp", 8)):
        write_image(tmp_path / name, pixels, exif=exif.tobytes(), icc_profile=icc, bit_depth=bit_depth)
        _, info = read_image(tmp_path / name)
        assert info.icc_profile == icc, name
        reread = Image.Exif()
        reread.load(info.exif)
        assert reread[0x010F] == "mlsm-test", name


def test_written_file_has_normal_permissions(tmp_path):
    write_image(tmp_path / "a.png", smooth_rgb())
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.png").stat().st_mode) == 0o666 & ~mask


def test_never_overwrites_existing_or_protected(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    with pytest.raises(ImageWriteError, match="exists") as caught:
        write_image(target, smooth_rgb())
    assert_one_line_names(caught.value, target)
    assert target.read_bytes() == b"keep me"
    write_image(target, smooth_rgb(), overwrite=True)
    assert read_image(target)[0].shape == (24, 32, 3)

    source = tmp_path / "input.png"
    Image.fromarray(smooth_rgb(8, 8)).save(source)
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    same_file = tmp_path / "sub" / ".." / "input.png"
    with pytest.raises(ImageWriteError, match="input"):
        write_image(same_file, smooth_rgb(), overwrite=True, protected=[source])
    with pytest.raises(ImageWriteError, match="input"):
        write_image(source, smooth_rgb(), overwrite=True, protected=[str(same_file)])
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.png", "out.png", "sub"]


def test_failed_write_leaves_no_partial_or_temp_file(tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial")
        raise OSError("disk exploded")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageWriteError, match="disk exploded") as caught:
        write_image(tmp_path / "new.png", smooth_rgb())
    assert_one_line_names(caught.value, tmp_path / "new.png")
    assert list(tmp_path.iterdir()) == []

    old = tmp_path / "old.jpg"
    old.write_bytes(b"previous version")
    with pytest.raises(ImageWriteError):
        write_image(old, smooth_rgb(), overwrite=True)
    assert old.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["old.jpg"]


def test_failed_16bit_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_png16(fp, *args):
        fp.write(b"\x89PNG")
        raise MemoryError("out of memory")

    monkeypatch.setattr(mio.writing, "_write_png16", broken_png16)
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "deep.png", smooth_rgb(), bit_depth=16)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "afile.txt"
    blocker.write_text("I am a file, not a folder")
    target = blocker / "out.png"
    with pytest.raises(ImageWriteError) as caught:
        write_image(target, smooth_rgb())
    assert_one_line_names(caught.value, target)
    nested = tmp_path / "new" / "deeper" / "out.png"  # missing folders are created
    write_image(nested, smooth_rgb())
    assert nested.is_file()


def test_bad_write_arguments(tmp_path):
    with pytest.raises(ImageWriteError, match="extension"):
        write_image(tmp_path / "a.gif", smooth_rgb())
    with pytest.raises(ImageWriteError, match="16-bit"):
        write_image(tmp_path / "a.jpg", smooth_rgb(), bit_depth=16)
    with pytest.raises(ValueError, match="quality"):
        write_image(tmp_path / "a.jpg", smooth_rgb(), quality=0)
    with pytest.raises(ValueError, match="subsampling"):
        write_image(tmp_path / "a.jpg", smooth_rgb(), subsampling="4:1:1")
    with pytest.raises(ValueError, match="shape"):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 4), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        write_image(tmp_path / "a.png", np.full((4, 4, 3), np.nan, np.float32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("length", [241, 250, 255])
def test_long_output_names_are_written(tmp_path, length):
    name = "n" * (length - 4) + ".png"
    written = write_image(tmp_path / name, smooth_rgb(8, 8))
    assert written.name == name and read_image(written)[0].shape == (8, 8, 3)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_exif_too_long_for_jpeg_is_trimmed_with_a_note(tmp_path):
    fields = Image.Exif()
    fields[0x010F] = "Camera"
    fields[0x0112] = 1
    fields.get_ifd(0x8769)[0x927C] = b"M" * 70_000  # a 70 KB maker note
    exif = fields.tobytes()
    assert len(exif) > 65533
    source = tmp_path / "big_exif.png"
    Image.fromarray(smooth_rgb()).save(source, exif=exif)
    image, info = read_image(source)
    with pytest.warns(mio.ImageWriteNote, match="maker note") as notes:
        written = write_image(tmp_path / "out.jpg", image, exif=info.exif)
    assert str(notes[0].message).startswith(f"{tmp_path / 'out.jpg'}: ")
    with Image.open(written) as im:
        assert im.getexif()[0x010F] == "Camera"
    # a PNG holds it all, with no note
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "out.png", image, exif=info.exif)
    # EXIF that cannot be parsed and is too long is dropped whole
    with pytest.warns(mio.ImageWriteNote, match="dropped it"):
        write_image(tmp_path / "junk.jpg", image, exif=b"Exif\x00\x00" + b"\x01" * 70_000)
    with Image.open(tmp_path / "junk.jpg") as im:
        assert not im.getexif()
