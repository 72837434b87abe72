"""Tests for the official peer models (mlsm.baselines.peers and the per-peer modules).

Tests marked ``weights`` read the official files from ``../shared/peers`` (or
``MLSM_PEERS_DIR``) and photos from ``../shared/data/photos/kodak24``; they skip when absent.
"""
from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mlsm.baselines import dncnn as dncnn_module
from mlsm.baselines.dncnn import (DnCNNWeightsError, LumaDeblocker, load_matconvnet_dncnn,
                                  rgb_to_ycbcr_studio, ycbcr_studio_to_rgb)
from mlsm.baselines.peers import (PEERS, PEERS_DIR_ENV, PeerWeightsError, build_peer,
                                  default_peers_dir, load_torch_file)
from mlsm.baselines.sci import TRAINING_ONLY_PREFIX
from mlsm.baselines.uretinex import update_illumination, update_reflectance
from mlsm.baselines.zero_dce import ZeroDCE, ZeroDCEPlusPlus, apply_curve

from peer_samples import SHARED, dim_pattern as _pattern, official_peers_dir as _peers_dir
KODAK = SHARED / "data" / "photos" / "kodak24"
ENHANCERS = [name for name, spec in PEERS.items() if spec.kind == "enhancer"]


def _kodak(name: str, width: int, height: int) -> np.ndarray:
    """Centre crop of a Kodak photo to width:height, resized (bicubic), float32 in [0, 1]."""
    path = KODAK / name
    if not path.is_file():
        pytest.skip(f"test photo not found: {path}")
    image = Image.open(path).convert("RGB")
    full_w, full_h = image.size
    crop_h = min(full_h, round(full_w * height / width))
    top = (full_h - crop_h) // 2
    image = image.crop((0, top, full_w, top + crop_h)).resize((width, height), Image.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255.0


def _darken(clean: np.ndarray, linear_gain: float, noise_std: float = 0.01, seed: int = 0) -> np.ndarray:
    """LOL-like low-light capture: gain in linear light (gamma 2.2), mild noise, JPEG QF 90."""
    dark = (clean ** 2.2 * linear_gain) ** (1 / 2.2)
    noisy = dark + np.random.default_rng(seed).normal(0.0, noise_std, dark.shape)
    return _jpeg(np.clip(noisy, 0, 1).astype(np.float32), 90)


def _psnr(image: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return 10 * math.log10(1.0 / mse)


# ---------------------------------------------------------------- always run (random weights)

def test_table_has_the_documented_peers():
    assert set(PEERS) == {"zero_dce", "zero_dce_pp", "zero_dce_pp_s12", "sci", "pairlie", "iat",
                          "uretinex", "flol", "flol_uhd", "zero_ig", "zero_ig_lsrw", "dncnn3"}
    for name, spec in PEERS.items():
        assert spec.name == name
        assert spec.kind in {"enhancer", "deblocker"}
        assert spec.weight_files and all(not Path(f).is_absolute() for f in spec.weight_files)
    assert PEERS["dncnn3"].kind == "deblocker"


NEW_PEERS_2024_2025 = ("flol", "flol_uhd", "zero_ig", "zero_ig_lsrw")


def test_new_peers_join_every_setting_of_the_standard_comparison():
    """FLOL+ and Zero-IG alone, E+dncnn3 and dncnn3+E, in ``mlsm eval run --standard``."""
    from mlsm.eval.cli import standard_methods
    methods = standard_methods()
    for name in NEW_PEERS_2024_2025:
        assert PEERS[name].kind == "enhancer"
        assert {name, f"{name}+dncnn3", f"dncnn3+{name}"} <= set(methods), name


@pytest.mark.parametrize("name", sorted(PEERS))
@pytest.mark.parametrize("size", [(37, 53), (9, 14), (7, 5)])
def test_random_init_runs_on_odd_sizes(name, size):
    torch.manual_seed(0)
    method = build_peer(name, random_init=True)
    image = np.random.default_rng(1).random((*size, 3), dtype=np.float32) * 0.3
    out = method(image)
    assert method.name == name
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="PairLIE reflect-pads by 1 px: sides >= 2"))
    if name == "pairlie" else name for name in sorted(PEERS)])
