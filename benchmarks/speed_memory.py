"""Speed and memory of mlsm and the comparison methods on CPU, one fresh process per cell.

For every method (a name of :func:`mlsm.baselines.registry.build_method`) and image size, a
child process builds the method, runs one warm-up call on a 256 x 256 image, then times
``--repeats`` calls on a synthetic dark photo of that size; it reports the median time, the
time per megapixel, the peak resident set (``ru_maxrss``, so the peak belongs to that one
measurement) and the resident set after building the method (the model's own footprint).
Zero-DCE is always measured too, so every method gets a time ratio to it at the same size::

    parent: sizes x methods --spawn--> child: build -> warm-up -> time N calls -> JSON line
                                          |
    results.json (raw numbers) --> results.md (tables, command, CPU, threads, torch)

Run ``python benchmarks/speed_memory.py --help``; see ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mlsm.baselines.spec import MethodSpec, join_steps

REFERENCE_METHOD = "zero_dce"
DEFAULT_SIZES = ["0.3", "1080p", "2", "12"]
NAMED_SIZES = {  # token -> (width, height); MP sizes at 4:3 as a phone or camera writes them
    "0.3": (640, 480), "1080p": (1920, 1080), "2": (1632, 1224), "12": (4000, 3000),
    "24": (6000, 4000),
}
WARMUP_SIDE = 256
MAC_COUNT_SIDE = 256
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
DARKENING = 0.1
REPO_ROOT = Path(__file__).resolve().parents[1]
PHOTOS_DIR = REPO_ROOT.parent / "shared" / "data" / "photos" / "kodak24"
SHARED_PEERS_DIR = REPO_ROOT.parent / "shared" / "peers"
ONNX_METHOD = "mlsm-onnx"

__all__ = ["BenchmarkArgumentError", "ImageSize", "parse_size", "synthetic_dark_photo", "macs_per_pixel",
           "measure_in_process", "measure_in_subprocess", "run_benchmark", "render_markdown", "main"]


class BenchmarkArgumentError(ValueError):
    """A command-line value (size, method restriction) that cannot be understood."""


@dataclass(frozen=True)
class ImageSize:
    """An image size to measure: ``label`` as given on the command line, width x height."""

    label: str
    width: int
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def describe(self) -> str:
        if "x" in self.label:
            return self.label
        name = self.label if self.label.endswith("p") else f"{self.label} MP"
        return f"{name} ({self.width}x{self.height})"


def parse_size(token: str) -> ImageSize:
    """``"0.3"``/``"2"``/``"12"``/``"24"`` (MP, 4:3), ``"1080p"`` or ``"WxH"`` -> :class:`ImageSize`.

    Other megapixel counts get a 4:3 size rounded to multiples of 8.

    Raises:
        BenchmarkArgumentError: the token is none of these forms, or not positive.
    """
    text = str(token).strip().lower()
    if text in NAMED_SIZES:
        return ImageSize(text, *NAMED_SIZES[text])
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if match:
        width, height = int(match.group(1)), int(match.group(2))
        if width < 1 or height < 1:
            raise BenchmarkArgumentError(f"--sizes: {token!r} has a zero side")
        return ImageSize(text, width, height)
    try:
        megapixels = float(text)
    except ValueError:
        raise BenchmarkArgumentError(
            f"--sizes: {token!r} is not a megapixel count (e.g. 2), 1080p or WxH") from None
    if not (math.isfinite(megapixels) and megapixels > 0):
        raise BenchmarkArgumentError(f"--sizes: {token!r} must be a positive megapixel count")
    width = max(8, round(math.sqrt(megapixels * 1e6 * 4 / 3) / 8) * 8)
    height = max(8, round(width * 3 / 4 / 8) * 8)
    return ImageSize(text, width, height)


def _mosaic_tiles(photos_dir: Path) -> list[np.ndarray]:
    from PIL import Image

    tiles = []
    for path in sorted(photos_dir.glob("*.png")):
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            if rgb.height > rgb.width:     # portrait Kodak images: turn them to 768x512
                rgb = rgb.transpose(Image.Transpose.ROTATE_90)
            tiles.append(np.asarray(rgb, dtype=np.float32) / 255.0)
    return [tile for tile in tiles if tile.shape == tiles[0].shape]


def synthetic_dark_photo(width: int, height: int, photos_dir: Path | None = PHOTOS_DIR,
                         darkening: float = DARKENING) -> np.ndarray:
    """A dark photo of ``height`` x ``width``: a mosaic of the Kodak images times ``darkening``.

    The Kodak photos (``photos_dir``) are laid out at native resolution, row by row, and the
    mosaic is cropped to size, so every size has real photographic texture (LIME's solver
    and the tiled CNNs see realistic content). Without the photos, a seeded smooth-plus-noise
    pattern stands in.

    Returns:
        float32 (height, width, 3) in [0, ``darkening``].
    """
    tiles = _mosaic_tiles(photos_dir) if photos_dir is not None and photos_dir.is_dir() else []
    if tiles:
        tile_h, tile_w = tiles[0].shape[:2]
        rows, cols = math.ceil(height / tile_h), math.ceil(width / tile_w)
        mosaic = np.concatenate([
            np.concatenate([tiles[(row * cols + col) % len(tiles)] for col in range(cols)], axis=1)
            for row in range(rows)], axis=0)
        image = mosaic[:height, :width]
    else:
        rng = np.random.default_rng(0)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        base = 0.5 + 0.4 * np.sin(xs / 37.0)[..., None] * np.cos(ys / 53.0)[..., None]
        image = np.clip(base + rng.normal(0, 0.05, (height, width, 3)), 0, 1)
    return np.ascontiguousarray(image * darkening, dtype=np.float32)


# ----------------------------------------------------------------------------- child side

def _proc_status_mib(key: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of /proc/self/status in MiB (None where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _current_rss_mib() -> float:
    """Resident set size now (``VmRSS``), MiB; falls back to the peak where /proc is absent."""
    current = _proc_status_mib("VmRSS")
    return current if current is not None else _peak_rss_mib()


def _peak_rss_mib() -> float:
    """Peak resident set so far, MiB: the largest of ``ru_maxrss``, ``VmHWM`` and ``VmRSS``
    (the kernel's counters are updated at different moments, so a "now" reading can pass a
    stale peak by a few pages)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = peak / 1024.0 if sys.platform.startswith("linux") else peak / 2**20  # KiB vs bytes
    readings = [peak] + [value for value in (_proc_status_mib("VmHWM"), _proc_status_mib("VmRSS")) if value]
    return max(readings)


