"""Tests for mlsm/baselines/registry.py.

Name resolution of peers and mlsm models is tested against small fake ``peers`` / ``zoo``
modules put in ``sys.modules`` (the real peers are tested in their own files); two tests
use the real peer table, one of them with the official weights from ../shared/peers.
"""
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mlsm.baselines import registry
from mlsm.baselines.base import Method
from mlsm.baselines.pipelines import Pipeline
from mlsm.baselines.registry import (
    CLASSICAL,
    UnknownMethodError,
    build_method,
    list_methods,
    standard_comparison,
)

IMAGE = np.random.default_rng(0).uniform(0, 0.3, (9, 11, 3)).astype(np.float32)


@dataclass
class FakeSpec:
    name: str
    kind: str


class FakePeer:
    def __init__(self, name, peers_dir, device):
        self.name, self.peers_dir, self.device = name, peers_dir, device

    def __call__(self, image):
        return np.clip(image * (2.0 if self.name != "dncnn3" else 1.0), 0, 1).astype(np.float32)


@pytest.fixture
def fake_peers(monkeypatch):
    module = types.ModuleType("mlsm.baselines.peers")
    module.PEERS = {name: FakeSpec(name, kind) for name, kind in
                    [("zero_dce", "enhancer"), ("sci", "enhancer"), ("dncnn3", "deblocker")]}

    def build_peer(name, peers_dir=None, device="cpu", random_init=False):
        if name not in module.PEERS:
            raise KeyError(name)
        return FakePeer(name, peers_dir, device)

    module.build_peer = build_peer
    monkeypatch.setitem(sys.modules, "mlsm.baselines.peers", module)
    return module


@pytest.fixture
def fake_zoo(monkeypatch):
    module = types.ModuleType("mlsm.inference")
    module.calls = []

    def build_mlsm_method(spec, device):
        module.calls.append((spec, device))
        peer = FakePeer(spec, None, device)
        return peer

    module.build_mlsm_method = build_mlsm_method
    monkeypatch.setitem(sys.modules, "mlsm.inference", module)
    return module


@pytest.mark.parametrize("name", list(CLASSICAL))
def test_every_classical_name_builds_a_working_method(name):
    method = build_method(name)
    assert isinstance(method, Method)
    assert method.name == name
    out = method(IMAGE)
    assert out.shape == IMAGE.shape and out.dtype == np.float32


def test_classical_table_has_the_documented_names():
    assert list(CLASSICAL) == ["identity", "gamma", "he", "clahe", "lime"]
    np.testing.assert_array_equal(build_method("identity")(IMAGE), IMAGE)


def test_plus_builds_a_pipeline_in_order():
    method = build_method("gamma+clahe")
    assert isinstance(method, Pipeline)
    assert method.name == "gamma+clahe"
    assert [step.name for step in method.steps] == ["gamma", "clahe"]
    expected = CLASSICAL["clahe"]()(CLASSICAL["gamma"]()(IMAGE))
    np.testing.assert_allclose(method(IMAGE), expected, atol=1e-6)
    assert build_method(" he + lime ").name == "he+lime"


def test_unknown_name_lists_known_names(fake_peers):
    with pytest.raises(UnknownMethodError) as caught:
        build_method("retinexformer")
    assert isinstance(caught.value, KeyError)
    message = str(caught.value)
    assert "retinexformer" in message
    for known in ["identity", "gamma", "he", "clahe", "lime", "zero_dce", "sci", "dncnn3"]:
        assert known in message
    assert caught.value.known == ["identity", "gamma", "he", "clahe", "lime",
                                  "zero_dce", "sci", "dncnn3"]


@pytest.mark.parametrize("name", ["gamma+nope", "", "gamma++he", "+gamma"])
def test_bad_pipeline_steps_are_unknown(fake_peers, name):
    with pytest.raises(UnknownMethodError):
        build_method(name)


