"""Tests for mlsm.losses: L1, KL, LSGAN, perceptual backbones and the texture terms."""
from __future__ import annotations

import math
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mlsm.losses import (
    VGG19_URL,
    PerceptualLoss,
    VGG19Features,
    frequency_loss,
    gradient_loss,
    kl_divergence,
    l1_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    match_brightness,
    ms_ssim,
    ms_ssim_loss,
)

VGG19_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


def _smooth_image(size: int = 48, seed: int = 0) -> torch.Tensor:
    """A (1, 3, size, size) image in [0, 1] with both smooth regions and edges."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size // 8, size // 8, generator=generator)
    image = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    image[..., size // 3: size // 2, :] = 1.0 - image[..., size // 3: size // 2, :]
    return image.clamp(0, 1)


def _blur(image: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="reflect"), kernel_size=3, stride=1)


# ---------------------------------------------------------------------------- L1 and KL


def test_l1_loss_known_value_and_shape_check():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.full((2, 3, 4, 4), 0.25)
    b[0] = -0.75
    assert l1_loss(a, b).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shape"):
        l1_loss(a, b[:, :2])


def test_kl_is_exactly_zero_at_standard_normal():
    mean = torch.zeros(2, 8, 5, 7)
    logvar = torch.zeros(2, 8, 5, 7)
    assert kl_divergence(mean, logvar).item() == 0.0


@pytest.mark.parametrize("mu, logvar", [(0.5, 0.0), (0.0, 1.0), (-1.5, -2.0), (2.0, 0.3)])
def test_kl_matches_closed_form_and_is_resolution_independent(mu, logvar):
    expected = 0.5 * (mu**2 + math.exp(logvar) - 1.0 - logvar)
    for shape in [(1, 4, 4, 4), (3, 4, 16, 16)]:
        value = kl_divergence(torch.full(shape, mu), torch.full(shape, logvar)).item()
        assert value > 0
        assert value == pytest.approx(expected, rel=1e-6)


def test_kl_matches_torch_distributions_elementwise_mean():
    generator = torch.Generator().manual_seed(1)
    mean = torch.randn(2, 4, 6, 6, generator=generator)
    logvar = torch.randn(2, 4, 6, 6, generator=generator)
    posterior = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    reference = torch.distributions.kl_divergence(posterior, prior).mean()
    assert kl_divergence(mean, logvar).item() == pytest.approx(reference.item(), rel=1e-5)
    with pytest.raises(ValueError, match="logvar"):
        kl_divergence(mean, logvar[:1])


# ---------------------------------------------------------------------------- LSGAN


def test_lsgan_losses_are_zero_at_their_optimum():
    ones, zeros = torch.ones(2, 1, 6, 6), torch.zeros(2, 1, 6, 6)
    assert lsgan_generator_loss(ones).item() == 0.0
    assert lsgan_discriminator_loss(real_logits=ones, fake_logits=zeros).item() == 0.0


def test_lsgan_losses_known_values_on_constants():
    shape = (2, 1, 5, 5)
    assert lsgan_generator_loss(torch.zeros(shape)).item() == pytest.approx(1.0)
    assert lsgan_generator_loss(torch.full(shape, 3.0)).item() == pytest.approx(4.0)
    # real at 0 and fake at 1: both halves are 1 -> 0.5 * (1 + 1)
    assert lsgan_discriminator_loss(torch.zeros(shape), torch.ones(shape)).item() == pytest.approx(1.0)
    half = torch.full(shape, 0.5)
    assert lsgan_discriminator_loss(half, half).item() == pytest.approx(0.25)
    # different map sizes for real and fake are allowed (means are taken separately)
    assert lsgan_discriminator_loss(torch.ones(1, 1, 3, 3), torch.full((2, 1, 4, 4), 2.0)).item() \
        == pytest.approx(2.0)


# ---------------------------------------------------------------------------- VGG19


def _torchvision_feature_keys() -> list[str]:
    return [f"features.{i}.{kind}" for i in VGG19_CONV_INDICES for kind in ("weight", "bias")]


def test_vgg19_features_state_dict_has_torchvision_keys():
    model = VGG19Features()
    assert list(model.state_dict()) == _torchvision_feature_keys()
    assert len(model.features) == 37
    assert model.features[34].weight.shape == (512, 512, 3, 3)
    assert VGG19Features.RELU_INDEX["relu1_2"] == 3
    assert VGG19Features.RELU_INDEX["relu2_2"] == 8
    assert VGG19Features.RELU_INDEX["relu3_4"] == 17
    assert VGG19Features.RELU_INDEX["relu4_4"] == 26


@pytest.fixture(scope="module")
def vgg19_reference():
    torch.manual_seed(0)
    return VGG19Features()


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory, vgg19_reference):
    """A torchvision-format full-model state dict (features + classifier) on disk."""
    state = dict(vgg19_reference.state_dict())
    state["classifier.0.weight"] = torch.zeros(4, 4)
    state["classifier.0.bias"] = torch.zeros(4)
    path = tmp_path_factory.mktemp("vgg") / "vgg19-test.pth"
    torch.save(state, path)
    return path


@pytest.fixture(autouse=True)
def _no_download_env(monkeypatch):
    monkeypatch.delenv("MLSM_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.delenv("MLSM_VGG19_WEIGHTS", raising=False)


def test_vgg19_state_dict_round_trips_strictly(vgg19_file, vgg19_reference, tmp_path):
    loss = PerceptualLoss("vgg19", weights_path=vgg19_file)
    reference = vgg19_reference.state_dict()
    loaded = loss.backbone.state_dict()
    assert list(loaded) == [k for k in reference if int(k.split(".")[1]) <= 26]
    for key, value in loaded.items():
        assert torch.equal(value, reference[key]), key
    # a features-only file (the bare Sequential's keys) loads as well
    bare = {k[len("features."):]: v for k, v in reference.items()}
    bare_path = tmp_path / "features_only.pth"
    torch.save(bare, bare_path)
    model = VGG19Features()
    model.load_torchvision_weights(torch.load(bare_path, weights_only=True), source=str(bare_path))
    assert all(torch.equal(model.state_dict()[k], reference[k]) for k in reference)


def test_vgg19_weights_from_environment_variable(vgg19_file, vgg19_reference, monkeypatch):
    monkeypatch.setenv("MLSM_VGG19_WEIGHTS", str(vgg19_file))
    loss = PerceptualLoss("vgg19", layer_weights={"relu1_2": 1.0})
    assert torch.equal(loss.backbone.features[0].weight, vgg19_reference.features[0].weight)
    assert len(loss.backbone.features) == 4  # truncated after relu1_2


def test_vgg19_rejects_incomplete_state_dict(tmp_path, vgg19_reference):
    state = dict(vgg19_reference.state_dict())
    del state["features.34.bias"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="not a torchvision VGG19 state dict"):
        PerceptualLoss("vgg19", weights_path=path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        PerceptualLoss("vgg19", weights_path=tmp_path / "missing.pth")


def test_vgg19_without_weights_or_download_raises_clear_error():
    with pytest.raises(RuntimeError) as info:
        PerceptualLoss("vgg19")
    message = str(info.value)
    for needle in ("no VGG19 weights file given", "downloads are disabled", "weights_path",
                   "MLSM_VGG19_WEIGHTS", "MLSM_ALLOW_DOWNLOAD", "efficientnet_lite0", "'none'", VGG19_URL):
        assert needle in message


def test_vgg19_download_only_when_allowed(vgg19_reference, monkeypatch):
    """With MLSM_ALLOW_DOWNLOAD=1 the torchvision URL is fetched (the fetch itself is replaced
    here because tests never touch the network)."""
    calls = []

    def fake_fetch(url, **kwargs):
        calls.append((url, kwargs))
        return dict(vgg19_reference.state_dict())

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_fetch)
    with pytest.raises(RuntimeError):
        PerceptualLoss("vgg19")
    assert calls == []
    monkeypatch.setenv("MLSM_ALLOW_DOWNLOAD", "1")
    loss = PerceptualLoss("vgg19")
    assert [url for url, _ in calls] == [VGG19_URL]
    assert calls[0][1]["weights_only"] is True and calls[0][1]["check_hash"] is True
    assert torch.equal(loss.backbone.features[25].weight, vgg19_reference.features[25].weight)


def test_vgg19_loss_values_and_gradients(vgg19_file):
    loss = PerceptualLoss("vgg19", weights_path=vgg19_file)
    image = _smooth_image(32)
    assert loss(image, image).item() == 0.0
    pred = _blur(image).requires_grad_(True)
    value = loss(pred, image)
    parts = loss.layer_losses(pred, image)
    assert set(parts) == {"relu1_2", "relu2_2", "relu3_4", "relu4_4"}
    assert value.item() > 0 and value.item() == pytest.approx(sum(p.item() for p in parts.values()), rel=1e-5)
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.parameters())
    with pytest.raises(ValueError, match="H, W >= 8"):
        loss(image[..., :4, :4], image[..., :4, :4])


# ---------------------------------------------------------------------------- EfficientNet-Lite0


@pytest.fixture(scope="module")
def effnet_loss():
    return PerceptualLoss("efficientnet_lite0")


def test_efficientnet_lite0_loads_pretrained_weights_from_package_file(effnet_loss):
    backbone = effnet_loss.backbone
    state = torch.load(backbone.weights_path, map_location="cpu", weights_only=True)
    assert torch.equal(backbone.stem_conv.weight, state["_conv_stem.weight"])
    assert torch.equal(backbone.stem_norm.running_var, state["_bn0.running_var"])
    assert torch.equal(backbone.blocks[4]._project_conv.weight, state["_blocks.4._project_conv.weight"])
    assert len(backbone.blocks) == 5  # stem + blocks 0..4 (stage3 is the deepest default layer)


def test_efficientnet_lite0_loss_behaviour_and_gradients(effnet_loss):
    image = _smooth_image(48)
    assert effnet_loss(image, image).item() == 0.0
    blurred = _blur(image).requires_grad_(True)
    value = effnet_loss(blurred, image)
    assert value.dim() == 0 and value.item() > 0
    assert set(effnet_loss.layer_losses(image, _blur(image))) == {"stem", "stage1", "stage2", "stage3"}
    value.backward()
    assert blurred.grad is not None and blurred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in effnet_loss.parameters())
    # odd sizes work (dynamic "same" padding)
    odd = _smooth_image(48)[..., :37, :45]
    assert effnet_loss(_blur(odd), odd).item() > 0


def test_perceptual_loss_stays_in_eval_mode_under_parent_train(effnet_loss):
    parent = nn.ModuleDict({"perceptual": effnet_loss, "head": nn.Conv2d(3, 3, 1)})
    parent.train()
    assert parent["head"].training
    assert not effnet_loss.training
    assert not any(m.training for m in effnet_loss.modules())
    running_mean = effnet_loss.backbone.stem_norm.running_mean.clone()
    effnet_loss(_smooth_image(32, seed=3), _smooth_image(32, seed=4))
    assert torch.equal(effnet_loss.backbone.stem_norm.running_mean, running_mean)


def test_efficientnet_missing_packages_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    with pytest.raises(ImportError, match=r"mlsm\[perceptual\]"):
        PerceptualLoss("efficientnet_lite0")


# ---------------------------------------------------------------------------- "none" and config


def test_none_backbone_returns_zero():
    loss = PerceptualLoss("none")
    pred, target = _smooth_image(16), torch.zeros(1, 3, 16, 16)
    value = loss(pred, target)
    assert value.dim() == 0 and value.item() == 0.0
    assert len(list(loss.parameters())) == 0


def test_perceptual_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="backbone"):
        PerceptualLoss("resnet50")
    with pytest.raises(ValueError, match="unknown efficientnet_lite0 layer"):
        PerceptualLoss("efficientnet_lite0", layer_weights={"relu1_2": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        PerceptualLoss("efficientnet_lite0", layer_weights={"stem": -1.0})
    loss = PerceptualLoss("none")
    with pytest.raises(ValueError, match="shape"):
        loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))


def _texture(size: int = 64, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (_smooth_image(size, seed) * 0.7 + 0.3 * torch.rand(1, 3, size, size, generator=generator)).clamp(0, 1)


def _blur(image: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(F.pad(image, (2, 2, 2, 2), mode="replicate"), 5, stride=1)


@pytest.mark.parametrize("loss", [gradient_loss, frequency_loss, ms_ssim_loss,
                                  lambda a, b: frequency_loss(a, b, focal=1.0)])
def test_texture_terms_are_zero_at_identity_and_punish_blur(loss):
    target = _texture()
    assert float(loss(target, target)) == pytest.approx(0.0, abs=1e-6)
    blurred = _blur(target)
    value = loss(blurred, target)
    assert value.ndim == 0 and value > 0
    pred = blurred.clone().requires_grad_(True)
    loss(pred, target).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_gradient_loss_ignores_offsets_and_sees_edges():
    target = _texture()
    assert float(gradient_loss(target + 0.2, target)) < 1e-6
    assert float(gradient_loss(_blur(target), target)) > 10 * float(gradient_loss(target + 0.01, target) + 1e-4)
    with pytest.raises(ValueError, match="shape"):
        gradient_loss(target, target[..., :-1])


def test_frequency_loss_is_shift_invariant_and_focal_reweights():
    target = _texture()
    assert float(frequency_loss(torch.roll(target, (5, 7), dims=(-2, -1)), target)) < 1e-5
    plain, focal = frequency_loss(_blur(target), target), frequency_loss(_blur(target), target, focal=1.0)
    assert 0 < float(focal) < float(plain)          # weights are at most 1
    with pytest.raises(ValueError, match="focal"):
        frequency_loss(target, target, focal=-1.0)


def test_ms_ssim_matches_torchmetrics():
    tm = pytest.importorskip("torchmetrics.functional.image", reason="torchmetrics cross-check")
    target = _texture(176, seed=1).repeat(2, 1, 1, 1)
    target[1] = _texture(176, seed=2)[0]
    for pred in (_blur(target), (target + 0.05 * torch.randn_like(target)).clamp(0, 1)):
        expected = tm.multiscale_structural_similarity_index_measure(pred, target, data_range=1.0)
        assert float(ms_ssim(pred, target)) == pytest.approx(float(expected), abs=1e-4)
    # three scales fit 64 px crops: the first three weights, renormalised
    small = _texture(64)
    weights = (0.0448, 0.2856, 0.3001)
    renormalised = ms_ssim(_blur(small), small, weights=tuple(w / sum(weights) for w in weights))
    assert float(ms_ssim(_blur(small), small)) == pytest.approx(float(renormalised), abs=1e-6)
    assert float(ms_ssim(_blur(small), small, weights=(1.0,))) != pytest.approx(float(renormalised), abs=1e-3)
    with pytest.raises(ValueError, match="at least 11 px"):
        ms_ssim(small[..., :8, :8], small[..., :8, :8])


# ---------------------------------------------------------------------------- brightness matching


def test_match_brightness_removes_a_global_gain_and_reports_it():
    from mlsm.colour import linear_to_srgb, srgb_to_linear
    target = _smooth_image(seed=3) * 0.8
    darker = linear_to_srgb(srgb_to_linear(target) * 0.25)   # the same image two stops darker
    matched, log_gain = match_brightness(darker, target)
    torch.testing.assert_close(matched, target, atol=2e-3, rtol=0)
    assert float(log_gain) == pytest.approx(math.log(4.0), abs=0.02)
    # means equal in linear light, per image of a batch
    batch = torch.cat([darker, target * 0.5])
    matched, log_gain = match_brightness(batch, torch.cat([target, target]))
    means = srgb_to_linear(matched).flatten(1).mean(1)
    torch.testing.assert_close(means, srgb_to_linear(target).mean().expand(2), rtol=1e-2, atol=0)  # eps, clipping
    assert log_gain.shape == (2,) and bool((log_gain > 0).all())


def test_match_brightness_keeps_structure_errors_and_passes_gradients():
    target = _smooth_image(seed=4) * 0.7
    blurred = _blur(target).requires_grad_(True)
    matched, _ = match_brightness(blurred * 0.3, target)
    loss = l1_loss(matched, target)
    assert float(loss) > 0.005        # the blur is still seen once the brightness is matched
    loss.backward()
    assert blurred.grad is not None and torch.isfinite(blurred.grad).all()
    with pytest.raises(ValueError, match="shape"):
        match_brightness(target, target[..., :8])
