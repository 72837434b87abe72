"""Weight files: safetensors + metadata record, hash check, initialising networks from them."""
from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch
from safetensors.torch import save_file

from mlsm.models import Enhancer, ModelConfig, VAEConfig
from mlsm.models.exposure import ExposureHead
from mlsm.models.weights import (adds_output_refinement, load_init_weights, load_vae_weights, load_weights,
                                 read_metadata, save_weights, sha256_of, split_exposure_head)

CONFIG = ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))


def tiny(config: ModelConfig = CONFIG, seed: int = 0) -> Enhancer:
    torch.manual_seed(seed)
    return Enhancer(config)


def states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_round_trip_keeps_tensors_and_metadata(tmp_path):
    model = tiny()
    path = save_weights(tmp_path / "m.safetensors", model, "enhancer", CONFIG, card={"licence": "MIT"})
    metadata, tensors = load_weights(path, expected_sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    assert metadata == {"arch": "enhancer", "config": CONFIG, "card": {"licence": "MIT"}}
    assert read_metadata(path) == metadata
    assert set(tensors) == set(model.state_dict())
    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hash_mismatch_missing_and_foreign_files(tmp_path):
    path = save_weights(tmp_path / "m.safetensors", tiny(), "enhancer", CONFIG)
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_weights(path, expected_sha256="0" * 64)
    with pytest.raises(FileNotFoundError, match="weight file not found"):
        load_weights(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        read_metadata(tmp_path / "junk.safetensors")
    save_file({"x": torch.zeros(2)}, str(tmp_path / "bare.safetensors"))
    with pytest.raises(ValueError, match="lacks the mlsm metadata"):
        read_metadata(tmp_path / "bare.safetensors")


def test_exposure_head_travels_apart_from_the_network(tmp_path):
    model, head = tiny(), ExposureHead()
    path = save_weights(tmp_path / "h.safetensors", model, "enhancer", CONFIG, exposure_head=head)
    metadata, tensors = load_weights(path)
    network, head_tensors = split_exposure_head(tensors)
    assert metadata["exposure"] == head.spec()
    assert set(network) == set(model.state_dict()) and set(head_tensors) == {"weight"}


def test_adds_output_refinement():
    refined = dataclasses.replace(CONFIG, vae=dataclasses.replace(CONFIG.vae, output_refine=16))
    assert adds_output_refinement(CONFIG, refined)
    assert not adds_output_refinement(refined, refined)  # already has one
    assert not adds_output_refinement(CONFIG, CONFIG)
    wider = ModelConfig(vae=VAEConfig(widths=[4, 6, 10], output_refine=16))
    assert not adds_output_refinement(CONFIG, wider)  # more than the refinement differs


def test_load_init_weights_strict_and_widened(tmp_path):
    source = tiny(seed=1)
    path = save_weights(tmp_path / "m.safetensors", source, "enhancer", CONFIG, card={"x": 1},
                        exposure_head=ExposureHead())
    target, card = tiny(seed=2), {}
    load_init_weights(target, path, card)
    assert states_equal(source, target)
    assert card == {"init_weights": str(path), "init_card": {"x": 1}}

    refined_config = dataclasses.replace(CONFIG, vae=dataclasses.replace(CONFIG.vae, output_refine=4))
    refined, card = tiny(refined_config, seed=3), {}
    fresh_refine = {k: v.clone() for k, v in refined.state_dict().items() if ".refine." in k}
    assert fresh_refine
    load_init_weights(refined, path, card)
    state = refined.state_dict()
    assert all(torch.equal(state[k], v) for k, v in fresh_refine.items())  # the refinement stays fresh
    assert all(torch.equal(state[k], v) for k, v in source.state_dict().items())
    assert card["init_added"] == "vae.output_refine"

    with pytest.raises(ValueError, match="config differs"):
        load_init_weights(tiny(ModelConfig(vae=VAEConfig(widths=[4, 6, 10]))), path, {})


def test_load_vae_weights_leaves_the_mappers_fresh(tmp_path):
    source = tiny(seed=1)
    path = save_weights(tmp_path / "vaes.safetensors", source, "enhancer", CONFIG, card={"stage": "vae"})
    target, card = tiny(seed=2), {}
    mapping_before = {k: v.clone() for k, v in target.state_dict().items() if k.startswith("mapping.")}
    load_vae_weights(target, path, card)
    state, stored = target.state_dict(), source.state_dict()
    assert all(torch.equal(state[k], stored[k]) for k in state if k.startswith(("vae_c.", "vae_n.")))
    assert all(torch.equal(state[k], v) for k, v in mapping_before.items())
    assert card == {"vae_weights": str(path), "vae_card": {"stage": "vae"}}

    only_mapping = {k: v for k, v in stored.items() if k.startswith("mapping.")}
    save_file(dict(only_mapping), str(tmp_path / "bad.safetensors"),
              metadata={"arch": "enhancer", "config": '{"vae": {}, "mapper": {}}'})
    with pytest.raises(ValueError, match="lacks VAE tensors"):
        load_vae_weights(tiny(), tmp_path / "bad.safetensors", {})
