"""PatchGAN discriminator for the LSGAN terms of eq. 12, 13 and 18.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017:
a fully convolutional net whose output is a map of logits, one per overlapping patch, so
the adversarial loss judges local texture (here: blocking artifacts and noise). Layout with
``num_layers = 3`` and ``width = w`` (all kernels 4x4, padding 1)::

    image (N, C, H, W)
      -> conv s2 (w)                     -> LeakyReLU(0.2)      H/2
      -> conv s2 (2w)  -> norm            -> LeakyReLU(0.2)      H/4
      -> conv s2 (4w)  -> norm            -> LeakyReLU(0.2)      H/8
      -> conv s1 (8w)  -> norm            -> LeakyReLU(0.2)      H/8 - 1
      -> conv s1 (1)                                             H/8 - 2   logits

Channels double per layer and are capped at ``8 * width``. With three stride-2 layers the
receptive field is 70x70 pixels; a 64x64 crop gives a 6x6 map. Any H, W >= :attr:`min_size`
works, odd sizes included (each stride-2 layer floors).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

__all__ = ["PatchDiscriminator"]

_NORMS = ("instance", "none")


class PatchDiscriminator(nn.Module):
    """PatchGAN: (N, in_channels, H, W) in [0, 1] -> (N, 1, h, w) real/fake logits.

    Args:
        in_channels: image channels.
        width: channels of the first layer (doubled per layer, capped at ``8 * width``).
        num_layers: number of stride-2 convolutions (>= 1).
        norm: ``"instance"`` (affine InstanceNorm after every conv but the first and last)
            or ``"none"``.
        spectral_norm: wrap every convolution in spectral normalisation (Miyato et al. 2018).
    """

    def __init__(self, in_channels: int = 3, width: int = 32, num_layers: int = 3,
                 norm: str = "instance", spectral_norm: bool = False) -> None:
        super().__init__()
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
        for name, value in (("in_channels", in_channels), ("width", width), ("num_layers", num_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.in_channels = in_channels
        self.num_layers = num_layers

        def conv(cin: int, cout: int, stride: int, bias: bool) -> nn.Module:
            layer = nn.Conv2d(cin, cout, kernel_size=4, stride=stride, padding=1, bias=bias)
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if bias:
                nn.init.zeros_(layer.bias)
            return _spectral_norm(layer) if spectral_norm else layer

        def normed(cin: int, cout: int, stride: int) -> list[nn.Module]:
            if norm == "instance":
                return [conv(cin, cout, stride, bias=False), nn.InstanceNorm2d(cout, affine=True)]
            return [conv(cin, cout, stride, bias=True)]

        layers: list[nn.Module] = [conv(in_channels, width, 2, bias=True), nn.LeakyReLU(0.2)]
        channels = width
        for index in range(1, num_layers):
            out = width * min(2 ** index, 8)
            layers += normed(channels, out, 2) + [nn.LeakyReLU(0.2)]
            channels = out
        out = width * min(2 ** num_layers, 8)
        layers += normed(channels, out, 1) + [nn.LeakyReLU(0.2)]
        layers.append(conv(out, 1, 1, bias=True))
        self.layers = nn.Sequential(*layers)

        # Smallest side whose logits map is at least 1x1 (and 2x2 before each InstanceNorm):
        # stride-2 k4 p1 maps n -> floor(n / 2); stride-1 k4 p1 maps n -> n - 1.
        self.min_size = 3 * 2 ** num_layers

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Logits map size for an input of ``height`` x ``width``."""
        return (height >> self.num_layers) - 2, (width >> self.num_layers) - 2

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) -> (N, 1, H', W') logits; see :meth:`output_size`."""
        if image.dim() != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"PatchDiscriminator expects (N, {self.in_channels}, H, W), "
                             f"got {tuple(image.shape)}")
        if min(image.shape[-2:]) < self.min_size:
            raise ValueError(f"PatchDiscriminator input {tuple(image.shape[-2:])} is smaller than "
                             f"min_size={self.min_size} for num_layers={self.num_layers}")
        return self.layers(image)
