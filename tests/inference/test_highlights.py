"""Highlight headroom (mlsm.inference.highlights): a photo's lit parts are held under a ceiling
from the input's own brightness, keep the input's structure and colour above 4 px (not its
8 px blocks), the mean luma is kept, tone order is kept, and photos without lit parts (darkened
as a whole) come back bit for bit; wired into the photo path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mlsm.colour import srgb_to_linear
from mlsm.inference import load_model
from mlsm.inference.highlights import (GATE_HIGH, GATE_LOW, HEADROOM, WELL_EXPOSED, cap_highlights,
                                       headroom_ceiling, highlight_headroom, keep_lit_structure, lift, lit_gate,
                                       well_exposed_weight)
from mlsm.inference.maps import gaussian_blur, luma
from mlsm.metrics import block_edge_ratio


def _sky_over_dark_ground(seed: int = 0) -> torch.Tensor:
    """1x3x96x96: a textured sky at luma ~0.81 over a dark ground at ~0.08."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.empty(1, 3, 96, 96)
    image[:, :, :48] = torch.tensor([0.74, 0.82, 0.94]).view(1, 3, 1, 1)
    image[:, :, 48:] = torch.tensor([0.09, 0.08, 0.06]).view(1, 3, 1, 1)
    image[:, :, :48] += 0.05 * torch.sin(torch.arange(96) / 3.0).view(1, 1, 1, 96)  # clouds
    return (image + 0.005 * torch.randn(image.shape, generator=generator)).clamp(0.0, 1.0)


def _washed(image: torch.Tensor) -> torch.Tensor:
    """What the network does to it: everything x3 in linear light, the sky clipped to white."""
    from mlsm.colour import linear_to_srgb
    return linear_to_srgb((srgb_to_linear(image) * 3.0).clamp(0.0, 1.0))


def test_gate_reads_the_brightest_region_not_a_hot_pixel():
    lit = _sky_over_dark_ground()
    dark = lit * 0.5          # brightest luma ~0.4: darkened as a whole
    hot = dark.clone()
    hot[..., 70, 70] = 1.0    # one white pixel is not a lit part
    gates = lit_gate(torch.cat([lit, dark, hot]))
    assert float(gates[0]) == 1.0 and float(gates[1]) == 0.0 and float(gates[2]) == 0.0
    assert GATE_LOW < GATE_HIGH


def test_photo_without_lit_parts_comes_back_unchanged():
    dark = _sky_over_dark_ground() * 0.5
    enhanced = _washed(dark)
    assert highlight_headroom(dark, enhanced) is enhanced


def test_lit_sky_is_held_under_the_ceiling_and_mean_luma_is_kept():
    image = _sky_over_dark_ground()
    enhanced = _washed(image)
    result = highlight_headroom(image, enhanced)
    # the sky is no longer white (its clouds come back in the detail transfer, which follows)
    assert float(luma(enhanced)[..., 8:40, :].mean()) > 0.98
    sky = luma(result)[..., 8:40, :]
    assert float(sky.mean()) < 0.97
    # the sky's local linear luminance is at most the input's plus HEADROOM of its headroom (up
    # to a few per cent: the local factor varies with the clouds, and blur(f y) != f blur(y))
    input_local = gaussian_blur(luma(srgb_to_linear(image)), 4.0)[..., 8:40, 8:-8]
    ceiling = input_local + HEADROOM * (1 - input_local)
    result_local = gaussian_blur(luma(srgb_to_linear(result)), 4.0)[..., 8:40, 8:-8]
    assert bool((result_local <= ceiling * 1.05).all())
    assert float(result_local.mean()) <= float(ceiling.mean()) + 5e-3
    # the mean luma is what the network (and the floor) chose, up to what the curve's limit k = 1
    # cannot give back here (the sky held most of the brightness; its clouds came back darker)
    assert abs(float(luma(result).mean()) - float(luma(enhanced).mean())) < 1.5e-2
    dimmer = enhanced * 0.8                               # within the curve's reach: kept to 2e-3
    assert abs(float(luma(highlight_headroom(image, dimmer)).mean()) - float(luma(dimmer).mean())) < 2e-3
    # the ground got the brightness the sky gave up, and stays darker than the sky
    assert float(luma(result)[..., 56:, :].mean()) > float(luma(enhanced)[..., 56:, :].mean()) + 0.01
    assert float(luma(result)[..., 56:, :].max()) < float(sky.min())


