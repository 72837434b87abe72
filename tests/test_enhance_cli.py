"""``mlsm enhance``: batches with broken, odd and hostile inputs; exit codes; outputs."""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mlsm.cli import main
from mlsm.io import read_image, write_image

ORIENTATION = 0x0112
MAKE = 0x010F


# --------------------------------------------------------------------------- fixtures


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tiny_weights):
    return tiny_weights


def _pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 90, (height, width, 3), dtype=np.uint8)


def _jpeg(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A few-byte PNG announcing width x height pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def _rotated_jpeg(path: Path) -> None:
    """Stored 48 wide x 32 tall with EXIF orientation 6: shown 32 wide x 48 tall."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "mlsm-test-camera"
    Image.fromarray(_pixels(32, 48, seed=7)).save(path, format="JPEG", quality=90, exif=exif.tobytes())


GOOD = ["good.jpg", "cmyk.jpg", "grey.jpg", "deep.png", "alpha.png", "rotated.jpg", "one.png"]
BAD = ["truncated.jpg", "empty.jpg", "text.jpg", "bomb.png"]


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.jpg").write_bytes(_jpeg(_pixels(40, 48)))
    Image.fromarray(_pixels(24, 40, seed=1)).convert("CMYK").save(folder / "cmyk.jpg", format="JPEG")
    Image.fromarray(_pixels(30, 20, seed=2)[..., 0], "L").save(folder / "grey.jpg", format="JPEG")
    deep = np.random.default_rng(3).integers(0, 9000, (20, 28, 3), dtype=np.uint16)
    write_image(folder / "deep.png", deep, bit_depth=16)
    rgba = np.dstack([_pixels(26, 22, seed=4), np.full((26, 22), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    _rotated_jpeg(folder / "rotated.jpg")
    Image.fromarray(_pixels(1, 1, seed=5)).save(folder / "one.png")
    whole = _jpeg(_pixels(64, 64, seed=6))
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not a photo\n")
    (folder / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    return folder


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_clean_failures(stderr: str, failed_names: list[str]) -> None:
    """stderr is exactly one ``mlsm: error:`` line per failed file, no traceback."""
    assert "Traceback" not in stderr
    lines = error_lines(stderr)
    assert len(lines) == len(failed_names), lines
    assert all(line.startswith("mlsm: error: ") for line in lines), lines
    for name in failed_names:
        assert sum(name in line for line in lines) == 1, (name, lines)


def no_temporary_files(folder: Path) -> bool:
    return not any(p.name.startswith(".") or p.name.endswith((".part", ".tmp")) for p in folder.rglob("*"))


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the corpus


def test_bad_files_fail_alone_and_good_files_are_written(tmp_path, weights, capsys):
    corpus = make_corpus(tmp_path / "in")
    out = tmp_path / "out"
    code = main(["enhance", str(corpus), "-o", str(out), "--model", weights])
    captured = capsys.readouterr()
    assert code == 1
    assert_clean_failures(captured.err, BAD)
    assert f"{len(GOOD)} enhanced, 0 skipped, {len(BAD)} failed" in captured.out
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(name).stem + ".png" for name in GOOD)
    assert no_temporary_files(out)

    # EXIF orientation 6: pixels were rotated on read, so the output is 32 wide x 48 tall,
    # keeps the other EXIF tags and says orientation 1
    rotated, info = read_image(out / "rotated.png")
    assert rotated.shape == (48, 32, 3)
    with Image.open(out / "rotated.png") as picture:
        exif = picture.getexif()
        assert exif.get(MAKE) == "mlsm-test-camera"
        assert exif.get(ORIENTATION, 1) == 1
    assert read_image(out / "one.png")[0].shape == (1, 1, 3)
    assert read_image(out / "cmyk.png")[0].shape == (24, 40, 3)
    assert read_image(out / "grey.png")[0].shape == (30, 20, 3)
    assert read_image(out / "alpha.png")[0].shape == (26, 22, 3)
    deep, deep_info = read_image(out / "deep.png")
    assert deep_info.bit_depth == 16 and deep.shape == (20, 28, 3)


def test_all_good_files_exit_zero(tmp_path, weights, capsys):
    corpus = make_corpus(tmp_path / "in")
    for name in BAD:
        (corpus / name).unlink()
    out = tmp_path / "out"
    assert main(["enhance", str(corpus), "-o", str(out), "--model", weights, "--device", "cpu", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"{len(GOOD)} enhanced, 0 skipped, 0 failed in " in captured.out
    assert len(list(out.iterdir())) == len(GOOD)


def test_decompression_bomb_limit_from_environment(tmp_path, weights, capsys, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_pixels(50, 50)).save(folder / "big.png")   # 2500 pixels
    Image.fromarray(_pixels(20, 20)).save(folder / "small.png")  # 400 pixels
    monkeypatch.setenv("MLSM_MAX_PIXELS", "1000")
    out = tmp_path / "out"
    assert main(["enhance", str(folder), "-o", str(out), "--model", weights]) == 1
    captured = capsys.readouterr()
    assert_clean_failures(captured.err, ["big.png"])
    assert "exceeds the limit" in captured.err
    assert [p.name for p in out.iterdir()] == ["small.png"]


def test_unwritable_output_folder(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(_jpeg(_pixels(20, 24)))
    (folder / "b.jpg").write_bytes(_jpeg(_pixels(20, 24, seed=1)))
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a folder")
    assert main(["enhance", str(folder), "-o", str(blocker / "out"), "--model", weights]) == 1
    captured = capsys.readouterr()
    assert_clean_failures(captured.err, ["a.jpg", "b.jpg"])
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-regular-file", "in"]


def test_output_onto_its_own_input_is_refused(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(_jpeg(_pixels(20, 24)))
    Image.fromarray(_pixels(16, 16, seed=1)).save(folder / "b.png")
    before = snapshot(folder)
    code = main(["enhance", str(folder), "-o", str(folder), "--format", "same", "--overwrite", "--model", weights])
    captured = capsys.readouterr()
    assert code == 1
    assert_clean_failures(captured.err, ["a.jpg", "b.png"])
    assert "input" in captured.err
    assert snapshot(folder) == before


def test_existing_outputs_skip_refuse_or_overwrite(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(_jpeg(_pixels(20, 24)))
    (folder / "b.jpg").write_bytes(_jpeg(_pixels(20, 24, seed=1)))
    out = tmp_path / "out"
    assert main(["enhance", str(folder), "-o", str(out), "--model", weights]) == 0
    capsys.readouterr()
    first = snapshot(out)

    assert main(["enhance", str(folder), "-o", str(out), "--model", weights, "--skip-existing"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "0 enhanced, 2 skipped, 0 failed" in captured.out
    assert snapshot(out) == first

    assert main(["enhance", str(folder), "-o", str(out), "--model", weights]) == 1
    captured = capsys.readouterr()
    assert_clean_failures(captured.err, ["a.jpg", "b.jpg"])
    assert captured.err.count("exists") == 2
    assert "0 enhanced, 0 skipped, 2 failed" in captured.out
    assert snapshot(out) == first

    (out / "a.png").write_bytes(b"stale")
    assert main(["enhance", str(folder), "-o", str(out), "--model", weights, "--overwrite"]) == 0
    capsys.readouterr()
    assert (out / "a.png").read_bytes() == first["a.png"][0]
    assert no_temporary_files(out)


# --------------------------------------------------------------------------- naming


def test_folders_are_mirrored_globs_and_files_are_flat(tmp_path, weights, capsys):
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.jpg").write_bytes(_jpeg(_pixels(20, 24)))
    Image.fromarray(_pixels(16, 16, seed=1)).save(root / "sub" / "b.png")
    (root / "sub" / "deeper" / "c.JPG").write_bytes(_jpeg(_pixels(18, 14, seed=2)))
    (root / ".hidden.jpg").write_bytes(_jpeg(_pixels(8, 8)))

    out = tmp_path / "mirrored"
    assert main(["enhance", str(root), "-r", "-o", str(out), "--model", weights]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a.png", os.path.join("sub", "b.png"), os.path.join("sub", "deeper", "c.png")]

    flat = tmp_path / "flat"
    assert main(["enhance", str(root), "-o", str(flat), "--model", weights]) == 0  # no -r: top level only
    assert [p.name for p in flat.iterdir()] == ["a.png"]

    pattern = tmp_path / "pattern"
    assert main(["enhance", str(root / "**" / "*.png"), "-r", "-o", str(pattern), "--model", weights,
                 "--format", "jpg", "--quality", "80", "--suffix", "_bright"]) == 0
    (written,) = [p for p in pattern.rglob("*") if p.is_file()]
    assert written.relative_to(pattern) == Path("sub") / "b_bright.jpg"
    assert read_image(written)[1].jpeg_quality == 80

    single = tmp_path / "single"
    assert main(["enhance", str(root / "sub" / "deeper" / "c.JPG"), "-o", str(single), "--model", weights,
                 "--format", "same"]) == 0
    assert [p.name for p in single.iterdir()] == ["c.JPG"]
    assert read_image(single / "c.JPG")[1].format == "JPEG"
    assert "Traceback" not in capsys.readouterr().err


def test_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, weights, capsys):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(_jpeg(_pixels(20, 24)))
    (root / "sub" / "b.jpg").write_bytes(_jpeg(_pixels(20, 24, seed=1)))
    out = root / "bright"
    for _ in range(2):
        assert main(["enhance", str(root), "-r", "-o", str(out), "--model", weights, "--skip-existing"]) == 0
    assert "0 enhanced, 2 skipped, 0 failed" in capsys.readouterr().out.splitlines()[-1]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a.png", os.path.join("sub", "b.png")]


def test_exif_and_icc_profile_are_kept(tmp_path, weights, capsys):
    ImageCms = pytest.importorskip("PIL.ImageCms")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    folder = tmp_path / "in"
    folder.mkdir()
    exif = Image.Exif()
    exif[MAKE] = "mlsm-test-camera"
    Image.fromarray(_pixels(24, 32)).save(folder / "a.jpg", format="JPEG", exif=exif.tobytes(), icc_profile=icc)
    for image_format in ("jpg", "png", "tif"):
        out = tmp_path / image_format
        assert main(["enhance", str(folder), "-o", str(out), "--model", weights, "--format", image_format]) == 0
        with Image.open(out / f"a.{image_format}") as picture:
            assert picture.info.get("icc_profile") == icc
            if image_format != "tif":
                assert picture.getexif().get(MAKE) == "mlsm-test-camera"
    assert capsys.readouterr().err == ""


def test_two_inputs_with_one_output_name(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(_jpeg(_pixels(20, 24)))
    Image.fromarray(_pixels(16, 16, seed=1)).save(folder / "a.png")
    out = tmp_path / "out"
    assert main(["enhance", str(folder), "-o", str(out), "--model", weights]) == 1
    captured = capsys.readouterr()
    assert_clean_failures(captured.err, ["a.png:"])
    assert "also the output of" in captured.err
    assert [p.name for p in out.iterdir()] == ["a.png"]
    # the same file named twice is enhanced once
    out2 = tmp_path / "out2"
    assert main(["enhance", str(folder / "a.jpg"), str(folder / "a.jpg"), "-o", str(out2), "--model", weights]) == 0
    assert "1 enhanced" in capsys.readouterr().out


def test_missing_input_fails_alone(tmp_path, weights, capsys):
    good = tmp_path / "a.jpg"
    good.write_bytes(_jpeg(_pixels(20, 24)))
    out = tmp_path / "out"
    assert main(["enhance", str(good), str(tmp_path / "missing.jpg"), "-o", str(out), "--model", weights]) == 1
    captured = capsys.readouterr()
    assert_clean_failures(captured.err, ["missing.jpg"])
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_unexpected_error_is_one_line(tmp_path, weights, capsys, monkeypatch):
    """A failure that is not an ImageError (e.g. out of memory) is reported as ``type: msg``."""
    from mlsm.inference import EnhancementModel

    original = EnhancementModel.enhance

    def enhance_failing_on_width_17(self, image):
        if np.asarray(image).shape[1] == 17:
            raise RuntimeError("CPU out of memory\n(allocating 1 TB)")
        return original(self, image)

    monkeypatch.setattr(EnhancementModel, "enhance", enhance_failing_on_width_17)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(_jpeg(_pixels(20, 17)))
    (folder / "b.jpg").write_bytes(_jpeg(_pixels(20, 24)))
    out = tmp_path / "out"
    assert main(["enhance", str(folder), "-o", str(out), "--model", weights]) == 1
    captured = capsys.readouterr()
    assert_clean_failures(captured.err, ["a.jpg"])
    assert "RuntimeError: CPU out of memory (allocating 1 TB)" in captured.err
    assert [p.name for p in out.iterdir()] == ["b.png"]


# --------------------------------------------------------------------------- usage errors


def test_no_inputs_matched_is_a_usage_error(tmp_path, weights, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["enhance", str(empty), str(tmp_path / "*.jpg"), "-o", str(tmp_path / "out"), "--model", weights]) == 2
    captured = capsys.readouterr()
    assert "no input images" in captured.err and "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()


def test_unknown_model_is_a_usage_error(tmp_path, capsys):
    image = tmp_path / "a.jpg"
    image.write_bytes(_jpeg(_pixels(20, 24)))
    assert main(["enhance", str(image), "-o", str(tmp_path / "out"), "--model", "no_such.model"]) == 2
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert len(lines) == 1 and "no_such.model" in lines[0] and "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()


def test_corrupt_weight_file_is_a_usage_error(tmp_path, capsys):
    image = tmp_path / "a.jpg"
    image.write_bytes(_jpeg(_pixels(20, 24)))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert main(["enhance", str(image), "-o", str(tmp_path / "out"), "--model", str(bad)]) == 2
    captured = capsys.readouterr()
    assert len(error_lines(captured.err)) == 1 and "bad.safetensors" in captured.err


def test_no_default_model_installed(tmp_path, capsys, monkeypatch):
    from mlsm.models import zoo

    monkeypatch.setattr(zoo, "ZOO", {})
    image = tmp_path / "a.jpg"
    image.write_bytes(_jpeg(_pixels(20, 24)))
    assert main(["enhance", str(image), "-o", str(tmp_path / "out")]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("mlsm: error: no model installed: ")


@pytest.mark.parametrize("options", [
    ["--quality", "0"], ["--quality", "101"], ["--format", "gif"], ["--tile", "0"], ["--overlap", "-1"],
    ["--skip-existing", "--overwrite"], ["--device", "tpu"], ["--backend", "tensorrt"], ["--threads", "zero"],
])
def test_bad_options_are_usage_errors(tmp_path, weights, capsys, options):
    image = tmp_path / "a.jpg"
    image.write_bytes(_jpeg(_pixels(20, 24)))
    assert main(["enhance", str(image), "-o", str(tmp_path / "out"), "--model", weights, *options]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_onnx_file_with_torch_backend_is_a_usage_error(tmp_path, capsys):
    image = tmp_path / "a.jpg"
    image.write_bytes(_jpeg(_pixels(20, 24)))
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not really")
    assert main(["enhance", str(image), "-o", str(tmp_path / "out"), "--model", str(model), "--backend", "torch"]) == 2
    assert "--backend onnx" in capsys.readouterr().err


def test_threads_option_restores_the_torch_setting(tmp_path, weights, capsys):
    image = tmp_path / "a.jpg"
    image.write_bytes(_jpeg(_pixels(20, 24)))
    torch.set_num_threads(2)  # the module fixture restores the original setting afterwards
    assert main(["enhance", str(image), "-o", str(tmp_path / "out"), "--model", weights, "--threads", "1"]) == 0
    assert torch.get_num_threads() == 2