def _torch_modules(method) -> list | None:
    """The torch networks a method runs (None when any step is not a torch network)."""
    import torch

    steps = getattr(method, "steps", [method])
    modules = []
    for step in steps:
        module = getattr(step, "module", None) or getattr(step, "network", None)
        if not isinstance(module, torch.nn.Module):
            return None
        modules.append(module)
    return modules


def macs_per_pixel(method, side: int = MAC_COUNT_SIDE) -> float | None:
    """Multiply-accumulates per pixel of one call on a ``side`` x ``side`` image, counted by
    :class:`torch.utils.flop_counter.FlopCounterMode` (MACs = FLOPs / 2); None for methods
    that are not (chains of) torch networks."""
    if _torch_modules(method) is None:
        return None
    from torch.utils.flop_counter import FlopCounterMode

    image = synthetic_dark_photo(side, side, photos_dir=None)
    with FlopCounterMode(display=False) as counter:
        method(image)
    return counter.get_total_flops() / 2 / (side * side)


def _build(name: str, peers_dir: str | None, mlsm_weights: str | None, threads: int | None):
    if name == ONNX_METHOD:
        return _build_onnx(mlsm_weights, threads)
    from mlsm.baselines.registry import build_method

    steps = [f"mlsm:{mlsm_weights}" if step == "mlsm" and mlsm_weights else step
             for step in MethodSpec.parse(name).steps]
    return build_method(join_steps(steps), peers_dir=peers_dir, device="cpu")


def _build_onnx(mlsm_weights: str | None, threads: int | None):
    """mlsm through onnxruntime (``mlsm.export.load_onnx_model``, exported in memory at build
    time); imported lazily, so a checkout without ``mlsm.export`` reports a build failure."""
    try:
        from mlsm.export import load_onnx_model
    except ImportError as error:
        raise RuntimeError(f"{ONNX_METHOD}: the ONNX backend mlsm.export is not available ({error})") from None
    if not mlsm_weights:
        raise RuntimeError(f"{ONNX_METHOD}: no mlsm weights to export")
    return load_onnx_model(mlsm_weights, device="cpu", threads=threads)


