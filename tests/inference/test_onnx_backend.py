"""OnnxEnhancer: an exported graph behind the same InferenceModel base as the torch backend."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from mlsm.inference.base import InferenceModel  # noqa: E402
from mlsm.inference.loading import load_model  # noqa: E402
from mlsm.inference.onnx_backend import OnnxEnhancer, load_onnx_model  # noqa: E402
from mlsm.inference.options import InferenceOptions  # noqa: E402


@pytest.fixture(scope="module")
def options():
    return InferenceOptions(tile=64, overlap=16, brightness=1.25)


def test_in_memory_export_shares_the_base_and_its_options(tiny_weights, options):
    model = load_onnx_model(tiny_weights, options=options)
    assert isinstance(model, OnnxEnhancer) and isinstance(model, InferenceModel)
    assert model.options == options and model.name == "mlsm-onnx"
    assert model.metadata["arch"] == "enhancer" and model.device == torch.device("cpu")
    image = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(1))
    torch_out = load_model(tiny_weights, options=options).enhance_tensor(image)
    assert float((model.enhance_tensor(image) - torch_out).abs().max()) <= 1e-3


def test_overrides_replace_the_record(tiny_weights, options):
    model = load_onnx_model(tiny_weights, options=options, brightness=1.0)
    assert model.options == InferenceOptions(tile=64, overlap=16)


def test_missing_onnx_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        load_onnx_model(tmp_path / "none.onnx")
