"""Tables drawn from a run's ``results.json`` (never recomputed): Markdown and CSV.

``table.md`` follows the layout of Zeng et al.'s Tables III-IV: one block per QF (90, 80,
70, 60 - highest first, as in the paper), one row per method grouped by setting, and for
each evaluation set the columns PSNR / SSIM / PSNR-B::

    ### QF 90
    | Setting     | Method          | kodak24 PSNR | kodak24 SSIM | kodak24 PSNR-B | ...
    | enhancement | zero_dce        | 15.67        | 0.6217       | 15.67          |
    |             | sci             | ...

Marking rule (all three metrics are higher-is-better): within one column of one QF block,
values are compared *as displayed* (PSNR and PSNR-B to 2 decimals, SSIM to 4), so a tie is
what a reader sees as equal. Every row holding the highest displayed value is **bold**;
every row holding the next-highest *distinct* value is <u>underlined</u> (dense ranking: two
tied best values give two bold cells and the next value is still underlined). A column with
a single distinct value has no underline. Missing cells ("-") take no part. A mean over
fewer images than the others (some images failed) carries a dagger.

Settings are inferred from the method name (:func:`method_setting`): ``identity`` is the
unprocessed input, ``gamma/he/clahe/lime`` are classical, a peer enhancer ``E`` alone is
*enhancement*, ``E+dncnn3`` *enhancement + deblocking*, ``dncnn3+E`` *deblocking +
enhancement*, names starting with ``mlsm`` are mlsm's own models (last, as "Ours").

``table.csv`` is the long format (method, set, quality, metric, mean, n, n_failed) and
``per_image.csv`` has one row per (method, set, QF, image).
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from mlsm.baselines.spec import MethodSpec
from mlsm.eval.runner import METRIC_KEYS, RESULTS_NAME, write_text_atomic

__all__ = [
    "SETTINGS",
    "TABLE_METRICS",
    "METRIC_LABELS",
    "DECIMALS",
    "ReportError",
    "load_results",
    "method_setting",
    "order_methods",
    "rank_marks",
    "format_value",
    "format_markdown_table",
    "format_runtime_table",
    "write_tables",
]

SETTINGS = ("input", "classical", "enhancement", "enhancement + deblocking", "deblocking + enhancement",
            "deblocking", "other", "mlsm")
TABLE_METRICS = ("psnr", "ssim", "psnr_b")
METRIC_LABELS = {"psnr": "PSNR", "ssim": "SSIM", "psnr_b": "PSNR-B", "psnr_y": "PSNR-Y",
                 "ssim_y": "SSIM-Y", "seconds": "s/img"}
DECIMALS = {"psnr": 2, "ssim": 4, "psnr_b": 2, "psnr_y": 2, "ssim_y": 4, "seconds": 3}
_CLASSICAL = ("gamma", "he", "clahe", "lime")
_MISSING = "-"
_PARTIAL = "\u2020"


class ReportError(ValueError):
    """A results file that cannot be read as mlsm eval results."""


def load_results(path: str | Path) -> dict:
    """Read ``results.json`` (or the run folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_NAME
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such results file (run `mlsm eval run` first)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"{path}: cannot read ({error})") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"{path}: not valid JSON (line {error.lineno}: {error.msg})") from None
    if not isinstance(results, dict) or not str(results.get("format", "")).startswith("mlsm-eval/"):
        raise ReportError(f"{path}: not an mlsm eval results file")
    for key in ("means", "records", "sets", "methods"):
        if not isinstance(results.get(key), list):
            raise ReportError(f"{path}: '{key}' must be a list")
    return results


# ----------------------------------------------------------------------------- settings

def _deblockers() -> tuple[str, ...]:
    from mlsm.baselines.registry import peer_deblockers

    return tuple(peer_deblockers())


def method_setting(name: str, deblockers: Sequence[str] | None = None) -> str:
    """The paper's setting a method belongs to, inferred from its name (one of :data:`SETTINGS`).

    >>> method_setting("zero_dce+dncnn3", ["dncnn3"]), method_setting("dncnn3+iat", ["dncnn3"])
    ('enhancement + deblocking', 'deblocking + enhancement')
    >>> method_setting("mlsm:run/model.safetensors", ["dncnn3"]), method_setting("clahe", ["dncnn3"])
    ('mlsm', 'classical')
    """
    deblockers = tuple(_deblockers() if deblockers is None else deblockers)
    spec = MethodSpec.parse(name)
    steps = spec.steps
    if spec.mlsm_steps:
        return "mlsm"
    if len(steps) == 1:
        if name == "identity":
            return "input"
        if name in _CLASSICAL:
            return "classical"
        return "deblocking" if name in deblockers else "enhancement"
    if len(steps) == 2:
        first, last = steps[0] in deblockers, steps[1] in deblockers
        if last and not first:
            return "enhancement + deblocking"
        if first and not last:
            return "deblocking + enhancement"
    return "other"