def measure_in_process(method: str, width: int, height: int, repeats: int = 3,
                       threads: int | None = None, peers_dir: str | None = None,
                       mlsm_weights: str | None = None, count_macs: bool = True,
                       report_progress: bool = False) -> dict:
    """Build ``method``, warm it up, time ``repeats`` calls on a dark ``width`` x ``height``
    photo. Meant for a fresh process (peak RSS is the process's); the parent uses
    :func:`measure_in_subprocess`. ``report_progress`` prints a JSON line after each call.

    Returns:
        ``{"status": "ok", "median_s", "min_s", "times_s", "ms_per_mp", "peak_rss_mib",
        "rss_start_mib", "rss_built_mib", "model_rss_mib", "rss_before_call_mib",
        "build_s", "macs_per_pixel", "threads", "torch", "niceness"}``, or ``{"status": "build_failed",
        "reason"}`` when the method cannot be built (e.g. missing weights).
    """
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__, "niceness": os.nice(0)}
    rss_start = _current_rss_mib()
    started = time.perf_counter()
    try:
        built = _build(method, peers_dir, mlsm_weights, threads)
    except Exception as error:  # any build error is a reported outcome, not a crash
        return {**result, "status": "build_failed", "reason": f"{type(error).__name__}: {error}"}
    build_s = time.perf_counter() - started
    rss_built = _current_rss_mib()
    built(synthetic_dark_photo(WARMUP_SIDE, WARMUP_SIDE, photos_dir=None))
    image = synthetic_dark_photo(width, height)
    rss_before_call = _current_rss_mib()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        output = built(image)
        times.append(time.perf_counter() - started)
        del output
        if report_progress:  # lets the parent keep finished calls of a cell that times out
            print(json.dumps({"progress": True, "time_s": times[-1], "peak_rss_mib": _peak_rss_mib()}),
                  flush=True)
    peak = _peak_rss_mib()
    median = statistics.median(times)
    return {**result, "status": "ok", "median_s": median, "min_s": min(times), "times_s": times,
            "ms_per_mp": median * 1000 / (width * height / 1e6), "peak_rss_mib": peak,
            "rss_start_mib": rss_start, "rss_built_mib": rss_built,
            "model_rss_mib": rss_built - rss_start, "rss_before_call_mib": rss_before_call,
            "build_s": build_s, "macs_per_pixel": macs_per_pixel(built) if count_macs else None,
            "niceness": os.nice(0)}  # at the end: a scheduler may renice long jobs


# ---------------------------------------------------------------------------- parent side

def _thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_ENV_VARS})
    return env


def measure_in_subprocess(method: str, size: ImageSize, repeats: int, threads: int,
                          timeout_s: float, peers_dir: str | None = None,
                          mlsm_weights: str | None = None, count_macs: bool = True) -> dict:
    """:func:`measure_in_process` in a fresh Python process with the thread variables set.

    Returns its dict, or ``{"status": "timeout", "times_s": calls finished in time,
    "peak_rss_mib": peak so far or None}`` after ``timeout_s`` seconds, or
    ``{"status": "error", "reason"}`` when the child crashed (e.g. killed for memory).
    """
    spec = {"method": method, "width": size.width, "height": size.height, "repeats": repeats,
            "threads": threads, "peers_dir": peers_dir, "mlsm_weights": mlsm_weights,
            "count_macs": count_macs, "report_progress": True}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                                   env=_thread_env(threads))
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout or ""
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        progress = [json.loads(line) for line in text.splitlines() if line.startswith('{"progress"')]
        return {"status": "timeout", "reason": f"no result within {timeout_s:g} s "
                f"({len(progress)} of {repeats} timed calls finished)",
                "times_s": [entry["time_s"] for entry in progress],
                "peak_rss_mib": progress[-1]["peak_rss_mib"] if progress else None}
    lines = [line for line in completed.stdout.splitlines()
             if line.startswith("{") and not line.startswith('{"progress"')]
    if completed.returncode != 0 or not lines:
        tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        killed = " (killed: out of memory?)" if completed.returncode == -9 else ""
        return {"status": "error", "reason": f"exit code {completed.returncode}{killed}: {tail}"}
    return json.loads(lines[-1])


