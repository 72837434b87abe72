"""Training on real pairs mixed with synthetic ones: the real validation set selects the best
step, and an interrupted run resumes to the same weights as an uninterrupted one."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from mlsm.models import Enhancer, ModelConfig, VAEConfig
from mlsm.models.weights import read_metadata, save_weights
from mlsm.train.cli import train
from mlsm.train.experiment import Experiment


def _folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    lol = tmp_path / "lol" / "our485"
    for index in range(6):
        yy, xx = np.mgrid[0:40, 0:48] / 48.0
        high = np.stack([np.sin(xx * (index + 2)) * 0.4 + 0.5, yy, np.cos(yy * 3 + index) * 0.4 + 0.5], -1)
        high = (high * 255).astype(np.uint8)
        for kind, pixels in (("high", high), ("low", high // 8)):
            (lol / kind).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(lol / kind / f"{index + 1}.png")
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(3):
        rng = np.random.default_rng(index)
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(photos / f"p{index}.png")
    split = tmp_path / "val.txt"
    split.write_text("2\n5\n")
    return lol, photos, split


def _experiment(tmp_path: Path, steps: int) -> Experiment:
    lol, photos, split = _folders(tmp_path)
    experiment = Experiment(model=ModelConfig(vae=VAEConfig(widths=[8, 12, 16])))
    data = experiment.data
    data.photos, data.crop_size, data.validation = [str(photos)], 32, []
    data.pairs, data.pairs_fraction, data.pairs_validation_list = [f"{lol}:lol"], 0.5, str(split)
    data.validation_pairs, data.validation_pairs_crop = [str(lol)], 32
    experiment.mapping.tune_decoder = True
    experiment.loss.gradient, experiment.loss.frequency, experiment.loss.ms_ssim = 0.1, 0.05, 0.1
    experiment.loss.gan, experiment.loss.discriminator_width = 0.01, 8   # LSGAN D on CPU, resumed too
    train_options = experiment.train
    train_options.steps, train_options.batch_size, train_options.log_every = steps, 4, 2
    train_options.val_every, train_options.keep_best = 4, "val_real_psnr"
    train_options.tensorboard, train_options.num_threads = False, 1
    return experiment


def test_mixed_pairs_train_select_on_real_validation_and_resume_exactly(tmp_path):
    experiment = _experiment(tmp_path, steps=8)
    init = tmp_path / "init.safetensors"
    save_weights(init, Enhancer(experiment.model), "enhancer", experiment.model, card={})
    assert train("map", experiment, tmp_path / "whole", init_weights=init).finished
    records = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r["kind"] == "val"]
    assert val and all({"val_real_psnr", "val_real_matched_psnr", "val_real_identity_psnr"} <= set(r) for r in val)
    assert all(r["val_real_matched_psnr"] >= r["val_real_psnr"] - 0.5 for r in val)  # the brightness matched
    assert "val_psnr" not in val[0]                      # no synthetic validation set configured
    train_keys = set(next(r for r in records if r["kind"] == "train"))
    assert {"gradient", "frequency", "ms_ssim", "image_l1", "gan", "d_loss"} <= train_keys
    best = read_metadata(tmp_path / "whole" / "best.safetensors")["card"]
    assert best["best"]["val_real_psnr"] == max(r["val_real_psnr"] for r in val)
    assert best["config"]["data"]["pairs_fraction"] == 0.5
    assert best["context"] == experiment.data.crop_size   # inference runs in windows of the training crop

    experiment.train.stop_after = 3
    first = train("map", experiment, tmp_path / "split", init_weights=init)
    assert not first.finished and first.step == 3
    experiment.train.stop_after = None
    assert train("map", experiment, tmp_path / "split", init_weights=init, resume=True).finished
    whole, split = load_file(tmp_path / "whole" / "model.safetensors"), load_file(tmp_path / "split" / "model.safetensors")
    assert whole.keys() == split.keys() and all(torch.equal(whole[k], split[k]) for k in whole)
