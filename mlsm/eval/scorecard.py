"""No-reference scorecard: methods on real photos without ground truth -> per-image JSON,
a table of means, a NIQE-vs-brightness scatter.

Real dark photos (DICM, LIME, ...) have no reference, so :mod:`mlsm.eval.runner`'s PSNR and
SSIM cannot be measured. The scorecard reads four no-reference measures together::

    for set, image, method:                 (the input itself is the pseudo-method "input")
        photo -> [downscale to --max-side] -> method -> round to 8 bits ->
          niqe              NIQE, Mittal et al. 2013 (:func:`mlsm.niqe.niqe`; lower is better)
          mean_y            mean BT.601 luma (:func:`mlsm.metrics.rgb_to_y`), in [0, 1]
          block_edge_ratio  visible 8x8 blocking (:func:`mlsm.metrics.block_edge_ratio`; 1 = none)
          colourfulness     Hasler & Suesstrunk 2003 M3 (:func:`mlsm.metrics.colourfulness`)
        -> one JSON line in OUT/cells/<set>/<method>.jsonl (flushed; resume state)
    OUT/scorecard.json  <- every record read back + means + environment
    OUT/table.md, OUT/niqe_vs_mean_y.png     drawn from scorecard.json only

The set ``kodak24_q90`` (``kodak24_q90`` or ``kodak24_q90:ROOT``) is the "do no harm" check:
the 24 clean Kodak24 photos JPEG-compressed at QF 90 (4:2:0) with no darkening. A method
meant for dark photos should leave them nearly alone; for it each record also has ``psnr``
(RGB, against the clean photo) and ``mean_y_shift`` = |mean Y out - mean Y in|, and the table
counts the photos within :data:`NO_HARM_SHIFT` (0.1).

Other set specs: ``[NAME=]PATH[,PATH...]`` with files, folders or glob patterns (the name
defaults to the first folder's name). Resume: a (set, method, image) with a record is not
recomputed unless the record failed, the weights of an mlsm method changed, ``max_side``
differs or the measures changed since (:data:`MEASURES_VERSION`). Methods are built once with :mod:`mlsm.eval.runner`'s cache (a method that cannot
be built is skipped and listed); pipelines share their common first steps as in the runner.
An unreadable image gets an error record for every method, one line on stderr, and the batch
goes on.
"""
from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from mlsm.atomic import write_text_atomic
from mlsm.eval.runner import (EvalConfigError, StepCache, append_record, apply_method, environment, get_method,
                              log_to_stderr, method_cache, method_folder_name, one_line, read_cell, skipped_methods,
                              validate_methods, weights_fingerprint)
from mlsm.io import decode_image_bytes, encode_jpeg, iter_image_files, read_image, to_float32, to_uint8
from mlsm.io.convert import quantize_8bit
from mlsm.metrics import block_edge_ratio, colourfulness, psnr, rgb_to_y
from mlsm.niqe import niqe

__all__ = ["SCORECARD_FORMAT", "SCORECARD_NAME", "INPUT", "KODAK_SET", "NO_HARM_SHIFT", "SCORE_KEYS",
           "ScorecardSet", "resolve_scorecard_sets", "load_scorecard", "table_markdown", "score_image", "run_scorecard", "write_table",
           "plot_niqe_vs_mean_y"]

SCORECARD_FORMAT = "mlsm-scorecard/1"
SCORECARD_NAME = "scorecard.json"
INPUT = "input"
KODAK_SET = "kodak24_q90"
KODAK_QUALITY = 90
NO_HARM_SHIFT = 0.1
MEASURES_VERSION = 2  # bump when a measure's computation changes: cached records are then recomputed
SCORE_KEYS = ("niqe", "mean_y", "block_edge_ratio", "colourfulness")
REFERENCE_KEYS = ("psnr", "mean_y_shift")
SHARED_KODAK = Path(__file__).resolve().parents[3] / "shared" / "data" / "photos" / "kodak24"