def _random_mlsm_weights(folder: Path) -> str:
    """The default ``mlsm_small`` architecture with random weights (same cost as trained)."""
    import torch

    from mlsm.models.configs import ModelConfig
    from mlsm.models.enhancer import Enhancer
    from mlsm.models.weights import save_weights

    torch.manual_seed(0)
    network = Enhancer(ModelConfig())
    path = folder / "mlsm_small_random_init.safetensors"
    save_weights(path, network, "enhancer", network.config,
                 card={"note": "random init, for speed benchmarks only"})
    return str(path)


def _parse_size_methods(entries: list[str]) -> dict[tuple[int, int], set[str]]:
    """``["12=mlsm,lime"]`` -> ``{(4000, 3000): {"mlsm", "lime"}}`` (keyed by width, height)."""
    restrictions = {}
    for entry in entries:
        size, separator, names = entry.partition("=")
        if not separator or not names.strip():
            raise BenchmarkArgumentError(f"--size-methods: {entry!r} is not SIZE=METHOD[,METHOD]")
        parsed = parse_size(size)
        restrictions[(parsed.width, parsed.height)] = {name.strip() for name in names.split(",") if name.strip()}
    return restrictions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def run_benchmark(methods: list[str], sizes: list[ImageSize], repeats: int = 3, threads: int = 2,
                  timeout_s: float = 600.0, peers_dir: str | None = None,
                  mlsm_model: str | None = None,
                  size_methods: dict[tuple[int, int], set[str]] | None = None,
                  command: str = "", log=print, on_cell=None, note: str = "") -> dict:
    """Measure every method at every size (size by size, so a method and Zero-DCE run close
    in time); Zero-DCE is added first when missing.

    ``size_methods`` maps (width, height) to the only methods run at that size (Zero-DCE always
    runs). A method that fails to build is not tried again at the next sizes. ``on_cell``,
    when given, receives the report so far after every cell (cells not yet measured have
    status ``"pending"``), so an interrupted run still leaves its results.

    Returns:
        ``{"environment": {...}, "sizes": [...], "methods": [...], "results": {method: {size
        label: measurement}}, "ratios": {method: {size label: time / Zero-DCE time}}}``.
    """
    methods = [REFERENCE_METHOD] + [name for name in dict.fromkeys(methods) if name != REFERENCE_METHOD]
    size_methods = size_methods or {}
    results = {name: {size.label: {"status": "pending"} for size in sizes} for name in methods}
    with tempfile.TemporaryDirectory(prefix="mlsm_bench_") as folder:
        needs_mlsm = any(step in ("mlsm", ONNX_METHOD) for name in methods for step in MethodSpec.parse(name).steps)
        if mlsm_model is None and needs_mlsm:  # the shipped default model, else a same-cost random one
            from mlsm.models.zoo import DEFAULT_MODEL, list_models
            mlsm_model = DEFAULT_MODEL if DEFAULT_MODEL in list_models() else None
        mlsm_weights = mlsm_model or (_random_mlsm_weights(Path(folder)) if needs_mlsm else None)
        environment = {
            "command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu": _cpu_model(), "logical_cpus": os.cpu_count(), "threads": threads,
            "torch": importlib.metadata.version("torch"), "numpy": np.__version__,
            "python": platform.python_version(), "commit": _git_commit(), "repeats": repeats,
            "timeout_s": timeout_s, "load_average_start": _load_average(), "load_average_end": "",
            "niceness": os.nice(0),
            "mlsm_weights": mlsm_model or "random init mlsm_small (default architecture)",
            "note": note,
        }
        for size in sizes:
            allowed = size_methods.get((size.width, size.height))
            for name in methods:
                earlier = [r for r in results[name].values() if r["status"] == "build_failed"]
                if earlier:
                    results[name][size.label] = earlier[0]
                    continue
                if allowed is not None and name != REFERENCE_METHOD and name not in allowed:
                    results[name][size.label] = {"status": "skipped", "reason": "not requested at this size"}
                    continue
                count_macs = not any(r["status"] == "ok" for r in results[name].values())
                outcome = measure_in_subprocess(name, size, repeats, threads, timeout_s, peers_dir,
                                                mlsm_weights, count_macs)
                results[name][size.label] = outcome
                shown = f"{outcome['median_s']:.3f} s" if outcome["status"] == "ok" else outcome["status"]
                log(f"{name:>24} @ {size.describe():<22} {shown}")
                if on_cell is not None:
                    environment["load_average_end"] = _load_average()
                    on_cell(_report(environment, sizes, methods, results))
        environment["load_average_end"] = _load_average()
    return _report(environment, sizes, methods, results)