@pytest.mark.parametrize("size", [(1, 7), (6, 1)])
def test_random_init_runs_on_one_pixel_strips(name, size):
    torch.manual_seed(0)
    image = np.random.default_rng(2).random((*size, 3), dtype=np.float32) * 0.3
    out = build_peer(name, random_init=True)(image)
    assert out.shape == image.shape and np.isfinite(out).all()


def test_zero_dce_applies_eight_curves_in_channel_order():
    model = ZeroDCE()
    strengths = torch.tensor([0.9, -0.5, 0.3, 0.7, -0.2, 0.1, 0.6, -0.8])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.e_conv7.bias.copy_(torch.atanh(strengths).repeat_interleave(3))
        image = torch.rand(1, 3, 8, 9)
        expected = image.clone()
        for strength in strengths:  # A_1 first, as written in the paper
            expected = expected + strength * (expected ** 2 - expected)
        assert torch.allclose(model(image), expected, atol=1e-6)
        reversed_order = apply_curve(image, [s.view(1, 1, 1, 1) for s in strengths.flip(0)])
        assert not torch.allclose(reversed_order, expected, atol=1e-4)


def test_zero_dce_pp_pads_for_its_scale_factor():
    model = ZeroDCEPlusPlus(scale_factor=12).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 25, 31))
    assert out.shape == (2, 3, 25, 31)
    with pytest.raises(ValueError, match="scale_factor"):
        ZeroDCEPlusPlus(scale_factor=0)


def test_uretinex_closed_form_updates_minimise_their_objectives():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 5, 6, generator=generator)
    q = torch.rand(1, 1, 5, 6, generator=generator) + 0.1
    r = torch.rand(1, 3, 5, 6, generator=generator)
    l_prior = torch.rand(1, 1, 5, 6, generator=generator)
    p = update_reflectance(image, q, r, 0.15).requires_grad_(True)
    (((image - p * q) ** 2).sum() + 0.15 * ((p - r) ** 2).sum()).backward()
    assert p.grad.abs().max() < 1e-5
    p_fixed = p.detach()
    q_new = update_illumination(image, p_fixed, l_prior, 0.55).requires_grad_(True)
    (((image - p_fixed * q_new) ** 2).sum() + 0.55 * ((q_new - l_prior) ** 2).sum()).backward()
    assert q_new.grad.abs().max() < 1e-5


def test_studio_ycbcr_matches_matlab_and_inverts():
    corners = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).view(1, 3, 3, 1)
    corners = corners.permute(0, 2, 1, 3)  # (1, 3 channels, 3 pixels, 1)
    ycbcr = rgb_to_ycbcr_studio(corners) * 255
    assert torch.allclose(ycbcr[0, :, 0, 0], torch.tensor([235.0, 128.0, 128.0]), atol=1e-3)
    assert torch.allclose(ycbcr[0, :, 1, 0], torch.tensor([16.0, 128.0, 128.0]), atol=1e-3)
    assert torch.allclose(ycbcr[0, :, 2, 0], torch.tensor([81.481, 90.203, 240.0]), atol=1e-3)
    rgb = torch.rand(2, 3, 7, 5, dtype=torch.float64)
    assert torch.allclose(ycbcr_studio_to_rgb(rgb_to_ycbcr_studio(rgb)), rgb, atol=1e-12)


def test_luma_deblocker_keeps_chroma():
    torch.manual_seed(0)
    model = LumaDeblocker().eval()
    rgb = torch.rand(1, 3, 16, 16) * 0.6 + 0.2
    with torch.no_grad():
        out = model(rgb)
    before, after = rgb_to_ycbcr_studio(rgb), rgb_to_ycbcr_studio(out)
    assert torch.allclose(before[:, 1:], after[:, 1:], atol=1e-5)
    assert not torch.allclose(before[:, :1], after[:, :1], atol=1e-4)


