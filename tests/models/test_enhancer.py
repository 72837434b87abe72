import pytest
import torch

from mlsm.models import DirectEnhancer, Enhancer, MapperConfig, ModelConfig, VAEConfig
from mlsm.models.configs import PRESETS


def tiny_config(levels=3, mapped=None):
    return ModelConfig(vae=VAEConfig(levels=levels, widths=[4, 6, 8][:levels]),
                       mapper=MapperConfig(mapped_levels=mapped))


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("size", [(37, 53), (1, 9), (64, 64)])
def test_any_input_size(levels, size):
    model = Enhancer(tiny_config(levels)).eval()
    x = torch.rand(1, 3, *size)
    out = model(x)
    assert out["image"].shape == x.shape
    assert torch.isfinite(out["image"]).all()
    assert len(out["mapped"]) == levels


@pytest.mark.parametrize("mapped", [1, 2, 3])
def test_ablation_maps_only_the_top_levels(mapped):
    model = Enhancer(tiny_config(3, mapped)).eval()
    assert len(model.mapping.mappers) == mapped
    out = model(torch.rand(1, 3, 32, 32))
    for level in range(3 - mapped):
        assert torch.count_nonzero(out["mapped"][level]) == 0


def registered_models():
    small = tiny_config()
    yield "enhancer", Enhancer(small)
    yield "direct", DirectEnhancer(small)
    for name, config in PRESETS.items():
        if name == "mlsm_small":
            yield name, Enhancer(config)


@pytest.mark.parametrize("name,model", list(registered_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_forward_no_nan_and_every_parameter_gets_a_gradient(name, model):
    """Both training stages together reach every parameter (stage 1: the VAEs, stage 2: M)."""
    torch.manual_seed(0)
    model.train()
    x = torch.rand(2, 3, 32, 32)
    out = model(x)["image"]
    assert torch.isfinite(out).all()
    loss = out.mean()
    if isinstance(model, Enhancer):  # stage 1 reconstructs with both VAEs
        loss = loss + model.vae_c(x)["image"].mean() + model.vae_n(x)["image"].mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_default_model_is_cheaper_than_zero_dce():
    """The CPU default costs fewer MACs per pixel than Zero-DCE's 79,416 parameters x 1 (79 k MAC/px)."""
    from torch.utils.flop_counter import FlopCounterMode
    model = Enhancer(PRESETS["mlsm_small"]).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, 128, 128))
    macs_per_pixel = counter.get_total_flops() / 2 / (128 * 128)
    assert macs_per_pixel < 79_000


def test_direct_ablation_is_deterministic_in_training_mode():
    model = DirectEnhancer(tiny_config()).train()
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(model(x)["image"], model(x)["image"])
    assert not any(".logvar." in name for name, _ in model.named_parameters())
