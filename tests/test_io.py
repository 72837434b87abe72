"""Tests for mlsm.io: every readable format, EXIF orientation, JPEG quality, bombs, atomic writes."""
from __future__ import annotations

import os
import pickle
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

import mlsm.io as mio
from mlsm.io import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    ImageInfo,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    decode_image_bytes,
    encode_jpeg,
    estimate_jpeg_quality,
    ijg_quantization_tables,
    iter_image_files,
    read_image,
    to_float32,
    to_uint8,
    write_image,
)


# --------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- reading formats


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


# --------------------------------------------------------------------------- EXIF orientation


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


# --------------------------------------------------------------------------- JPEG quality


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
@pytest.mark.parametrize("quality", range(10, 100, 5))
def test_quality_estimate_within_two(quality, subsampling):
    data = encode_jpeg(smooth_rgb(16, 16), quality, subsampling)
    _, info = decode_image_bytes(data)
    assert abs(info.jpeg_quality - quality) <= 2
    assert info.jpeg_subsampling == subsampling


def test_quantization_tables_are_natural_order_ijg_tables():
    _, info = decode_image_bytes(encode_jpeg(smooth_rgb(16, 16), 50, "4:2:0"))
    luma, chroma = ijg_quantization_tables(50)
    assert info.jpeg_quantization[0] == luma.tolist()
    assert info.jpeg_quantization[1] == chroma.tolist()
    assert info.jpeg_quantization[0][:3] == [16, 11, 10]  # first row of Annex K table K.1


def test_estimate_quality_on_scaled_tables_and_zigzag_input():
    for quality in range(1, 101):
        luma, chroma = ijg_quantization_tables(quality)
        estimate = estimate_jpeg_quality({0: luma.tolist(), 1: chroma.tolist()})
        # identical tables (near q=100) cannot be told apart; require the same tables
        assert all(np.array_equal(a, b) for a, b in zip(ijg_quantization_tables(estimate), (luma, chroma)))
    luma, chroma = ijg_quantization_tables(30)
    assert estimate_jpeg_quality({0: luma[mio.jpeg._ZIGZAG].tolist(), 1: chroma[mio.jpeg._ZIGZAG].tolist()}) == 30
    assert estimate_jpeg_quality({0: luma.tolist()}) == 30
    assert estimate_jpeg_quality({}) is None and estimate_jpeg_quality(None) is None
    assert estimate_jpeg_quality({0: [1, 2, 3]}) is None


def test_ijg_table_formula():
    luma, chroma = ijg_quantization_tables(10)
    assert luma[0] == 80 and chroma[-1] == 255  # 16*500/100; 99*5 clamped to baseline 255
    luma, _ = ijg_quantization_tables(90)
    assert luma[0] == 3  # (16*20 + 50)//100


# --------------------------------------------------------------------------- bombs


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


# --------------------------------------------------------------------------- broken inputs


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


def test_errors_are_one_line_and_pickle():
    err = ImageWriteError(Path("out/x.png"), "disk full\nsecond line")
    assert str(err) == "out/x.png: disk full second line"
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is ImageWriteError and str(clone) == str(err) and clone.cause == err.cause
    assert issubclass(ImageTooLargeError, ImageReadError) and issubclass(ImageReadError, ImageError)


def test_icc_profile_kept_only_for_rgb():
    header = bytearray(128)
    header[16:20] = b"CMYK"
    assert mio.exif._icc_if_rgb(bytes(header)) is None
    header[16:20] = b"RGB "
    assert mio.exif._icc_if_rgb(bytes(header)) == bytes(header)


# --------------------------------------------------------------------------- writing


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


def test_encode_jpeg_requires_uint8():
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(np.zeros((8, 8, 3), np.float32), 50)
    data = encode_jpeg(smooth_rgb(8, 8), 50)
    assert data[:2] == b"\xff\xd8"
    image, info = decode_image_bytes(data, name="mem.jpg")
    assert info.path == Path("mem.jpg") and image.shape == (8, 8, 3)


# --------------------------------------------------------------------------- conversions


def test_to_uint8_and_to_float32():
    values = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(to_float32(values)), values)
    assert to_float32(values).dtype == np.float32 and to_float32(values)[-1] == 1.0
    np.testing.assert_array_equal(to_uint8(np.array([-0.5, 0.4 / 255, 0.6 / 255, 1.7])), [0, 0, 1, 255])
    np.testing.assert_array_equal(to_uint8(np.array([0, 257, 65535], np.uint16)), [0, 1, 255])
    assert to_float32(np.array([65535], np.uint16))[0] == 1.0
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(np.array([np.nan]))
    with pytest.raises(ValueError, match="dtype"):
        to_float32(np.array([1], np.int32))


# --------------------------------------------------------------------------- listing


def test_iter_image_files(tmp_path):
    for name in ("b.png", "a.JPG", "c.txt", ".hidden.png", "sub/d.tif", "sub/e.webp", ".git/f.png"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
    assert iter_image_files(tmp_path) == [tmp_path / "a.JPG", tmp_path / "b.png"]
    assert iter_image_files([tmp_path], recursive=True) == [
        tmp_path / "a.JPG", tmp_path / "b.png", tmp_path / "sub" / "d.tif", tmp_path / "sub" / "e.webp"]
    assert iter_image_files(str(tmp_path / "*.png")) == [tmp_path / "b.png"]
    assert iter_image_files([str(tmp_path / "**" / "*.tif")], recursive=True) == [tmp_path / "sub" / "d.tif"]
    assert iter_image_files([tmp_path / "b.png", tmp_path, str(tmp_path / "*.nothing")]) == [
        tmp_path / "a.JPG", tmp_path / "b.png"]
    with pytest.raises(ImageReadError, match="no such file"):
        iter_image_files(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="extension"):
        iter_image_files(tmp_path / "c.txt")


def test_image_info_is_a_plain_record():
    info = ImageInfo(path=Path("x.png"), format="PNG", mode="RGB", width=2, height=1)
    assert info.orientation == 1 and info.exif is None and "exif" not in repr(info)
