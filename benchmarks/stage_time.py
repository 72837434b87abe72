"""Where mlsm's inference time goes: each stage of ``Enhancer.enhance_tensor`` timed in-process.

The stages (network passes, exposure calibration, monotone gain, brightness floor, colour
balance, input detail transfer, neutral shadows) are the functions ``mlsm.inference.base``
calls; this script wraps each one with a wall-clock timer for the duration of the run, enhances the same
synthetic dark photo as ``speed_memory.py`` (a Kodak mosaic times 0.1) after one warm-up call,
and prints the median seconds per stage over ``--repeats`` calls. Outputs are unchanged: the
wrappers only time. That photo has no lit parts, so the highlight headroom only reads its gate
there; ``--photo PATH`` times a real photo instead, resized (Lanczos) to ``--size``, e.g. a
daylight sky that the headroom acts on. ::

    python benchmarks/stage_time.py --size 1080p --threads 2 --repeats 2
    python benchmarks/stage_time.py --size 1080p --photo ../shared/data/real-dark/dicm/41.jpg
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_memory import parse_size, synthetic_dark_photo  # noqa: E402

import mlsm.inference.base as base  # noqa: E402
from mlsm.inference import load_model  # noqa: E402

#: module-level functions of ``mlsm.inference.base`` and methods of its enhancer, by stage name
FUNCTIONS = {"monotone gain": "monotone_gain", "colour balance": "keep_colour_balance",
             "highlight headroom": "highlight_headroom", "detail transfer": "transfer_detail",
             "neutral shadows": "neutral_shadows"}
METHODS = {"network (all passes)": "run_network", "exposure calibration": "_calibrate",
           "brightness floor": "_floor", "keep weight": "keep_weight"}


def _timed(function, name: str, totals: dict):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start
    return wrapper


def time_stages(model, image: torch.Tensor, repeats: int) -> tuple[dict[str, list[float]], list[float]]:
    """Per-stage seconds of each of ``repeats`` calls, and the calls' totals."""
    totals: dict[str, float] = defaultdict(float)
    saved_functions = {attr: getattr(base, attr) for attr in FUNCTIONS.values()}
    cls = type(model)
    saved_methods = {attr: getattr(cls, attr) for attr in METHODS.values()}
    try:
        for name, attr in FUNCTIONS.items():
            setattr(base, attr, _timed(saved_functions[attr], name, totals))
        for name, attr in METHODS.items():
            setattr(cls, attr, _timed(saved_methods[attr], name, totals))
        per_stage: dict[str, list[float]] = defaultdict(list)
        whole = []
        for _ in range(repeats):
            totals.clear()
            start = time.perf_counter()
            model.enhance_tensor(image)
            whole.append(time.perf_counter() - start)
            for name in list(FUNCTIONS) + list(METHODS):
                per_stage[name].append(totals.get(name, 0.0))
        return per_stage, whole
    finally:
        for attr, function in saved_functions.items():
            setattr(base, attr, function)
        for attr, method in saved_methods.items():
            setattr(cls, attr, method)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mlsm_small.real_exposure", help="bundled name or .safetensors path")
    parser.add_argument("--size", default="1080p", help="as in speed_memory.py: 0.3, 1080p, 12, 640x480")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--photo", type=Path, help="time this photo (resized to --size) instead of the synthetic one")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    size = parse_size(args.size)
    if args.photo is not None:
        with Image.open(args.photo) as photo:
            resized = photo.convert("RGB").resize((size.width, size.height), Image.LANCZOS)
        image = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    else:
        image = torch.from_numpy(synthetic_dark_photo(size.width, size.height)).permute(2, 0, 1)[None]
    model = load_model(args.model)
    model.enhance_tensor(image[..., :256, :256])  # warm-up
    per_stage, whole = time_stages(model, image, args.repeats)
    total = statistics.median(whole)
    source = args.photo if args.photo is not None else "synthetic dark photo"
    print(f"{args.model}, {size.label} ({source}), {args.threads} threads, median of {args.repeats} calls")
    print("| stage | median s | share |")
    print("|---|---:|---:|")
    for name, values in per_stage.items():
        seconds = statistics.median(values)
        print(f"| {name} | {seconds:.2f} | {seconds / total:.0%} |")
    print(f"| whole call | {total:.2f} | 100% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
