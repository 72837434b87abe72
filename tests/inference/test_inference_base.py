"""InferenceModel: what both backends share (dispatch, tiling, exposure, brightness)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mlsm.inference.base import SHIFT, InferenceModel
from mlsm.inference.options import InferenceOptions
from mlsm.models.exposure import ExposureHead, scale_brightness


class Affine(InferenceModel):
    """A pointwise 'network' (0.5 x + 0.25): tiling reproduces it exactly; records tile sizes.
    The photo post-processing (monotone gain, detail transfer, colour balance:
    tests/inference/test_tone.py, test_detail.py, test_balance.py) is off unless a test turns it
    on, so the mechanics here are exact."""

    def __init__(self, metadata=None, options=None, **overrides):
        if options is None:
            overrides = {"monotone_gain": False, "detail": 0.0, "colour_balance": False, **overrides}
        else:
            options = InferenceOptions.resolve(options, monotone_gain=False, detail=0.0, colour_balance=False)
        super().__init__(metadata, "cpu", 4, options, name="affine", **overrides)
        self.tiles = []

    def _run_tile(self, image):
        self.tiles.append(tuple(image.shape[-2:]))
        return (0.5 * image + 0.25).clamp(0.0, 1.0)


def expected(array: np.ndarray) -> np.ndarray:
    return 0.5 * array + 0.25


def test_options_record_and_overrides():
    model = Affine(options=InferenceOptions(tile=64), overlap=8)
    assert model.options == InferenceOptions(tile=64, overlap=8, monotone_gain=False, detail=0.0, colour_balance=False)
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
    whole, tiled = Affine(shift_ensemble=False), Affine(tile=32, overlap=8, shift_ensemble=False)
    out_whole, out_tiled = whole.enhance_tensor(image), tiled.enhance_tensor(image)
    assert whole.tiles == [(72, 92)]  # one pass, padded to the multiple 4
    assert len(tiled.tiles) > 4 and all(h <= 32 + 4 and w <= 32 + 4 for h, w in tiled.tiles)
    torch.testing.assert_close(out_tiled, out_whole, atol=1e-6, rtol=0)


class GridNetwork(InferenceModel):
    """A 'network' that adds a pattern tied to its own 2x2 grid: +d on even rows and columns."""

    def __init__(self, **overrides):
        super().__init__(None, "cpu", 4, name="grid",
                         **{"monotone_gain": False, "detail": 0.0, "colour_balance": False, **overrides})
        self.tiles = []

    def _run_tile(self, image):
        self.tiles.append(tuple(image.shape[-2:]))
        pattern = torch.zeros(image.shape[-2:])
        pattern[0::2, 0::2] = 0.1
        return (image * 0.5 + pattern).clamp(0.0, 1.0)


def test_shift_ensemble_cancels_the_network_grid_and_keeps_the_content_in_place():
    image = torch.rand(1, 3, 21, 30) * 0.5
    single = GridNetwork(shift_ensemble=False).enhance_tensor(image)
    model = GridNetwork()
    assert model.options.shift_ensemble  # the default
    out = model.enhance_tensor(image)
    assert out.shape == image.shape
    # two passes: the image and the image shifted by SHIFT (odd: the opposite phase of a 2x2 grid)
    assert SHIFT % 2 == 1 and SHIFT % 8 == 1
    assert model.tiles == [(24, 32), (64, 72)]
    # the content stays where it was (no one-pixel drift) and the pattern, on opposite phases
    # of the two passes, becomes their mean
    content = 0.5 * image
    shifted_grid = torch.zeros(21, 30)
    shifted_grid[1::2, 1::2] = 0.1
    grid = torch.zeros(21, 30)
    grid[0::2, 0::2] = 0.1
    expected_mean = content + (grid + shifted_grid) / 2
    torch.testing.assert_close(out[..., 1:, 1:], expected_mean[..., 1:, 1:], atol=1e-6, rtol=0)
    assert (out - content).std() < (single - content).std()
    # a 1x1 image still works (edge replication, not reflection)
    assert model.enhance(np.full((1, 1, 3), 0.2, np.float32)).shape == (1, 1, 3)


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


def test_a_well_exposed_photo_keeps_its_own_local_brightness():
    """A head with keep_input that finds the photo well exposed (it predicts the input's own
    brightness): the output is the network's relit to the input's local brightness, not the
    brightened network output; a photo the head finds dark gets the calibrated output."""
    from mlsm.colour import srgb_to_linear
    from mlsm.inference.maps import gaussian_blur, local_gain, luma, relight

    generator = torch.Generator().manual_seed(1)
    image = (0.2 + 0.6 * torch.rand(1, 3, 48, 48, generator=generator)).clamp(0, 1)
    own = float(torch.log(srgb_to_linear(image).mean()))
    head = ExposureHead(grid_cells=64, keep_input=(0.5, 0.8))
    with torch.no_grad():
        head.weight[-1] = own
    out = Affine({"exposure_head": head}).enhance_tensor(image)
    torch.testing.assert_close(out, relight(0.5 * image + 0.25, image), atol=2e-3, rtol=0)
    gain = local_gain(luma(srgb_to_linear(image)), luma(srgb_to_linear(out)))
    assert torch.allclose(gain, torch.ones_like(gain), atol=0.05)  # 0.968-1.047
    # the Gaussian local mean too, within 0.01 (0.006): the edge-aware gain averages log gains, which on
    # this pixel noise (a log spread far above any photo's texture) leaves the mean 0.5 % low
    local = gaussian_blur(luma(srgb_to_linear(out)), 4.0)
    assert torch.allclose(local, gaussian_blur(luma(srgb_to_linear(image)), 4.0), atol=1e-2)
    with torch.no_grad():
        head.weight[-1] = own + 1.0  # e = 1/2.7: below keep_input, the network output calibrated
    torch.testing.assert_close(Affine({"exposure_head": head}).enhance_tensor(image),
                               head.calibrate(image, 0.5 * image + 0.25), rtol=0, atol=1e-6)


def test_the_keep_gate_keeps_a_photo_it_finds_well_exposed_and_leaves_a_dark_one_alone():
    """With keep_well_exposed, a keep gate that says "well exposed" (logit above the band): the
    photo keeps its own local brightness, times the user's brightness, and no floor; one that
    says "dark": bit-identical to the same head without a gate (calibration, then the floor)."""
    from mlsm.inference.maps import relight

    image = (0.2 + 0.6 * torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    plain = ExposureHead(grid_cells=64, floor_log_mean=-1.0)  # above the photo's brightness: not for the kept one
    with torch.no_grad():
        plain.weight[-1] = -2.0

    def gated(bias):
        return ExposureHead.from_spec({**plain.spec(), "keep_gate": {"percentiles": [0.5], "weight": [0.0, 0.0, bias],
                                                                      "band": [0.35, 0.65]}}, plain.weight)

    network = 0.5 * image + 0.25
    kept = Affine({"exposure_head": gated(3.0)}, keep_well_exposed=True).enhance_tensor(image)
    # the plain head would set the output's brightness to its prediction (say: the input's
    # implied exposure lies outside the fitted range, so here it keeps the network's); the
    # kept photo is the network output relit to the input, whatever the head predicts
    torch.testing.assert_close(kept, relight(network, image), atol=1e-6, rtol=0)
    brighter = Affine({"exposure_head": gated(3.0)}, brightness=1.5, keep_well_exposed=True).enhance_tensor(image)
    torch.testing.assert_close(brighter, scale_brightness(relight(network, image), 1.5), atol=1e-6, rtol=0)
    # off by default: the gate is ignored, the photo is floored like any other
    assert torch.equal(Affine({"exposure_head": gated(3.0)}).enhance_tensor(image),
                       Affine({"exposure_head": plain}).enhance_tensor(image))
    assert not torch.allclose(Affine({"exposure_head": plain}).enhance_tensor(image), kept, atol=1e-2)
    dark = 0.3 * image
    lifted = Affine({"exposure_head": gated(-3.0)}, keep_well_exposed=True).enhance_tensor(dark)
    assert torch.equal(lifted, Affine({"exposure_head": plain}).enhance_tensor(dark))
    # a photo the gate finds dark: the head calibrates it to exp(-2) (linear), the floor lifts
    # it to exp(-1), times the brightness
    from mlsm.models.exposure import linear_mean
    assert float(linear_mean(plain.calibrate(dark, 0.5 * dark + 0.25))) == pytest.approx(np.exp(-2.0), rel=1e-3)
    assert float(linear_mean(lifted)) == pytest.approx(np.exp(-1.0), rel=1e-3)
    darker = Affine({"exposure_head": gated(-3.0)}, brightness=0.5, keep_well_exposed=True).enhance_tensor(dark)
    assert float(linear_mean(darker)) == pytest.approx(0.5 * np.exp(-1.0), rel=1e-3)


def test_the_base_has_no_network():
    with pytest.raises(NotImplementedError):
        InferenceModel(None, "cpu", 1, name="bare").enhance_tensor(torch.rand(1, 3, 4, 4))


class Counting(Affine):
    """Affine that records the batch size of each call too."""

    def _run_tile(self, image):
        self.tiles.append(tuple(image.shape))
        return (0.5 * image + 0.25).clamp(0.0, 1.0)


def test_context_windows_come_from_the_card_run_batched_and_blend_exactly():
    image = torch.rand(1, 3, 50, 70)
    model = Counting({"card": {"context": 16}}, shift_ensemble=False)
    assert model.context == 16
    out = model.enhance_tensor(image)
    torch.testing.assert_close(out, 0.5 * image + 0.25, atol=1e-6, rtol=0)   # a pointwise map: exact
    assert all(h <= 16 + 4 and w <= 16 + 4 for _, _, h, w in model.tiles)
    assert max(n for n, *_ in model.tiles) > 1                               # windows of one size share a call
    assert sum(n for n, *_ in model.tiles) >= (50 // 16) * (70 // 16)
    # the option overrides the card; 0 runs whole images (up to tile)
    assert Counting({"card": {"context": 16}}, context=0).context == 0
    whole = Counting({"card": {"context": 16}}, context=0, shift_ensemble=False)
    whole.enhance_tensor(image)
    assert whole.tiles == [(1, 3, 52, 72)]
    assert Counting().context == 0                                            # no card: whole images
    with pytest.raises(ValueError, match="context"):
        InferenceOptions(context=-1)


class WindowBrightness(InferenceModel):
    """A 'network' that, like the real one, sets each context window's brightness from what
    that window sees: the output is the input times 0.3 over the window's mean."""

    def __init__(self, **overrides):
        super().__init__({"card": {"context": 32}}, "cpu", 4, name="windows",
                         **{"monotone_gain": False, "detail": 0.0, "colour_balance": False,
                            "highlight_headroom": False, "neutral_shadows": False, **overrides})

    def _run_tile(self, image):
        return (image * 0.3 / image.mean((1, 2, 3), keepdim=True).clamp_min(1e-3)).clamp(0.0, 1.0)


def test_shift_ensemble_interleaves_the_window_seams():
    # a flat grey wall with one lamp: the windows that see the lamp come out darker
    image = torch.full((1, 3, 160, 160), 0.2)
    image[..., 60:68, 60:68] = 1.0
    single = WindowBrightness(shift_ensemble=False).enhance_tensor(image)
    both = WindowBrightness().enhance_tensor(image)
    wall = torch.ones(160, 160, dtype=torch.bool)
    wall[56:72, 56:72] = False                    # the lamp and its edge are not the wall

    def largest_step(out):
        rows = (out[0, 0, :, 1:] - out[0, 0, :, :-1]).abs()[wall[:, 1:] & wall[:, :-1]]
        cols = (out[0, 0, 1:, :] - out[0, 0, :-1, :]).abs()[wall[1:, :] & wall[:-1, :]]
        return float(torch.cat([rows, cols]).max())

    assert largest_step(single) > 0.02            # the darker windows' edges: a rectangle
    assert largest_step(both) < 0.6 * largest_step(single)
