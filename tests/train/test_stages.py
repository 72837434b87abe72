"""The paper's two training stages and the direct ablation, on tiny models and data."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlsm.config import load_config
from mlsm.data.synthetic import SyntheticPairs
from mlsm.models import DirectEnhancer, Enhancer, MapperConfig, ModelConfig, VAEConfig
from mlsm.models.weights import read_metadata
from mlsm.train.cli import train
from mlsm.train.experiment import Experiment
from mlsm.train.stages import DirectStage, LossConfig, MappingStage, VAEStage

REPO = Path(__file__).resolve().parents[2]


def tiny_model():
    return Enhancer(ModelConfig(vae=VAEConfig(widths=[4, 6, 8]), mapper=MapperConfig()))


def batch(size=32, count=2):
    photos = [np.random.default_rng(i).random((48, 48, 3), dtype=np.float32) for i in range(2)]
    data = SyntheticPairs(photos, crop_size=size, length=count)
    items = [data.get_item(i, np.random.default_rng(i)) for i in range(count)]
    return {key: torch.stack([item[key] for item in items]) for key in ("low", "high")}


def test_vae_stage_losses_follow_eq12_13():
    stage = VAEStage(tiny_model(), LossConfig(kl=1.0))
    out = stage.training_step(batch(), 0)
    assert set(out) == {"loss", "c_l1", "c_kl", "n_l1", "n_kl"}
    assert torch.isclose(out["loss"], out["c_l1"] + out["c_kl"] + out["n_l1"] + out["n_kl"])
    out["loss"].backward()
    assert all(p.grad is not None for p in stage.vae_c.parameters())
    assert all(p.grad is not None for p in stage.vae_n.parameters())


def test_mapping_stage_freezes_both_vaes():
    model = tiny_model()
    stage = MappingStage(model, LossConfig())
    before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("vae_")}
    optimizer = torch.optim.Adam(stage.mapping.parameters(), lr=1e-2)
    out = stage.training_step(batch(), 0)
    assert set(out) == {"loss", "latent_l1", "image_l1"}
    out["loss"].backward()
    optimizer.step()
    assert all(p.grad is None and not p.requires_grad for p in model.vae_c.parameters())
    assert all(p.grad is None and not p.requires_grad for p in model.vae_n.parameters())
    assert all(p.grad is not None for p in model.mapping.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_tune_decoder_trains_d_n_but_not_the_encoders():
    model = tiny_model()
    stage = MappingStage(model, LossConfig(), tune_decoder=True)
    assert set(stage.trainable_modules()) == {"mapping", "decoder"}
    stage.training_step(batch(), 0)["loss"].backward()
    assert all(p.grad is not None for p in model.vae_n.decoders.parameters())
    assert all(p.grad is None for p in model.vae_n.encoders.parameters())
    assert all(p.grad is None for p in model.vae_c.parameters())


def test_tune_encoder_and_decoder_train_the_whole_inference_chain():
    model = tiny_model()
    stage = MappingStage(model, LossConfig(), tune_decoder=True, tune_encoder=True)
    assert set(stage.trainable_modules()) == {"mapping", "decoder", "encoder"}
    stage.training_step(batch(), 0)["loss"].backward()
    # posterior means at inference: every E_C weight but the unused log-variance heads learns
    assert all(p.grad is not None for name, p in model.vae_c.encoders.named_parameters() if "logvar" not in name)
    assert all(p.grad is not None for p in model.vae_n.decoders.parameters())
    assert all(p.grad is None for p in model.vae_n.encoders.parameters())


def test_mapping_stage_with_gan_has_a_discriminator_step():
    stage = MappingStage(tiny_model(), LossConfig(gan=0.1))
    data = batch()
    out = stage.training_step(data, 0)
    assert "gan" in out
    d_out = stage.discriminator_step(data, 0)
    assert d_out["loss"].requires_grad


def test_direct_stage_trains_the_single_network():
    stage = DirectStage(DirectEnhancer(ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))), LossConfig())
    out = stage.training_step(batch(), 0)
    out["loss"].backward()
    assert all(p.grad is not None for p in stage.network.parameters())


def _stage(stage_name, losses):
    if stage_name == "direct":
        return DirectStage(DirectEnhancer(tiny_model().config), losses)
    if stage_name == "vae":
        return VAEStage(tiny_model(), losses)
    return MappingStage(tiny_model(), losses, tune_decoder=True)


@pytest.mark.parametrize("stage_name", ["vae", "map", "direct"])
def test_texture_terms_enter_the_loss_of_every_stage(stage_name):
    images = batch()
    out = _stage(stage_name, LossConfig(gradient=0.5, frequency=0.25, frequency_focal=1.0,
                                        ms_ssim=0.5)).training_step(images, 0)
    prefix = "n_" if stage_name == "vae" else ""
    parts = {f"{prefix}{name}" for name in ("gradient", "frequency", "ms_ssim")}
    assert parts <= set(out) and all(float(out[name]) > 0 for name in parts)
    others = sum(float(value) for key, value in out.items() if key != "loss")
    assert float(out["loss"].detach()) == pytest.approx(others, rel=1e-5)
    plain = _stage(stage_name, LossConfig()).training_step(images, 0)   # weights 0: no texture term
    assert not parts & set(plain)
    with pytest.raises(ValueError, match="loss.ms_ssim"):
        LossConfig(ms_ssim=-1.0)


def test_brightness_invariant_mapping_loss_ignores_a_global_gain():
    """With loss.brightness_invariant the image L1 compares the output brightness-matched to the
    target: a decoder output one stop darker scores the same image L1 (only the anchor term
    grows); with the plain loss it scores worse."""
    from mlsm.colour import linear_to_srgb, srgb_to_linear
    images = batch()
    decoded = images["high"] * 0.9 + 0.05 * torch.rand_like(images["high"])   # a near-right output
    darker = linear_to_srgb(srgb_to_linear(decoded) * 0.5)

    def step(losses, output):
        stage = MappingStage(tiny_model(), losses, tune_decoder=True)
        stage.model.vae_n.decode = lambda latents: output
        return stage.training_step(images, 0)

    invariant = LossConfig(latent=0.0, brightness_invariant=True, brightness_anchor=0.5)
    same, dark = step(invariant, decoded), step(invariant, darker)
    assert float(dark["image_l1"]) == pytest.approx(float(same["image_l1"]), rel=0.05)
    assert float(dark["brightness_anchor"]) > float(same["brightness_anchor"]) + 0.1   # 0.5 * log(2)^2 = 0.24
    plain = LossConfig(latent=0.0)
    assert "brightness_anchor" not in step(plain, decoded)
    assert float(step(plain, darker)["image_l1"]) > 2 * float(step(plain, decoded)["image_l1"])
    with pytest.raises(ValueError, match="brightness_anchor"):
        LossConfig(brightness_anchor=-1.0)


@pytest.mark.parametrize("name,widths", [("mlsm_small", [16, 32, 64]), ("mlsm_paper", [64, 128, 256])])
def test_config_files_load_and_match_the_presets(name, widths):
    from mlsm.models.configs import PRESETS
    experiment = load_config(Experiment, REPO / "configs" / f"{name}.yaml")
    assert experiment.model.vae.widths == widths
    assert experiment.model == PRESETS[name]
    assert experiment.train.batch_size == 16 and experiment.data.crop_size == 64  # paper IV-A


def _smoke_experiment(tmp_path, steps):
    photos = tmp_path / "photos"
    photos.mkdir()
    from PIL import Image
    kodak = REPO.parent / "shared" / "data" / "photos" / "kodak24"
    sources = sorted(kodak.glob("*.png"))[:4] if kodak.is_dir() else []
    for i in range(4):
        if sources:
            image = Image.open(sources[i]).convert("RGB").resize((128, 96))
        else:  # smooth synthetic photos when the shared data is absent
            yy, xx = np.mgrid[0:96, 0:128] / 128.0
            array = np.stack([np.sin(xx * (i + 2)) * 0.4 + 0.5, yy, np.cos(yy * 3 + i) * 0.4 + 0.5], -1)
            image = Image.fromarray((array * 255).astype(np.uint8))
        image.save(photos / f"p{i}.png")
    experiment = Experiment(model=ModelConfig(vae=VAEConfig(widths=[8, 12, 16])))
    experiment.data.photos = [str(photos)]
    experiment.data.validation = [str(photos)]
    experiment.data.validation_images = 3
    experiment.data.validation_crop = 64
    experiment.data.crop_size = 32
    experiment.data.degradation = dataclasses.replace(experiment.data.degradation, exposure=(0.1, 0.2))
    experiment.train.steps = steps
    experiment.train.batch_size = 8
    experiment.train.lr = 2e-3
    experiment.train.log_every = 10
    experiment.train.val_every = steps
    experiment.train.tensorboard = False
    experiment.train.num_threads = 2
    return experiment


def _records(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def test_smoke_training_both_stages_beats_identity(tmp_path):
    """Stage 1 then stage 2 on a handful of synthetic pairs: the loss falls and the enhanced
    validation images beat the untouched dark input's PSNR."""
    experiment = _smoke_experiment(tmp_path, steps=120)
    result = train("vae", experiment, tmp_path / "vae")
    assert result.finished
    vae_train = _records(tmp_path / "vae", "train")
    assert vae_train[-1]["loss"] < vae_train[0]["loss"]
    vae_weights = tmp_path / "vae" / "vaes.safetensors"
    assert read_metadata(vae_weights)["arch"] == "enhancer"

    result = train("map", experiment, tmp_path / "map", vae_weights=vae_weights)
    assert result.finished
    map_train = _records(tmp_path / "map", "train")
    assert map_train[-1]["loss"] < map_train[0]["loss"]
    val = _records(tmp_path / "map", "val")[-1]
    assert val["val_psnr"] > val["val_identity_psnr"] + 2.0, val
    model = read_metadata(tmp_path / "map" / "model.safetensors")
    assert model["card"]["stage"] == "map"

    # --init + mapping.tune_decoder: continue from the finished model and train D_N as well
    experiment.mapping.tune_decoder = True
    experiment.train.steps = 10
    result = train("map", experiment, tmp_path / "tune", vae_weights=vae_weights,
                   init_weights=tmp_path / "map" / "last.pt")
    assert result.finished
    from safetensors.torch import load_file
    before, after = load_file(tmp_path / "map" / "model.safetensors"), load_file(tmp_path / "tune" / "model.safetensors")
    assert not torch.equal(before["vae_n.decoders.0.body.1.weight"], after["vae_n.decoders.0.body.1.weight"])
    assert torch.equal(before["vae_c.encoders.0.mean.weight"], after["vae_c.encoders.0.mean.weight"])

    # ... then E_C too (the whole chain), keeping the best validation checkpoint
    experiment.mapping.tune_encoder = True
    experiment.train.val_every, experiment.train.keep_best = 5, "val_psnr"
    result = train("map", experiment, tmp_path / "chain", init_weights=tmp_path / "tune" / "model.safetensors")
    assert result.finished
    chain = load_file(tmp_path / "chain" / "model.safetensors")
    assert not torch.equal(after["vae_c.encoders.0.mean.weight"], chain["vae_c.encoders.0.mean.weight"])
    best = read_metadata(tmp_path / "chain" / "best.safetensors")["card"]["best"]
    val = _records(tmp_path / "chain", "val")
    assert best == {"step": max(val, key=lambda r: r["val_psnr"])["step"],
                    "val_psnr": max(r["val_psnr"] for r in val)}


