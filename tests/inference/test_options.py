"""InferenceOptions: one record, one set of defaults, checked values."""
from __future__ import annotations

import pytest

from mlsm.inference.options import DEFAULT_OVERLAP, DEFAULT_TILE, InferenceOptions


def test_defaults_are_the_documented_ones():
    options = InferenceOptions()
    assert (options.tile, options.overlap, options.calibrate_exposure, options.brightness) == \
        (DEFAULT_TILE, DEFAULT_OVERLAP, True, 1.0) == (1024, 128, True, 1.0)


def test_resolve_replaces_named_fields_only():
    base = InferenceOptions(tile=256)
    assert InferenceOptions.resolve() == InferenceOptions()
    assert InferenceOptions.resolve(base) is base
    assert InferenceOptions.resolve(base, brightness=2.0) == InferenceOptions(tile=256, brightness=2.0)
    with pytest.raises(TypeError, match="unknown inference option.*'tiles'"):
        InferenceOptions.resolve(tiles=256)


@pytest.mark.parametrize("field, value", [("tile", 0), ("overlap", -1), ("brightness", 0.0),
                                          ("brightness", float("nan"))])
def test_bad_values_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        InferenceOptions(**{field: value})


def test_the_cli_defaults_come_from_the_record():
    from mlsm.cli import build_parser

    args = build_parser().parse_args(["enhance", "x.jpg", "-o", "out"])
    assert (args.tile, args.overlap, args.calibrate_exposure, args.brightness) == \
        (DEFAULT_TILE, DEFAULT_OVERLAP, True, 1.0)
