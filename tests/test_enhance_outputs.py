"""``mlsm enhance`` on the bundled samples gives bit-identical pixels to the recorded reference.

The reference (``tests/reference/enhance_samples.json``: sha256 of each output's RGB bytes) was
recorded with ``mlsm enhance mlsm/assets/samples -o OUT`` plus each case's options below: first
on main at 78f4fa6, before the inference layer was refactored (issue 10), then again when the
default inference changed on purpose (issue 14: the shift ensemble, the default model's context
windows; then the input detail transfer, which acts on these camera-quality samples; then the
monotone local gain; the ``no_detail`` and ``no_monotone_gain`` cases leave each out; then the
new default model, ``mlsm_small.real_exposure``, with its brightness floor: ``synth_dark_jpeg`` is
the previous default, ``keep_well_exposed`` its keep gate; then the colour balance,
``no_colour_balance`` leaves it out; then the neutral shadows, ``no_neutral_shadows`` leaves them
out and equals the previous default bit for bit; then the channels-last network layout, which moves
a few pixels by one level, and the highlight headroom, ``no_highlight_headroom`` leaves it out; then
the headroom's lit structure and the 41 px shift of the ensemble's second pass, inference revision 7;
then the detail transfer's noise floor per tone, revision 8; then the chroma denoise, revision 9:
``no_chroma_denoise`` leaves it out and equals revision 8's default bit for bit; then the
edge-aware local gain of the monotone gain and the relight, revision 10). The runs are subprocesses with the
CLI's own thread default, as a user runs it.

torch's CPU kernels are deterministic for one build and one CPU kind, but another CPU kind
(another SIMD path) moves a few pixels by one level. So each reference holds the sha256 of the
pixels and their 16x16 block means (float16, base64): on the recording CPU kind the hash must
match, so a refactor that changes one pixel fails; elsewhere the block means must agree within
``BLOCK_TOLERANCE`` (switching the detail transfer off moves them by up to ~10 levels, a 1.5x
brightness by tens).
"""
from __future__ import annotations

import base64
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
BLOCK = 16
BLOCK_TOLERANCE = 0.5 / 255  # largest block-mean difference a different CPU kind may make

CASES = {
    "default": [],
    "tiled_256_32": ["--tile", "256", "--overlap", "32"],
    "real_v2": ["--model", "mlsm_small.real_v2"],
    "brightness_1.5": ["--brightness", "1.5"],
    "no_exposure": ["--no-exposure-calibration"],
    "no_shift_ensemble": ["--no-shift-ensemble"],
    "no_detail": ["--detail", "0"],
    "no_monotone_gain": ["--no-monotone-gain"],
    "synth_dark_jpeg": ["--model", "mlsm_small.synth_dark_jpeg"],
    "keep_well_exposed": ["--keep-well-exposed"],
    "no_colour_balance": ["--no-colour-balance"],
    "no_neutral_shadows": ["--no-neutral-shadows"],
    "no_highlight_headroom": ["--no-highlight-headroom"],
    "no_chroma_denoise": ["--no-chroma-denoise"],
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
        if hashlib.sha256(pixels.tobytes()).hexdigest() == ref["sha256"]:
            continue
        means = block_means(pixels)
        recorded = np.frombuffer(base64.b64decode(ref["block_means"]), dtype=np.float16).reshape(means.shape)
        worst = float(np.abs(means - recorded.astype(np.float32)).max())
        assert worst <= BLOCK_TOLERANCE, f"{case}/{name} changed: block means differ by up to {worst * 255:.2f} levels"


def block_means(pixels: np.ndarray) -> np.ndarray:
    """(H // BLOCK, W // BLOCK, 3) float32 means in [0, 1] of the BLOCK x BLOCK blocks."""
    h, w = (pixels.shape[0] // BLOCK) * BLOCK, (pixels.shape[1] // BLOCK) * BLOCK
    blocks = pixels[:h, :w].astype(np.float32).reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3)
    return blocks.mean(axis=(1, 3)) / 255.0


def record(path: Path = Path(__file__).parent / "reference" / "enhance_samples.json") -> None:
    """Re-record the reference on this machine (``python tests/test_enhance_outputs.py``)."""
    import tempfile

    reference = {}
    for case, extra in sorted(CASES.items()):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, "-m", "mlsm", "enhance", str(SAMPLES), "-o", out, *extra],
                           check=True, cwd=ROOT, capture_output=True)
            for image in sorted(Path(out).glob("*.png")):
                pixels = np.asarray(Image.open(image).convert("RGB"))
                reference[f"{case}/{image.name}"] = {
                    "sha256": hashlib.sha256(pixels.tobytes()).hexdigest(), "shape": list(pixels.shape),
                    "block_means": base64.b64encode(block_means(pixels).astype(np.float16).tobytes()).decode()}
    path.write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    record()
