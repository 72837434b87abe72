"""Tests for mlsm.eval.report: marking best / second best, grouping, CSV files."""
from __future__ import annotations

import csv
import json
import math

import pytest

from mlsm.eval.report import (
    ReportError,
    format_markdown_table,
    format_value,
    load_results,
    method_setting,
    order_methods,
    rank_marks,
    write_tables,
)

DEBLOCKERS = ["dncnn3"]


def mean(method, quality, psnr, ssim, psnr_b, set_name="LOL", n=10, n_failed=0):
    return {"method": method, "set": set_name, "quality": quality, "psnr": psnr, "ssim": ssim,
            "psnr_b": psnr_b, "psnr_y": psnr, "ssim_y": ssim, "seconds": 0.5, "n": n, "n_failed": n_failed}


def table_rows(markdown: str, quality: int) -> dict[str, list[str]]:
    """Method -> its cells (after Setting and Method) in the block of ``quality``."""
    block = markdown.split(f"### QF {quality}")[1].split("###")[0]
    rows = {}
    for line in block.strip().splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[1]] = cells[2:]
    return rows


# ----------------------------------------------------------------------------- ranking

def test_rank_marks_dense_ranking_with_ties_and_missing():
    assert rank_marks([1.0, 3.0, 3.0, 2.0, None], 2) == ["", "best", "best", "second", ""]
    assert rank_marks([5.0, 4.0, 4.0, 1.0], 2) == ["best", "second", "second", ""]
    assert rank_marks([7.0], 2) == ["best"]
    assert rank_marks([None, float("nan")], 2) == ["", ""]
    # values equal once rounded to the displayed decimals are ties
    assert rank_marks([0.81234, 0.81231, 0.8], 4) == ["best", "best", "second"]
    assert rank_marks([float("inf"), 30.0, 20.0], 2) == ["best", "second", ""]


def test_markdown_marks_highest_as_best_for_every_metric():
    means = [
        mean("gamma", 90, psnr=20.001, ssim=0.70, psnr_b=18.0),       # PSNR tied best as displayed
        mean("clahe", 90, psnr=20.004, ssim=0.60, psnr_b=21.0),       # PSNR tied best, PSNR-B best
        mean("zero_dce", 90, psnr=19.5, ssim=0.80, psnr_b=19.0),      # PSNR second, SSIM best
        mean("zero_dce+dncnn3", 90, psnr=None, ssim=0.75, psnr_b=20.0),  # PSNR missing
    ]
    markdown = format_markdown_table(means, deblockers=DEBLOCKERS)
    rows = table_rows(markdown, 90)
    assert rows["gamma"] == ["**20.00**", "0.7000", "18.00"]
    assert rows["clahe"] == ["**20.00**", "0.6000", "**21.00**"]
    assert rows["zero_dce"] == ["<u>19.50</u>", "**0.8000**", "19.00"]
    assert rows["zero_dce+dncnn3"] == ["-", "<u>0.7500</u>", "<u>20.00</u>"]
    header = markdown.split("### QF 90")[1].strip().splitlines()[0]
    assert header == "| Setting | Method | LOL PSNR | LOL SSIM | LOL PSNR-B |"


def test_markdown_ranks_each_qf_and_set_separately():
    means = [mean("gamma", 90, 20, 0.5, 20), mean("clahe", 90, 10, 0.4, 10),
             mean("gamma", 60, 10, 0.4, 10), mean("clahe", 60, 20, 0.5, 20),
             mean("gamma", 90, 1, 0.1, 1, set_name="SICE"), mean("clahe", 90, 2, 0.2, 2, set_name="SICE")]
    markdown = format_markdown_table(means, deblockers=DEBLOCKERS)
    assert markdown.index("### QF 90") < markdown.index("### QF 60")
    qf90, qf60 = table_rows(markdown, 90), table_rows(markdown, 60)
    assert qf90["gamma"][:3] == ["**20.00**", "**0.5000**", "**20.00**"]
    assert qf90["gamma"][3:] == ["<u>1.00</u>", "<u>0.1000</u>", "<u>1.00</u>"]
    assert qf60["gamma"][:3] == ["<u>10.00</u>", "<u>0.4000</u>", "<u>10.00</u>"]
    assert qf60["clahe"][:3] == ["**20.00**", "**0.5000**", "**20.00**"]
    assert "| LOL PSNR | LOL SSIM | LOL PSNR-B | SICE PSNR | SICE SSIM | SICE PSNR-B |" in markdown


def test_partial_cells_carry_a_dagger_and_a_footnote():
    markdown = format_markdown_table([mean("gamma", 90, 20, 0.5, 20, n=9, n_failed=1),
                                      mean("clahe", 90, 10, 0.4, 10)], deblockers=DEBLOCKERS)
    assert table_rows(markdown, 90)["gamma"][0] == "**20.00**\u2020"
    assert "fewer images" in markdown


