"""Model zoo: one table from a weight name (``preset.tag``) to its file, hash and card.

Vocabulary (one word per concept):

* ``preset``: a named :class:`~mlsm.models.configs.ModelConfig` (:data:`~mlsm.models.configs.PRESETS`,
  e.g. ``mlsm_small``); the first part of a zoo name;
* ``arch``: the network class built from that config (:data:`ARCHS`: ``enhancer``, ``direct``),
  stored as ``arch`` in every weight file;
* ``tag``: what a weight set was trained for (``synth_dark_jpeg``, ``real_v2``).

Weight files live in the package (``mlsm/weights/``), so nothing is fetched at run time.
A user's own checkpoint is loaded by path (``.safetensors`` written by ``mlsm train``).
Name/path resolution and its error (:class:`ModelUnavailableError`) live here; the object
users enhance with lives in :mod:`mlsm.inference`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from mlsm.models.enhancer import DirectEnhancer, Enhancer
from mlsm.models.exposure import ExposureHead
from mlsm.models.weights import check_tensors, load_weights, split_exposure_head

__all__ = ["WeightSpec", "ZOO", "DEFAULT_MODEL", "ARCHS", "PAPER", "ModelUnavailableError", "list_models",
           "resolve_weights", "load_network", "default_model_name", "resolve_network", "mlsm_spec_target"]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
PAPER = "Zeng et al., Multiple Latent Space Mapping for Compressed Dark Image Enhancement"


@dataclass(frozen=True)
class WeightSpec:
    """A released weight set and its card (MODEL_CARD.md has the measurements).

    Attributes:
        name: ``preset.tag``, the key in :data:`ZOO`.
        file: file name inside ``mlsm/weights``; ``sha256`` is checked on load.
        arch: the network class (a key of :data:`ARCHS`); the file's ``arch`` equals it.
        training_data: what the weights were trained on.
        licence: of the weights (the training data keep their own).
        paper: the method the network implements.
    """

    name: str
    file: str
    sha256: str | None
    description: str
    arch: str = "enhancer"
    training_data: str = ""
    licence: str = ""
    paper: str = PAPER

    @property
    def preset(self) -> str:
        """The :data:`~mlsm.models.configs.PRESETS` name the network was built from."""
        return self.name.partition(".")[0]

    @property
    def tag(self) -> str:
        return self.name.partition(".")[2]


ZOO: dict[str, WeightSpec] = {
    "mlsm_small.synth_dark_jpeg": WeightSpec(
        name="mlsm_small.synth_dark_jpeg",
        file="mlsm_small.synth_dark_jpeg.safetensors",
        sha256="aa6b22cfc4f91b8355d1226e34149583fff7fc053fc0667d848664a9ba003cc6",
        description="mlsm_small trained on synthetic dark JPEG pairs from CBSD68 + McMaster "
                    "(exposure x0.03-0.3, QF 60-95); see MODEL_CARD.md",
        training_data="synthetic pairs (mlsm/data/degrade.py) from CBSD68 (68) + McMaster (18) clean photos: "
                      "exposure x0.03-0.3, shot and read noise, colour cast, JPEG QF 60-95 4:2:0; "
                      "Kodak24 held out for validation",
        licence="MIT (the weights); the training photos are research test images",
    ),
    "mlsm_small.real_v2": WeightSpec(
        name="mlsm_small.real_v2",
        file="mlsm_small.real_v2.safetensors",
        sha256="520a1604af5dc8f7d9ae7b33ba50a522cef54590236dceb691fae091679e1219",
        description="mlsm_small.synth_dark_jpeg fine-tuned for real dark photos: LOL-v1 pairs + "
                    "degradation-v2 synthetic pairs, texture terms, output refinement, exposure head v2 "
                    "(configs/mlsm_small_v2.yaml); see MODEL_CARD.md",
        training_data="fine-tuned from mlsm_small.synth_dark_jpeg on LOL-v1 our485 pairs (Wei et al., BMVC 2018; "
                      "JPEG QF 60-95; 35 held out) and degradation-v2 synthetic pairs from 115 clean photos "
                      "(docs/training_photos.md); Kodak24 never trained on",
        licence="MIT (the weights); LOL-v1 is for research use, the photos keep their licences "
                "(docs/training_photos.md)",
    ),
    "mlsm_small.real_exposure": WeightSpec(
        name="mlsm_small.real_exposure",
        file="mlsm_small.real_exposure.safetensors",
        sha256="4694a314d839205e3ed8603cfa5a44439ab5dad3fbda951d85cf2acbb5ef1f49",
        description="the default: mlsm_small.synth_dark_jpeg's network and exposure head plus a keep gate "
                    "(a photo already well exposed keeps its brightness) and a brightness floor from LOL's "
                    "normal-light images (configs/keep_gate.yaml); see MODEL_CARD.md",
        training_data="the network: as mlsm_small.synth_dark_jpeg; the keep gate: CBSD68 + McMaster as they are "
                      "and degraded (v1, v2) and LOL-v1 our485 low images (35 held out, pair 648 left out); the "
                      "floor: the first quartile of those LOL pairs' normal-light brightness; Kodak24 and the "
                      "real dark photos never seen",
        licence="MIT (the weights); LOL-v1 is for research use, the training photos are research test images",
    ),
}
DEFAULT_MODEL = "mlsm_small.real_exposure"

# arch (the weight file's ``arch``) -> network class built from the stored config
ARCHS = {"enhancer": Enhancer, "direct": DirectEnhancer}


class ModelUnavailableError(ValueError):
    """The model named (or the default one) cannot be found or loaded."""


def list_models() -> list[str]:
    """Names of the weight sets shipped with the package."""
    return sorted(ZOO)


def resolve_weights(name_or_path: str | Path) -> tuple[Path, str | None]:
    """Weight file and expected sha256 for a zoo name or a file path."""
    text = str(name_or_path)
    if text in ZOO:
        spec = ZOO[text]
        path = WEIGHTS_DIR / spec.file
        if not path.is_file():
            raise FileNotFoundError(f"{path}: weights of {text!r} are missing from this installation; "
                                    "reinstall mlsm or pass a .safetensors path with --model")
        return path, spec.sha256
    path = Path(text).expanduser()
    if path.is_file():
        return path, None
    known = ", ".join(list_models()) or "none installed"
    raise FileNotFoundError(f"{text}: no such model name or weight file (known models: {known})")


def load_network(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the network from the stored config and load its weights (strict).

    The metadata record gets ``exposure_head``: the file's
    :class:`~mlsm.models.exposure.ExposureHead`, or None when it has none.
    """
    path, sha = resolve_weights(name_or_path)
    metadata, tensors = load_weights(path, expected_sha256=sha)
    if metadata["arch"] not in ARCHS:
        raise ValueError(f"{path}: unknown architecture {metadata['arch']!r}; known: {sorted(ARCHS)}")
    network = ARCHS[metadata["arch"]](metadata["config"])
    tensors, head_tensors = split_exposure_head(tensors)
    check_tensors(path, network, tensors)
    network.load_state_dict(tensors, strict=True)
    metadata["exposure_head"] = None
    if "exposure" in metadata:
        if set(head_tensors) != {"weight"}:
            raise ValueError(f"{path}: exposure head tensors {sorted(head_tensors)} do not match its spec")
        spec = metadata["exposure"]
        try:
            if not isinstance(spec, dict):
                raise ValueError(f"must be a JSON object, got {type(spec).__name__}")
            metadata["exposure_head"] = ExposureHead.from_spec(spec, head_tensors["weight"])
        except KeyError as exc:
            raise ValueError(f"{path}: metadata 'exposure' lacks the key {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{path}: metadata 'exposure' is invalid ({' '.join(str(exc).split())})") from None
    elif head_tensors:
        raise ValueError(f"{path}: exposure head tensors without an 'exposure' spec in the metadata")
    return network.eval().to(device), metadata


def default_model_name(model: str | Path | None) -> str:
    """``model``, or the default model's name when it is installed (else ModelUnavailableError)."""
    if model is not None:
        return str(model)
    if DEFAULT_MODEL not in ZOO:
        raise ModelUnavailableError(
            f"no model installed: the default model {DEFAULT_MODEL!r} is not part of this installation; "
            "pass --model PATH.safetensors (a checkpoint written by `mlsm train`)")
    return DEFAULT_MODEL


def resolve_network(model: str | Path | None, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """(network, metadata) for a zoo name or path (None: the default model), or ModelUnavailableError."""
    name = default_model_name(model)
    try:
        return load_network(name, device)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        text = " ".join(str(exc).split())
        raise ModelUnavailableError(f"no model installed: {text}" if model is None else text) from None


def mlsm_spec_target(spec: str) -> str:
    """The zoo name or weight path an mlsm method spec names ("mlsm" -> the default model; an
    ``"[option=value,...]"`` suffix is not part of it)."""
    if spec.endswith("]") and "[" in spec:
        spec = spec[: spec.rindex("[")]
    return spec.partition(":")[2] or DEFAULT_MODEL
