"""Tests for mlsm.io.listing: files, folders and globs into image lists."""
from __future__ import annotations


import pytest

from mlsm.io import (
    ImageReadError,
    iter_image_files,
)


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
