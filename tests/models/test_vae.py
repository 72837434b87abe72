import pytest
import torch

from mlsm.models import MultiLevelVAE, VAEConfig


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("unshuffle", [1, 2])
def test_latent_shapes_halve_per_level(levels, unshuffle):
    widths = [4, 6, 8][:levels]
    vae = MultiLevelVAE(VAEConfig(levels=levels, widths=widths, input_unshuffle=unshuffle))
    x = torch.rand(2, 3, 32, 48)
    out = vae(x)
    assert out["image"].shape == x.shape
    assert len(out["latents"]) == levels
    for level, latent in enumerate(out["latents"]):
        scale = unshuffle * 2 ** level
        assert latent.shape == (2, widths[level], 32 // scale, 48 // scale)


def test_eval_mode_is_deterministic_and_uses_the_mean():
    vae = MultiLevelVAE(VAEConfig(widths=[4, 6, 8])).eval()
    x = torch.rand(1, 3, 32, 32)
    first, second = vae(x), vae(x)
    assert torch.equal(first["image"], second["image"])
    for latent, mean in zip(first["latents"], first["means"]):
        assert torch.equal(latent, mean)


def test_training_mode_samples_around_the_mean():
    torch.manual_seed(0)
    vae = MultiLevelVAE(VAEConfig(widths=[4, 6, 8])).train()
    out = vae(torch.rand(1, 3, 32, 32))
    assert not torch.equal(out["latents"][0], out["means"][0])


def test_decoder_adds_skip_latents_eq10():
    """Changing a lower-level latent changes the reconstruction (y^{i-1} = D^i(y^i)↑ + l^{i-1})."""
    vae = MultiLevelVAE(VAEConfig(widths=[4, 6, 8], input_unshuffle=1)).eval()
    latents = vae.encode(torch.rand(1, 3, 16, 16))["latents"]
    base = vae.decode(latents)
    shifted = [latents[0] + 1.0] + latents[1:]
    assert not torch.allclose(base, vae.decode(shifted))


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="one entry per level"):
        VAEConfig(levels=3, widths=[4, 8])
    with pytest.raises(ValueError, match="input_unshuffle"):
        VAEConfig(input_unshuffle=3)


def test_instance_norm_variant_runs():
    vae = MultiLevelVAE(VAEConfig(widths=[4, 6, 8], norm="instance"))
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in vae.modules())
    assert vae(torch.rand(2, 3, 32, 32))["image"].shape == (2, 3, 32, 32)


def test_output_refinement_starts_as_identity_and_trains():
    """output_refine adds a full-resolution residual whose last conv starts at zero: the network's
    output is unchanged until training moves it, and the refinement gets gradients."""
    import torch

    from mlsm.models.configs import VAEConfig
    from mlsm.models.vae import MultiLevelVAE

    torch.manual_seed(0)
    plain = MultiLevelVAE(VAEConfig(widths=[8, 8, 8])).eval()
    refined = MultiLevelVAE(VAEConfig(widths=[8, 8, 8], output_refine=4)).eval()
    missing = refined.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["refine.expand.bias", "refine.expand.weight",
                               "refine.project.bias", "refine.project.weight"]
    image = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        assert torch.equal(plain(image)["image"], refined(image)["image"])
    refined.train()
    refined(image)["image"].abs().mean().backward()
    assert refined.refine.project.weight.grad.abs().sum() > 0
    with __import__("pytest").raises(ValueError, match="output_refine"):
        VAEConfig(output_refine=-1)