def test_build_peer_without_folder_names_the_file_and_how_to_point_to_it(monkeypatch):
    monkeypatch.delenv(PEERS_DIR_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"zero-dce/Epoch99\.pth.*--peers-dir.*MLSM_PEERS_DIR"):
        build_peer("zero_dce")


def test_build_peer_reads_the_environment_and_names_the_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv(PEERS_DIR_ENV, str(tmp_path))
    assert default_peers_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "uretinex" / "init_low.pth")):
        build_peer("uretinex")
    with pytest.raises(KeyError, match="unknown peer"):
        build_peer("zero-dce", tmp_path)


def test_mismatched_weight_file_is_a_typed_error(tmp_path):
    (tmp_path / "zero-dce").mkdir()
    torch.save(ZeroDCEPlusPlus().state_dict(), tmp_path / "zero-dce" / "Epoch99.pth")
    with pytest.raises(PeerWeightsError, match="Epoch99.pth"):
        build_peer("zero_dce", tmp_path)


def test_dncnn_loader_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="missing.mat"):
        load_matconvnet_dncnn(tmp_path / "missing.mat")
    h5py = pytest.importorskip("h5py")
    not_a_net = tmp_path / "other.mat"
    with h5py.File(not_a_net, "w") as handle:
        handle["x"] = np.zeros(3)
    with pytest.raises(DnCNNWeightsError, match="net.layers"):
        load_matconvnet_dncnn(not_a_net)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"mlsm\[peers\]"):
        dncnn_module.load_matconvnet_dncnn(not_a_net)


# ---------------------------------------------------------------- official weights

# Parameter counts from shared/peers/README.md. IAT's 91,348 counts every value of its state
# dict, BatchNorm running statistics included; its learnable parameters are 91,154.
EXPECTED_PARAMETERS = {
    "zero_dce": 79_416, "zero_dce_pp": 10_561, "zero_dce_pp_s12": 10_561, "pairlie": 341_767,
    "dncnn3": 665_921, "iat": 91_154, "sci": 258, "flol": 94_518, "flol_uhd": 94_518,
    # Zero-IG's 198,252 counts the shared enhancer block four times and the BatchNorm statistics
    "zero_ig": 86_572, "zero_ig_lsrw": 86_572,
}
URETINEX_PARTS = {"decom_low": 20_548, "model_R": 188_099, "model_L": 77_761, "model_A": 53_697}

# Output channel means on _pattern() (golden values of this implementation, official weights).
GOLDEN_MEANS = {
    "dncnn3": (0.1008, 0.0879, 0.0932),
    "iat": (0.3806, 0.3457, 0.3321),
    "pairlie": (0.4667, 0.4303, 0.4316),
    "sci": (0.4245, 0.3866, 0.4490),
    "uretinex": (0.4841, 0.4572, 0.4882),
    "zero_dce": (0.4084, 0.3785, 0.4205),
    "zero_dce_pp": (0.3930, 0.3583, 0.4577),
    "zero_dce_pp_s12": (0.3797, 0.3466, 0.4334),
}


@pytest.fixture(scope="module")
def official():
    folder = _peers_dir()
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = build_peer(name, folder)
        return cache[name]
    return get


@pytest.mark.weights
@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_official_weights_load_strictly_with_documented_size(official, name):
    module = official(name).module  # build_peer loads with strict=True
    assert sum(p.numel() for p in module.parameters()) == EXPECTED_PARAMETERS[name]


@pytest.mark.weights
def test_iat_state_dict_size_matches_readme():
    state = load_torch_file(_peers_dir() / "iat/best_Epoch_lol_v1.pth")
    assert sum(v.numel() for v in state.values()) == 91_348


@pytest.mark.weights
def test_sci_drops_only_the_training_time_calibrator(official):
    state = load_torch_file(_peers_dir() / "sci/medium.pt")
    dropped = set(state) - set(official("sci").module.state_dict())
    assert dropped and all(key.startswith(TRAINING_ONLY_PREFIX) for key in dropped)


