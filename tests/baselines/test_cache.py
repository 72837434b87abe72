"""Tests for mlsm.baselines.cache: each method built once, failures remembered."""
from __future__ import annotations

import numpy as np
import pytest

from mlsm.baselines.cache import MethodCache
from mlsm.baselines.classical import GammaCorrection
from mlsm.baselines.registry import UnknownMethodError


def test_builds_once_and_prepares_once():
    prepared = []
    cache = MethodCache(prepare=prepared.append)
    first = cache.get("gamma")
    assert isinstance(first, GammaCorrection) and cache.get("gamma") is first
    assert prepared == [first] and cache.built == {"gamma": first}
    pipeline = cache.get("gamma+clahe")
    assert pipeline.name == "gamma+clahe"
    assert pipeline(np.full((8, 8, 3), 0.2, np.float32)).shape == (8, 8, 3)


def test_a_failed_build_is_remembered_not_retried():
    calls = []

    def build(name, peers_dir=None, device="cpu"):
        calls.append(name)
        raise FileNotFoundError(f"no weights for {name}")

    cache = MethodCache(peers_dir="/nowhere", build=build)
    for _ in range(3):
        with pytest.raises(FileNotFoundError, match="no weights for zero_dce"):
            cache.get("zero_dce")
    assert calls == ["zero_dce"] and list(cache.failures) == ["zero_dce"]


def test_unknown_names_are_not_remembered():
    cache = MethodCache()
    with pytest.raises(UnknownMethodError):
        cache.get("no_such_method")
    assert cache.failures == {} and cache.built == {}
