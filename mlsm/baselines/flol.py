"""FLOL+: fast frequency-then-spatial low-light enhancement (94,518 parameters at width 16).

Benito, Feijoo, Garcia and Conde, "FLOL: Fast Baselines for Real-World Low-Light
Enhancement", arXiv 2501.09718, 2025 (release cidautai/FLOL, MIT). Written for mlsm from
the paper and the authors' released graph so that their ``flolv2_*.pt`` files load by name
(the state dict is under the file's ``"params"`` key).

Two stages::

    I ─ FFT2 ─ |F|, ∠F                                           (frequency stage, full size)
    I ─ AmpNet (half-res SF blocks, sigmoid) ─ a                  one gain per frequency bin
    x_c = Re IFFT2( |F| / a · e^{i∠F} )

    [x_c, I] ─ conv ─ e1 ─ conv/2 ─ e2 ─ conv/2 ─ e3 ─ res ─ f   (spatial stage, padded to 8)
    f ─┬─ 4 x frequency block ─ t
       └─ 6 x res block ─ l        m = SNR(x_c) at 1/4 size
    f' = t · (1 − m) + l · m ─ res ─ ⊕e3 ─ shuffle↑ ─ ⊕e2 ─ shuffle↑ ─ ⊕e1 ─ conv ─ conv ─ + I

The SNR map is ``blur / (|Y − Y_blur| + 1e-4)`` on the luma of ``x_c`` (Gaussian 5x5,
sigma 1.5, reflect border), divided by its per-image maximum and clamped to [0, 1].

Input RGB in [0, 1] without normalisation, any size: the authors' network needs even sides
(its amplitude net halves and doubles the image) and pads the spatial stage to a multiple of
8; here odd sides are padded to even first and every padding falls back from reflect to
replicate on sides too short to reflect (1xN), then the output is cropped back. At even
sizes the result is the authors' forward pass. The FFT sees the whole image: run it whole
(large tiles).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlsm.colour import BT601_LUMA
from mlsm.tiling import crop_to, pad_to_multiple

__all__ = ["FLOL", "AmplitudeNet", "FrequencyBlock", "SpatialFrequencyBlock", "snr_map",
           "gaussian_blur_5x5", "WEIGHTS_KEY"]

WEIGHTS_KEY = "params"        # the released files are {"params": state_dict}
_STRIDE_PRODUCT = 8           # two stride-2 convs and the pixel-shuffle decoder
_AMPLITUDE_EPS = 1e-8
_SNR_EPS = 1e-4
# The authors' SNR map uses full-range BT.601 luma (mlsm.colour.BT601_LUMA), not studio-range Y.
_BLUR_SIGMA = 1.5
_BLUR_TAPS = 5


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channel axis of (N, C, H, W), per pixel (NAFNet's LayerNorm2d)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        variance = (x - mean).pow(2).mean(1, keepdim=True)
        normalised = (x - mean) / (variance + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * normalised + self.bias.view(1, -1, 1, 1)


def _pointwise_mlp(channels: int) -> nn.Sequential:
    """1x1 conv, LeakyReLU(0.1), 1x1 conv (indices 0 and 2, as in the release)."""
    return nn.Sequential(nn.Conv2d(channels, channels, 1), nn.LeakyReLU(0.1),
                         nn.Conv2d(channels, channels, 1))


class FrequencyBlock(nn.Module):
    """Residual block acting on the amplitude and phase of a feature map's real FFT.

    ``x + irfft2(mlp_a(|rfft2(pre(x))|) · exp(i · mlp_p(∠rfft2(pre(x)))))``
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fpre = nn.Conv2d(channels, channels, 1)
        self.process1 = _pointwise_mlp(channels)   # amplitude
        self.process2 = _pointwise_mlp(channels)   # phase

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        spectrum = torch.fft.rfft2(self.fpre(x), norm="backward")
        amplitude = self.process1(torch.abs(spectrum))
        phase = self.process2(torch.angle(spectrum))
        spectrum = torch.complex(amplitude * torch.cos(phase), amplitude * torch.sin(phase))
        return torch.fft.irfft2(spectrum, s=(height, width), norm="backward") + x


