"""Tests for mlsm.data.photos and ``mlsm data photos`` on fake source folders built in tmp_path."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlsm.cli import main
from mlsm.data import photos as photos_module
from mlsm.data.photos import (MissingSource, PhotoSourceError, find_sources, folder_source, gather_photos,
                              install_command, sha256_of)

FIELDS = {"path", "source", "licence", "width", "height", "pixels", "sha256", "downscaled"}


def pattern(seed: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = 128 + 70 * np.sin(2 * np.pi * (3 * xx + 2 * yy))[..., None] + rng.normal(0, 20, (height, width, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path, **({"quality": 90} if path.suffix == ".jpg" else {}))
    return path


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """Fake shared photos/: cbsd68 (PNG + JPEG + a corrupt file), mcmaster (PNG), kodak24 (PNG)."""
    root = tmp_path / "photos"
    save(root / "cbsd68" / "a.png", pattern(0, 40, 48))
    save(root / "cbsd68" / "b.jpg", pattern(1, 64, 96))
    (root / "cbsd68" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    save(root / "mcmaster" / "m.png", pattern(2, 50, 50))
    save(root / "kodak24" / "kodim01.png", pattern(3, 32, 48))
    return root


def run_photos(shared: Path, out: Path, *extra: str) -> int:
    return main(["data", "photos", "--sources", "shared", "--shared-photos", str(shared), "--out", str(out), *extra])


def test_help_works(capsys):
    assert main(["data", "photos", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--install" in text and "--max-side" in text and "Kodak24" in text


def test_manifest_fields_downscale_kodak_and_corrupt_file(shared, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_photos(shared, out) == 1  # the corrupt file fails, the rest is written
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and "warning" in captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    records = {r["path"]: r for r in manifest["photos"]}
    assert set(records) == {"cbsd68/a.png", "cbsd68/b.png", "mcmaster/m.png"}  # no Kodak, no broken file
    assert len(manifest["errors"]) == 1 and "broken.png" in manifest["errors"][0]
    for path, record in records.items():
        assert FIELDS <= set(record)
        image = Image.open(out / path)
        assert image.format == "PNG" and image.size == (record["width"], record["height"])
        assert record["pixels"] == record["width"] * record["height"]
        assert record["sha256"] == sha256_of(out / path)
    jpeg = records["cbsd68/b.png"]
    assert jpeg["downscaled"] and jpeg["source_width"] >= 2 * jpeg["width"] and jpeg["source_height"] >= 2 * jpeg["height"]
    png = records["cbsd68/a.png"]
    assert not png["downscaled"] and (png["width"], png["height"]) == (48, 40)
    assert np.array_equal(np.asarray(Image.open(out / "cbsd68/a.png")), pattern(0, 40, 48))  # lossless kept as is
    table = (out / "SOURCES.md").read_text()
    assert "| cbsd68 | 2 |" in table and "| mcmaster | 1 |" in table and "kodak" not in table.lower()
    assert not any(p.name.startswith(".") for p in out.rglob("*"))  # no temporary files left


def test_max_side_caps_large_png_and_jpeg(tmp_path):
    save(tmp_path / "src" / "wide.png", pattern(4, 60, 300))
    save(tmp_path / "src" / "tall.jpg", pattern(5, 200, 80))
    source = folder_source("big", tmp_path / "src", "test licence")
    result = gather_photos([source], tmp_path / "out", max_side=100, shared_photos=tmp_path / "none")
    sizes = {r.path: (r.width, r.height, r.downscaled) for r in result.records}
    assert sizes["big/wide.png"] == (100, 20, True)  # lossless but too large: long side capped
    assert sizes["big/tall.png"] == (40, 100, True)  # JPEG: max(2x, cap) = 2x here


def test_rerun_is_idempotent_and_repairs_a_changed_output(shared, tmp_path, capsys):
    out = tmp_path / "out"
    run_photos(shared, out)
    first = json.loads((out / "manifest.json").read_text())["photos"]
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    capsys.readouterr()
    run_photos(shared, out)
    assert "0 written, 3 unchanged, 1 failed" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["photos"] == first
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamps
    save(out / "mcmaster" / "m.png", pattern(9, 50, 50))  # tampered output: sha256 no longer matches
    run_photos(shared, out)
    assert "1 written, 2 unchanged" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["photos"] == first


def test_kodak24_is_refused_as_training_source(shared, tmp_path, capsys):
    with pytest.raises(PhotoSourceError, match="Kodak24"):
        folder_source("val", shared / "kodak24", "x")
    assert run_photos(shared, tmp_path / "out", "--folder", "val", str(shared / "kodak24"), "x") == 2
    assert "Kodak24" in capsys.readouterr().err
    copy = tmp_path / "renamed"  # same bytes under another folder name are refused too
    copy.mkdir()
    (copy / "k.png").write_bytes((shared / "kodak24" / "kodim01.png").read_bytes())
    with pytest.raises(PhotoSourceError, match="Kodak24"):
        gather_photos([folder_source("sneaky", copy, "x")], tmp_path / "out2", shared_photos=shared)


def test_missing_sources_are_reported_not_installed(shared, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.run", lambda command, *a, **k: calls.append(command))
    code = main(["data", "photos", "--sources", "shared", "mate", "plasma", "--shared-photos", str(shared),
                 "--mate-dir", str(tmp_path / "no-mate"), "--wallpapers-dir", str(tmp_path / "no-plasma"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and calls == []  # the broken file; nothing installed without --install
    assert "source mate is missing" in err and "apt-get install mate-backgrounds" in err
    assert "source plasma is missing" in err and "plasma-workspace-wallpapers" in err
    found = find_sources(["mate", "plasma"], mate_dir=tmp_path / "x", wallpapers_dir=tmp_path / "y")
    assert all(isinstance(s, MissingSource) for s in found)
    assert install_command(found) == [["apt-get", "install", "-y", "mate-backgrounds", "plasma-workspace-wallpapers"]]


def test_install_runs_apt_for_missing_packages(shared, tmp_path, monkeypatch):
    calls = []

    class Done:
        returncode = 0

    monkeypatch.setattr("subprocess.run", lambda command, *a, **k: (calls.append(command), Done())[1])
    main(["data", "photos", "--sources", "shared", "mate", "--shared-photos", str(shared), "--install",
          "--mate-dir", str(tmp_path / "no-mate"), "--out", str(tmp_path / "out")])
    assert calls == [["apt-get", "install", "-y", "mate-backgrounds"]]


def test_wallpapers_largest_size_and_exif_photographs(tmp_path):
    root = tmp_path / "wallpapers"
    for name in ("Kite", "Painting", "Snapshot"):
        (root / name / "contents" / "images").mkdir(parents=True)
        (root / name / "metadata.json").write_text(json.dumps({"KPlugin": {"License": "LGPLv3", "Authors": [{"Name": "A"}]}}))
    save(root / "Kite" / "contents" / "images" / "40x30.jpg", pattern(6, 30, 40))
    save(root / "Kite" / "contents" / "images" / "80x60.jpg", pattern(6, 60, 80))
    save(root / "Painting" / "contents" / "images" / "80x60.png", pattern(7, 60, 80))
    exif = Image.Exif()
    exif[271], exif[272] = "Canon", "EOS"
    Image.fromarray(pattern(8, 48, 64)).save(root / "Snapshot" / "contents" / "images" / "64x48.jpg", exif=exif)
    (source,) = find_sources(["plasma"], wallpapers_dir=root)
    kept = {stem: path.name for stem, path, _ in source.files}
    assert kept == {"Kite": "80x60.jpg", "Snapshot": "64x48.jpg"}  # Painting: no EXIF camera, not listed
    assert any("Painting: skipped" in note for note in source.notes)
    assert all(licence.startswith("LGPLv3") for _, _, licence in source.files)


def test_python_package_photos_are_found_offline():
    found = {s.name: s for s in find_sources(["skimage", "matplotlib"])}
    assert {stem for stem, _, _ in found["skimage"].files} >= {"astronaut", "chelsea", "coffee"}
    assert all(path.is_file() for _, path, _ in found["skimage"].files)
    assert found["matplotlib"].files[0][1].name == "grace_hopper.jpg"


def test_unknown_group_is_an_error():
    with pytest.raises(PhotoSourceError, match="unknown source"):
        find_sources(["nope"])
    assert photos_module.SOURCE_GROUPS[0] == "shared"