class ScorecardSet:
    """A named list of image files; ``reference=True`` for the Kodak no-harm set."""

    def __init__(self, name: str, files: Sequence[Path], reference: bool = False):
        self.name, self.files, self.reference = name, list(files), reference

    def load(self, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        """(input image in [0, 1] float32, clean reference or None)."""
        image, _ = read_image(path)
        if not self.reference:
            return image, None
        jpeg = encode_jpeg(to_uint8(image), KODAK_QUALITY)
        low, _ = decode_image_bytes(jpeg, name=f"{path.name} (QF {KODAK_QUALITY})")
        return low, image


def resolve_scorecard_sets(specs: Sequence[str], max_images: int | None = None) -> list[ScorecardSet]:
    """Turn set specs (module docstring) into :class:`ScorecardSet` objects.

    Raises:
        EvalConfigError: no images for a spec, a missing Kodak folder, or two sets of one name.
    """
    from mlsm.io import ImageError

    sets: list[ScorecardSet] = []
    for spec in specs:
        spec = str(spec)
        if spec == KODAK_SET or spec.startswith(KODAK_SET + ":"):
            root = Path(spec.split(":", 1)[1]) if ":" in spec else SHARED_KODAK
            files = [root / f"kodim{index:02d}.png" for index in range(1, 25)]
            if not all(f.is_file() for f in files):
                raise EvalConfigError(f"{KODAK_SET}: the 24 Kodak24 photos kodim01.png..kodim24.png are not all "
                                      f"in {root} (give {KODAK_SET}:ROOT)")
            name, reference = KODAK_SET, True
        else:
            name, _, paths = spec.partition("=")
            if not paths or "/" in name or "*" in name:  # no NAME= prefix: the whole spec is paths
                name, paths = "", spec
            parts = [p for p in paths.split(",") if p]
            try:
                files = iter_image_files(parts)
            except ImageError as error:
                raise EvalConfigError(f"set {spec!r}: {error}") from None
            if not name:
                first = Path(parts[0]) if parts else Path(".")
                name = (first if first.is_dir() else first.parent).resolve().name or "images"
            reference = False
        if not files:
            raise EvalConfigError(f"set {spec!r}: no images found")
        if any(s.name == name for s in sets):
            raise EvalConfigError(f"two sets are called {name!r}; name them with NAME=PATH")
        sets.append(ScorecardSet(name, files[:max_images] if max_images else files, reference))
    return sets


def _downscale(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """``image`` with its longer side at most ``max_side`` (Lanczos on 8 bits), else unchanged."""
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return image
    from PIL import Image

    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(to_uint8(image)).resize(size, Image.Resampling.LANCZOS)
    return to_float32(np.asarray(small))


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def score_image(image: np.ndarray, input_image: np.ndarray | None = None,
                reference: np.ndarray | None = None) -> dict:
    """The scorecard measures of one (H, W, 3) RGB image in [0, 1] (8-bit values).

    With ``reference`` (the clean photo) also ``psnr``; with ``input_image`` also
    ``mean_y_shift`` = |mean Y(image) - mean Y(input_image)|. Undefined values (NIQE of a
    flat image, ...) are None.
    """
    mean_y = float(rgb_to_y(image).mean())
    scores = {"niqe": _nan_to_none(niqe(image)), "mean_y": mean_y,
              "block_edge_ratio": _nan_to_none(block_edge_ratio(image)),
              "colourfulness": float(colourfulness(image))}
    if reference is not None:
        scores["psnr"] = _nan_to_none(psnr(image, reference))
        scores["mean_y_shift"] = abs(mean_y - float(rgb_to_y(input_image).mean()))
    return scores


def _cell_file(out_dir: Path, set_name: str, method: str) -> Path:
    return Path(out_dir) / "cells" / set_name / f"{method_folder_name(method)}.jsonl"


def _keys(reference: bool) -> tuple[str, ...]:
    return (*SCORE_KEYS, *REFERENCE_KEYS) if reference else SCORE_KEYS


def run_scorecard(methods: Sequence[str], sets: Sequence[str], out_dir: str | Path, peers_dir=None,
                  device: str = "cpu", max_side: int | None = None, max_images: int | None = None,
                  progress: bool = True, log: Callable[[str], None] = log_to_stderr) -> Path:
    """Score the inputs and every method's outputs on every image; returns ``scorecard.json``.

    Args:
        methods: registry names as for ``mlsm eval run``; ``"input"`` is always scored first.
        sets: set specs (module docstring).
        out_dir: output folder; an existing one is resumed.
        peers_dir, device: for the CNN peers.
        max_side: downscale photos whose longer side exceeds this before enhancing (None: never).
        max_images: only the first N images of each set.
        progress: tqdm bar on stderr.
        log: where one-line notices go.
    """
    from tqdm import tqdm

    others = [m for m in methods if m != INPUT]
    methods = [INPUT] + (validate_methods(others) if others else [])
    out_dir = Path(out_dir)
    plan = resolve_scorecard_sets(sets, max_images)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = method_cache(peers_dir, device)
    steps = StepCache([m for m in methods if m != INPUT])
    fingerprints = {m: (None if m == INPUT else weights_fingerprint(m)) for m in methods}

    def is_done(record: Mapping | None, method: str) -> bool:
        return bool(record) and not record.get("error") and record.get("max_side") == max_side \
            and record.get("weights") == fingerprints[method] and record.get("measures") == MEASURES_VERSION

    done = {(s.name, m): read_cell(_cell_file(out_dir, s.name, m)) for s in plan for m in methods}
    total = sum(len(s.files) for s in plan) * len(methods)
    finished = sum(is_done(done[(s.name, m)].get(f.name), m) for s in plan for m in methods for f in s.files)
    bar = tqdm(total=total, initial=finished, disable=not progress, unit="img", file=sys.stderr,
               dynamic_ncols=True, desc="mlsm scorecard")
    try:
        for source in plan:
            for path in source.files:
                todo = [m for m in methods if not is_done(done[(source.name, m)].get(path.name), m)]
                if not todo:
                    continue
                base = {"set": source.name, "image": path.name, "source": str(path), "max_side": max_side,
                        "measures": MEASURES_VERSION}
                try:
                    low, reference = source.load(path)
                    low = _downscale(low, max_side)
                    if reference is not None:
                        reference = _downscale(reference, max_side)
                    low = quantize_8bit(low)
                except Exception as error:  # an unreadable image: every method fails on it, the batch goes on
                    message = one_line(error)
                    log(f"mlsm eval scorecard: cannot read {path}: {message}")
                    for method in todo:
                        record = {**base, "method": method, **{k: None for k in _keys(source.reference)},
                                  "seconds": None, "error": message}
                        append_record(_cell_file(out_dir, source.name, method), record)
                        bar.update(1)
                    continue
                steps.reset(low)
                for method_name in todo:
                    record = {**base, "method": method_name}
                    if fingerprints[method_name] is not None:
                        record["weights"] = fingerprints[method_name]
                    bar.set_postfix_str(f"{source.name}/{path.name} {method_name}", refresh=False)
                    try:
                        if method_name == INPUT:
                            output, seconds = low, 0.0
                        else:
                            method = get_method(cache, method_name, log=log)
                            if method is None:
                                bar.update(1)
                                continue
                            output, seconds = apply_method(method, method_name, low, steps)
                            if not np.all(np.isfinite(output)):
                                raise ValueError("output contains NaN or infinite values")
                            output = quantize_8bit(output)
                        record.update(score_image(output, low, reference))
                        record["seconds"] = seconds
                    except Exception as error:
                        record.update({k: None for k in _keys(source.reference)})
                        record.update(seconds=None, error=one_line(error))
                        log(f"mlsm eval scorecard: {method_name} failed on {source.name}/{path.name}: "
                            f"{record['error']}")
                    append_record(_cell_file(out_dir, source.name, method_name), record)
                    done[(source.name, method_name)][path.name] = record
                    bar.update(1)
    finally:
        bar.close()
    return _write_results(out_dir, methods, plan, skipped_methods(cache), device, peers_dir, max_side)


def _mean(values: Sequence) -> float | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(finite) / len(finite) if finite else None


def _summarize(records: Sequence[Mapping], methods: Sequence[str], plan) -> list[dict]:
    means = []
    for source in plan:
        for method in methods:
            cell = [r for r in records if r["set"] == source.name and r["method"] == method]
            if not cell:
                continue
            good = [r for r in cell if not r.get("error")]
            entry = {"set": source.name, "method": method, "n": len(good), "n_failed": len(cell) - len(good)}
            for key in (*_keys(source.reference), "seconds"):
                entry[key] = _mean([r.get(key) for r in good])
            if source.reference:
                shifts = [r["mean_y_shift"] for r in good if r.get("mean_y_shift") is not None]
                entry["max_mean_y_shift"] = max(shifts) if shifts else None
                entry["n_within_shift"] = sum(s <= NO_HARM_SHIFT for s in shifts)
            means.append(entry)
    return means


def _write_results(out_dir: Path, methods, plan, skipped, device, peers_dir, max_side) -> Path:
    records = []
    for source in plan:
        for method in methods:
            cell = read_cell(_cell_file(out_dir, source.name, method))
            records.extend(cell[f.name] for f in source.files if f.name in cell)
    results = {
        "format": SCORECARD_FORMAT,
        "command": list(sys.argv),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **environment(device),
        "peers_dir": None if peers_dir is None else str(peers_dir),
        "max_side": max_side,
        "methods": list(methods),
        "sets": [{"name": s.name, "images": len(s.files), "reference": s.reference} for s in plan],
        "skipped": [{"method": m, "reason": r} for m, r in skipped.items()],
        "failures": [{k: r.get(k) for k in ("set", "method", "image", "error")} for r in records if r.get("error")],
        "means": _summarize(records, methods, plan),
        "records": records,
    }
    path = out_dir / SCORECARD_NAME
    write_text_atomic(path, json.dumps(results, indent=1) + "\n")
    return path


# ----------------------------------------------------------------------------- table and figure

def load_scorecard(path: str | Path) -> dict:
    """Read a ``scorecard.json`` (or the folder holding it); EvalConfigError if it is not one."""
    path = Path(path)
    path = path / SCORECARD_NAME if path.is_dir() else path
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise EvalConfigError(f"{path}: cannot read the scorecard: {one_line(error)}") from None
    if not isinstance(results, dict) or results.get("format") != SCORECARD_FORMAT:
        raise EvalConfigError(f"{path}: not a {SCORECARD_FORMAT} file")
    return results


def _load(results_or_path) -> dict:
    return dict(results_or_path) if isinstance(results_or_path, Mapping) else load_scorecard(results_or_path)


def _format(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _sort_key(entry: Mapping) -> tuple:
    return (entry["niqe"] is None, entry["niqe"] if entry["niqe"] is not None else 0.0)


def table_markdown(results_or_path) -> str:
    """Means per set and method, each set's rows sorted by NIQE (lower first)."""
    results = _load(results_or_path)
    lines = []
    for entry in results["sets"]:
        rows = sorted((m for m in results["means"] if m["set"] == entry["name"]), key=_sort_key)
        lines.append(f"### {entry['name']} ({entry['images']} images)\n")
        header = "| method | n | NIQE ↓ | mean Y | block-edge ratio | colourfulness | s / image |"
        rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        if entry["reference"]:
            header += f" PSNR (dB) | mean \\|ΔY\\| | max \\|ΔY\\| | \\|ΔY\\| ≤ {NO_HARM_SHIFT} |"
            rule += " ---: | ---: | ---: | ---: |"
        lines += [header, rule]
        for m in rows:
            row = (f"| {m['method']} | {m['n']}" + (f" ({m['n_failed']} failed)" if m["n_failed"] else "")
                   + f" | {_format(m['niqe'], 3)} | {_format(m['mean_y'], 3)} | {_format(m['block_edge_ratio'], 3)}"
                   f" | {_format(m['colourfulness'], 1)} | {_format(m['seconds'], 2)} |")
            if entry["reference"]:
                row += (f" {_format(m['psnr'], 2)} | {_format(m['mean_y_shift'], 3)} |"
                        f" {_format(m['max_mean_y_shift'], 3)} | {m['n_within_shift']}/{m['n']} |")
            lines.append(row)
        lines.append("")
    if results.get("skipped"):
        lines.append("Skipped (could not be built): " + "; ".join(f"{s['method']} ({s['reason']})"
                                                              for s in results["skipped"]))
        lines.append("")
    return "\n".join(lines)


def write_table(results_or_path, out_dir: str | Path) -> Path:
    """Write ``out_dir/table.md`` from the scorecard JSON."""
    path = Path(out_dir) / "table.md"
    write_text_atomic(path, table_markdown(results_or_path))
    return path


def plot_niqe_vs_mean_y(results_or_path, out_path: str | Path) -> Path:
    """Scatter of NIQE against mean output luma: one faint point per image, one large point
    (labelled) per method mean, one panel per set."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mlsm.atomic import atomic_path

    results = _load(results_or_path)
    sets = results["sets"]
    figure = Figure(figsize=(6.5 * len(sets), 5.0))
    FigureCanvasAgg(figure)
    colours = {m: f"C{i % 10}" for i, m in enumerate(results["methods"])}
    for index, entry in enumerate(sets):
        axes = figure.add_subplot(1, len(sets), index + 1)
        for method in results["methods"]:
            points = [(r["mean_y"], r["niqe"]) for r in results["records"]
                      if r["set"] == entry["name"] and r["method"] == method and r.get("niqe") is not None]
            if not points:
                continue
            xs, ys = zip(*points)
            axes.scatter(xs, ys, s=10, alpha=0.25, color=colours[method], linewidths=0)
            mean = next(m for m in results["means"] if m["set"] == entry["name"] and m["method"] == method)
            axes.scatter([mean["mean_y"]], [mean["niqe"]], s=70, color=colours[method], edgecolors="black",
                         label=method, zorder=3)
        axes.set_xlabel("mean output luma Y (BT.601, 0-1)")
        axes.set_ylabel("NIQE (lower is better)")
        axes.set_title(f"{entry['name']}: NIQE vs brightness ({entry['images']} images)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100, format="png", facecolor="white")
    return path
