"""Neutral shadows (mlsm.inference.shadows): grey where the input holds no colour, luma kept,
everything from HIGH code values up untouched; wired into the photo and video paths."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mlsm.inference import load_model
from mlsm.inference.maps import luma
from mlsm.inference.shadows import HIGH, LOW, colour_confidence, neutral_shadows


def _input_with_black_band() -> torch.Tensor:
    """A 1x3x64x96 input: the top half near-black (1, 1, 0 codes, DICM 12's sky), the bottom
    half a lit orange wall (120, 80, 40 codes)."""
    image = torch.empty(1, 3, 64, 96)
    image[:, :, :32] = torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1) / 255
    image[:, :, 32:] = torch.tensor([120.0, 80.0, 40.0]).view(1, 3, 1, 1) / 255
    return image


def test_confidence_is_zero_in_black_and_one_in_lit_regions():
    confidence = colour_confidence(_input_with_black_band())
    assert confidence.shape == (1, 1, 64, 96)
    assert float(confidence[..., :24, :].max()) == 0.0      # luma 0.9 codes <= LOW
    assert float(confidence[..., 40:, :].min()) == 1.0      # luma 88 codes >= HIGH
    assert LOW < HIGH


def test_black_input_gives_grey_output_at_the_same_luma_and_lit_regions_stay_exact():
    image = _input_with_black_band()
    enhanced = torch.empty_like(image)
    enhanced[:, :, :32] = torch.tensor([0.07, 0.075, 0.035]).view(1, 3, 1, 1)   # olive (18, 19, 9)
    enhanced[:, :, 32:] = torch.tensor([0.8, 0.55, 0.3]).view(1, 3, 1, 1)
    enhanced += 0.01 * torch.rand_like(enhanced)
    result = neutral_shadows(image, enhanced)
    top = result[0, :, :24]
    assert torch.allclose(top[0], top[1], atol=1e-6) and torch.allclose(top[1], top[2], atol=1e-6)
    assert torch.allclose(luma(result), luma(enhanced), atol=1e-6)
    assert torch.equal(result[..., 40:, :], enhanced[..., 40:, :])


def test_a_lit_input_returns_the_output_itself():
    image = torch.full((1, 3, 16, 16), 0.5)
    enhanced = torch.rand(1, 3, 16, 16)
    assert neutral_shadows(image, enhanced) is enhanced


@pytest.mark.parametrize("option", [True, False])
def test_the_default_model_greys_a_black_sky_unless_switched_off(option):
    model = load_model("mlsm_small.real_exposure", neutral_shadows=option)
    image = _input_with_black_band()
    out = model.enhance_tensor(image)[0, :, 4:24, 4:-4]
    spread = float((out.max(0).values - out.min(0).values).mean()) * 255
    if option:
        assert spread < 0.05
    else:
        assert spread > 1.0  # the network colours the black band (why the step exists)


def test_video_frames_get_the_same_neutral_shadows():
    from mlsm.video.frames import FrameEnhancer

    model = load_model("mlsm_small.real_exposure")
    frame = (_input_with_black_band()[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = FrameEnhancer(model, temporal_smoothing=0)(frame, 0.0).astype(int)[4:24, 4:-4]
    assert int((out.max(-1) - out.min(-1)).max()) <= 1
