"""Benchmark runner: methods x evaluation sets x JPEG qualities -> per-image records in JSON.

Zeng et al. (Sec. IV-E, Tables III-IV) report the mean PSNR, SSIM and PSNR-B of each method
on each test set at QF 90, 80, 70 and 60. :func:`run_eval` measures exactly those cells
(plus PSNR and SSIM on Y, see :func:`mlsm.metrics.compute_metrics`) and the time per image::

    for set, image, QF, method:                     (each method is built once, lazily)
        low = read(set/qfQ/image.jpg) -> method -> round to 8 bits -> compute_metrics(., gt)
        -> one JSON line in RUN/cells/<set>/<method>/qf<Q>.jsonl (flushed)
    RUN/results.json  <- every record read back from the cell files + means + environment

Layout of a run folder::

    RUN/results.json                               what tables and plots are drawn from
    RUN/cells/<set>/set.json                       fingerprint of the set the cells belong to
    RUN/cells/<set>/<method>/qf<Q>.jsonl           one line per finished image (resume state)
    RUN/sets/<name>/                               ``layout:ROOT`` sets converted once
    RUN/images/<set>/<method>/qf<Q>/<image>.png    outputs (``save_images=True``)

Choices made here:

* Outputs are rounded to 8 bits before measuring, as a saved PNG would be (the paper scores
  saved outputs); a saved image and its record therefore describe the same pixels.
* Resume: a cell (method, set, QF, image) with a record in its ``.jsonl`` is not recomputed.
  Records are JSON floats, which round-trip exactly, so a resumed run gives the same numbers
  as an uninterrupted one. A record with an ``"error"`` is *retried* on the next run (the
  cause may have been fixed); a half-written last line (killed mid-write) is dropped. If the
  evaluation set's manifest changed since the cells were written, the run stops
  (:class:`EvalConfigError`) instead of mixing two sets.
* A method that raises on one image gets a record with ``"error": "Type: message"`` and no
  metrics; the run goes on. A method that cannot be built (missing peer weights, a missing
  mlsm checkpoint) is reported once on stderr and listed under ``"skipped"`` with the reason,
  unless ``strict=True`` (then :class:`MethodBuildError`). An *unknown* name is a usage error
  and is rejected before anything runs.
* Pipelines share their common first steps on the same input (``dncnn3`` of every
  ``dncnn3+E``, ``E`` of ``E+dncnn3`` after ``E`` alone); outputs and times are those of
  running each pipeline alone (see :class:`StepCache`).
* Each method gets one untimed warm-up call on a small image after it is built, so the
  first timed image does not carry one-off costs (allocations, kernel selection).

Set sources (``sets`` entries): an evaluation-set folder holding ``manifest.json`` (made by
``mlsm data synth`` / ``mlsm data pairs``), or ``layout:ROOT`` (``lol:/data/LOL``,
``lsrw:...``, ``sice:...``, ``rellisur:...``, ``auto:...``) converted once with
:func:`mlsm.data.evalset.paired_folder_evalset`. Either may be prefixed ``NAME=`` to choose
the set's name in the tables (default: the folder name).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from mlsm.atomic import write_text_atomic
from mlsm.baselines.classical import validate_image
from mlsm.baselines.pipelines import Pipeline
from mlsm.baselines.cache import MethodCache
from mlsm.baselines.registry import UnknownMethodError, build_method, list_methods
from mlsm.baselines.spec import PIPELINE_SEPARATOR, MethodSpec, is_mlsm_spec
from mlsm.eval.sources import EvalConfigError, EvalSource, check_fingerprint, manifest_digest, qualities_for, resolve_sets
from mlsm.io import read_image, write_image
from mlsm.io.convert import quantize_8bit, to_uint8
from mlsm.metrics import average, compute_metrics

__all__ = [
    "RESULTS_FORMAT",
    "RESULTS_NAME",
    "METRIC_KEYS",
    "EvalConfigError",
    "MethodBuildError",
    "EvalSource",
    "run_eval",
    "validate_methods",
    "method_cache",
    "get_method",
    "skipped_methods",
    "StepCache",
    "apply_method",
    "append_record",
    "one_line",
    "log_to_stderr",
    "resolve_sets",
    "method_folder_name",
    "cell_path",
    "output_image_path",
    "read_cell",
    "summarize",
    "environment",
    "write_text_atomic",
]

RESULTS_FORMAT = "mlsm-eval/1"
RESULTS_NAME = "results.json"
METRIC_KEYS = ("psnr", "ssim", "psnr_b", "psnr_y", "ssim_y")
_WARMUP_SIDE = 32


class MethodBuildError(RuntimeError):
    """A method could not be built and the run is ``strict``."""


# ----------------------------------------------------------------------------- small helpers

def log_to_stderr(message: str) -> None:
    """Print a notice on stderr without breaking an active tqdm bar."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def one_line(error: BaseException) -> str:
    """``"Type: message"`` on one line (a record's ``"error"``, a skipped method's reason)."""
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text}"


