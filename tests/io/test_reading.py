"""Tests for mlsm.io.reading: every readable format, decompression bombs, broken inputs."""
from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from mlsm.io import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    ImageTooLargeError,
    decode_image_bytes,
    read_image,
    to_uint8,
)

from io_samples import smooth_rgb, png_bytes, assert_one_line_names


def test_png_8bit_rgb_exact(tmp_path):
    pixels = smooth_rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image, info = read_image(tmp_path / "a.png")
    assert image.dtype == np.float32 and image.shape == (24, 32, 3)
    np.testing.assert_array_equal(to_uint8(image), pixels)
    assert (info.format, info.mode, info.width, info.height, info.bit_depth) == ("PNG", "RGB", 32, 24, 8)
    assert not info.has_alpha and info.jpeg_quality is None and info.orientation == 1


def test_png_16bit_rgb_keeps_full_precision(tmp_path):
    height, width = 5, 7
    rng = np.random.default_rng(1)
    samples = rng.integers(0, 65536, (height, width, 3), dtype=np.uint16)
    samples[0, 0] = (1000, 1001, 1002)  # steps far below 1/255
    path = tmp_path / "deep.png"
    path.write_bytes(png_bytes(width, height, 16, 2, samples.reshape(height, -1), filters=(0, 1, 2)))
    image, info = read_image(path)
    np.testing.assert_array_equal(np.rint(image * 65535).astype(np.uint16), samples)
    assert info.bit_depth == 16 and info.mode == "RGB"
    assert 0 < image[0, 0, 1] - image[0, 0, 0] < 1 / 255


def test_png_16bit_rgba_and_la_drop_alpha_keep_colour(tmp_path):
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 65536, (4, 6, 4), dtype=np.uint16)
    (tmp_path / "rgba16.png").write_bytes(png_bytes(6, 4, 16, 6, rgba.reshape(4, -1), filters=(1, 2)))
    image, info = read_image(tmp_path / "rgba16.png")
    np.testing.assert_array_equal(np.rint(image * 65535).astype(np.uint16), rgba[..., :3])
    assert info.has_alpha and info.bit_depth == 16

    la = rng.integers(0, 65536, (4, 6, 2), dtype=np.uint16)
    (tmp_path / "la16.png").write_bytes(png_bytes(6, 4, 16, 4, la.reshape(4, -1), filters=(1, 2)))
    image, info = read_image(tmp_path / "la16.png")
    grey = np.rint(image * 65535).astype(np.uint16)
    np.testing.assert_array_equal(grey[..., 0], la[..., 0])
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    assert info.has_alpha and info.bit_depth == 16


def test_png_16bit_grey(tmp_path):
    values = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1361 + 3)
    Image.fromarray(values).save(tmp_path / "g16.png")
    image, info = read_image(tmp_path / "g16.png")
    assert info.bit_depth == 16 and info.mode.startswith("I;16")
    np.testing.assert_allclose(image[..., 0], values / 65535, atol=1e-7)
    np.testing.assert_array_equal(image[..., 0], image[..., 1])
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_palette_png_with_transparency(tmp_path):
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9)
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    im = Image.fromarray(indices, mode="L").convert("P")
    im.putpalette(palette)
    im.info["transparency"] = 1
    im.save(tmp_path / "p.png", transparency=1)
    image, info = read_image(tmp_path / "p.png")
    assert info.mode == "P" and info.has_alpha
    expected = np.array(palette[:9], dtype=np.float32).reshape(3, 3)[indices] / 255
    np.testing.assert_array_equal(image, expected)  # transparent index keeps its colour (green)