def test_peer_names_resolve_through_build_peer(fake_peers):
    method = build_method("zero_dce+dncnn3", peers_dir="/weights", device="cuda:1")
    assert isinstance(method, Pipeline)
    assert method.name == "zero_dce+dncnn3"
    assert [(s.name, s.peers_dir, s.device) for s in method.steps] == [
        ("zero_dce", "/weights", "cuda:1"), ("dncnn3", "/weights", "cuda:1")]
    single = build_method("sci", peers_dir="/w")
    assert isinstance(single, FakePeer) and single.peers_dir == "/w" and single.device == "cpu"


def test_mlsm_names_go_to_the_zoo_hook(fake_peers, fake_zoo):
    for spec in ["mlsm", "mlsm:weights/model.safetensors", "mlsm:mlsm_small.synth_dark_jpeg"]:
        assert build_method(spec, device="cuda").name == spec
    assert fake_zoo.calls == [("mlsm", "cuda"), ("mlsm:weights/model.safetensors", "cuda"),
                              ("mlsm:mlsm_small.synth_dark_jpeg", "cuda")]
    pipeline = build_method("dncnn3+mlsm:mlsm_small.synth_dark_jpeg")
    assert [step.name for step in pipeline.steps] == ["dncnn3", "mlsm:mlsm_small.synth_dark_jpeg"]


def test_list_methods_has_classical_peers_and_both_pipelines(fake_peers):
    names = list_methods()
    assert names[:5] == list(CLASSICAL)
    for expected in ["zero_dce", "sci", "dncnn3", "zero_dce+dncnn3", "sci+dncnn3",
                     "dncnn3+zero_dce", "dncnn3+sci"]:
        assert expected in names
    assert "dncnn3+dncnn3" not in names and "gamma+dncnn3" not in names
    assert len(names) == len(set(names)) == 5 + 3 + 4


def test_standard_comparison_is_grouped_by_setting_and_buildable(fake_peers):
    names = standard_comparison()
    assert names == ["identity", "gamma", "he", "clahe", "lime", "zero_dce", "sci",
                     "zero_dce+dncnn3", "sci+dncnn3", "dncnn3+zero_dce", "dncnn3+sci"]
    for name in names:
        assert build_method(name).name == name


def test_real_peer_table_gives_the_paper_pipelines():
    peers = pytest.importorskip("mlsm.baselines.peers")
    enhancers = [name for name, spec in peers.PEERS.items() if spec.kind == "enhancer"]
    assert {"zero_dce", "sci", "iat"} <= set(enhancers)
    assert "dncnn3" in registry.peer_deblockers()
    names = list_methods()
    assert "zero_dce+dncnn3" in names and "dncnn3+zero_dce" in names
    assert set(enhancers) <= set(standard_comparison())


SHARED_PEERS = Path(__file__).resolve().parents[3] / "shared" / "peers"


@pytest.mark.weights
@pytest.mark.skipif(not (SHARED_PEERS / "dncnn3" / "DnCNN3.mat").is_file()
                    or not (SHARED_PEERS / "zero-dce" / "Epoch99.pth").is_file(),
                    reason="official peer weights not in ../shared/peers")
def test_real_two_stage_pipelines_run_in_both_orders():
    pytest.importorskip("mlsm.baselines.peers")
    image = np.random.default_rng(3).uniform(0, 0.2, (24, 40, 3)).astype(np.float32)
    enhance_then_deblock = build_method("zero_dce+dncnn3", peers_dir=SHARED_PEERS)
    deblock_then_enhance = build_method("dncnn3+zero_dce", peers_dir=SHARED_PEERS)
    zero_dce, dncnn3 = enhance_then_deblock.steps
    np.testing.assert_allclose(enhance_then_deblock(image), dncnn3(zero_dce(image)), atol=1e-6)
    np.testing.assert_allclose(deblock_then_enhance(image), zero_dce(dncnn3(image)), atol=1e-6)
    assert enhance_then_deblock(image).mean() > image.mean()
