"""The model zoo: the name -> weights table, its cards, and name/path resolution."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mlsm.models import zoo
from mlsm.models.configs import PRESETS
from mlsm.models.enhancer import Enhancer
from mlsm.models.weights import read_metadata, save_weights, sha256_of
from mlsm.models.zoo import (ARCHS, DEFAULT_MODEL, ZOO, ModelUnavailableError, default_model_name, list_models,
                             load_network, mlsm_spec_target, resolve_network, resolve_weights)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_entry_matches_its_file_and_vocabulary(name):
    spec = ZOO[name]
    path, sha = resolve_weights(name)
    assert spec.name == name and f"{spec.preset}.{spec.tag}" == name
    assert spec.preset in PRESETS and spec.arch in ARCHS
    assert sha == spec.sha256 == sha256_of(path)
    metadata = read_metadata(path)
    assert metadata["arch"] == spec.arch
    stored, preset = metadata["config"], PRESETS[spec.preset]
    assert (stored.vae.widths, stored.vae.levels, stored.vae.input_unshuffle) == \
        (preset.vae.widths, preset.vae.levels, preset.vae.input_unshuffle)
    assert metadata["card"]["paper"] == spec.paper
    assert "MIT" in spec.licence and spec.training_data


def test_list_models_and_default():
    assert list_models() == sorted(ZOO)
    assert DEFAULT_MODEL in ZOO
    assert default_model_name(None) == DEFAULT_MODEL
    assert default_model_name("x.safetensors") == "x.safetensors"


def test_resolve_weights_by_path_and_unknown_name(tiny_weights):
    assert resolve_weights(tiny_weights) == (Path(tiny_weights), None)
    with pytest.raises(FileNotFoundError, match="known models: " + list_models()[0]):
        resolve_weights("no_such.model")


def test_load_network_rebuilds_the_stored_config(tiny_weights):
    network, metadata = load_network(tiny_weights)
    assert isinstance(network, Enhancer) and not network.training
    assert network.config == metadata["config"] and metadata["exposure_head"] is None
    assert metadata["card"] == {"note": "random init, tests"}


def test_unknown_arch_is_refused(tmp_path, tiny_weights):
    network, metadata = load_network(tiny_weights)
    path = save_weights(tmp_path / "odd.safetensors", network, "transformer", metadata["config"])
    with pytest.raises(ValueError, match="unknown architecture 'transformer'"):
        load_network(path)


def test_resolve_network_errors_are_model_unavailable(tmp_path, monkeypatch):
    with pytest.raises(ModelUnavailableError, match="no_such.safetensors"):
        resolve_network(str(tmp_path / "no_such.safetensors"))
    monkeypatch.delitem(ZOO, DEFAULT_MODEL)
    with pytest.raises(ModelUnavailableError, match="no model installed"):
        resolve_network(None)


def test_resolve_network_default_model():
    network, metadata = resolve_network(None, device="cpu")
    assert metadata["arch"] == ZOO[DEFAULT_MODEL].arch
    assert next(network.parameters()).device == torch.device("cpu")


def test_mlsm_spec_target():
    assert mlsm_spec_target("mlsm") == DEFAULT_MODEL
    assert mlsm_spec_target("mlsm:runs/a.safetensors") == "runs/a.safetensors"


def test_the_zoo_does_not_reach_up_into_the_inference_layer():
    """The model object lives in mlsm.inference; the zoo (a lower layer) no longer serves it."""
    for name in ("EnhancementModel", "load_model", "build_mlsm_method"):
        assert not hasattr(zoo, name)
