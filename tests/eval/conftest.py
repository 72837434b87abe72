"""Fixtures shared by the eval tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

KODAK = Path(__file__).resolve().parents[3] / "shared" / "data" / "photos" / "kodak24"
SIZE = (64, 48)  # width, height of every source photo


def _make_sources(folder: Path, count: int = 3, first: int = 1) -> Path:
    """``count`` small crops of Kodak photos from ``kodim<first>`` on (or, without the shared
    data, textured synthetic images) saved as ``folder/photo<i>.png``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = KODAK / f"kodim{index + first:02d}.png"
        if path.is_file():
            with Image.open(path) as photo:
                image = photo.convert("RGB").crop((256, 192, 384, 288)).resize(SIZE, Image.Resampling.LANCZOS)
        else:
            rng = np.random.default_rng(index)
            yy, xx = np.mgrid[0:SIZE[1], 0:SIZE[0]] / SIZE[0]
            base = 0.5 + 0.3 * np.sin(2 * np.pi * (xx * (1 + index) + yy))[..., None] * np.ones(3)
            image = Image.fromarray((np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1) * 255).astype(np.uint8))
        image.save(folder / f"photo{index}.png")
    return folder


@pytest.fixture(scope="session")
def make_sources():
    """``make_sources(folder, count=3, first=1) -> folder`` (see :func:`_make_sources`)."""
    return _make_sources
