"""Atomic checkpoint files and RNG capture/restore (mlsm.train.checkpoint)."""
from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
import torch

from mlsm.train import checkpoint as checkpoint_module
from mlsm.train.checkpoint import (CheckpointError, capture_rng_state, load_checkpoint,
                                   restore_rng_state, save_checkpoint)


def draws() -> tuple:
    return (random.random(), random.gauss(0, 1), np.random.rand(3).tolist(),
            np.random.randn(), torch.rand(3).tolist(), torch.randn(2).tolist())


def test_round_trip_with_weights_only(tmp_path):
    state = {"step": 7, "modules": {"net": torch.nn.Linear(3, 2).state_dict()},
             "name": "x", "betas": (0.9, 0.999), "none": None, "rng": capture_rng_state()}
    path = save_checkpoint(tmp_path / "last.pt", state)
    loaded = load_checkpoint(path)
    assert loaded["step"] == 7 and loaded["betas"] == (0.9, 0.999) and loaded["none"] is None
    assert torch.equal(loaded["modules"]["net"]["weight"], state["modules"]["net"]["weight"])
    # the file really is weights_only-safe
    torch.load(path, weights_only=True)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_failed_save_leaves_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"step": 1, "w": torch.ones(4)})

    real_save = torch.save

    def failing_save(obj, handle, *args, **kwargs):
        real_save(obj, handle, *args, **kwargs)  # some bytes hit the temp file first
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2, "w": torch.zeros(4)})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    old = load_checkpoint(path)
    assert old["step"] == 1 and torch.equal(old["w"], torch.ones(4))


def test_save_overwrites_previous_checkpoint(tmp_path):
    path = tmp_path / "deep" / "last.pt"
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_load_errors_are_typed(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    truncated = tmp_path / "bad.pt"
    save_checkpoint(truncated, {"w": torch.ones(100)})
    truncated.write_bytes(truncated.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(truncated)
    torch.save({"obj": Fraction(1, 3)}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="pickle.pt"):  # refused by weights_only
        load_checkpoint(tmp_path / "pickle.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_checkpoint(tmp_path / "list.pt")


def test_rng_capture_restore_reproduces_draws(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    random.gauss(0, 1)  # leaves a cached gauss_next in python's state
    np.random.randn()   # and a cached gaussian in numpy's
    state = capture_rng_state()
    expected = draws()
    save_checkpoint(tmp_path / "rng.pt", {"rng": state})
    draws()  # move every generator on
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    assert draws() == expected


def test_malformed_rng_state():
    with pytest.raises(CheckpointError, match="malformed RNG state"):
        restore_rng_state({"python": {}})
