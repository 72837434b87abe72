"""Inputs and paths shared by the peer tests (built here: no file, no codec)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlsm.baselines.peers import PEERS_DIR_ENV, default_peers_dir

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def dim_pattern(height: int = 40, width: int = 56) -> np.ndarray:
    """Deterministic dim colour pattern, float32 (H, W, 3), for golden values."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 0.5 + 0.5 * np.sin(xx / 5.0)
    green = 0.5 + 0.5 * np.cos(yy / 7.0)
    blue = (xx + yy) / (height + width)
    return (0.15 * np.stack([red, green, blue], axis=-1) + 0.02).astype(np.float32)


def official_peers_dir() -> Path:
    """The official peer weights folder, or skip the test saying where they were looked for."""
    folder = default_peers_dir() or SHARED / "peers"
    if not folder.is_dir():
        pytest.skip(f"official peer weights not found at {folder} (set {PEERS_DIR_ENV})")
    return folder
