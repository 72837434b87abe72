"""Inference: the object :func:`mlsm.load_model` returns, its options and its backends.

::

    options.py        InferenceOptions: tile, overlap, calibrate_exposure, brightness (one set of defaults)
    base.py           InferenceModel: options, exposure calibration, numpy/PIL/tensor dispatch, tiling
    torch_backend.py  EnhancementModel: a torch network
    onnx_graph.py     the exported ONNX graph, its metadata and the onnxruntime check
    onnx_backend.py   OnnxEnhancer, load_onnx_model: an exported graph on onnxruntime
    loading.py        load_model, build_mlsm_method (zoo name or path -> torch backend)

Importing this package is light (no torch): the names below load their module on first use,
so the command lines can read :data:`DEFAULT_TILE` and :data:`DEFAULT_OVERLAP` cheaply.
"""
from __future__ import annotations

from mlsm.inference.options import DEFAULT_OVERLAP, DEFAULT_TILE, InferenceOptions

__all__ = ["DEFAULT_TILE", "DEFAULT_OVERLAP", "InferenceOptions", "InferenceModel", "EnhancementModel",
           "OnnxEnhancer", "load_model", "load_onnx_model", "build_mlsm_method"]


def __getattr__(name: str):
    if name == "InferenceModel":
        from mlsm.inference.base import InferenceModel
        return InferenceModel
    if name == "EnhancementModel":
        from mlsm.inference.torch_backend import EnhancementModel
        return EnhancementModel
    if name in ("OnnxEnhancer", "load_onnx_model"):
        from mlsm.inference import onnx_backend
        return getattr(onnx_backend, name)
    if name in ("load_model", "build_mlsm_method"):
        from mlsm.inference import loading
        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
