"""``mlsm eval scorecard`` in-process on tiny generated photos (no shared data needed)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlsm.cli import main
from mlsm.eval.scorecard import INPUT, NO_HARM_SHIFT, SCORE_KEYS, load_scorecard, score_image
from mlsm.io import read_image
from mlsm.metrics import block_edge_ratio, colourfulness, rgb_to_y
from mlsm.niqe import niqe

SIZE = (128, 96)  # width, height: one 96x96 NIQE block at least


def _photo(seed: int, brightness: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE[1], 0:SIZE[0]] / SIZE[0]
    base = brightness * (1 + 0.5 * np.sin(2 * np.pi * (3 * xx + 2 * yy + seed)))[..., None] * [1.0, 0.9, 0.7]
    texture = rng.normal(0, 0.04, base.shape) * brightness
    return (np.clip(base + texture, 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture()
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(2):
        Image.fromarray(_photo(index)).save(folder / f"photo{index}.jpg", quality=80)
    return folder


def test_scorecard_writes_json_table_and_figure(photos, tmp_path, capsys):
    out = tmp_path / "card"
    code = main(["eval", "scorecard", f"dark={photos}", "--methods", "gamma", "--out", str(out), "--no-progress",
                 "--sheet", "1"])
    assert code == 0
    assert (out / "contact_sheet.png").stat().st_size > 1000
    results = load_scorecard(out)
    assert results["methods"] == [INPUT, "gamma"]
    assert len(results["records"]) == 4 and not results["failures"]
    for record in results["records"]:
        assert {"set", "image", "method", "seconds", *SCORE_KEYS} <= set(record)
        assert record["set"] == "dark" and 0 < record["mean_y"] < 1
    # the input's record is the measures of the decoded JPEG itself
    image, _ = read_image(photos / "photo0.jpg")
    record = next(r for r in results["records"] if r["method"] == INPUT and r["image"] == "photo0.jpg")
    assert record["niqe"] == pytest.approx(niqe(image), abs=1e-9)
    assert record["mean_y"] == pytest.approx(float(rgb_to_y(image).mean()), abs=1e-9)
    assert record["block_edge_ratio"] == pytest.approx(block_edge_ratio(image), abs=1e-9)
    assert record["colourfulness"] == pytest.approx(colourfulness(image), abs=1e-9)
    gamma = next(r for r in results["records"] if r["method"] == "gamma" and r["image"] == "photo0.jpg")
    assert gamma["mean_y"] > record["mean_y"]  # gamma brightens a dark photo
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "### dark (2 images)" in table and "| gamma | 2 |" in table and "| input | 2 |" in table
    assert (out / "niqe_vs_mean_y.png").stat().st_size > 1000
    assert "NIQE" in capsys.readouterr().out

    # resumed: nothing is recomputed, the cell files keep one line per image
    cell = out / "cells" / "dark" / "gamma.jsonl"
    before = cell.read_text(encoding="utf-8")
    assert main(["eval", "scorecard", f"dark={photos}", "--methods", "gamma", "--out", str(out),
                 "--no-progress"]) == 0
    assert cell.read_text(encoding="utf-8") == before

    # a record made by older measures is recomputed
    lines = before.splitlines()
    stale = json.loads(lines[0])
    stale["measures"] = 1
    cell.write_text("\n".join([json.dumps(stale), *lines[1:]]) + "\n", encoding="utf-8")
    assert main(["eval", "scorecard", f"dark={photos}", "--methods", "gamma", "--out", str(out),
                 "--no-progress"]) == 0
    records = [json.loads(line) for line in cell.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 3 and records[-1]["image"] == stale["image"] and records[-1]["measures"] == 2


def test_bad_image_is_reported_and_the_batch_goes_on(photos, tmp_path, capsys):
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "card"
    code = main(["eval", "scorecard", str(photos), "--methods", "gamma", "--out", str(out), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "cannot read" in err
    results = json.loads((out / "scorecard.json").read_text(encoding="utf-8"))
    failed = {(f["method"], f["image"]) for f in results["failures"]}
    assert failed == {(INPUT, "broken.jpg"), ("gamma", "broken.jpg")}
    good = [r for r in results["records"] if not r.get("error")]
    assert len(good) == 4 and all(r["niqe"] is not None for r in good)
    assert {m["method"]: m["n_failed"] for m in results["means"]} == {INPUT: 1, "gamma": 1}


def test_kodak_no_harm_set_reports_psnr_and_brightness_shift(tmp_path):
    root = tmp_path / "kodak"
    root.mkdir()
    for index in range(1, 25):
        Image.fromarray(_photo(index, brightness=0.5)).save(root / f"kodim{index:02d}.png")
    out = tmp_path / "card"
    assert main(["eval", "scorecard", f"kodak24_q90:{root}", "--methods", "gamma", "--out", str(out),
                 "--no-progress"]) == 0
    results = load_scorecard(out)
    means = {m["method"]: m for m in results["means"]}
    assert means[INPUT]["mean_y_shift"] == 0.0 and means[INPUT]["n_within_shift"] == 24
    assert 30 < means[INPUT]["psnr"] < 60  # QF 90 JPEG of the clean photo
    assert means["gamma"]["mean_y_shift"] > 0 and means["gamma"]["psnr"] < means[INPUT]["psnr"]
    assert f"≤ {NO_HARM_SHIFT}" in (out / "table.md").read_text(encoding="utf-8")


def test_score_image_shift_needs_the_input():
    image = _photo(0).astype(np.float32) / 255.0
    scores = score_image(image, image * 0.5, reference=image)
    assert scores["psnr"] is None  # identical to the reference: infinite PSNR is stored as None
    assert scores["mean_y_shift"] == pytest.approx(float(rgb_to_y(image).mean() - rgb_to_y(image * 0.5).mean()))


def test_unknown_set_and_method_are_usage_errors(photos, tmp_path, capsys):
    assert main(["eval", "scorecard", str(photos), "--methods", "nope", "--out", str(tmp_path / "a")]) == 2
    assert main(["eval", "scorecard", "kodak24_q90:/no/such/root", "--out", str(tmp_path / "b")]) == 2
    assert "kodim01.png" in capsys.readouterr().err
