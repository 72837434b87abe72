"""InferenceModel: what both backends share (dispatch, tiling, exposure, brightness)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mlsm.inference.base import InferenceModel
from mlsm.inference.options import InferenceOptions
from mlsm.models.exposure import ExposureHead, scale_brightness


class Affine(InferenceModel):
    """A pointwise 'network' (0.5 x + 0.25): tiling reproduces it exactly; records tile sizes."""

    def __init__(self, metadata=None, options=None, **overrides):
        super().__init__(metadata, "cpu", 4, options, name="affine", **overrides)
        self.tiles = []

    def _run_tile(self, image):
        self.tiles.append(tuple(image.shape[-2:]))
        return (0.5 * image + 0.25).clamp(0.0, 1.0)


def expected(array: np.ndarray) -> np.ndarray:
    return 0.5 * array + 0.25


def test_options_record_and_overrides():
    model = Affine(options=InferenceOptions(tile=64), overlap=8)
    assert model.options == InferenceOptions(tile=64, overlap=8)
    assert (model.tile, model.overlap, model.brightness) == (64, 8, 1.0)
    assert model.size_multiple == 4 and model.name == "affine" and model.device == torch.device("cpu")
    with pytest.raises(TypeError):
        Affine(tiles=64)


def test_float_uint8_pil_and_tensor_in_give_the_same_type_out():
    rng = np.random.default_rng(0)
    array = rng.random((13, 22, 3), dtype=np.float32)
    model = Affine()
    out = model.enhance(array)
    assert out.dtype == np.float32 and np.allclose(out, expected(array), atol=1e-6)
    as_uint8 = (array * 255).astype(np.uint8)
    out8 = model.enhance(as_uint8)
    assert out8.dtype == np.uint8
    assert np.array_equal(out8, np.round(expected(as_uint8 / np.float32(255)) * 255).astype(np.uint8))
    pil = model.enhance(Image.fromarray(as_uint8))
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and np.array_equal(np.asarray(pil), out8)
    tensor = torch.from_numpy(array).permute(2, 0, 1)
    assert model.enhance(tensor).shape == (3, 13, 22)
    assert model.enhance(tensor[None]).shape == (1, 3, 13, 22)
    assert np.allclose(model(array), out)  # the baselines' Method protocol
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        model.enhance(np.zeros((4, 4)))


def test_tiles_follow_the_options():
    image = torch.rand(1, 3, 70, 90)
    whole, tiled = Affine(), Affine(tile=32, overlap=8)
    out_whole, out_tiled = whole.enhance_tensor(image), tiled.enhance_tensor(image)
    assert whole.tiles == [(72, 92)]  # one pass, padded to the multiple 4
    assert len(tiled.tiles) > 4 and all(h <= 32 + 4 and w <= 32 + 4 for h, w in tiled.tiles)
    torch.testing.assert_close(out_tiled, out_whole, atol=1e-6, rtol=0)


def test_brightness_scales_in_linear_light_and_is_checked():
    image = torch.rand(1, 3, 16, 16)
    model = Affine(brightness=1.5)
    torch.testing.assert_close(model.enhance_tensor(image), scale_brightness(0.5 * image + 0.25, 1.5))
    model.brightness = 1.0  # the demo's slider
    torch.testing.assert_close(model.enhance_tensor(image), 0.5 * image + 0.25)
    with pytest.raises(ValueError, match="brightness"):
        model.brightness = 0.0
    assert model.brightness == 1.0


def test_exposure_head_runs_only_when_calibrating():
    head = ExposureHead()
    with torch.no_grad():
        head.weight.zero_()
        head.weight[-1] = -2.0  # bias only: a constant target log mean
    image = torch.rand(1, 3, 16, 16) * 0.1
    calibrated = Affine({"exposure_head": head})
    assert calibrated.exposure_head is head
    out = calibrated.enhance_tensor(image)
    torch.testing.assert_close(out, head.calibrate(image, 0.5 * image + 0.25, 1.0))
    assert not torch.allclose(out, 0.5 * image + 0.25, atol=1e-3)  # the head did act
    assert Affine({"exposure_head": head}, calibrate_exposure=False).exposure_head is None
    assert Affine().exposure_head is None


def test_the_base_has_no_network():
    with pytest.raises(NotImplementedError):
        InferenceModel(None, "cpu", 1, name="bare").enhance_tensor(torch.rand(1, 3, 4, 4))