def method_folder_name(method: str) -> str:
    """A folder name for ``method``: itself if file-name safe, else a cleaned name + short hash.

    ``"zero_dce+dncnn3"`` stays as is; ``"mlsm:/x/y.safetensors"`` becomes
    ``"mlsm_x_y.safetensors-<8 hex>"`` so that two different paths never share a folder.

    >>> method_folder_name("zero_dce+dncnn3")
    'zero_dce+dncnn3'
    >>> method_folder_name("mlsm:a/b").startswith("mlsm_a_b-")
    True
    """
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", method).strip("._") or "method"
    if cleaned == method:
        return method
    return f"{cleaned}-{hashlib.sha1(method.encode('utf-8')).hexdigest()[:8]}"


def cell_path(out_dir: Path, set_name: str, method: str, quality: int) -> Path:
    """``out_dir/cells/<set>/<method folder>/qf<Q>.jsonl``."""
    return Path(out_dir) / "cells" / set_name / method_folder_name(method) / f"qf{int(quality)}.jsonl"


def output_image_path(out_dir: Path, set_name: str, method: str, quality: int, image: str) -> Path:
    """``out_dir/images/<set>/<method folder>/qf<Q>/<image>.png``."""
    return Path(out_dir) / "images" / set_name / method_folder_name(method) / f"qf{int(quality)}" / f"{image}.png"


# ----------------------------------------------------------------------------- methods

def validate_methods(methods: Sequence[str]) -> list[str]:
    """Check every name (and every step of an ``a+b`` pipeline) is known; drop duplicates.

    Known: :func:`mlsm.baselines.registry.list_methods` and ``mlsm`` / ``mlsm:<weights>``.
    Raises :class:`EvalConfigError` listing the known names.
    """
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise EvalConfigError("no methods given (pass --methods NAME... or --standard)")
    known = list_methods()
    known_set = set(known)
    unique: list[str] = []
    for name in methods:
        spec = MethodSpec.parse(str(name))
        for step in spec.steps:
            if step in known_set or is_mlsm_spec(step):
                continue
            singles = [k for k in known if PIPELINE_SEPARATOR not in k]
            raise EvalConfigError(
                f"unknown method {step!r}" + (f" in {spec.name!r}" if step != spec.name else "")
                + f"; known: {', '.join(singles)}, mlsm[:<weights or zoo tag>], and pipelines 'a+b' of these")
        if spec.name not in unique:
            unique.append(spec.name)
    return unique


def _build(name: str, peers_dir=None, device: str = "cpu"):
    return build_method(name, peers_dir=peers_dir, device=device)  # looked up here at each call


def _warm_up(method) -> None:
    """One untimed call on a small image; a failure shows up again (and is recorded) on real images."""
    try:
        method(np.full((_WARMUP_SIDE, _WARMUP_SIDE, 3), 0.1, dtype=np.float32))
    except Exception:
        pass


