"""train.checkpoint.load_init: initial tensors from a weight file or a training checkpoint."""
from __future__ import annotations

import pytest
import torch

from mlsm.models import Enhancer, ModelConfig, VAEConfig
from mlsm.models.weights import save_weights
from mlsm.train.checkpoint import load_init, save_checkpoint

CONFIG = ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))


def test_none_is_a_no_op():
    model, card = Enhancer(CONFIG), {}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    load_init(model, None, card, {})
    assert card == {} and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_checkpoint_modules_are_matched_by_name(tmp_path):
    torch.manual_seed(1)
    source = Enhancer(CONFIG)
    path = save_checkpoint(tmp_path / "last.pt", {"modules": {"mapping": source.mapping.state_dict(),
                                                              "discriminator": {"w": torch.zeros(1)}}})
    torch.manual_seed(2)
    target, card = Enhancer(CONFIG), {}
    load_init(target, path, card, {"mapping": target.mapping})
    assert all(torch.equal(a, b) for a, b in zip(source.mapping.state_dict().values(),
                                                 target.mapping.state_dict().values()))
    assert card == {"init_checkpoint": str(path)}
    with pytest.raises(ValueError, match=r"\['mapping'\] do not belong"):
        load_init(Enhancer(CONFIG), path, {}, {"decoder": target.vae_n.decoders})


def test_weight_files_go_through_load_init_weights(tmp_path):
    torch.manual_seed(1)
    source = Enhancer(CONFIG)
    path = save_weights(tmp_path / "m.safetensors", source, "enhancer", CONFIG, card={"x": 1})
    target, card = Enhancer(CONFIG), {}
    load_init(target, path, card, {})
    assert card["init_card"] == {"x": 1}
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))