class GatedDepthwise(nn.Module):
    """Split channels in two halves ``a, b`` and return ``depthwise3x3(a) · b``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.dwc = nn.Conv2d(half, half, 3, 1, 1, groups=half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=1)
        return self.dwc(first) * second


def _simple_gate(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=1)
    return first * second


class SpatialFrequencyBlock(nn.Module):
    """NAFNet-style block whose attention is a :class:`FrequencyBlock` (the release's SFBlock).

    ``y = u + u · beta`` with ``u = conv3(freq(gate(dw(conv1(norm1(x))))))``, then
    ``y + conv5(simple_gate(conv4(norm2(y)))) · gamma``. There is no skip from ``x``.
    """

    def __init__(self, channels: int, expand: int = 2) -> None:
        super().__init__()
        wide = channels * expand
        self.conv1 = nn.Conv2d(channels, wide, 1)
        self.conv2 = nn.Conv2d(wide, wide, 3, 1, 1, groups=wide)
        self.conv3 = nn.Conv2d(wide // 2, channels, 1)
        self.fatt = FrequencyBlock(wide // 2)
        self.sge = GatedDepthwise(wide)
        self.conv4 = nn.Conv2d(channels, channels * expand, 1)
        self.conv5 = nn.Conv2d(channels * expand // 2, channels, 1)
        self.norm1 = ChannelLayerNorm(channels)
        self.norm2 = ChannelLayerNorm(channels)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.conv3(self.fatt(self.sge(self.conv2(self.conv1(self.norm1(x))))))
        y = u + u * self.beta
        return y + self.conv5(_simple_gate(self.conv4(self.norm2(y)))) * self.gamma


class AmplitudeNet(nn.Module):
    """Per-frequency amplitude gain logits (N, 3, H, W), estimated at half resolution.

    ``H`` and ``W`` must be even (bilinear x0.5 then x2, as the release calls them).
    """

    def __init__(self, channels: int = 8, blocks: int = 3) -> None:
        super().__init__()
        self.conv_init = nn.Conv2d(3, channels, 1)
        for index in range(1, blocks + 1):   # conv1, conv2, conv3 in the release
            setattr(self, f"conv{index}", SpatialFrequencyBlock(channels))
        self.blocks = blocks
        self.conv_out = nn.Conv2d(channels, 3, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.conv_init(F.interpolate(image, scale_factor=0.5, mode="bilinear", align_corners=False))
        for index in range(1, self.blocks + 1):
            x = getattr(self, f"conv{index}")(x)
        return F.interpolate(self.conv_out(x), scale_factor=2, mode="bilinear", align_corners=False)


class ResidualBlock(nn.Module):
    """``x + conv2(relu(conv1(x)))``, 3x3 convolutions, no normalisation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class FrequencyTrunk(nn.Module):
    """``x + blocks(x)``, each block ``x + cat(freq(x))`` (the release's SFNet, spatial off)."""

    class _Step(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.frequency_process = FrequencyBlock(channels)
            self.cat = nn.Conv2d(channels, channels, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.cat(self.frequency_process(x)) + x

    def __init__(self, channels: int, steps: int = 4) -> None:
        super().__init__()
        self.block = nn.Sequential(*[self._Step(channels) for _ in range(steps)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def gaussian_blur_5x5(image: torch.Tensor, sigma: float = _BLUR_SIGMA) -> torch.Tensor:
    """Separable 5x5 Gaussian blur per channel with a reflect border (sides >= 3 px)."""
    offsets = torch.arange(_BLUR_TAPS, dtype=image.dtype, device=image.device) - _BLUR_TAPS // 2
    taps = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    taps = taps / taps.sum()
    channels = image.shape[1]
    radius = _BLUR_TAPS // 2
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    horizontal = taps.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = taps.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    return F.conv2d(F.conv2d(padded, horizontal, groups=channels), vertical, groups=channels)


def _luma(image: torch.Tensor) -> torch.Tensor:
    red, green, blue = BT601_LUMA
    return image[:, 0:1] * red + image[:, 1:2] * green + image[:, 2:3] * blue


def snr_map(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W) signal-to-noise map in [0, 1] (high = clean and bright)."""
    smooth = _luma(gaussian_blur_5x5(image))
    ratio = smooth / (torch.abs(_luma(image) - smooth) + _SNR_EPS)
    peak = ratio.flatten(1).max(dim=1).values.view(-1, 1, 1, 1)
    return torch.clamp(ratio / (peak + _SNR_EPS), 0.0, 1.0)


class FLOL(nn.Module):
    """FLOL+ enhancer: (N, 3, H, W) in [0, 1] -> (N, 3, H, W) clamped to [0, 1], any size.

    Args:
        width: feature width of the spatial stage (the released files use 16).
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.AmpNet = nn.Sequential(AmplitudeNet(8), nn.Sigmoid())
        self.conv_first_1 = nn.Conv2d(6, width, 3, 1, 1)
        self.conv_first_2 = nn.Conv2d(width, width, 3, 2, 1)
        self.conv_first_3 = nn.Conv2d(width, width, 3, 2, 1)
        self.feature_extraction = nn.Sequential(ResidualBlock(width))
        self.recon_trunk = nn.Sequential(ResidualBlock(width))
        self.recon_trunk_light = nn.Sequential(*[ResidualBlock(width) for _ in range(6)])
        self.transformer = FrequencyTrunk(width, steps=4)
        self.upconv1 = nn.Conv2d(2 * width, 4 * width, 3, 1, 1)
        self.upconv2 = nn.Conv2d(2 * width, 4 * width, 3, 1, 1)
        self.HRconv = nn.Conv2d(2 * width, width, 3, 1, 1)
        self.conv_last = nn.Conv2d(width, 3, 3, 1, 1)

    def frequency_stage(self, image: torch.Tensor) -> torch.Tensor:
        """Divide each frequency's amplitude by a predicted gain in (0, 1); keep the phase.

        ``image`` must have even sides. Returns the real part of the inverse FFT.
        """
        height, width = image.shape[-2:]
        spectrum = torch.fft.fft2(image, norm="backward")
        amplitude = torch.abs(spectrum) / (self.AmpNet(image) + _AMPLITUDE_EPS)
        phase = torch.angle(spectrum)
        spectrum = torch.complex(amplitude * torch.cos(phase), amplitude * torch.sin(phase))
        return torch.fft.ifft2(spectrum, s=(height, width), norm="backward").real

    def spatial_stage(self, centre: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Denoise and refine; both inputs (N, 3, H, W) with H and W multiples of 8."""
        def act(x: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(x, 0.1)

        enc1 = act(self.conv_first_1(torch.cat([centre, image], dim=1)))
        enc2 = act(self.conv_first_2(enc1))
        enc3 = act(self.conv_first_3(enc2))
        features = self.feature_extraction(enc3)
        local = self.recon_trunk_light(features)
        global_ = self.transformer(features)
        snr = F.interpolate(snr_map(centre), size=features.shape[-2:], mode="nearest")
        features = global_ * (1 - snr) + local * snr
        x = torch.cat([self.recon_trunk(features), enc3], dim=1)
        x = torch.cat([act(F.pixel_shuffle(self.upconv1(x), 2)), enc2], dim=1)
        x = torch.cat([act(F.pixel_shuffle(self.upconv2(x), 2)), enc1], dim=1)
        return self.conv_last(act(self.HRconv(x))) + image

    def _forward_even(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        centre = self.frequency_stage(image)
        out = self.spatial_stage(pad_to_multiple(centre, _STRIDE_PRODUCT),
                                 pad_to_multiple(image, _STRIDE_PRODUCT))
        return crop_to(out, height, width)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        out = self._forward_even(pad_to_multiple(image, 2))
        return torch.clamp(crop_to(out, height, width), 0.0, 1.0)