def method_cache(peers_dir=None, device: str = "cpu") -> MethodCache:
    """The shared :class:`~mlsm.baselines.cache.MethodCache`, with eval's warm-up call on
    every method it builds."""
    return MethodCache(peers_dir, device, prepare=_warm_up, build=_build)


def get_method(cache: MethodCache, name: str, strict: bool = False, log: Callable[[str], None] = log_to_stderr):
    """The method, or None when it cannot be built (reported once through ``log``; the reason
    is in :func:`skipped_methods`).

    Raises:
        EvalConfigError: an unknown name.
        MethodBuildError: it cannot be built and ``strict``.
    """
    reported = name in cache.failures
    try:
        return cache.get(name)
    except UnknownMethodError as error:
        raise EvalConfigError(str(error)) from None
    except Exception as error:  # missing weights, bad checkpoint, ...: skip this method
        reason = one_line(error)
        if strict:
            raise MethodBuildError(f"method {name!r} cannot be built: {reason}") from error
        if not reported:
            log(f"mlsm eval: skipping method {name!r}: {reason}")
        return None


def skipped_methods(cache: MethodCache) -> dict[str, str]:
    """Methods that could not be built, with the reason (one line each)."""
    return {name: one_line(error) for name, error in cache.failures.items()}


# ----------------------------------------------------------------------------- sets

def read_cell(path: Path) -> dict[str, dict]:
    """Records of one cell file, by image name (the last line of an image wins).

    Lines that are not valid JSON objects with an ``"image"`` (a write cut short by a kill)
    are dropped; when any was, the file is rewritten without them so appends stay clean.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    records: dict[str, dict] = {}
    damaged = False
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            damaged = True
            continue
        if not isinstance(record, dict) or not isinstance(record.get("image"), str):
            damaged = True
            continue
        records[record["image"]] = record
    if damaged or (text and not text.endswith("\n")):
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records.values()))
    return records


def weights_fingerprint(method_name: str) -> str | None:
    """First 16 hex digits of the sha256 of an mlsm method's weight file, with the inference
    revision (``@3``, :data:`mlsm.inference.options.INFERENCE_REVISION`): cells computed by
    other weights or an older default inference are recomputed. None for other methods or when
    the file cannot be found (building the method will then report it)."""
    mlsm_steps = MethodSpec.parse(method_name).mlsm_steps
    if not mlsm_steps:
        return None
    from mlsm.models.weights import sha256_of
    from mlsm.models.zoo import mlsm_spec_target, resolve_weights

    digests = []
    for step in mlsm_steps:
        try:
            digests.append(sha256_of(resolve_weights(mlsm_spec_target(step))[0])[:16])
        except (FileNotFoundError, OSError):
            return None
    from mlsm.inference.options import INFERENCE_REVISION

    return "+".join(digests) + f"@{INFERENCE_REVISION}"


def append_record(path: Path, record: Mapping) -> None:
    """Append ``record`` as one JSON line to ``path`` (flushed: a kill loses at most this line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(record) + "\n")
        stream.flush()


# ----------------------------------------------------------------------------- one cell