def test_lift_fixes_black_and_white_and_the_cap_leaves_dark_regions():
    values = torch.tensor([0.0, 0.1, 0.5, 1.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    lifted = lift(values, 1.0)
    assert lifted[0, 0, 0].tolist() == pytest.approx([0.0, 0.19, 0.75, 1.0])
    dark = torch.full((1, 3, 32, 32), 0.1)              # input luma 0.1: ceiling 0.5 linear
    output = torch.full((1, 3, 32, 32), 0.3)            # linear, under it: unchanged
    ceiling = headroom_ceiling(dark, HEADROOM)
    assert torch.allclose(cap_highlights(output, ceiling), output)
    assert float(cap_highlights(torch.full_like(output, 0.9), ceiling).max()) < 0.51


@pytest.mark.parametrize("switch", [True, False])
def test_photo_path_switch(switch):
    model = load_model("mlsm_small.real_exposure", highlight_headroom=switch, detail=0)
    image = (_sky_over_dark_ground().permute(0, 2, 3, 1)[0].numpy() * 255).round().astype(np.uint8)
    on = model.enhance(image)
    off = load_model("mlsm_small.real_exposure", highlight_headroom=False, detail=0).enhance(image)
    if switch:
        assert not np.array_equal(on, off)
        sky_on, sky_off = on[8:40].astype(float).mean(), off[8:40].astype(float).mean()
        assert sky_on < sky_off
    else:
        assert np.array_equal(on, off)


def _row_profile(image: torch.Tensor) -> torch.Tensor:
    """The sky's luma along a row, averaged over its rows 8-40, minus its mean."""
    profile = luma(image)[0, 0, 8:40, 8:-8].mean(0)
    return profile - profile.mean()


def test_lit_sky_keeps_its_clouds_and_its_blue():
    image = _sky_over_dark_ground()
    enhanced = _washed(image)                   # white sky: clouds and blue gone
    result = highlight_headroom(image, enhanced)
    clouds, kept = _row_profile(image), _row_profile(result)
    correlation = float((clouds * kept).sum() / (clouds.norm() * kept.norm()))
    assert correlation > 0.9
    assert float(kept.std()) > 0.5 * float(clouds.std())   # not flattened
    sky_in, sky_out = image[0, :, 8:40].mean((1, 2)), result[0, :, 8:40].mean((1, 2))
    assert float(sky_out[2] - sky_out[0]) > 0.5 * float(sky_in[2] - sky_in[0])  # still blue, not white


def test_lit_structure_leaves_dark_parts_and_blocks_behind():
    image = _sky_over_dark_ground()
    weight = well_exposed_weight(image, 1.0)
    assert float(weight[..., :24, :].min()) == 1.0 and float(weight[..., 72:, :].max()) == 0.0
    assert float(well_exposed_weight(image, 0.5).max()) == 0.5 and WELL_EXPOSED[0] < WELL_EXPOSED[1]
    # 8x8 JPEG-like blocks in the input's sky: the smooth output does not take them
    blocks = image.clone()
    steps = 0.04 * (torch.arange(96) // 8 % 2).float()
    blocks[..., :48, :] += (steps.view(1, 1, 1, 96) + steps.view(1, 1, 96, 1))[..., :48, :]
    smooth = torch.full_like(image, 0.5)
    blocks_lin = srgb_to_linear(blocks.clamp(0.0, 1.0))
    result = keep_lit_structure(blocks_lin, smooth, well_exposed_weight(blocks.clamp(0.0, 1.0), 1.0))
    sky = lambda t: t[0, :, :40].permute(1, 2, 0).numpy()  # noqa: E731
    assert block_edge_ratio(sky(blocks.clamp(0.0, 1.0))) > 3.0
    assert block_edge_ratio(sky(result)) < 1.1
    # where the weight is 0 the output stays
    assert torch.equal(keep_lit_structure(blocks_lin, smooth, torch.zeros_like(weight)), smooth)
    assert float((result[..., 80:, :] - smooth[..., 80:, :]).abs().max()) < 1e-6
