"""Loading a model for inference: zoo name or weight path -> a backend with its options."""
from __future__ import annotations

from pathlib import Path

from mlsm.inference.options import InferenceOptions
from mlsm.inference.torch_backend import EnhancementModel
from mlsm.models.zoo import DEFAULT_MODEL, load_network, mlsm_spec_target

__all__ = ["load_model", "build_mlsm_method", "spec_options"]


def load_model(name_or_path: str | Path = DEFAULT_MODEL, device: str = "cpu", options: InferenceOptions | None = None,
               **overrides) -> EnhancementModel:
    """Load a shipped model by name (see :func:`mlsm.models.zoo.list_models`) or a ``.safetensors``
    path, on the torch backend; ``options`` / ``overrides`` (``tile=``, ...) as for
    :class:`~mlsm.inference.options.InferenceOptions`."""
    network, metadata = load_network(name_or_path, device)
    return EnhancementModel(network, metadata, device=device, options=options, **overrides)


def spec_options(spec: str) -> dict:
    """The inference options of an mlsm method spec's ``"[option=value,...]"`` suffix
    (``none``, ``true``/``false``, integers and numbers are read as such).

    >>> spec_options("mlsm:mlsm_small.real_v2[detail=0,context=none]")
    {'detail': 0, 'context': None}
    >>> spec_options("mlsm")
    {}
    """
    if not (spec.endswith("]") and "[" in spec):
        return {}
    options = {}
    for item in spec[spec.rindex("[") + 1: -1].split(","):
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise ValueError(f"{spec}: options are key=value pairs separated by commas, got {item!r}")
        lowered = text.lower()
        if lowered in ("none", "true", "false"):
            options[key] = {"none": None, "true": True, "false": False}[lowered]
            continue
        try:
            options[key] = int(text)
        except ValueError:
            try:
                options[key] = float(text)
            except ValueError:
                raise ValueError(f"{spec}: option {key} needs a number, true, false or none, got {text!r}") from None
    return options


def build_mlsm_method(spec: str, device: str = "cpu") -> EnhancementModel:
    """Registry hook: "mlsm" (default model) or "mlsm:NAME_OR_PATH", with optional
    ``"[option=value,...]"`` inference options (:func:`spec_options`) -> a Method."""
    try:
        model = load_model(mlsm_spec_target(spec), device=device, **spec_options(spec))
    except TypeError as exc:  # an option that is not an InferenceOptions field
        raise ValueError(f"{spec}: {exc}") from None
    model.name = spec
    return model
