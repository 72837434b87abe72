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
                                          ("brightness", float("nan")), ("detail", -0.1), ("detail", 1.5),
                                          ("detail", True), ("detail", "1")])
def test_bad_values_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        InferenceOptions(**{field: value})


def test_monotone_gain_flag():
    from mlsm.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["enhance", "x.jpg", "-o", "out"]).monotone_gain is InferenceOptions().monotone_gain is True
    assert parse(["enhance", "x.jpg", "-o", "out", "--no-monotone-gain"]).monotone_gain is False


def test_the_cli_defaults_come_from_the_record():
    from mlsm.cli import build_parser

    args = build_parser().parse_args(["enhance", "x.jpg", "-o", "out"])
    assert (args.tile, args.overlap, args.calibrate_exposure, args.brightness, args.detail) == \
        (DEFAULT_TILE, DEFAULT_OVERLAP, True, 1.0, InferenceOptions().detail)


@pytest.mark.parametrize("text, value", [("auto", None), ("AUTO", None), ("0", 0.0), ("0.5", 0.5), ("1", 1.0)])
def test_detail_flag_reads_auto_or_a_strength(text, value):
    from mlsm.cli import build_parser

    assert build_parser().parse_args(["enhance", "x.jpg", "-o", "out", "--detail", text]).detail == value


@pytest.mark.parametrize("text", ["1.5", "-1", "strong"])
def test_detail_flag_refuses_other_values(text, capsys):
    from mlsm.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["enhance", "x.jpg", "-o", "out", "--detail", text])
    assert "--detail" in capsys.readouterr().err