class StepCache:
    """Outputs of pipeline prefixes on the current input, shared between methods.

    ``dncnn3+zero_dce``, ``dncnn3+sci``, ... all start by deblocking the same input, and
    ``zero_dce+dncnn3`` starts with what ``zero_dce`` alone has just computed. Each prefix
    that a later pipeline needs (``wanted``) is kept as (float32 image in [0, 1], seconds)
    while one input is being processed, exactly as :class:`~mlsm.baselines.pipelines.Pipeline`
    would pass it on (clipped float32). A pipeline's time is the sum of its steps' times,
    cached ones included, so it matches running the pipeline alone.
    """

    def __init__(self, methods: Sequence[str], max_bytes: int = 2 << 30):
        self.wanted = {prefix for m in methods for prefix in MethodSpec.parse(m).prefixes()}
        self.max_bytes = max_bytes
        self.entries: dict[str, tuple[np.ndarray, float]] = {}
        self.enabled = False

    def reset(self, image: np.ndarray) -> None:
        """Forget the previous input's outputs; cache nothing for images that would not fit."""
        self.entries = {}
        self.enabled = bool(self.wanted) and image.nbytes * len(self.wanted) <= self.max_bytes

    def put(self, key: str, image: np.ndarray, seconds: float) -> None:
        if self.enabled and key in self.wanted:
            self.entries[key] = (image, seconds)


def _as_step_output(output, shape: tuple[int, ...], what: str) -> np.ndarray:
    output = np.asarray(output)
    if output.shape != shape:
        raise ValueError(f"{what}: output shape {output.shape} differs from input shape {shape}")
    return np.clip(output.astype(np.float32, copy=False), 0.0, 1.0)


def apply_method(method, method_name: str, low: np.ndarray, cache: StepCache) -> tuple[np.ndarray, float]:
    """Run ``method`` on ``low`` (timed), reusing cached pipeline prefixes."""
    spec = MethodSpec.parse(method_name)
    names = spec.steps
    if not isinstance(method, Pipeline) or len(method.steps) != len(names):
        start = time.perf_counter()
        output = method(low)
        seconds = time.perf_counter() - start
        output = _as_step_output(output, low.shape, method_name)
        cache.put(method_name, output, seconds)
        return output, seconds
    image, seconds, first = validate_image(low), 0.0, 0
    for count in range(len(names) - 1, 0, -1):  # the longest prefix already computed
        cached = cache.entries.get(spec.prefix(count))
        if cached is not None:
            (image, seconds), first = cached, count
            break
    for index in range(first, len(names)):
        start = time.perf_counter()
        output = method.steps[index](image)
        seconds += time.perf_counter() - start
        image = _as_step_output(output, low.shape, f"{method_name}: step {names[index]}")
        if index < len(names) - 1:
            cache.put(spec.prefix(index + 1), image, seconds)
    return image, seconds


def _run_cell(method, method_name: str, low: np.ndarray, gt: np.ndarray,
              cache: StepCache) -> tuple[dict, np.ndarray]:
    """Metrics and the 8-bit output of ``method`` on ``low``; raises what the method raises."""
    output, seconds = apply_method(method, method_name, low, cache)
    if not np.all(np.isfinite(output)):
        raise ValueError("output contains NaN or infinite values")
    scores = compute_metrics(quantize_8bit(output), gt)
    return {**{key: float(scores[key]) for key in METRIC_KEYS}, "seconds": seconds}, to_uint8(output)


# ----------------------------------------------------------------------------- summary

def summarize(records: Iterable[Mapping], methods: Sequence[str], sets: Sequence[str],
              qualities: Mapping[str, Sequence[int]]) -> list[dict]:
    """Mean of every metric and of ``seconds`` per (method, set, QF), in that order.

    Each entry: ``method, set, quality, n`` (images measured), ``n_failed`` and one key per
    metric (None when no image succeeded). Means use :func:`mlsm.metrics.average` (an
    infinite PSNR makes the mean infinite).
    """
    grouped: dict[tuple, list[Mapping]] = {}
    for record in records:
        grouped.setdefault((record["method"], record["set"], int(record["quality"])), []).append(record)
    means = []
    for method in methods:
        for set_name in sets:
            for quality in qualities[set_name]:
                cell = grouped.get((method, set_name, int(quality)), [])
                good = [r for r in cell if not r.get("error")]
                entry = {"method": method, "set": set_name, "quality": int(quality),
                         "n": len(good), "n_failed": len(cell) - len(good)}
                if not cell:
                    continue
                keys = (*METRIC_KEYS, "seconds")
                if good:
                    entry.update(average([{k: float(r[k]) for k in keys} for r in good]))
                else:
                    entry.update({k: None for k in keys})
                means.append(entry)
    return means


