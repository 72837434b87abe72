"""mlsm: Multiple Latent Space Mapping for compressed dark image enhancement.

Zeng et al., "Multiple Latent Space Mapping for Compressed Dark Image Enhancement".

>>> import mlsm
>>> model = mlsm.load_model()              # the bundled default, CPU   # doctest: +SKIP
>>> bright = model.enhance(dark_uint8_rgb)  # numpy, PIL or torch in -> same type out  # doctest: +SKIP
"""
__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "list_models", "enhance", "sample_images"]


def load_model(name_or_path=None, device: str = "cpu", **options):
    """Load a shipped model by name (see :func:`list_models`) or a ``.safetensors`` path.

    ``options``: ``options=`` an :class:`mlsm.inference.InferenceOptions`, or its fields
    (``tile``, ``overlap``, ``calibrate_exposure``, ``brightness``, ``context``, ``shift_ensemble``,
    ``monotone_gain``, ``detail``, ``keep_well_exposed``, ``colour_balance``, ``neutral_shadows``,
    ``highlight_headroom``, ``chroma_denoise``)
    by name.
    """
    from mlsm.inference.loading import load_model as _load
    from mlsm.models.zoo import DEFAULT_MODEL

    return _load(name_or_path or DEFAULT_MODEL, device=device, **options)


def list_models() -> list[str]:
    """Names of the weight sets shipped with the package."""
    from mlsm.models.zoo import list_models as _list

    return _list()


def enhance(image, model=None, device: str = "cpu"):
    """Enhance one image (numpy (H, W, 3), PIL or tensor) with ``model`` (default: the bundled one)."""
    return load_model(model, device=device).enhance(image)


def sample_images() -> list:
    """Paths of the real dark JPEGs bundled with the package (DICM; see assets/samples/CREDITS.md)."""
    from pathlib import Path

    return sorted((Path(__file__).resolve().parent / "assets" / "samples").glob("*.jpg"))
