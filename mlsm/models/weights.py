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
           "load_vae_weights", "check_tensors"]

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
    """The :class:`ModelConfig` stored as JSON; every key and bound is checked before anything
    is built (ValueError saying which key is wrong)."""
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"config is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("vae"), dict) or not isinstance(data.get("mapper"), dict):
        raise ValueError(f"config must be a JSON object with 'vae' and 'mapper' objects, got {text[:60]!r}")
    sections = {}
    for section, kind in (("vae", VAEConfig), ("mapper", MapperConfig)):
        known = {field.name for field in dataclasses.fields(kind)}
        unknown = sorted(set(data[section]) - known)
        if unknown:
            raise ValueError(f"config.{section}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        try:
            sections[section] = kind(**data[section])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"config.{section}: {exc}") from None
    return ModelConfig(**sections)


def _json_record(path: Path, key: str, text: str):
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: metadata {key!r} is not valid JSON ({exc})") from None


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
    try:
        config = config_from_json(metadata["config"])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    card = _json_record(Path(path), "card", metadata.get("card", "{}"))
    if not isinstance(card, dict):
        raise ValueError(f"{path}: metadata 'card' must be a JSON object, got {type(card).__name__}")
    record = {"arch": metadata["arch"], "config": config, "card": card}
    if "exposure" in metadata:
        record["exposure"] = _json_record(Path(path), "exposure", metadata["exposure"])
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
    metadata = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # a header that parses over truncated or inconsistent data
        raise ValueError(f"{path}: tensors cannot be read ({' '.join(str(exc).split())})") from None
    return metadata, tensors


def check_tensors(path: str | Path, module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """ValueError naming ``path`` and the first mismatches unless ``tensors`` has exactly the
    names and shapes of ``module``'s state dict (what ``load_state_dict(strict=True)`` needs)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f"{name} {tuple(tensors[name].shape)} (network {tuple(expected[name].shape)})"
             for name in expected if name in tensors and tuple(tensors[name].shape) != tuple(expected[name].shape)]
    problems = []
    for label, items in (("missing tensors", missing), ("unexpected tensors", unexpected), ("wrong shape", wrong)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            problems.append(f"{label}: {', '.join(items[:3])}{more}")
    if problems:
        raise ValueError(f"{path}: the tensors do not match the network built from its config ({'; '.join(problems)})")


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
