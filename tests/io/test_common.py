"""Tests for mlsm.io.common: errors and the info record."""
from __future__ import annotations

import pickle
from pathlib import Path


from mlsm.io import (
    ImageError,
    ImageInfo,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
)


def test_errors_are_one_line_and_pickle():
    err = ImageWriteError(Path("out/x.png"), "disk full\nsecond line")
    assert str(err) == "out/x.png: disk full second line"
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is ImageWriteError and str(clone) == str(err) and clone.cause == err.cause
    assert issubclass(ImageTooLargeError, ImageReadError) and issubclass(ImageReadError, ImageError)


def test_image_info_is_a_plain_record():
    info = ImageInfo(path=Path("x.png"), format="PNG", mode="RGB", width=2, height=1)
    assert info.orientation == 1 and info.exif is None and "exif" not in repr(info)
