"""DnCNN-3 as a JPEG deblocker on the luminance channel.

Zhang et al., "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image
Denoising", IEEE TIP 2017. DnCNN-3 is the single blind model trained for Gaussian
denoising, x2-x4 super-resolution and JPEG deblocking (QF 5-99) on grey images; its
release is a MatConvNet ``DnCNN3.mat`` (MATLAB v7.3 / HDF5), read here with h5py.

Network (665,921 parameters, batch normalisation folded into the convolutions)::

    Y ─ conv3x3(1→64)+ReLU ─ 18 x [conv3x3(64→64)+ReLU] ─ conv3x3(64→1) ─ v
    Y_out = clamp(Y − v, 0, 1)

Colour: DnCNN-3 was trained on the Y of MATLAB's ``rgb2ycbcr`` (ITU-R BT.601 *studio
range*, Y in [16, 235]/255) — its test script compresses that Y with ``imwrite`` and
restores it. :class:`LumaDeblocker` therefore converts RGB with the same matrix
(:func:`mlsm.colour.rgb_to_ycbcr_studio`), restores Y and converts back with the exact
inverse, keeping Cb and Cr unchanged.

Weight layout: MatConvNet stores a conv filter as (kH, kW, in, out) in column-major order;
h5py exposes the reversed axes (out, in, kW, kH), so each filter is transposed to
PyTorch's (out, in, kH, kW) by swapping the last two axes. ``tests/baselines/test_peers.py``
checks the result: it raises PSNR on QF 10-20 JPEGs, while swapping the in/out axes makes it
far worse. (Swapping kH/kW changes PSNR by < 0.05 dB: DnCNN was trained with flips and
rotations, so the kH/kW order rests on the MATLAB layout, not on a measurement.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlsm.colour import rgb_to_ycbcr_studio, ycbcr_studio_to_rgb

__all__ = ["DnCNN", "LumaDeblocker", "load_matconvnet_dncnn", "rgb_to_ycbcr_studio",
           "ycbcr_studio_to_rgb", "DnCNNWeightsError"]

_DEPTH = 20
_WIDTH = 64


class DnCNNWeightsError(ValueError):
    """A DnCNN .mat file does not hold the expected 20-conv MatConvNet network."""


class DnCNN(nn.Module):
    """Plain DnCNN on one channel: (N, 1, H, W) in [0, 1] -> restored (N, 1, H, W) in [0, 1]."""

    def __init__(self, depth: int = _DEPTH, width: int = _WIDTH) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, width, 3, 1, 1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.ReLU()]
        layers.append(nn.Conv2d(width, 1, 3, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, luma: torch.Tensor) -> torch.Tensor:
        return torch.clamp(luma - self.layers(luma), 0.0, 1.0)


class LumaDeblocker(nn.Module):
    """RGB wrapper: restore the studio-range Y with :class:`DnCNN`, keep Cb/Cr.

    (N, 3, H, W) RGB in [0, 1] -> (N, 3, H, W) RGB (clip to [0, 1] downstream).
    """

    def __init__(self) -> None:
        super().__init__()
        self.dncnn = DnCNN()

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        ycbcr = rgb_to_ycbcr_studio(rgb)
        luma = self.dncnn(ycbcr[:, :1])
        return ycbcr_studio_to_rgb(torch.cat([luma, ycbcr[:, 1:]], dim=1))


def _import_h5py():
    try:
        import h5py
    except ImportError as error:
        raise ImportError("reading DnCNN3.mat needs h5py: pip install 'mlsm[peers]'") from error
    return h5py


def load_matconvnet_dncnn(path: Path | str) -> dict[str, torch.Tensor]:
    """Read a MatConvNet v7.3 DnCNN ``.mat`` into a :class:`DnCNN` state dict (``layers.*``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DnCNNWeightsError: the file is not a 20-conv DnCNN with the expected shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DnCNN weights not found: {path}")
    h5py = _import_h5py()
    state: dict[str, torch.Tensor] = {}
    with h5py.File(path, "r") as mat:
        if "net" not in mat or "layers" not in mat["net"]:
            raise DnCNNWeightsError(f"{path}: no MatConvNet 'net.layers' entry")
        conv_index = 0
        for reference in mat["net"]["layers"][()].flatten():
            layer = mat[reference]
            kind = "".join(chr(code) for code in layer["type"][()].flatten())
            if kind != "conv":
                continue
            refs = layer["weights"][()].flatten()
            filters = np.asarray(mat[refs[0]][()], dtype=np.float32)
            biases = np.asarray(mat[refs[1]][()], dtype=np.float32).reshape(-1)
            if filters.ndim == 3:  # MATLAB drops the trailing singleton 'out' axis
                filters = filters[None]
            # h5py axes (out, in, kW, kH) -> PyTorch (out, in, kH, kW)
            weight = np.ascontiguousarray(filters.transpose(0, 1, 3, 2))
            module_index = 2 * conv_index  # conv/ReLU pairs in DnCNN.layers
            state[f"layers.{module_index}.weight"] = torch.from_numpy(weight)
            state[f"layers.{module_index}.bias"] = torch.from_numpy(biases.copy())
            conv_index += 1
    if conv_index != _DEPTH:
        raise DnCNNWeightsError(f"{path}: expected {_DEPTH} conv layers, found {conv_index}")
    return state
