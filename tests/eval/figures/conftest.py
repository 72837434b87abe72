"""Fixtures of the figure tests: a tiny evaluated run and a PNG content check."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlsm.data.evalset import synthesize_evalset
from mlsm.eval.runner import run_eval


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, make_sources) -> Path:
    root = tmp_path_factory.mktemp("figures")
    synthesize_evalset(make_sources(root / "src", 2, first=3), root / "tiny", qualities=(90, 60), seed=5)
    run_eval(["identity", "gamma", "clahe"], [root / "tiny"], root / "run", save_images=True, progress=False)
    return root / "run"


def assert_real_png(path: Path, min_side: int = 200) -> np.ndarray:
    """The file is a PNG of some size with actual content (not one flat colour)."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert min(pixels.shape[:2]) >= min_side
    assert pixels.std() > 5 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    return pixels


@pytest.fixture(name="assert_real_png", scope="session")
def assert_real_png_fixture():
    """:func:`assert_real_png`, for the tests of each figure module."""
    return assert_real_png