def order_methods(methods: Iterable[str], deblockers: Sequence[str] | None = None) -> list[str]:
    """Methods grouped by setting (order of :data:`SETTINGS`), first-seen order inside a group."""
    deblockers = tuple(_deblockers() if deblockers is None else deblockers)
    unique = list(dict.fromkeys(methods))
    return sorted(unique, key=lambda m: (SETTINGS.index(method_setting(m, deblockers)), unique.index(m)))


# ----------------------------------------------------------------------------- marking

def format_value(value, metric: str) -> str:
    """A mean as displayed in the tables ("-" when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{DECIMALS.get(metric, 4)}f}"


def rank_marks(values: Sequence[float | None], decimals: int) -> list[str]:
    """"best", "second" or "" for each value (higher is better), comparing rounded values.

    Dense ranking of the distinct rounded values: all values equal to the highest are
    "best", all equal to the next-highest distinct value are "second". None/NaN get "".

    >>> rank_marks([1.0, 3.0, 3.0, 2.0, None], 2)
    ['', 'best', 'best', 'second', '']
    >>> rank_marks([0.5, 0.5], 4)
    ['best', 'best']
    """
    def key(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value if math.isinf(value) else round(float(value), decimals)

    keys = [key(v) for v in values]
    distinct = sorted({k for k in keys if k is not None}, reverse=True)
    best = distinct[0] if distinct else None
    second = distinct[1] if len(distinct) > 1 else None
    return ["best" if k is not None and k == best else "second" if k is not None and k == second else ""
            for k in keys]


def _mark(text: str, mark: str) -> str:
    if mark == "best":
        return f"**{text}**"
    if mark == "second":
        return f"<u>{text}</u>"
    return text


def _index_means(means: Iterable[Mapping]) -> dict[tuple[str, str, int], Mapping]:
    return {(m["method"], m["set"], int(m["quality"])): m for m in means}


def format_markdown_table(means: Sequence[Mapping], methods: Sequence[str] | None = None,
                          sets: Sequence[str] | None = None, qualities: Sequence[int] | None = None,
                          metrics: Sequence[str] = TABLE_METRICS,
                          deblockers: Sequence[str] | None = None) -> str:
    """Markdown blocks, one per QF, shaped like the paper's Tables III-IV.

    Args:
        means: entries with ``method, set, quality``, one key per metric (None if missing)
            and optionally ``n`` / ``n_failed`` (``results["means"]``).
        methods, sets: rows and column groups (default: first-seen order; methods grouped
            by :func:`method_setting`).
        qualities: QF blocks (default: every QF present, highest first).
        metrics: the columns of each set.
        deblockers: names of the deblocking peers (default: the registry's).

    Best value of a column in **bold**, second best <u>underlined</u> (see the module
    docstring for ties).
    """
    means = list(means)
    index = _index_means(means)
    deblockers = tuple(_deblockers() if deblockers is None else deblockers)
    methods = order_methods(methods if methods is not None else [m["method"] for m in means], deblockers)
    sets = list(dict.fromkeys(sets if sets is not None else [m["set"] for m in means]))
    if qualities is None:
        qualities = sorted({int(m["quality"]) for m in means}, reverse=True)
    blocks = []
    any_partial = False
    for quality in qualities:
        columns = [(s, metric) for s in sets for metric in metrics]
        header = ["Setting", "Method"] + [f"{s} {METRIC_LABELS.get(metric, metric)}" for s, metric in columns]
        rows = [[method_setting(m, deblockers), m] for m in methods]
        for set_name, metric in columns:
            values = [index.get((m, set_name, int(quality)), {}).get(metric) for m in methods]
            marks = rank_marks(values, DECIMALS.get(metric, 4))
            for row, method, value, mark in zip(rows, methods, values, marks):
                entry = index.get((method, set_name, int(quality)), {})
                text = _mark(format_value(value, metric), mark)
                if value is not None and entry.get("n_failed"):
                    text += _PARTIAL
                    any_partial = True
                row.append(text)
        previous = None
        for row in rows:  # show a setting once, on the first row of its group
            setting, row[0] = row[0], (row[0] if row[0] != previous else "")
            previous = setting
        lines = [f"### QF {quality}", "",
                 "| " + " | ".join(header) + " |",
                 "|" + "|".join(["---", "---"] + ["---:"] * len(columns)) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks)
    if any_partial:
        text += f"\n\n{_PARTIAL} mean over fewer images: some images failed (see per_image.csv)."
    return text + "\n"


def format_runtime_table(means: Sequence[Mapping], methods: Sequence[str] | None = None,
                         sets: Sequence[str] | None = None, deblockers: Sequence[str] | None = None) -> str:
    """Mean seconds per image of each method on each set (over all QFs), as Markdown."""
    deblockers = tuple(_deblockers() if deblockers is None else deblockers)
    methods = order_methods(methods if methods is not None else [m["method"] for m in means], deblockers)
    sets = list(dict.fromkeys(sets if sets is not None else [m["set"] for m in means]))
    lines = ["| Method | " + " | ".join(f"{s} s/img" for s in sets) + " |",
             "|---|" + "|".join(["---:"] * len(sets)) + "|"]
    for method in methods:
        cells = []
        for set_name in sets:
            entries = [m for m in means if m["method"] == method and m["set"] == set_name
                       and m.get("seconds") is not None and m.get("n")]
            total = sum(m["seconds"] * m["n"] for m in entries)
            count = sum(m["n"] for m in entries)
            cells.append(format_value(total / count, "seconds") if count else _MISSING)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- files

def _header(results: Mapping) -> str:
    versions = results.get("versions", {})
    command = results.get("command") or []
    lines = ["# mlsm eval results", ""]
    if command:
        lines.append("Command: `" + " ".join(map(str, command)) + "`  ")
    lines.append("Run: " + ", ".join(f"{k} {v}" for k, v in versions.items())
                 + f"; {results.get('platform', '?')}; {results.get('threads', '?')} threads; "
                   f"device {results.get('device', '?')}; {results.get('timestamp', '?')}")
    lines += ["", "Sets:"]
    for entry in results.get("sets", []):
        seed = f", seed {entry['seed']}" if entry.get("seed") is not None else ""
        lines.append(f"- {entry['name']}: {entry.get('kind') or '?'} set, {entry.get('images')} of "
                     f"{entry.get('images_in_set')} images, QF {', '.join(map(str, entry.get('qualities', [])))}"
                     f"{seed}; {entry.get('root')}")
    if results.get("skipped"):
        lines += ["", "Skipped (could not be built):"]
        lines += [f"- {s['method']}: {s['reason']}" for s in results["skipped"]]
    if results.get("failures"):
        lines += ["", f"{len(results['failures'])} image(s) failed; see per_image.csv (column error)."]
    lines += ["", "Means over each set's images. PSNR and SSIM on RGB, PSNR-B on Y (8x8 grid). "
                  "Best per column in **bold**, second best <u>underlined</u> (values compared as "
                  "displayed; ties all marked).", "", ""]
    return "\n".join(lines)


def _csv_text(rows: Iterable[Sequence], header: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else (repr(value) if isinstance(value, float) else value)
                         for value in row])
    return buffer.getvalue()


def write_tables(results_json: str | Path | Mapping, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write ``table.md``, ``table.csv`` and ``per_image.csv`` from ``results.json``.

    Args:
        results_json: the results file, its run folder, or the loaded dict.
        out_dir: where to write (default: the folder of ``results.json``).

    Returns:
        ``{"table.md": path, "table.csv": path, "per_image.csv": path}``.
    """
    if isinstance(results_json, Mapping):
        results = dict(results_json)
        if out_dir is None:
            raise ReportError("out_dir is needed when results are passed as a dict")
    else:
        source = Path(results_json)
        results = load_results(source)
        if out_dir is None:
            out_dir = source if source.is_dir() else source.parent
    out_dir = Path(out_dir)
    means = results["means"]
    methods = [m for m in results["methods"] if any(e["method"] == m for e in means)]
    sets = [s["name"] for s in results["sets"]]
    qualities = sorted({q for s in results["sets"] for q in s.get("qualities", [])}, reverse=True)
    deblockers = _deblockers()

    markdown = _header(results) + format_markdown_table(means, methods, sets, qualities, deblockers=deblockers)
    markdown += "\n## Time per image\n\n" + format_runtime_table(means, methods, sets, deblockers)
    paths = {"table.md": write_text_atomic(out_dir / "table.md", markdown)}

    keys = (*METRIC_KEYS, "seconds")
    long_rows = [(m["method"], m["set"], m["quality"], key, m.get(key), m.get("n"), m.get("n_failed"))
                 for m in means for key in keys]
    paths["table.csv"] = write_text_atomic(
        out_dir / "table.csv",
        _csv_text(long_rows, ("method", "set", "quality", "metric", "mean", "n", "n_failed")))
    image_rows = [(r["method"], r["set"], r["quality"], r["image"], *(r.get(k) for k in keys), r.get("error"))
                  for r in results["records"]]
    paths["per_image.csv"] = write_text_atomic(
        out_dir / "per_image.csv",
        _csv_text(image_rows, ("method", "set", "quality", "image", *keys, "error")))
    return paths