def environment(device: str = "cpu") -> dict:
    """Versions, platform and thread count recorded with every run."""
    import PIL
    import torch

    from mlsm import __version__

    return {
        "versions": {"mlsm": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "pillow": PIL.__version__, "python": platform.python_version()},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": device,
    }


def _set_record(source: EvalSource, qualities: Sequence[int], count: int) -> dict:
    manifest = source.evalset.manifest
    return {"name": source.name, "spec": source.spec, "root": str(source.evalset.root.resolve()),
            "kind": manifest.get("kind"), "layout": manifest.get("layout"), "seed": manifest.get("seed"),
            "source": manifest.get("source"), "manifest_command": manifest.get("command"),
            "manifest_sha256": manifest_digest(source.evalset), "qualities": list(qualities),
            "images": count, "images_in_set": len(source.evalset)}


# ----------------------------------------------------------------------------- the run

def run_eval(methods: Sequence[str], sets: Sequence[str | Path], out_dir: str | Path,
             qualities: Sequence[int] | None = None, peers_dir=None, device: str = "cpu",
             max_images: int | None = None, save_images: bool = False, progress: bool = True,
             strict: bool = False, log: Callable[[str], None] = log_to_stderr) -> Path:
    """Evaluate ``methods`` on ``sets`` at ``qualities``; returns the path of ``results.json``.

    Args:
        methods: registry names (``"clahe"``, ``"zero_dce+dncnn3"``, ``"mlsm:PATH"``...).
        sets: evaluation-set folders or ``[NAME=]layout:ROOT`` (see the module docstring).
        out_dir: the run folder; an existing one is resumed.
        qualities: QFs to evaluate (each must be in every set); None: all of each set's.
        peers_dir: folder of the peers' official weights (None: ``MLSM_PEERS_DIR``).
        device: torch device of the CNN methods.
        max_images: only the first N images of each set.
        save_images: also write every output to ``out_dir/images/...`` (PNG, 8 bit).
        progress: show a tqdm progress bar on stderr.
        strict: raise :class:`MethodBuildError` instead of skipping a method that cannot be built.
        log: where one-line notices (skipped methods) go; stderr by default.

    Raises:
        EvalConfigError: unknown method, bad set source, missing QF, cells of another set version.
        EvalSetError, DatasetError: an unreadable set.
    """
    from tqdm import tqdm

    methods = validate_methods(methods)
    out_dir = Path(out_dir)
    if max_images is not None and max_images < 1:
        raise EvalConfigError(f"max_images must be at least 1, got {max_images}")
    if qualities is not None:
        qualities = [int(q) for q in qualities]
        if not qualities:
            raise EvalConfigError("qualities: give at least one QF or None for all")
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = resolve_sets(sets, out_dir, qualities)
    plan = []  # (source, qualities, items)
    for source in sources:
        items = source.evalset.items[:max_images] if max_images else source.evalset.items
        plan.append((source, qualities_for(source, qualities), items))
    for source, _, _ in plan:
        check_fingerprint(out_dir, source)

    cache = method_cache(peers_dir, device)
    steps = StepCache(methods)
    done: dict[tuple[str, str, int], dict[str, dict]] = {}
    fingerprints = {method: weights_fingerprint(method) for method in methods}
    for source, set_qualities, _ in plan:
        for method in methods:
            stale = 0
            for quality in set_qualities:
                cell = read_cell(cell_path(out_dir, source.name, method, quality))
                good = {k: r for k, r in cell.items() if not r.get("error")}
                if fingerprints[method] is not None:  # weights replaced since: recompute those cells
                    stale += sum(r.get("weights") != fingerprints[method] for r in good.values())
                    good = {k: r for k, r in good.items() if r.get("weights") == fingerprints[method]}
                done[(source.name, method, quality)] = good
            if stale:
                log(f"mlsm eval: {method}: its weights changed since {stale} stored result(s) on "
                    f"{source.name} were computed; recomputing them")
    total = sum(len(items) * len(q) * len(methods) for _, q, items in plan)
    finished = sum(1 for source, q_list, items in plan for method in methods for quality in q_list
                   for item in items if item.name in done[(source.name, method, quality)])
    bar = tqdm(total=total, initial=finished, disable=not progress, unit="img", dynamic_ncols=True,
               file=sys.stderr, desc="mlsm eval")
    try:
        for source, set_qualities, items in plan:
            for item in items:
                gt = None
                for quality in set_qualities:
                    low = None
                    for method_name in methods:
                        finished_cells = done[(source.name, method_name, quality)]
                        image_path = output_image_path(out_dir, source.name, method_name, quality, item.name)
                        has_record = item.name in finished_cells
                        if has_record and not (save_images and not image_path.is_file()):
                            continue
                        method = get_method(cache, method_name, strict, log)
                        if method is None:
                            if not has_record:
                                bar.update(1)
                            continue
                        bar.set_postfix_str(f"{source.name} qf{quality} {method_name}", refresh=False)
                        record = {"method": method_name, "set": source.name, "quality": int(quality),
                                  "image": item.name}
                        if fingerprints[method_name] is not None:
                            record["weights"] = fingerprints[method_name]
                        try:
                            if gt is None:
                                gt, _ = read_image(item.gt)
                            if low is None:
                                low, _ = read_image(item.low_path(quality))
                                steps.reset(low)
                            scores, output = _run_cell(method, method_name, low, gt, steps)
                        except Exception as error:  # one image failing must not stop the run
                            if has_record:
                                continue  # only the image was missing; keep the good record
                            record.update({key: None for key in (*METRIC_KEYS, "seconds")})
                            record["error"] = one_line(error)
                            log(f"mlsm eval: {method_name} failed on {source.name}/{item.name} "
                                f"QF {quality}: {record['error']}")
                        else:
                            if save_images:
                                write_image(image_path, output, overwrite=True)
                            if has_record:
                                continue
                            record.update(scores)
                            finished_cells[item.name] = record
                        append_record(cell_path(out_dir, source.name, method_name, quality), record)
                        bar.update(1)
    finally:
        bar.close()

    return _write_results(out_dir, methods, plan, skipped_methods(cache), device, peers_dir, save_images)


