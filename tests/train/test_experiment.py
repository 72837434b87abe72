"""mlsm.train.experiment: the data section's checks, the pairs trained on, fixed validation sets."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mlsm.config import load_config
from mlsm.train.experiment import DataConfig, Experiment, build_training_data, build_validation


def _photos(folder, count=3, size=(80, 72)):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rng = np.random.default_rng(index)
        Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(folder / f"p{index}.png")
    return folder


def _lol(root, names):
    for sub in ("low", "high"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        rng = np.random.default_rng(100 + index)
        high = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(high).save(root / "high" / f"{name}.png")
        Image.fromarray((high // 8).astype(np.uint8)).save(root / "low" / f"{name}.png")
    return root


@pytest.mark.parametrize("changes, message", [
    ({"pairs_fraction": 1.5}, "pairs_fraction"),
    ({"pairs_fraction": 0.5}, "needs data.pairs"),
    ({"pairs": ["x"], "pairs_fraction": 0.0}, "pairs_fraction is 0"),
    ({"pairs_quality": (90, 60)}, "pairs_quality"),
    ({"validation_pairs_quality": 0}, "validation_pairs_quality"),
])
def test_data_section_refuses_inconsistent_settings(changes, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**changes)


def test_training_pairs_drop_excluded_and_held_out_names(tmp_path):
    root = _lol(tmp_path / "lol" / "our485", ["1", "2", "3", "648"])
    held_out = tmp_path / "val.txt"
    held_out.write_text("# held out\n2\n")
    data = DataConfig(pairs=[str(root)], pairs_fraction=0.5, pairs_validation_list=str(held_out))
    assert data.held_out_names() == ["2"]
    names = sorted(pair.name for pair in data.training_pairs())
    assert names == ["1", "3"]  # 648 (pairs_exclude) and 2 (held out) never trained on


def test_nested_degradation_section_loads_and_old_flat_keys_are_refused(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("data:\n  degradation:\n    quality: [70, 80]\n")
    experiment = load_config(Experiment, config)
    assert tuple(experiment.data.degradation.quality) == (70, 80)
    assert experiment.data.ranges() is experiment.data.degradation
    config.write_text("data:\n  quality: [70, 80]\n")
    with pytest.raises(Exception, match="quality"):
        load_config(Experiment, config)


def test_training_data_and_validation_are_fixed_by_the_seed(tmp_path):
    photos = _photos(tmp_path / "photos")
    data = DataConfig(photos=[str(photos)], crop_size=32, length=10, validation=[str(photos)],
                      validation_images=2, validation_crop=48)
    first, again = build_training_data(data, seed=7), build_training_data(data, seed=7)
    item = first.get_item(3, np.random.default_rng([7, 3]))
    same = again.get_item(3, np.random.default_rng([7, 3]))
    assert item["low"].shape == item["high"].shape == (3, 32, 32)
    assert torch.equal(item["low"], same["low"]) and item["low"].mean() < item["high"].mean()
    validation = build_validation(data)
    assert [v["set"] for v in validation] == ["synthetic", "synthetic"]
    assert validation[0]["low"].shape == (3, 48, 48)
    assert torch.equal(validation[0]["low"], build_validation(data)[0]["low"])
