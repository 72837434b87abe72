"""Loading a model for inference: zoo name or weight path -> a backend with its options."""
from __future__ import annotations

from pathlib import Path

from mlsm.inference.options import InferenceOptions
from mlsm.inference.torch_backend import EnhancementModel
from mlsm.models.zoo import DEFAULT_MODEL, load_network, mlsm_spec_target

__all__ = ["load_model", "build_mlsm_method"]


def load_model(name_or_path: str | Path = DEFAULT_MODEL, device: str = "cpu", options: InferenceOptions | None = None,
               **overrides) -> EnhancementModel:
    """Load a shipped model by name (see :func:`mlsm.models.zoo.list_models`) or a ``.safetensors``
    path, on the torch backend; ``options`` / ``overrides`` (``tile=``, ...) as for
    :class:`~mlsm.inference.options.InferenceOptions`."""
    network, metadata = load_network(name_or_path, device)
    return EnhancementModel(network, metadata, device=device, options=options, **overrides)


def build_mlsm_method(spec: str, device: str = "cpu") -> EnhancementModel:
    """Registry hook: "mlsm" (default model) or "mlsm:NAME_OR_PATH" -> a Method."""
    model = load_model(mlsm_spec_target(spec), device=device)
    model.name = spec
    return model