def test_settings_and_row_order():
    assert method_setting("identity", DEBLOCKERS) == "input"
    assert method_setting("lime", DEBLOCKERS) == "classical"
    assert method_setting("zero_dce", DEBLOCKERS) == "enhancement"
    assert method_setting("iat+dncnn3", DEBLOCKERS) == "enhancement + deblocking"
    assert method_setting("dncnn3+iat", DEBLOCKERS) == "deblocking + enhancement"
    assert method_setting("dncnn3", DEBLOCKERS) == "deblocking"
    assert method_setting("mlsm:x.safetensors", DEBLOCKERS) == "mlsm"
    assert method_setting("gamma+clahe", DEBLOCKERS) == "other"
    order = order_methods(["mlsm", "dncnn3+sci", "sci+dncnn3", "sci", "clahe", "identity", "iat"], DEBLOCKERS)
    assert order == ["identity", "clahe", "sci", "iat", "sci+dncnn3", "dncnn3+sci", "mlsm"]
    markdown = format_markdown_table([mean(m, 90, 1, 0.1, 1) for m in ("sci", "iat", "mlsm")],
                                     deblockers=DEBLOCKERS)
    lines = [line for line in markdown.splitlines() if line.startswith("| ") and "Method" not in line]
    assert [line.split("|")[1].strip() for line in lines] == ["enhancement", "", "mlsm"]


def test_format_value():
    assert format_value(None, "psnr") == "-"
    assert format_value(math.inf, "psnr") == "inf"
    assert format_value(0.123456, "ssim") == "0.1235"
    assert format_value(17.384, "psnr_b") == "17.38"


# ----------------------------------------------------------------------------- files

def results_dict() -> dict:
    records = []
    for method, offset in (("gamma", 0.0), ("clahe", 1.0)):
        for quality in (90, 60):
            for image in ("a", "b"):
                records.append({"method": method, "set": "LOL", "quality": quality, "image": image,
                                "psnr": 15.0 + offset, "ssim": 0.5, "psnr_b": 14.0, "psnr_y": 15.5,
                                "ssim_y": 0.55, "seconds": 0.25})
    records.append({"method": "clahe", "set": "LOL", "quality": 60, "image": "c", "psnr": None, "ssim": None,
                    "psnr_b": None, "psnr_y": None, "ssim_y": None, "seconds": None, "error": "RuntimeError: x"})
    means = [mean("gamma", q, 15.0, 0.5, 14.0, n=2) for q in (90, 60)]
    means += [mean("clahe", 90, 16.0, 0.5, 14.0, n=2), mean("clahe", 60, 16.0, 0.5, 14.0, n=2, n_failed=1)]
    return {"format": "mlsm-eval/1", "command": ["mlsm", "eval", "run"], "versions": {"mlsm": "0"},
            "methods": ["gamma", "clahe"], "skipped": [{"method": "zero_dce", "reason": "no weights"}],
            "failures": [{"method": "clahe", "set": "LOL", "quality": 60, "image": "c", "error": "RuntimeError: x"}],
            "sets": [{"name": "LOL", "qualities": [90, 60], "images": 3, "images_in_set": 3, "seed": None}],
            "means": means, "records": records}


def test_write_tables_files_and_columns(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results_dict()))
    written = write_tables(path)
    assert set(written) == {"table.md", "table.csv", "per_image.csv"}
    markdown = (tmp_path / "table.md").read_text()
    assert "zero_dce: no weights" in markdown and "1 image(s) failed" in markdown
    assert table_rows(markdown, 60)["clahe"][0] == "**16.00**\u2020"
    with open(tmp_path / "table.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["method", "set", "quality", "metric", "mean", "n", "n_failed"]
    assert len(rows) == 4 * 6
    psnr_row = next(r for r in rows if r["method"] == "clahe" and r["quality"] == "90" and r["metric"] == "psnr")
    assert float(psnr_row["mean"]) == 16.0 and psnr_row["n"] == "2"
    with open(tmp_path / "per_image.csv", newline="") as stream:
        images = list(csv.DictReader(stream))
    assert list(images[0]) == ["method", "set", "quality", "image", "psnr", "ssim", "psnr_b", "psnr_y", "ssim_y",
                               "seconds", "error"]
    assert len(images) == 9
    assert images[-1]["error"] == "RuntimeError: x" and images[-1]["psnr"] == ""


def test_load_results_errors(tmp_path):
    with pytest.raises(ReportError, match="no such results"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ReportError, match="not valid JSON"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ReportError, match="not an mlsm eval results"):
        load_results(tmp_path / "results.json")
