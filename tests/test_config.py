"""Typed YAML config: unknown keys, wrong types, overrides, round trip (mlsm.config)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest
import yaml

from mlsm.config import ConfigError, config_from_dict, dump_config, load_config, save_config
from mlsm.train.loop import TrainOptions


@dataclass
class ModelSection:
    widths: list[int] = field(default_factory=lambda: [16, 32])
    kind: Literal["vae", "mapper"] = "vae"
    dropout: Optional[float] = None


@dataclass
class TrainSection:
    lr: float = 2e-4
    steps: int = 100
    betas: tuple[float, float] = (0.9, 0.999)
    amp: bool = False
    out_dir: Path = Path("runs/default")


@dataclass
class Experiment:
    name: str
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    tags: dict[str, int] = field(default_factory=dict)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_loads_nested_yaml_and_converts_types(tmp_path):
    path = write(tmp_path, "name: small\nmodel:\n  widths: [8, 16, 32]\n  kind: mapper\n"
                           "train:\n  lr: 1\n  betas: [0.5, 0.999]\n  out_dir: runs/x\n")
    cfg = load_config(Experiment, path)
    assert cfg.name == "small"
    assert cfg.model == ModelSection(widths=[8, 16, 32], kind="mapper", dropout=None)
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)  # int accepted for float
    assert cfg.train.betas == (0.5, 0.999)
    assert cfg.train.out_dir == Path("runs/x")
    assert cfg.train.steps == 100  # default kept


def test_unknown_key_names_dotted_key_and_file(tmp_path):
    path = write(tmp_path, "name: a\ntrain:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'train\.lrr'.*exp\.yaml"):
        load_config(Experiment, path)


@pytest.mark.parametrize("text, pattern", [
    ("name: a\ntrain:\n  steps: 1.5\n", r"train\.steps: expected int"),
    ("name: a\ntrain:\n  steps: true\n", r"train\.steps: expected int"),
    ("name: a\ntrain:\n  amp: 1\n", r"train\.amp: expected bool"),
    ("name: a\ntrain:\n  lr: fast\n", r"train\.lr: expected float"),
    ("name: 3\n", r"name: expected str"),
    ("name: a\nmodel:\n  widths: [8, x]\n", r"model\.widths\[1\]: expected int"),
    ("name: a\ntrain:\n  betas: [0.5]\n", r"train\.betas: expected tuple"),
    ("name: a\nmodel:\n  kind: gan\n", r"model\.kind: expected one of"),
    ("name: a\nmodel: 4\n", r"model: expected a mapping"),
    ("name: a\ntags:\n  x: y\n", r"tags\.x: expected int"),
    ("train: {}\n", r"missing required key 'name'"),
])
def test_wrong_types_are_config_errors(tmp_path, text, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        load_config(Experiment, write(tmp_path, text))
    assert isinstance(info.value, ValueError)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Experiment, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Experiment, write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(Experiment, write(tmp_path, "name: [unclosed\n"))


def test_overrides_apply_and_are_type_checked(tmp_path):
    path = write(tmp_path, "name: a\ntrain:\n  lr: 0.1\n")
    cfg = load_config(Experiment, path, ["train.lr=1e-4", "model.widths=[8,16,32]",
                                         "model.dropout=0.25", "train.amp=true", "tags.a=3"])
    assert cfg.train.lr == pytest.approx(1e-4)  # PyYAML reads 1e-4 as a string
    assert cfg.model.widths == [8, 16, 32]
    assert cfg.model.dropout == 0.25
    assert cfg.train.amp is True
    assert cfg.tags == {"a": 3}
    assert load_config(Experiment, path, ["model.dropout=null"]).model.dropout is None
    # only defaults + overrides
    assert load_config(Experiment, None, ["name=x"]).name == "x"


@pytest.mark.parametrize("override, pattern", [
    ("train.lrr=1", r"override 'train\.lrr=1': unknown key 'train\.lrr'"),
    ("train.steps=abc", r"train\.steps: expected int.*override 'train\.steps=abc'"),
    ("train.lr", r"expected the form section\.key=value"),
    ("train..lr=1", r"empty key component"),
    ("name.x=1", r"'name' is not a (section|mapping)"),
    ("model.widths.x=1", r"'model.widths' is not a (section|mapping)"),
    ("train.lr=[1", r"not valid YAML"),
])
def test_bad_overrides(override, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(Experiment, None, ["name=a", override])


def test_file_error_still_names_file_when_other_keys_overridden(tmp_path):
    path = write(tmp_path, "name: a\ntrain:\n  steps: many\n")
    with pytest.raises(ConfigError, match=r"train\.steps.*exp\.yaml"):
        load_config(Experiment, path, ["train.lr=0.5"])


def test_dump_and_save_round_trip(tmp_path):
    cfg = load_config(Experiment, None, ["name=rt", "model.widths=[4]", "train.betas=[0.5,0.9]"])
    data = dump_config(cfg)
    assert data["train"]["betas"] == [0.5, 0.9] and data["train"]["out_dir"] == "runs/default"
    assert config_from_dict(Experiment, data) == cfg
    out = tmp_path / "sub" / "saved.yaml"
    save_config(cfg, out)
    assert yaml.safe_load(out.read_text()) == data
    assert load_config(Experiment, out) == cfg
    assert not [p for p in out.parent.iterdir() if p.name != "saved.yaml"]  # no temp file left


def test_post_init_errors_become_config_errors(tmp_path):
    @dataclass
    class Root:
        train: TrainOptions = field(default_factory=TrainOptions)

    cfg = load_config(Root, write(tmp_path, "train:\n  steps: 50\n  betas: [0.5, 0.999]\n"))
    assert cfg.train.steps == 50 and cfg.train.betas == (0.5, 0.999)
    with pytest.raises(ConfigError, match=r"train.*lr_decay_start.*exp\.yaml"):
        load_config(Root, write(tmp_path, "train:\n  steps: 50\n  lr_decay_start: 80\n"))


def test_rejects_non_dataclass_and_string_overrides():
    with pytest.raises(TypeError):
        load_config(dict, None)
    with pytest.raises(TypeError):
        load_config(Experiment, None, "name=a")
