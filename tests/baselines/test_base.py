"""TorchMethod: subnormal weights are flushed at construction (they only cost time)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mlsm.baselines.base import TorchMethod, flush_subnormal_weights

TINY = torch.finfo(torch.float32).tiny


def _conv_with_subnormals() -> nn.Conv2d:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 3, 3, padding=1)
    with torch.no_grad():
        conv.weight[0, 0] = TINY / 4          # subnormal
        conv.weight[1, 1, 0, 0] = -TINY / 1000  # subnormal, negative
        conv.bias[2] = TINY                    # the smallest normal number stays
    return conv


def test_flush_zeroes_subnormals_only():
    conv = _conv_with_subnormals()
    before = conv.weight.detach().clone()
    flush_subnormal_weights(conv)
    assert float(conv.weight[0, 0].abs().max()) == 0.0 and float(conv.weight[1, 1, 0, 0]) == 0.0
    assert float(conv.bias[2]) == TINY
    normal = before.abs() >= TINY
    assert torch.equal(conv.weight[normal], before[normal])


def test_torch_method_flushes_and_keeps_its_output():
    reference = _conv_with_subnormals()
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    expected = reference(torch.from_numpy(image).permute(2, 0, 1)[None]).detach()[0].permute(1, 2, 0).numpy()
    method = TorchMethod("conv", _conv_with_subnormals())
    assert int((method.module.weight.abs() < TINY).sum()) == int((method.module.weight == 0).sum())
    np.testing.assert_allclose(method(image), np.clip(expected, 0, 1), atol=1e-6)
