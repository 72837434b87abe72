"""Neutral shadows: where the input is too dark to carry colour, the output carries none.

Why it exists. An 8-bit photo's near-black pixels hold one or two code values per channel: the
black sky of DICM 12 is (1, 1, 0) in RGB, a hue made by quantisation and the camera's JPEG
chroma, not by the scene. Brightening it x18 turns that black into a blotchy olive
(18, 19, 9) (issue 14). No method can recover colour the file does not hold; the honest output
there is grey at the brightness the enhancement gives it.

What it computes, per image (``x`` the input, ``y`` the output so far, both sRGB in [0, 1])::

    v    = 255 * blur(Y'(x), SIGMA)                 the input's local luma, in 8-bit code values
    c    = clip((v - LOW) / (HIGH - LOW), 0, 1)     confidence in the input's colour
    out  = Y'(y) + c * (y - Y'(y))                  y's chroma scaled by c at y's own luma

``Y'`` is BT.601 luma of the sRGB values, so the output's luma (and with it its brightness, NIQE
and the block-edge ratio, which read luma) is unchanged: only the saturation of the deepest
shadows goes. Pixels from ``HIGH`` code values up keep the output's colour exactly.

Measured. Choosing the thresholds (``python scripts/shadow_probe.py``, the default's outputs
without this step, then each setting): LOL validation at QF 90 21.25 -> 21.39 / 21.40 / 21.38 dB
PSNR with LOW 1 and HIGH 6 / 8 / 10; Kodak24, all 24, at QF 90 22.71 -> 22.72 / 22.73 / 22.73, at
QF 60 22.06 -> 22.07 / 22.08 / 22.08: the references are not coloured there either. Shipped:
(1, 8). With them (``mlsm eval`` as in the README, against
``[neutral_shadows=false]``) LOL validation 21.25 -> 21.40 dB at QF 90 and 20.53 -> 20.79 at QF 60.
"""
from __future__ import annotations

import torch

from mlsm.inference.maps import gaussian_blur, luma

__all__ = ["LOW", "HIGH", "SIGMA", "local_luma", "confidence_of_local_luma", "colour_confidence", "neutral_shadows"]

LOW = 1.0
"""Input local luma (8-bit code values) at and below which the output is grey."""
HIGH = 8.0
"""Input local luma (8-bit code values) from which the output keeps all its colour."""
SIGMA = 2.0
"""Gaussian sigma (pixels) of the input's local luma: the confidence follows regions, not
single noisy pixels."""
_ROWS = 512


def local_luma(image: torch.Tensor) -> torch.Tensor:
    """``v / 255``: (N, 3, H, W) sRGB input -> (N, 1, H, W) BT.601 luma, Gaussian :data:`SIGMA`
    px (the input detail transfer reads its tones at the same map)."""
    return gaussian_blur(luma(image.float()), SIGMA)


def confidence_of_local_luma(level: torch.Tensor, low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """``c`` from a :func:`local_luma` map (a new tensor; ``low`` and ``high`` in 8-bit code values)."""
    return level.mul(255.0).sub_(low).div_(high - low).clamp_(0.0, 1.0)


def colour_confidence(image: torch.Tensor, low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """(N, 3, H, W) sRGB input -> (N, 1, H, W) confidence in [0, 1] in its colour (module
    docstring; ``low`` and ``high`` in 8-bit code values)."""
    return confidence_of_local_luma(local_luma(image), low, high)


@torch.no_grad()
def neutral_shadows(image: torch.Tensor, enhanced: torch.Tensor, low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """``enhanced`` (N, 3, H, W) with its chroma scaled by :func:`colour_confidence` of
    ``image`` at unchanged luma; a new tensor in [0, 1] (``enhanced`` itself when no pixel of
    the input is dark enough to change anything)."""
    confidence = colour_confidence(image, low, high)
    if bool((confidence >= 1.0).all()):
        return enhanced
    result = torch.empty_like(enhanced)
    for top in range(0, enhanced.shape[-2], _ROWS):
        rows = enhanced[:, :, top:top + _ROWS].float()
        grey = luma(rows)
        result[:, :, top:top + _ROWS] = rows.sub(grey).mul_(confidence[:, :, top:top + _ROWS]).add_(grey).clamp_(0.0, 1.0)
    return result
