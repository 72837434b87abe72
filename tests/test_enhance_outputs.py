"""``mlsm enhance`` on the bundled samples gives bit-identical pixels to the recorded reference.

The reference (``tests/reference/enhance_samples.json``: sha256 of each output's RGB bytes) was
recorded with ``mlsm enhance mlsm/assets/samples -o OUT`` plus each case's options below: first
on main at 78f4fa6, before the inference layer was refactored (issue 10), then again when the
default inference changed on purpose (issue 14: the shift ensemble, the default model's 64 px
context windows). A refactor that changes one pixel fails here. The runs are subprocesses with the CLI's own thread default, as a user
runs it; torch's CPU kernels are deterministic for one build and one CPU kind.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "mlsm" / "assets" / "samples"
REFERENCE = json.loads((Path(__file__).parent / "reference" / "enhance_samples.json").read_text())

CASES = {
    "default": [],
    "tiled_256_32": ["--tile", "256", "--overlap", "32"],
    "real_v2": ["--model", "mlsm_small.real_v2"],
    "brightness_1.5": ["--brightness", "1.5"],
    "no_exposure": ["--no-exposure-calibration"],
    "no_shift_ensemble": ["--no-shift-ensemble"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_enhance_samples_bit_identical(case, tmp_path):
    expected = {k.split("/", 1)[1]: v for k, v in REFERENCE.items() if k.startswith(case + "/")}
    assert len(expected) == 2, f"reference lacks case {case}"
    subprocess.run([sys.executable, "-m", "mlsm", "enhance", str(SAMPLES), "-o", str(tmp_path),
                    *CASES[case]], check=True, cwd=ROOT, capture_output=True)
    produced = sorted(p.name for p in tmp_path.glob("*.png"))
    assert produced == sorted(expected)
    for name, ref in expected.items():
        pixels = np.asarray(Image.open(tmp_path / name).convert("RGB"))
        assert list(pixels.shape) == ref["shape"], name
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == ref["sha256"], f"{case}/{name} changed"
