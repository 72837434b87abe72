"""Tests for mlsm.io.jpeg: IJG quantisation tables, quality estimate, JPEG encoding."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

import mlsm.io as mio
from mlsm.io import (
    ImageReadError,
    decode_image_bytes,
    encode_jpeg,
    estimate_jpeg_quality,
    ijg_quantization_tables,
    read_image,
)
from mlsm.io.jpeg import MAX_JPEG_SCANS, count_jpeg_scans

from io_samples import smooth_rgb


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


def test_encode_jpeg_requires_uint8():
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(np.zeros((8, 8, 3), np.float32), 50)
    data = encode_jpeg(smooth_rgb(8, 8), 50)
    assert data[:2] == b"\xff\xd8"
    image, info = decode_image_bytes(data, name="mem.jpg")
    assert info.path == Path("mem.jpg") and image.shape == (8, 8, 3)


def _progressive_jpeg(extra_scans: int = 0) -> bytes:
    """A small progressive JPEG; ``extra_scans`` copies of its last scan are added before EOI
    (each a valid refinement scan to decode, as in the many-scans attack)."""
    buffer = io.BytesIO()
    Image.fromarray(smooth_rgb(32, 40)).save(buffer, "JPEG", quality=90, progressive=True)
    data = buffer.getvalue()
    eoi, last = data.rfind(b"\xff\xd9"), data.rfind(b"\xff\xda")
    return data[:eoi] + data[last:eoi] * extra_scans + data[eoi:]


def test_count_jpeg_scans():
    assert count_jpeg_scans(encode_jpeg(smooth_rgb(16, 16), 80)) == 1
    assert count_jpeg_scans(_progressive_jpeg()) == 10  # libjpeg's default progression
    assert count_jpeg_scans(_progressive_jpeg(25)) == 35
    assert count_jpeg_scans(_progressive_jpeg(25), stop_after=12) == 13
    # an EXIF thumbnail (its own SOS inside APP1) is not counted
    fields = Image.Exif()
    fields[0x010F] = "x\xff\xda" * 20
    buffer = io.BytesIO()
    Image.fromarray(smooth_rgb()).save(buffer, "JPEG", quality=80, exif=fields.tobytes())
    assert count_jpeg_scans(buffer.getvalue()) == 1


def test_jpeg_with_too_many_scans_is_refused_before_decoding(tmp_path, monkeypatch):
    bomb = tmp_path / "scans.jpg"
    bomb.write_bytes(_progressive_jpeg(MAX_JPEG_SCANS))

    def no_decoding(self):
        raise AssertionError("decoded a refused file")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageReadError, match=f"more than {MAX_JPEG_SCANS} scans") as caught:
        read_image(bomb)
    assert str(caught.value).startswith(f"{bomb}: ")
    with pytest.raises(ImageReadError, match="scans"):
        decode_image_bytes(bomb.read_bytes(), name="upload.jpg")
    monkeypatch.undo()
    fine = tmp_path / "ok.jpg"
    fine.write_bytes(_progressive_jpeg(5))
    image, info = read_image(fine)
    assert info.progressive and image.shape == (32, 40, 3)
