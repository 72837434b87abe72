"""The onnxruntime backend: an exported graph (:mod:`mlsm.inference.onnx_graph`) behind the
:class:`~mlsm.inference.base.InferenceModel` API.

Tiles go through :func:`mlsm.tiling.run_tiled` padded outside the graph too, so tiling and
padding match the PyTorch backend (the graph's own padding is then a no-op). Given a
``.safetensors`` file or a zoo name instead of an ``.onnx`` file, :func:`load_onnx_model`
exports the network in memory at start-up (a few seconds, nothing is cached on disk); run
``mlsm export-onnx`` once to skip that cost.
"""
from __future__ import annotations

import json

from pathlib import Path

import numpy as np
import torch

from mlsm.inference.base import InferenceModel
from mlsm.inference.onnx_graph import (DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, VERIFY_TOLERANCE, OnnxExportError,
                                       export_onnx_bytes, exposure_from_properties, import_onnxruntime,
                                       onnx_max_abs_diff, onnx_session, weights_metadata)
from mlsm.inference.options import InferenceOptions
from mlsm.models.zoo import load_network

__all__ = ["OnnxEnhancer", "load_onnx_model"]


class OnnxEnhancer(InferenceModel):
    """onnxruntime twin of :class:`~mlsm.inference.torch_backend.EnhancementModel` (same
    ``enhance`` API). Runs on the CPU side: tensors come back on the CPU."""

    def __init__(self, session, metadata: dict | None = None, size_multiple: int = 1,
                 options: InferenceOptions | None = None, **overrides):
        self.session = session
        super().__init__(metadata, "cpu", size_multiple, options, name="mlsm-onnx", **overrides)

    def _run_tile(self, image: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(image.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: array})[0])


def _load_onnx_file(path: Path, device: str, threads: int | None, options: InferenceOptions) -> OnnxEnhancer:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    try:
        session = onnx_session(path, device, threads)
    except Exception as exc:
        raise ValueError(f"{path}: not a loadable ONNX model ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())})") from None
    names_in = [node.name for node in session.get_inputs()]
    names_out = [node.name for node in session.get_outputs()]
    if INPUT_NAME not in names_in or OUTPUT_NAME not in names_out:
        raise ValueError(f"{path}: not an mlsm export (inputs {names_in}, outputs {names_out}; "
                         f"expected {INPUT_NAME!r} -> {OUTPUT_NAME!r})")
    properties = dict(session.get_modelmeta().custom_metadata_map)
    metadata = {key[len("mlsm."):]: value for key, value in properties.items() if key.startswith("mlsm.")}
    metadata["exposure_head"] = exposure_from_properties(path, properties)
    if "card" in metadata:  # the weight file's card (its training crop sets the context windows)
        try:
            metadata["card"] = json.loads(metadata["card"])
        except ValueError as exc:
            raise ValueError(f"{path}: unreadable mlsm.card metadata ({exc})") from None
        if not isinstance(metadata["card"], dict):
            raise ValueError(f"{path}: mlsm.card metadata is not a JSON object")
    return OnnxEnhancer(session, metadata, int(properties.get("mlsm.size_multiple", 1)), options)


def load_onnx_model(name_or_path: str | Path, device: str = "cpu", threads: int | None = None,
                    opset: int = DEFAULT_OPSET, options: InferenceOptions | None = None,
                    **overrides) -> OnnxEnhancer:
    """An :class:`OnnxEnhancer` from an ``.onnx`` file, or from weights exported in memory.

    ``name_or_path`` ending in ``.onnx`` is loaded as is; anything else goes through
    :func:`mlsm.models.zoo.load_network` and :func:`export_onnx_bytes` (verified, no file).
    ``device="cuda"`` uses onnxruntime's CUDA provider when that build is installed.
    ``options`` / ``overrides`` as for :class:`~mlsm.inference.base.InferenceModel`.
    """
    import_onnxruntime()
    options = InferenceOptions.resolve(options, **overrides)
    text = str(name_or_path)
    if text.lower().endswith(".onnx"):
        return _load_onnx_file(Path(text).expanduser(), device, threads, options)
    network, metadata = load_network(name_or_path, "cpu")
    model = export_onnx_bytes(network, opset, weights_metadata(metadata))
    difference = onnx_max_abs_diff(model, network)
    if not difference <= VERIFY_TOLERANCE:
        raise OnnxExportError(f"{text}: in-memory ONNX export differs from PyTorch by {difference:.3g}")
    return OnnxEnhancer(onnx_session(model, device, threads), metadata, network.size_multiple, options)
