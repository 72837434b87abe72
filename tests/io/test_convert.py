"""Tests for mlsm.io.convert: dtype conversions."""
from __future__ import annotations


import numpy as np
import pytest

from mlsm.io import (
    to_float32,
    to_uint8,
)


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
