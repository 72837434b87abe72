"""Every experiment config shipped in configs/ loads (no unknown key, no bad value)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mlsm.config import load_config
from mlsm.train.experiment import Experiment

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def test_there_are_configs():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path):
    experiment = load_config(Experiment, path)
    assert experiment.train.steps > 0
