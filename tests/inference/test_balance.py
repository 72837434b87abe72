"""Colour balance (mlsm.inference.balance): the output keeps the input's global colour balance,
and a photo the brightness floor lifts keeps the head's fitted share of its cast."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.inference.balance import MAX_LOG_GAIN, RAMP, cast_scale, keep_colour_balance, log_chroma
from mlsm.inference.base import InferenceModel
from mlsm.models.exposure import ExposureHead


def tinted(cast, seed: int = 0, size: int = 40, level: float = 0.2) -> torch.Tensor:
    """A textured sRGB image whose linear channel means are ``level * exp(cast)`` (cast (3,))."""
    texture = 0.5 + torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(seed))
    linear = texture * level * torch.tensor(cast, dtype=torch.float32).exp().reshape(1, 3, 1, 1)
    return linear_to_srgb(linear.clamp(0.0, 1.0))


def test_log_chroma_is_zero_for_grey_and_reads_the_linear_channel_means():
    grey = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1)).expand(2, 3, 16, 16)
    assert torch.allclose(log_chroma(grey), torch.zeros(2, 3, dtype=torch.float64), atol=1e-6)
    flat = linear_to_srgb(torch.tensor([0.2, 0.1, 0.05]).reshape(1, 3, 1, 1).expand(1, 3, 8, 8))
    logs = np.log([0.2, 0.1, 0.05])
    assert np.allclose(log_chroma(flat)[0].numpy(), logs - logs.mean(), atol=1e-4)


def test_the_output_gets_the_input_cast_times_the_scale_without_changing_its_light():
    image = tinted([0.3, 0.0, -0.3])
    amplified = tinted([0.6, 0.05, -0.65], seed=2)  # the network's doubled cast
    for scale in (1.0, 0.4, 0.0):
        result = keep_colour_balance(image, amplified, scale)
        assert torch.allclose(log_chroma(result), scale * log_chroma(image), atol=2e-3)
        # the gains keep the mean linear luminance (BT.601 weights)
        weights = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
        luminance = lambda t: float((srgb_to_linear(t) * weights).sum(1).mean())  # noqa: E731
        assert luminance(result) == pytest.approx(luminance(amplified), rel=1e-3)
    # per image scales in a batch
    batch = keep_colour_balance(torch.cat([image, image]), torch.cat([amplified, amplified]), torch.tensor([1.0, 0.0]))
    assert torch.allclose(log_chroma(batch), torch.stack([log_chroma(image)[0], torch.zeros(3, dtype=torch.float64)]),
                          atol=2e-3)


def test_the_correction_is_bounded_for_a_near_black_input():
    black_red = torch.zeros(1, 3, 8, 8)
    black_red[:, 0] = 1e-3  # chroma of noise: red only
    grey = torch.full((1, 3, 8, 8), 0.5)
    result = keep_colour_balance(black_red, grey, 1.0)
    gains = srgb_to_linear(result).mean((2, 3)) / srgb_to_linear(grey).mean((2, 3))
    assert float(gains.log().max() - gains.log().min()) <= 2 * MAX_LOG_GAIN + 1e-4  # each within x2 and /2, then one scale
    assert result.min() >= 0.0 and result.max() <= 1.0


def test_the_cast_scale_ramps_from_one_to_the_floor_share():
    lifts = torch.tensor([0.0, RAMP / 2, RAMP, 3 * RAMP])
    assert torch.allclose(cast_scale(lifts, 0.4), torch.tensor([1.0, 0.7, 0.4, 0.4], dtype=torch.float64))
    assert torch.equal(cast_scale(lifts, None), torch.ones(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="floor_chroma"):
        ExposureHead(floor_chroma=1.5)
    head = ExposureHead(floor_log_mean=-2.0, floor_chroma=0.4)
    restored = ExposureHead.from_spec(head.spec(), head.weight)
    assert restored.floor_chroma == 0.4 and "floor_chroma" not in ExposureHead().spec()


class Tinting(InferenceModel):
    """A 'network' that darkens a little and doubles the input's cast (as the shipped one does on
    LOL's rooms); only the colour balance of the photo post-processing is on."""

    def __init__(self, head, **options):
        super().__init__({"exposure_head": head}, "cpu", 4, None, name="tinting",
                         **{"monotone_gain": False, "detail": 0.0, "highlight_headroom": False, **options})

    def _run_tile(self, image):
        linear = srgb_to_linear(image)
        mean = linear.mean(1, keepdim=True).clamp_min(1e-6)
        return linear_to_srgb((mean * (linear / mean) ** 2 * 0.9).clamp(0.0, 1.0))


def test_inference_keeps_the_balance_and_shrinks_the_cast_of_a_photo_the_floor_lifts():
    head = ExposureHead(grid_cells=64, exposure_range=(0.5, 1.0),  # no say on these photos: only the floor
                        floor_log_mean=math.log(0.2), floor_chroma=0.4)
    bright, dark = tinted([0.2, 0.0, -0.2], level=0.4), tinted([0.2, 0.0, -0.2], level=0.02)
    model = Tinting(head)
    out_bright = model.enhance_tensor(bright)  # above the floor: its own balance
    assert torch.allclose(log_chroma(out_bright), log_chroma(bright), atol=3e-3)
    out_dark = model.enhance_tensor(dark)  # lifted by more than RAMP: 0.4 of its cast
    assert torch.allclose(log_chroma(out_dark), 0.4 * log_chroma(dark), atol=3e-3)
    off = Tinting(head, colour_balance=False).enhance_tensor(dark)  # the network's doubled cast
    assert float(log_chroma(off)[0, 0]) > 1.5 * float(log_chroma(dark)[0, 0])
    no_head = Tinting(None).enhance_tensor(dark)  # without a head: the input's own balance
    assert torch.allclose(log_chroma(no_head), log_chroma(dark), atol=3e-3)