def test_rgba_and_la_alpha_dropped_colour_kept(tmp_path):
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 200, 100, 50
    rgba[..., 3] = 0  # fully transparent: colour must survive, not be composited
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    image, info = read_image(tmp_path / "rgba.png")
    assert info.has_alpha and info.mode == "RGBA"
    np.testing.assert_array_equal(to_uint8(image), rgba[..., :3])

    la = np.stack([np.full((4, 5), 77, np.uint8), np.full((4, 5), 10, np.uint8)], -1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    image, info = read_image(tmp_path / "la.png")
    assert info.has_alpha and info.mode == "LA"
    np.testing.assert_array_equal(to_uint8(image), np.full((4, 5, 3), 77, np.uint8))


def test_greyscale_png_and_jpeg_become_three_equal_channels(tmp_path):
    grey = smooth_rgb()[..., 0]
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(grey).save(tmp_path / "g.jpg", quality=90)
    image, info = read_image(tmp_path / "g.png")
    np.testing.assert_array_equal(to_uint8(image), np.repeat(grey[..., None], 3, -1))
    image, info = read_image(tmp_path / "g.jpg")
    assert image.shape == (24, 32, 3) and info.mode == "L"
    np.testing.assert_array_equal(image[..., 0], image[..., 1])
    np.testing.assert_array_equal(image[..., 0], image[..., 2])
    assert np.abs(image[..., 0] - grey / 255).mean() < 0.02
    assert info.jpeg_subsampling is None and info.jpeg_quality == 90


def test_jpeg_baseline_and_progressive(tmp_path):
    pixels = smooth_rgb()
    Image.fromarray(pixels).save(tmp_path / "b.jpg", quality=85)
    Image.fromarray(pixels).save(tmp_path / "p.jpg", quality=85, progressive=True)
    for name, progressive in (("b.jpg", False), ("p.jpg", True)):
        image, info = read_image(tmp_path / name)
        assert image.shape == (24, 32, 3) and 0 <= image.min() and image.max() <= 1
        assert np.abs(image - pixels / 255).mean() < 0.03
        assert info.format == "JPEG" and info.progressive is progressive
        assert info.jpeg_quality == 85 and info.jpeg_subsampling == "4:2:0"


def test_cmyk_jpeg_becomes_plausible_rgb(tmp_path):
    cmyk = np.zeros((16, 24, 4), np.uint8)
    cmyk[:, :8, 0] = 255    # cyan
    cmyk[:, 8:16, 3] = 255  # black
    # right third: no ink -> white
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "cmyk.jpg", quality=95)  # Adobe inverted CMYK
    image, info = read_image(tmp_path / "cmyk.jpg")
    assert info.mode == "CMYK" and image.shape == (16, 24, 3)
    np.testing.assert_allclose(image[4:12, 2:6].mean(axis=(0, 1)), [0, 1, 1], atol=0.05)
    np.testing.assert_allclose(image[4:12, 10:14].mean(axis=(0, 1)), [0, 0, 0], atol=0.05)
    np.testing.assert_allclose(image[4:12, 18:22].mean(axis=(0, 1)), [1, 1, 1], atol=0.05)


def test_bmp_tiff_webp(tmp_path):
    pixels = smooth_rgb()
    Image.fromarray(pixels).save(tmp_path / "a.bmp")
    Image.fromarray(pixels).save(tmp_path / "a.tif")
    Image.fromarray(pixels).save(tmp_path / "a.webp", lossless=True)
    Image.fromarray(pixels).save(tmp_path / "lossy.webp", quality=90)
    for name, fmt in (("a.bmp", "BMP"), ("a.tif", "TIFF"), ("a.webp", "WEBP")):
        image, info = read_image(tmp_path / name)
        assert info.format == fmt
        np.testing.assert_array_equal(to_uint8(image), pixels)
    image, _ = read_image(tmp_path / "lossy.webp")
    assert np.abs(image - pixels / 255).mean() < 0.03


def test_tiff_16bit_grey_from_pillow(tmp_path):
    values = np.arange(35, dtype=np.uint16).reshape(5, 7) * 1801
    Image.fromarray(values).save(tmp_path / "g16.tif")
    image, info = read_image(tmp_path / "g16.tif")
    assert info.bit_depth == 16
    np.testing.assert_array_equal(np.rint(image[..., 2] * 65535).astype(np.uint16), values)


@pytest.mark.parametrize("compression", [None, "zlib"])
@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_tiff_16bit_rgb_from_tifffile(tmp_path, compression, byteorder):
    tifffile = pytest.importorskip("tifffile")
    samples = np.random.default_rng(3).integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", samples, photometric="rgb", compression=compression,
                     byteorder=byteorder)
    image, info = read_image(tmp_path / "c16.tif")
    assert info.bit_depth == 16
    np.testing.assert_array_equal(np.rint(image * 65535).astype(np.uint16), samples)


def test_bomb_refused_under_small_max_pixels(tmp_path):
    Image.fromarray(smooth_rgb()).save(tmp_path / "a.png")
    with pytest.raises(ImageTooLargeError) as caught:
        read_image(tmp_path / "a.png", max_pixels=500)
    assert_one_line_names(caught.value, tmp_path / "a.png")
    assert "768" in str(caught.value)
    image, _ = read_image(tmp_path / "a.png", max_pixels=768)
    assert image.shape == (24, 32, 3)


