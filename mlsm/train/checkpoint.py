"""Atomic training checkpoints that load with ``torch.load(weights_only=True)``, and RNG state.

A checkpoint is a plain nested dict of tensors and primitive containers (no pickled classes),
so loading one never runs arbitrary code. :func:`save_checkpoint` writes a temporary file in
the target's directory, fsyncs it and ``os.replace``-s it over the previous checkpoint: a
reader (or a resume after ``kill -9``) sees either the old or the new file, never a partial
one.

RNG states are stored as tensors / ints too:

* python ``random``: ``getstate()`` is ``(version, 625 ints, gauss_next)``; the ints are
  32-bit words, stored as an int64 tensor;
* numpy's global legacy ``RandomState``: ``('MT19937', 624 uint32 keys, pos, has_gauss,
  cached_gaussian)``; the keys are stored as an int64 tensor;
* torch CPU generator (uint8 tensor) and, when CUDA is available, one per visible device.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlsm.atomic import atomic_path
from mlsm.models.weights import load_init_weights

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "load_init", "capture_rng_state",
           "restore_rng_state"]


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not in the expected layout."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same directory, fsync, replace).

    On any failure the temp file is removed and an existing checkpoint at ``path`` is left
    untouched. Returns the path written.
    """
    path = Path(path)
    with atomic_path(path, fsync=True) as temporary:
        torch.save(state, temporary)
    return path


def load_checkpoint(path: str | os.PathLike,
                    map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError/RuntimeError/EOFError
        raise CheckpointError(f"cannot load checkpoint {path}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
    return state


def load_init(model: torch.nn.Module, path: str | os.PathLike | None, card: dict,
              checkpoint_modules: dict[str, torch.nn.Module]) -> None:
    """Initialise ``model`` from ``path``: a ``.safetensors`` weight file
    (:func:`mlsm.models.weights.load_init_weights`) or a training ``last.pt``, whose stored
    networks are matched to ``checkpoint_modules`` by the stage's names (strict). None: no-op.
    ``card`` records where the initial tensors came from."""
    if path is None:
        return
    path = Path(path)
    if path.suffix != ".pt":
        load_init_weights(model, path, card)
        return
    stored = load_checkpoint(path)["modules"]
    stored.pop("discriminator", None)  # a fresh discriminator is trained with the new stage
    unknown = set(stored) - set(checkpoint_modules)
    if unknown:
        raise ValueError(f"{path}: networks {sorted(unknown)} do not belong to this stage")
    for name, state in stored.items():
        checkpoint_modules[name].load_state_dict(state, strict=True)
    card["init_checkpoint"] = str(path)


def capture_rng_state() -> dict[str, Any]:
    """Snapshot python ``random``, numpy's global RNG, torch CPU and CUDA generators.

    The result only holds tensors, ints, floats, strings and ``None``, so it survives a
    ``weights_only=True`` round trip.
    """
    version, words, gauss_next = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": int(version),
                   "state": torch.tensor(words, dtype=torch.int64),
                   "gauss_next": gauss_next},
        "numpy": {"name": str(np_name),
                  "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64).copy()),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss),
                  "cached_gaussian": float(np_cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`capture_rng_state` captured (CUDA only where available)."""
    try:
        py = state["python"]
        words = tuple(int(w) for w in py["state"].tolist())
        gauss_next = py["gauss_next"]
        random.setstate((int(py["version"]), words,
                         None if gauss_next is None else float(gauss_next)))
        npy = state["numpy"]
        np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32),
                             int(npy["pos"]), int(npy["has_gauss"]), float(npy["cached_gaussian"])))
        torch.set_rng_state(state["torch"].to(device="cpu", dtype=torch.uint8))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise CheckpointError(f"malformed RNG state in checkpoint: {type(exc).__name__}: {exc}") from exc
    cuda_states = state.get("cuda")
    if cuda_states and torch.cuda.is_available():
        count = min(len(cuda_states), torch.cuda.device_count())
        for device_index in range(count):
            torch.cuda.set_rng_state(cuda_states[device_index].cpu(), device_index)