def _report(environment: dict, sizes: list[ImageSize], methods: list[str], results: dict) -> dict:
    return {"environment": environment, "sizes": [asdict(size) for size in sizes], "methods": methods,
            "results": results, "ratios": _ratios(results, [size.label for size in sizes])}


def _ratios(results: dict, labels: list[str]) -> dict[str, dict[str, float | None]]:
    reference = results.get(REFERENCE_METHOD, {})
    ratios = {}
    for name, cells in results.items():
        ratios[name] = {}
        for label in labels:
            cell, base = cells.get(label, {}), reference.get(label, {})
            ok = cell.get("status") == "ok" and base.get("status") == "ok"
            ratios[name][label] = cell["median_s"] / base["median_s"] if ok else None
    return ratios


def _cell_text(cell: dict) -> str:
    return {"timeout": "timeout", "skipped": "-", "build_failed": "not built",
            "pending": "pending"}.get(cell["status"], "error")


def _niceness_text(report: dict) -> str:
    values = sorted({cell["niceness"] for cells in report["results"].values() for cell in cells.values()
                     if "niceness" in cell})
    return "/".join(str(value) for value in values) or "unknown"


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def _macs_text(cells: dict) -> str:
    counted = [cell["macs_per_pixel"] for cell in cells.values() if cell.get("macs_per_pixel") is not None]
    return f"{counted[0] / 1000:.1f} k" if counted else "-"