def test_init_from_weights_loads_every_tensor(tmp_path):
    from mlsm.models.weights import save_weights
    from mlsm.train.checkpoint import load_init as _load_init
    source = tiny_model()
    save_weights(tmp_path / "m.safetensors", source, "enhancer", source.config, card={"x": 1})
    target, card = tiny_model(), {}
    _load_init(target, tmp_path / "m.safetensors", card, {})
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))
    assert card["init_card"] == {"x": 1}
    # a released model carries an exposure head: the network tensors still load, strictly
    from mlsm.models.exposure import ExposureHead
    save_weights(tmp_path / "h.safetensors", source, "enhancer", source.config, exposure_head=ExposureHead())
    target = tiny_model()
    _load_init(target, tmp_path / "h.safetensors", {}, {})
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))
    other = Enhancer(ModelConfig(vae=VAEConfig(widths=[4, 6, 10])))
    with pytest.raises(ValueError, match="config differs"):
        _load_init(other, tmp_path / "m.safetensors", {}, {})


def test_two_fresh_runs_with_one_seed_give_bit_identical_weights(tmp_path):
    """train.seed seeds the fresh networks as well as the data: the same command twice gives
    the same weights; another seed does not."""
    from safetensors.torch import load_file
    weights = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        (tmp_path / name).mkdir()
        experiment = _smoke_experiment(tmp_path / name, steps=3)
        experiment.train.seed, experiment.train.deterministic = seed, True
        experiment.train.batch_size, experiment.train.val_every = 2, None
        assert train("vae", experiment, tmp_path / name / "run").finished
        weights[name] = load_file(tmp_path / name / "run" / "vaes.safetensors")
    assert weights["a"].keys() == weights["b"].keys()
    assert all(torch.equal(weights["a"][key], weights["b"][key]) for key in weights["a"])
    assert not all(torch.equal(weights["a"][key], weights["c"][key]) for key in weights["a"])