def test_max_pixels_from_environment(tmp_path, monkeypatch):
    Image.fromarray(smooth_rgb()).save(tmp_path / "a.png")
    monkeypatch.setenv("MLSM_MAX_PIXELS", "100")
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "a.png")
    read_image(tmp_path / "a.png", max_pixels=1000)  # explicit argument wins
    monkeypatch.setenv("MLSM_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="MLSM_MAX_PIXELS"):
        read_image(tmp_path / "a.png")
    assert DEFAULT_MAX_PIXELS == 120_000_000


def test_bomb_refused_from_header_before_decoding(tmp_path, monkeypatch):
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    huge = tmp_path / "huge.png"  # 20000 x 20000 1-bit PNG header, a few hundred bytes
    huge.write_bytes(png_bytes(20000, 20000, 1, 0, np.zeros(0), header_only=True))
    assert huge.stat().st_size < 1000
    with pytest.raises(ImageTooLargeError) as caught:
        read_image(huge)
    assert_one_line_names(caught.value, huge)
    big = tmp_path / "big.png"  # 108 Mpx: under Pillow's hard limit, over ours
    big.write_bytes(png_bytes(12000, 9000, 1, 0, np.zeros(0), header_only=True))
    with pytest.raises(ImageTooLargeError, match="exceeds the limit of 100000000"):
        read_image(big, max_pixels=100_000_000)


def test_pillow_bomb_warning_superseded_but_error_typed(tmp_path, monkeypatch):
    Image.fromarray(smooth_rgb(16, 16)).save(tmp_path / "a.png")  # 256 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # Pillow would only warn
    image, _ = read_image(tmp_path / "a.png")
    assert image.shape == (16, 16, 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow raises above 200
    with pytest.raises(ImageTooLargeError, match="decompression-bomb"):
        read_image(tmp_path / "a.png")


def test_truncated_jpeg_and_png(tmp_path, monkeypatch):
    pixels = smooth_rgb(64, 64)
    Image.fromarray(pixels).save(tmp_path / "full.jpg", quality=90)
    Image.fromarray(pixels).save(tmp_path / "full.png")
    for name in ("full.jpg", "full.png"):
        data = (tmp_path / name).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageReadError) as caught:
            read_image(cut)
        assert_one_line_names(caught.value, cut)
    # even when someone switched Pillow's "load truncated images" on globally
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(tmp_path / "cut_full.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


def test_zero_bytes_text_missing_folder(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture\n" * 5)
    cases = {
        empty: "empty",
        text: "not a recognised image",
        tmp_path / "missing.png": "no such file",
        tmp_path: "folder",
    }
    for path, cause in cases.items():
        with pytest.raises(ImageReadError) as caught:
            read_image(path)
        assert_one_line_names(caught.value, path)
        assert cause in caught.value.cause
        assert not isinstance(caught.value, ImageTooLargeError)


def test_decode_bytes_errors_name_the_source():
    with pytest.raises(ImageReadError) as caught:
        decode_image_bytes(b"GIF89a-not-really", name="upload.jpg")
    assert str(caught.value).startswith("upload.jpg: ")


def test_corrupt_exif_gives_a_note_not_a_warning(tmp_path):
    fields = Image.Exif()
    fields[0x010F] = "Camera"
    exif = bytearray(fields.tobytes())
    tiff = 6 if exif.startswith(b"Exif\x00\x00") else 0
    struct.pack_into(">I" if exif[tiff:tiff + 2] == b"MM" else "<I", exif, tiff + 4, 0x7FFF0000)  # IFD0 offset past the end
    path = tmp_path / "bad_exif.jpg"
    Image.fromarray(smooth_rgb()).save(path, quality=90, exif=bytes(exif))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image, info = read_image(path)
    assert image.shape == (24, 32, 3) and info.orientation == 1
    assert len(info.notes) == 1 and "EXIF" in info.notes[0] and "\n" not in info.notes[0]
    assert read_image(_a_clean_jpeg(tmp_path))[1].notes == ()


def _a_clean_jpeg(folder):
    path = folder / "clean.jpg"
    Image.fromarray(smooth_rgb()).save(path, quality=90)
    return path


def test_unidentified_files_say_what_is_unsupported_or_corrupt(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(smooth_rgb(16, 16)).save(buffer, "JPEG", quality=90)
    jpeg = bytearray(buffer.getvalue())
    sof = jpeg.find(b"\xff\xc0")
    twelve = bytes(jpeg[:sof + 4]) + b"\x0c" + bytes(jpeg[sof + 5:])
    lossless = bytes(jpeg[:sof + 1]) + b"\xc3" + bytes(jpeg[sof + 2:])
    buffer = io.BytesIO()
    Image.fromarray(smooth_rgb(16, 16)).save(buffer, "PNG")
    png = bytearray(buffer.getvalue())
    png[8 + 8 + 13] ^= 0xFF  # IHDR's CRC
    cases = {"twelve.jpg": (twelve, "12-bit JPEG is not supported"),
             "lossless.jpg": (lossless, "lossless JPEG is not supported"),
             "crc.png": (bytes(png), "CRC error in the IHDR chunk"),
             "zeros.tif": (b"II*\x00" + b"\x00" * 60, "corrupt TIFF header"),
             "html.png": (b"<!doctype html>", "not a recognised image")}
    for name, (data, cause) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageReadError, match=cause) as caught:
            read_image(tmp_path / name)
        assert_one_line_names(caught.value, tmp_path / name)
