"""Tests for mlsm.baselines.spec: the one parser of method names."""
from __future__ import annotations

import pytest

from mlsm.baselines.spec import MethodSpec, is_mlsm_spec, join_steps


def test_parse_strips_and_splits():
    spec = MethodSpec.parse("  zero_dce + dncnn3 ")
    assert spec.name == "zero_dce + dncnn3" and spec.steps == ("zero_dce", "dncnn3")
    assert spec.is_pipeline and not spec.has_empty_step and spec.mlsm_steps == ()
    single = MethodSpec.parse("clahe")
    assert single.steps == ("clahe",) and not single.is_pipeline and single.prefixes() == []


def test_prefixes_and_join():
    spec = MethodSpec.parse("dncnn3+mlsm:w.safetensors+gamma")
    assert spec.prefixes() == ["dncnn3", "dncnn3+mlsm:w.safetensors"]
    assert spec.prefix(3) == "dncnn3+mlsm:w.safetensors+gamma"
    assert spec.mlsm_steps == ("mlsm:w.safetensors",)
    assert join_steps(spec.steps) == spec.name


@pytest.mark.parametrize("name", ["", "a+", "+b", "a++b", " + "])
def test_empty_steps_are_flagged(name):
    assert MethodSpec.parse(name).has_empty_step


def test_mlsm_steps_and_type_errors():
    assert is_mlsm_spec("mlsm") and is_mlsm_spec("mlsm:mlsm_small.real_v2")
    assert not is_mlsm_spec("mlsm_small") and not is_mlsm_spec("mlsm.real_v2") and not is_mlsm_spec("gamma")
    with pytest.raises(TypeError, match="expected a str"):
        MethodSpec.parse(3)