@pytest.mark.weights
def test_uretinex_parts_and_options(official):
    module = official("uretinex").module
    for part, count in URETINEX_PARTS.items():
        assert sum(p.numel() for p in getattr(module, part).parameters()) == count
    opts = module.options
    assert (opts.rounds, opts.gamma, opts.lamda, opts.p_offset, opts.q_offset) == (3, 0.1, 0.5, 0.05, 0.05)
    assert module.ratio == 5.0


@pytest.mark.weights
@pytest.mark.parametrize("name", sorted(GOLDEN_MEANS))
def test_golden_channel_means(official, name):
    expected = GOLDEN_MEANS[name]
    out = official(name)(_pattern())
    assert np.allclose(out.mean(axis=(0, 1)), expected, atol=2e-4), out.mean(axis=(0, 1)).tolist()


@pytest.mark.weights
@pytest.mark.parametrize("name", ENHANCERS)
def test_enhancer_brightens_a_dark_photo_plausibly(official, name):
    clean = _kodak("kodim23.png", 128, 85)
    dark = _darken(clean, 0.08)
    out = official(name)(dark)
    assert out.mean() > dark.mean() + 0.12, (dark.mean(), out.mean())
    assert out.std() > 0.05                      # not flat
    assert (out > 0.98).mean() < 0.1             # not blown out
    assert np.percentile(out, 99) - np.percentile(out, 1) > 0.3


@pytest.mark.weights
def test_lol_like_pair_every_enhancer_recovers_the_photo(official):
    """Brief's recipe (x0.08 in linear light): all peers gain >= 5 dB over the dark input."""
    clean = _kodak("kodim23.png", 256, 170)
    dark = _darken(clean, 0.08)
    dark_psnr = _psnr(dark, clean)
    for name in ("zero_dce", "iat", "uretinex"):
        assert _psnr(official(name)(dark), clean) > dark_psnr + 5.0, name


@pytest.mark.weights
def test_uretinex_beats_zero_dce_at_lol_darkness(official):
    """At LOL's darkness (x0.01 linear, mean ~0.05) the supervised denoising URetinex-Net
    beats zero-reference Zero-DCE (it does on 20 of the 24 Kodak photos, +3.5 dB on average)."""
    clean = _kodak("kodim23.png", 256, 170)
    dark = _darken(clean, 0.01)
    assert dark.mean() < 0.08
    uretinex = _psnr(official("uretinex")(dark), clean)
    zero_dce = _psnr(official("zero_dce")(dark), clean)
    assert uretinex > zero_dce + 1.0, (uretinex, zero_dce)


@pytest.mark.weights
@pytest.mark.parametrize("quality", [10, 20])
def test_dncnn3_deblocks_jpeg(official, quality):
    clean = _kodak("kodim05.png", 128, 85)
    compressed = _jpeg(clean, quality)
    restored = official("dncnn3")(compressed)
    assert _psnr(restored, clean) > _psnr(compressed, clean) + 0.3


@pytest.mark.weights
def test_dncnn3_wrong_filter_axis_order_breaks_deblocking():
    """The in/out filter axes are fixed by the .mat layout; swapping them ruins the output.
    (Swapping kH/kW is nearly harmless: DnCNN was trained with flip/rotate augmentation.)"""
    state = load_matconvnet_dncnn(_peers_dir() / "dncnn3/DnCNN3.mat")
    swapped = {k: v.transpose(0, 1).contiguous() if v.ndim == 4 and v.shape[0] == v.shape[1] else v
               for k, v in state.items()}
    model = LumaDeblocker().eval()
    model.dncnn.load_state_dict(swapped)
    clean = _kodak("kodim05.png", 128, 85)
    compressed = _jpeg(clean, 20)
    with torch.no_grad():
        wrong = model(torch.from_numpy(compressed).permute(2, 0, 1)[None])[0].clamp(0, 1)
    assert _psnr(wrong.permute(1, 2, 0).numpy(), clean) < _psnr(compressed, clean) - 3.0