def render_markdown(report: dict) -> str:
    """The Markdown report of a :func:`run_benchmark` result (drawn from that dict only)."""
    env, sizes = report["environment"], [ImageSize(**size) for size in report["sizes"]]
    lines = [
        "# Speed and memory benchmark", "",
        f"- command: `{env['command']}`",
        f"- date: {env['date']}; commit {env['commit']}",
        f"- CPU: {env['cpu']} ({env['logical_cpus']} logical CPUs); threads: {env['threads']} "
        f"(torch.set_num_threads and {', '.join(THREAD_ENV_VARS)})",
        f"- torch {env['torch']}, numpy {env['numpy']}, Python {env['python']}",
        f"- load average (1/5/15 min) at start {env['load_average_start']}, at end {env['load_average_end']}; "
        f"niceness: parent {env.get('niceness', '?')}, measuring processes {_niceness_text(report)}",
        f"- mlsm weights: {env['mlsm_weights']}",
        *([f"- note: {env['note']}"] if env.get("note") else []),
        f"- each cell: fresh process, one warm-up call on a {WARMUP_SIDE}x{WARMUP_SIDE} image, then "
        f"median of {env['repeats']} timed calls on a dark (x{DARKENING}) Kodak mosaic; peak RSS is "
        "the process's ru_maxrss (Python + torch + model + image + activations); model RSS is the "
        "growth of RSS while building the method; MAC/px counted on a "
        f"{MAC_COUNT_SIDE}x{MAC_COUNT_SIDE} input with FlopCounterMode (torch methods only)", "",
        "## Time and memory", "",
        "| method | size | median s | ms/MP | peak RSS MiB | model RSS MiB | MAC/px |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in report["methods"]:
        cells = report["results"][name]
        macs = _macs_text(cells)
        if all(cell["status"] == "build_failed" for cell in cells.values()):
            lines.append(f"| {name} | all | not built | | | | - |")
            continue
        for size in sizes:
            cell = cells[size.label]
            if cell["status"] == "skipped":
                continue
            if cell["status"] == "ok":
                lines.append(f"| {name} | {size.describe()} | {cell['median_s']:.3f} | {cell['ms_per_mp']:.0f} | "
                             f"{cell['peak_rss_mib']:.0f} | {cell['model_rss_mib']:.0f} | {macs} |")
            else:
                text, finished = _cell_text(cell), cell.get("times_s") or []
                if finished:   # a timeout after some calls: show what finished
                    text += f" ({len(finished)} calls done, median {statistics.median(finished):.1f} s)"
                lines.append(f"| {name} | {size.describe()} | {text} | | | | {macs} |")
    lines += ["", "## Time ratio vs Zero-DCE (same run, same size; < 1 is faster)", "",
              "| method | " + " | ".join(size.describe() for size in sizes) + " |",
              "| --- | " + " | ".join("---:" for _ in sizes) + " |"]
    for name in report["methods"]:
        cells, ratios = report["results"][name], report["ratios"][name]
        texts = [_ratio_text(ratios[size.label]) if ratios[size.label] is not None
                 else "no Zero-DCE time" if cells[size.label]["status"] == "ok"
                 else _cell_text(cells[size.label]) for size in sizes]
        lines.append(f"| {name} | " + " | ".join(texts) + " |")
    problems = [(name, size, report["results"][name][size.label]) for name in report["methods"] for size in sizes
                if report["results"][name][size.label]["status"] in ("build_failed", "error", "timeout")]
    if problems:
        lines += ["", "## Not measured", ""]
        seen = set()
        for name, size, cell in problems:
            key = (name, cell.get("reason"))
            if cell["status"] == "build_failed" and key in seen:
                continue
            seen.add(key)
            where = "" if cell["status"] == "build_failed" else f" at {size.describe()}"
            lines.append(f"- {name}{where}: {cell['status']}: {cell.get('reason', '')}")
    return "\n".join(lines) + "\n"


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["mlsm"],
                        help="registry names (zero_dce is always added), e.g. zero_dce sci lime mlsm "
                             f"zero_dce+dncnn3 {ONNX_METHOD}")
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES,
                        help="megapixels at 4:3 (0.3 2 12 24), 1080p, or WxH (default: %(default)s)")
    parser.add_argument("--size-methods", nargs="*", default=[], metavar="SIZE=M1,M2",
                        help="at SIZE, measure only these methods (and zero_dce), e.g. 12=mlsm")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per cell (median)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch/OpenMP/BLAS")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per cell before 'timeout'")
    parser.add_argument("--peers-dir", default=None,
                        help="official peer weights (default: $MLSM_PEERS_DIR, else ../shared/peers)")
    parser.add_argument("--mlsm-model", default=None, help="mlsm weights: a .safetensors path or a zoo name such as "
                             "mlsm_small.synth_dark_jpeg (default: the shipped default model; random init "
                             "mlsm_small, same cost, when none is installed)")
    parser.add_argument("--out", default="benchmarks/results/speed.md",
                        help="Markdown report; the raw JSON goes next to it (.json)")
    parser.add_argument("--note", default="", help="free text for the report (machine state, purpose)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: run the benchmark and write ``--out`` (.md) and its .json."""
    args = _argument_parser().parse_args(argv)
    if args.child is not None:
        spec = json.loads(args.child)
        print(json.dumps(measure_in_process(**spec)), flush=True)
        return 0
    try:
        if args.repeats < 1 or args.threads < 1 or args.timeout <= 0:
            raise BenchmarkArgumentError("--repeats and --threads must be >= 1 and --timeout > 0")
        sizes = list({parse_size(token).label: parse_size(token) for token in args.sizes}.values())
        size_methods = _parse_size_methods(args.size_methods)
    except BenchmarkArgumentError as error:
        print(f"speed_memory.py: error: {error}", file=sys.stderr)
        return 2
    peers_dir = args.peers_dir or os.environ.get("MLSM_PEERS_DIR") or None
    if peers_dir is None and SHARED_PEERS_DIR.is_dir():
        peers_dir = str(SHARED_PEERS_DIR)
    command = shlex.join(["python", "benchmarks/speed_memory.py", *(argv if argv is not None else sys.argv[1:])])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(report: dict) -> None:
        out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        out.write_text(render_markdown(report))

    write(run_benchmark(args.methods, sizes, args.repeats, args.threads, args.timeout, peers_dir,
                        args.mlsm_model, size_methods, command, on_cell=write,
                        note=args.note))
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing mlsm
    sys.exit(main())
