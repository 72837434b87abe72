"""The README's Python example runs as written, with the bundled default model."""
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mlsm

README = Path(__file__).resolve().parents[1] / "README.md"


def api_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its api-example block"
    return match.group(1)


def test_readme_api_example_runs(tmp_path, monkeypatch):
    if not mlsm.list_models():
        pytest.fail("no default model is installed in mlsm/weights: the README example cannot run")
    monkeypatch.chdir(tmp_path)
    exec(compile(api_example(), str(README), "exec"), {})
    out = Image.open(tmp_path / "enhanced.png")
    dark = Image.open(mlsm.sample_images()[0])
    assert out.size == dark.size
    assert np.asarray(out, np.float32).mean() > np.asarray(dark.convert("RGB"), np.float32).mean() + 20


def test_bundled_samples_exist():
    samples = mlsm.sample_images()
    assert len(samples) >= 1 and all(p.suffix == ".jpg" for p in samples)