def _write_results(out_dir: Path, methods: list[str], plan, skipped: Mapping[str, str], device: str,
                   peers_dir, save_images: bool) -> Path:
    """Read every cell file back (the on-disk state) and write ``results.json``."""
    records = []
    for source, set_qualities, items in plan:
        names = [item.name for item in items]
        for method in methods:
            for quality in set_qualities:
                cell = read_cell(cell_path(out_dir, source.name, method, quality))
                records.extend(cell[name] for name in names if name in cell)
    set_names = [source.name for source, _, _ in plan]
    qualities = {source.name: list(q) for source, q, _ in plan}
    failures = [{k: r[k] for k in ("method", "set", "quality", "image", "error")}
                for r in records if r.get("error")]
    results = {
        "format": RESULTS_FORMAT,
        "command": list(sys.argv),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **environment(device),
        "peers_dir": None if peers_dir is None else str(peers_dir),
        "save_images": bool(save_images),
        "methods": list(methods),
        "sets": [_set_record(source, q, len(items)) for source, q, items in plan],
        "skipped": [{"method": m, "reason": reason} for m, reason in skipped.items()],
        "failures": failures,
        "means": summarize(records, methods, set_names, qualities),
        "records": records,
    }
    path = out_dir / RESULTS_NAME
    write_text_atomic(path, json.dumps(results, indent=1, allow_nan=True) + "\n")
    return path
