"""ONNX export and the onnxruntime backend, under their former module name.

The code lives in :mod:`mlsm.inference.onnx_graph` (graph, export, verification) and
:mod:`mlsm.inference.onnx_backend` (:class:`OnnxEnhancer`, :func:`load_onnx_model`); the
``mlsm export-onnx`` command in :mod:`mlsm.export_cli`.
"""
from mlsm.inference.onnx_backend import OnnxEnhancer, load_onnx_model
from mlsm.inference.onnx_graph import (DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, VERIFY_SIZE, VERIFY_TOLERANCE,
                                       OnnxExportError, OnnxUnavailableError, PaddedEnhancerGraph, export_onnx,
                                       export_onnx_bytes, onnx_max_abs_diff)

__all__ = ["OnnxUnavailableError", "OnnxExportError", "PaddedEnhancerGraph", "export_onnx_bytes",
           "onnx_max_abs_diff", "export_onnx", "OnnxEnhancer", "load_onnx_model", "INPUT_NAME", "OUTPUT_NAME",
           "DEFAULT_OPSET", "VERIFY_SIZE", "VERIFY_TOLERANCE"]
