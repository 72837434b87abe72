"""Weights as safetensors with their metadata record (never pickle for what users download).

A weight file stores the network's tensors plus string metadata: ``arch`` (the network
class, ``enhancer`` or ``direct``: :data:`mlsm.models.zoo.ARCHS`), ``config`` (the :class:`ModelConfig` as JSON, so the
network is rebuilt from its stored config, never guessed from tensor shapes) and free-form
``card`` JSON (training data, degradation ranges, steps, licence, paper), and, when the
model has a global exposure head (:mod:`mlsm.models.exposure`), ``exposure`` (its spec;
its tensors are stored under ``exposure_head.``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from mlsm.atomic import atomic_path
from mlsm.models.configs import MapperConfig, ModelConfig, VAEConfig

__all__ = ["sha256_of", "config_to_json", "config_from_json", "save_weights", "read_metadata", "load_weights",
           "split_exposure_head", "EXPOSURE_PREFIX", "adds_output_refinement", "load_init_weights",
           "load_vae_weights"]

EXPOSURE_PREFIX = "exposure_head."


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def config_to_json(config: ModelConfig) -> str:
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_json(text: str) -> ModelConfig:
    data = json.loads(text)
    return ModelConfig(vae=VAEConfig(**data["vae"]), mapper=MapperConfig(**data["mapper"]))


def save_weights(path: str | Path, module: torch.nn.Module, arch: str, config: ModelConfig,
                 card: dict | None = None, exposure_head: torch.nn.Module | None = None) -> Path:
    """Write ``module``'s state dict to ``path`` atomically with the metadata record.

    An :class:`~mlsm.models.exposure.ExposureHead` is stored as ``exposure_head.*`` tensors
    plus its ``exposure`` spec in the metadata.
    """
    path = Path(path)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in module.state_dict().items()}
    metadata = {"arch": arch, "config": config_to_json(config), "card": json.dumps(card or {}, sort_keys=True)}
    if exposure_head is not None:
        tensors.update({f"{EXPOSURE_PREFIX}{name}": tensor.detach().cpu().contiguous()
                        for name, tensor in exposure_head.state_dict().items()})
        metadata["exposure"] = json.dumps(exposure_head.spec(), sort_keys=True)
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict:
    """The metadata record of a weight file: ``arch``, ``config`` (ModelConfig), ``card`` (dict)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # safetensors raises several types for a corrupt header
        raise ValueError(f"{path}: not a readable safetensors weight file ({exc})") from None
    if "arch" not in metadata or "config" not in metadata:
        raise ValueError(f"{path}: safetensors file lacks the mlsm metadata (arch, config)")
    record = {"arch": metadata["arch"], "config": config_from_json(metadata["config"]),
              "card": json.loads(metadata.get("card", "{}"))}
    if "exposure" in metadata:
        record["exposure"] = json.loads(metadata["exposure"])
    return record


def split_exposure_head(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(network tensors, exposure-head tensors without their ``exposure_head.`` prefix)."""
    network = {k: v for k, v in tensors.items() if not k.startswith(EXPOSURE_PREFIX)}
    head = {k[len(EXPOSURE_PREFIX):]: v for k, v in tensors.items() if k.startswith(EXPOSURE_PREFIX)}
    return network, head


def load_weights(path: str | Path, expected_sha256: str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors) from ``path``; verifies the file hash when one is given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weight file not found")
    if expected_sha256 is not None and sha256_of(path) != expected_sha256:
        raise ValueError(f"{path}: sha256 mismatch (file corrupt or replaced); expected {expected_sha256}")
    return read_metadata(path), load_file(str(path))


def adds_output_refinement(stored: ModelConfig, wanted: ModelConfig) -> bool:
    """True when ``wanted`` is ``stored`` plus an output refinement (``vae.output_refine``
    0 -> N): weights without it initialise such a network, the refinement as identity."""
    if not dataclasses.is_dataclass(stored) or not hasattr(stored, "vae") or stored.vae.output_refine:
        return False
    widened = dataclasses.replace(stored, vae=dataclasses.replace(stored.vae, output_refine=wanted.vae.output_refine))
    return wanted.vae.output_refine > 0 and widened == wanted


def load_init_weights(model: torch.nn.Module, path: str | Path, card: dict) -> None:
    """Initialise ``model`` (which has a ``config``) from the weight file ``path``.

    Strict, except that a network widened by an output refinement
    (:func:`adds_output_refinement`) keeps that refinement fresh. An exposure head in the
    file is ignored (it is fitted after training). ``card`` records ``init_weights``,
    ``init_card`` and, when widened, ``init_added``.

    Raises:
        ValueError: the stored config differs from ``model.config``, or tensors are missing.
    """
    metadata, tensors = load_weights(path)
    widened = adds_output_refinement(metadata["config"], model.config)
    if metadata["config"] != model.config and not widened:
        raise ValueError(f"{path}: its model config differs from the experiment's model section")
    tensors, _ = split_exposure_head(tensors)
    if widened:  # the new full-resolution refinement starts as identity (VAEConfig.output_refine)
        missing = model.load_state_dict(tensors, strict=False).missing_keys
        unexpected = [key for key in missing if ".refine." not in key]
        if unexpected:
            raise ValueError(f"{path}: tensors missing for {unexpected[:5]}")
        card["init_added"] = "vae.output_refine"
    else:
        model.load_state_dict(tensors, strict=True)
    card["init_weights"] = str(path)
    card["init_card"] = metadata["card"]


def load_vae_weights(model: torch.nn.Module, path: str | Path, card: dict) -> None:
    """Stage-1 VAE tensors (``vae_c.*``, ``vae_n.*``) of ``path`` into an
    :class:`~mlsm.models.enhancer.Enhancer`; the mappers keep their fresh initialisation.
    ``card`` records ``vae_weights`` and ``vae_card``."""
    metadata, tensors = load_weights(path)
    vae_tensors = {k: v for k, v in tensors.items() if k.startswith(("vae_c.", "vae_n."))}
    missing = model.load_state_dict(vae_tensors, strict=False).missing_keys
    if any(not k.startswith("mapping.") for k in missing):
        raise ValueError(f"{path}: lacks VAE tensors {missing[:3]}...")
    card["vae_weights"] = str(path)
    card["vae_card"] = metadata["card"]
