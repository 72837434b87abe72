"""The public Python API: mlsm.load_model, mlsm.enhance, mlsm.list_models."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import mlsm
from mlsm.inference import EnhancementModel


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights_path(tiny_weights):
    return tiny_weights


@pytest.fixture(scope="module")
def model(weights_path):
    return mlsm.load_model(str(weights_path))


@pytest.fixture()
def dark_uint8():
    return np.random.default_rng(0).integers(0, 60, (37, 53, 3), dtype=np.uint8)


def test_load_model_returns_an_enhancement_model(model):
    assert isinstance(model, EnhancementModel)
    assert model.metadata["arch"] == "enhancer"
    assert model.metadata["card"] == {"note": "random init, tests"}
    assert not model.network.training


def test_uint8_array_in_uint8_array_out(model, dark_uint8):
    out = model.enhance(dark_uint8)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.uint8 and out.shape == dark_uint8.shape
    # same numbers as the float path, quantised
    reference = model.enhance(dark_uint8.astype(np.float32) / 255.0)
    assert np.abs(out.astype(np.float32) - np.round(reference * 255.0)).max() <= 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_array_in_float_array_out(model, dark_uint8, dtype):
    image = dark_uint8.astype(dtype) / 255.0
    out = model.enhance(image)
    assert isinstance(out, np.ndarray)
    assert out.dtype == dtype and out.shape == image.shape
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_pil_in_pil_out(model, dark_uint8, mode):
    picture = Image.fromarray(dark_uint8).convert(mode)
    out = model.enhance(picture)
    assert isinstance(out, Image.Image)
    assert out.mode == "RGB" and out.size == picture.size
    expected = model.enhance(np.asarray(picture.convert("RGB")))
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_tensor_in_tensor_out(model, dark_uint8):
    single = torch.from_numpy(dark_uint8).permute(2, 0, 1).float() / 255.0
    out = model.enhance(single)
    assert isinstance(out, torch.Tensor) and out.shape == single.shape and out.dtype == torch.float32
    batch = torch.stack([single, single.flip(-1)])
    out_batch = model.enhance(batch)
    assert out_batch.shape == batch.shape
    torch.testing.assert_close(out_batch[0], out, atol=1e-6, rtol=0)
    expected = model.enhance(dark_uint8.astype(np.float32) / 255.0)
    torch.testing.assert_close(out.permute(1, 2, 0), torch.from_numpy(expected), atol=1e-6, rtol=0)


def test_module_level_enhance(weights_path, model, dark_uint8):
    out = mlsm.enhance(dark_uint8, model=str(weights_path))
    np.testing.assert_array_equal(out, model.enhance(dark_uint8))


def test_enhance_is_deterministic_and_changes_the_image(model, dark_uint8):
    first = model.enhance(dark_uint8)
    np.testing.assert_array_equal(first, model.enhance(dark_uint8))
    assert not np.array_equal(first, dark_uint8)


def test_wrong_shapes_are_refused(model):
    with pytest.raises(ValueError, match="RGB"):
        model.enhance(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        model.enhance(np.zeros((8, 8, 4), dtype=np.uint8))


def test_missing_model_names_the_path(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        mlsm.load_model(str(missing))


def test_list_models_is_a_sorted_list():
    names = mlsm.list_models()
    assert isinstance(names, list) and names == sorted(names)
