"""Tests for mlsm.eval.figures.contact_sheet."""
from __future__ import annotations

import numpy as np
from PIL import Image

from mlsm.eval.figures import contact_sheet


def test_contact_sheet(tmp_path, make_sources, assert_real_png):
    folder = tmp_path / "dark"
    make_sources(tmp_path / "src", 2, first=3)
    folder.mkdir()
    for photo in sorted((tmp_path / "src").iterdir()):
        with Image.open(photo) as image:
            dark = (np.asarray(image, dtype=np.float32) * 0.15).astype(np.uint8)
        Image.fromarray(dark).save(folder / f"{photo.stem}.jpg", quality=60)
    sheet = contact_sheet([folder], ["gamma", "clahe", "zero_dce"], tmp_path / "sheet.png",
                          peers_dir=tmp_path / "no-peers", max_side=128, zoom_size=32)
    pixels = assert_real_png(sheet, min_side=128)
    assert pixels.shape[1] >= 4 * 128  # input + three method columns (zero_dce shows "not built")
