"""Tests for mlsm.io.listing: files, folders and globs into image lists."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlsm.io import ImageReadError, iter_image_files, read_image


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


def test_recursive_glob_ends_on_folder_symlink_loops(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.png").write_bytes(b"x")
    (tmp_path / "sub" / "up").symlink_to("..")  # sub/up/sub/up/... would never end
    (tmp_path / "sub" / "self").symlink_to(".")
    script = ("import sys; from mlsm.io import iter_image_files; "
              "print(len(iter_image_files([sys.argv[1]], recursive=True)))")
    for pattern in ("**/*.png", "sub/**/*.png", "**"):
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / pattern)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "1", pattern
    assert iter_image_files(tmp_path, recursive=True) == [tmp_path / "sub" / "a.png"]
    # a hidden file under ** stays hidden, as with glob and folders
    (tmp_path / "sub" / ".b.png").write_bytes(b"x")
    assert iter_image_files(str(tmp_path / "**" / "*.png"), recursive=True) == [tmp_path / "sub" / "a.png"]


def test_named_fifo_link_loop_and_broken_link_say_what_they_are(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop.name)
    broken = tmp_path / "broken.png"
    broken.symlink_to("gone.png")
    for path, cause in ((fifo, "FIFO"), (loop, "link loop"), (broken, "broken symbolic link")):
        with pytest.raises(ImageReadError, match=cause):
            iter_image_files(path)
        with pytest.raises(ImageReadError, match=cause):  # and read_image never blocks on a FIFO
            read_image(path)
