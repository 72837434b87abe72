"""Tests for mlsm.models.discriminator.PatchDiscriminator."""
from __future__ import annotations

import pytest
import torch

from mlsm.models.discriminator import PatchDiscriminator


@pytest.mark.parametrize("norm", ["instance", "none"])
@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("height, width, expected", [(64, 64, (6, 6)), (37, 53, (2, 4))])
def test_output_shapes(norm, spectral_norm, height, width, expected):
    torch.manual_seed(0)
    model = PatchDiscriminator(norm=norm, spectral_norm=spectral_norm)
    logits = model(torch.rand(2, 3, height, width))
    assert logits.shape == (2, 1, *expected)
    assert model.output_size(height, width) == expected
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("num_layers, size", [(1, 16), (2, 40), (4, 64)])
def test_output_size_formula_for_other_depths(num_layers, size):
    model = PatchDiscriminator(width=8, num_layers=num_layers)
    assert model(torch.rand(1, 3, size, size + 3)).shape[-2:] == model.output_size(size, size + 3)
    assert model(torch.rand(1, 3, model.min_size, model.min_size)).shape[-2:] == (1, 1)


def test_channels_double_and_cap():
    model = PatchDiscriminator(width=4, num_layers=5, norm="none")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32, 32, 32, 1]
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert [c.stride[0] for c in convs] == [2, 2, 2, 2, 2, 1, 1]


def test_gradients_reach_input_and_every_parameter():
    torch.manual_seed(0)
    model = PatchDiscriminator(width=8)
    image = torch.rand(2, 3, 64, 64, requires_grad=True)
    model(image).square().mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_spectral_norm_is_applied():
    model = PatchDiscriminator(width=8, spectral_norm=True)
    names = [name for name, _ in model.named_parameters()]
    assert any("parametrizations.weight" in name for name in names)
    # spectral norm bounds the largest singular value of each weight near 1 after power iterations
    model.train()
    for _ in range(20):
        model(torch.rand(1, 3, 32, 32))
    first = model.layers[0].weight.detach().reshape(8, -1)
    assert torch.linalg.matrix_norm(first, ord=2).item() == pytest.approx(1.0, rel=0.05)


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match="norm"):
        PatchDiscriminator(norm="batch")
    with pytest.raises(ValueError, match="num_layers"):
        PatchDiscriminator(num_layers=0)
    model = PatchDiscriminator()
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.rand(1, 4, 64, 64))
    with pytest.raises(ValueError, match="min_size=24"):
        model(torch.rand(1, 3, 20, 64))
