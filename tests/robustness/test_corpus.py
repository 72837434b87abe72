"""The bad-input and fault corpus (``corpus.py``) through ``mlsm enhance`` and the Python API.

For the command line: exit codes, exactly one stderr line naming each failed file (no
traceback), complete outputs for the good files and nothing else in the output folder (no
partial image, no temporary file). For the API: every input either works, scaled by its true
range, or raises a clear ``ValueError``/``TypeError``. Signals: Ctrl-C while the command starts,
SIGTERM while an image is being written.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from corpus import API_CASES, IMAGE_CASES, MODEL_CASES, OPTION_CASES, build_images, build_model
from mlsm.cli import main
from mlsm.io import read_image

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "mlsm" / "weights" / "mlsm_small.synth_dark_jpeg.safetensors"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(r"mlsm[\w -]*: error: ", line)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".part"))


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, tiny_weights):
    """One ``mlsm enhance`` over the whole image corpus (folder + named files), as a user runs it."""
    root = tmp_path_factory.mktemp("corpus")
    build_images(root / "images")
    named = build_images(root / "named", named=True)
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "mlsm", "enhance", str(root / "images"), *map(str, named),
                           "-o", str(out), "--model", tiny_weights, "--threads", "1"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    return done, out


def test_image_corpus_exit_code_and_nothing_partial(image_run):
    done, out = image_run
    assert done.returncode == 1, done.stderr  # some files failed, the batch went on
    assert leftovers(out) == []
    expected = sorted(Path(case.name).stem + ".png" for case in IMAGE_CASES if case.expect == "ok")
    assert sorted(p.name for p in out.iterdir()) == expected


def test_image_corpus_stderr_has_one_line_per_failure_and_no_traceback(image_run):
    done, _ = image_run
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    lines = error_lines(done.stderr)
    failures = [case for case in IMAGE_CASES if case.expect == "fail"]
    assert len(lines) == len(failures), done.stderr
    for case in failures:
        mine = [line for line in lines if case.name in line]
        assert len(mine) == 1, (case.name, lines)
        assert re.search(case.cause, mine[0]), (case.name, mine[0])


@pytest.mark.parametrize("case", [c for c in IMAGE_CASES if c.expect == "ok"], ids=lambda c: c.name)
def test_good_image_gives_one_complete_output(image_run, case):
    _, out = image_run
    image, info = read_image(out / (Path(case.name).stem + ".png"))
    assert image.shape[:2] == case.shape and np.isfinite(image).all()


@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: c.name)
def test_option_cases(case, tmp_path, tiny_weights, capsys):
    source = tmp_path / "in.png"
    next(c for c in IMAGE_CASES if c.name == "exif_70kb.png").build(source)
    out = tmp_path / "out"
    code = main(["enhance", str(source), "-o", str(out), "--model", tiny_weights, *case.options])
    captured = capsys.readouterr()
    assert code == case.code, captured.err
    assert "Traceback" not in captured.err
    if case.code == 2:
        assert len(error_lines(captured.err)) == 1, captured.err
        assert not out.exists()
    else:
        assert leftovers(out) == [] and len(list(out.iterdir())) == 1
    if case.message:
        assert re.search(case.message, captured.err), captured.err
    assert not (tmp_path.parent / "escape.png").exists() and not list(tmp_path.glob("*escape*"))


FAST_MODEL_CASES = [c for c in MODEL_CASES if not c.name.startswith("huge")]
HUGE_MODEL_CASES = [c for c in MODEL_CASES if c.name.startswith("huge")]


@pytest.mark.parametrize("case", FAST_MODEL_CASES, ids=lambda c: c.name)
def test_broken_model_file_is_one_line_exit_2(case, tmp_path, capsys):
    model = build_model(case, BUNDLED, tmp_path / f"{case.name}.safetensors")
    source = tmp_path / "in.jpg"
    next(c for c in IMAGE_CASES if c.name == "baseline.jpg").build(source)
    code = main(["enhance", str(source), "-o", str(tmp_path / "out"), "--model", str(model)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = error_lines(err)
    assert len(lines) == 1 and model.name in lines[0] and "Traceback" not in err, err
    assert re.search(case.cause, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", HUGE_MODEL_CASES, ids=lambda c: c.name)
def test_out_of_bounds_config_is_refused_before_building(case, tmp_path):
    model = build_model(case, BUNDLED, tmp_path / f"{case.name}.safetensors")
    source = tmp_path / "in.jpg"
    next(c for c in IMAGE_CASES if c.name == "baseline.jpg").build(source)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mlsm", "enhance", str(source), "-o", str(tmp_path / "out"),
                           "--model", str(model)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and time.monotonic() - started < 60, done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and model.name in lines[0] and re.search(case.cause, lines[0]), done.stderr


# --------------------------------------------------------------------------- the Python API


@pytest.fixture(scope="module")
def api_model(tiny_weights):
    import mlsm
    return mlsm.load_model(tiny_weights)


def as_float_hwc(output) -> np.ndarray:
    """Any output of ``model.enhance`` as float (H, W, 3) in [0, 1], for comparing."""
    if isinstance(output, Image.Image):
        output = np.asarray(output.convert("RGB"))
    if isinstance(output, torch.Tensor):
        output = output.detach().cpu().numpy()
        if output.ndim == 4:
            output = output[0]
        output = np.moveaxis(output, 0, -1)
    output = np.asarray(output)
    if output.dtype == np.uint8:
        return output.astype(np.float32) / 255
    if output.dtype == np.uint16:
        return output.astype(np.float32) / 65535
    return output.astype(np.float32)


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.name)
def test_api_case(case, api_model):
    allowed = case.expect.split("|")
    try:
        output = api_model.enhance(case.make())
    except (TypeError, ValueError) as exc:
        assert type(exc).__name__ in allowed, f"{case.name}: {type(exc).__name__}: {exc}"
        assert re.search(case.message, str(exc)), f"{case.name}: {exc}"
        assert "\n" not in str(exc)
        return
    assert "ok" in allowed, f"{case.name}: expected {case.expect}, got an output"
    result = as_float_hwc(output)
    assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1
    if case.same_as_uint8:
        reference = as_float_hwc(api_model.enhance(next(c for c in API_CASES if c.name == "uint8_hwc").make()))
        assert result.shape == reference.shape
        assert np.abs(result - reference).max() <= 1.5 / 255, case.name


def test_load_model_with_bad_tiling_is_a_clear_error(tiny_weights):
    import mlsm
    for tile in (0, -8):
        with pytest.raises(ValueError, match="tile"):
            mlsm.load_model(tiny_weights, tile=tile)


# --------------------------------------------------------------------------- signals


def test_ctrl_c_while_starting_is_one_line_exit_130(tmp_path):
    """A KeyboardInterrupt raised while the command imports its modules (simulated at the import
    of torch, the slowest) gives ``mlsm: interrupted`` and 130, not a traceback."""
    script = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from mlsm.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, "enhance", str(tmp_path / "x.jpg"), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "mlsm: interrupted"


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    """SIGTERM arrives while an output is being encoded: the command stops like Ctrl-C (one
    line, exit 143), removes its temporary file, and what was finished stays complete."""
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(np.full((16, 16, 3), 20 + index, np.uint8)).save(folder / f"{index}.png")
    marker, out = tmp_path / "encoding", tmp_path / "out"
    script = (
        "import sys, time, pathlib\n"
        "import mlsm.io.writing as writing\n"
        "original = writing._encode_into\n"
        "calls = []\n"
        "def slow(*args):\n"
        "    original(*args)\n"
        "    calls.append(1)\n"
        "    if len(calls) == 2:\n"
        "        pathlib.Path(sys.argv[1]).write_text('now')\n"
        "        time.sleep(60)\n"
        "writing._encode_into = slow\n"
        "from mlsm.cli import main\n"
        "sys.exit(main(sys.argv[2:]))\n")
    child = subprocess.Popen([sys.executable, "-c", script, str(marker), "enhance", str(folder), "-o", str(out),
                              "--model", str(BUNDLED), "--threads", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), child.communicate()[1]
    assert any(p.name.endswith(".part") for p in out.iterdir())  # caught mid-write
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 143, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "mlsm: interrupted (SIGTERM)"
    assert leftovers(out) == []
    written = sorted(p.name for p in out.iterdir())
    assert written == ["0.png"]
    assert read_image(out / "0.png")[0].shape == (16, 16, 3)
