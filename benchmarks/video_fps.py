"""Video speed on CPU: frames per second of mlsm (torch, onnx) and Zero-DCE, in one run.

For each frame size (640x360, 1280x720, 1920x1080 by default) every method enhances one
warm-up frame, then ``--frames`` dark frames (a still photo, darkened, shifted one pixel a
frame) one at a time on ``--threads`` threads; the table gives frames per second (median
seconds per frame). ``mlsm`` goes through :class:`mlsm.video.FrameEnhancer` (the network,
exposure head and temporal smoothing: what ``mlsm enhance clip.mp4`` does per frame);
Zero-DCE is the official weights frame by frame. ``--end-to-end`` adds ``mlsm enhance`` on a
whole H.264 clip of that size (decode + enhance + libx264 CRF 18 encode), and the peak
resident memory of that run for two clip lengths, to show that memory does not grow with
the clip::

    python benchmarks/video_fps.py --end-to-end      # writes benchmarks/results/video_fps.{json,md}
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlsm.video.clips import write_h264

REPO_ROOT = Path(__file__).resolve().parents[1]
PHOTO = REPO_ROOT.parent / "shared" / "data" / "photos" / "kodak24" / "kodim23.png"
PEERS = REPO_ROOT.parent / "shared" / "peers"
RESULTS = REPO_ROOT / "benchmarks" / "results"
SIZES = ("640x360", "1280x720", "1920x1080")


def dark_frames(size: str, count: int) -> list[np.ndarray]:
    from PIL import Image

    from mlsm.colour import linear_to_srgb, srgb_to_linear

    width, height = (int(v) for v in size.split("x"))
    photo = Image.open(PHOTO).convert("RGB").resize((width + count, height), Image.BICUBIC)
    image = linear_to_srgb(srgb_to_linear(np.asarray(photo, np.float32) / 255.0) * 0.08)
    return [np.round(image[:, index:index + width] * 255).astype(np.uint8) for index in range(count)]


def time_method(step, frames: list[np.ndarray]) -> float:
    """Median seconds per frame of ``step(frame, index)`` after one warm-up call."""
    step(frames[0], 0)
    seconds = []
    for index, frame in enumerate(frames[1:], 1):
        began = time.perf_counter()
        step(frame, index)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def methods(threads: int, peers: Path) -> dict:
    import mlsm
    from mlsm.video import FrameEnhancer

    built = {}
    torch_model = FrameEnhancer(mlsm.load_model())
    built["mlsm (torch)"] = lambda frame, index: torch_model(frame, index / 25)
    try:
        from mlsm.inference.onnx_backend import load_onnx_model

        onnx_model = FrameEnhancer(load_onnx_model("mlsm_small.synth_dark_jpeg", threads=threads))
        built["mlsm (onnx)"] = lambda frame, index: onnx_model(frame, index / 25)
    except ImportError as exc:
        print(f"onnx row left out: {exc}", file=sys.stderr)
    if (peers / "zero-dce" / "Epoch99.pth").is_file():
        from mlsm.baselines.peers import build_peer

        zero_dce = build_peer("zero_dce", peers)
        built["Zero-DCE (per frame)"] = lambda frame, index: zero_dce(frame.astype(np.float32) / 255.0)
    else:
        print(f"Zero-DCE weights not found in {peers}: its row is left out", file=sys.stderr)
    return built


def write_clip(path: Path, frames: list[np.ndarray]) -> None:
    write_h264(path, frames, fps=25, crf=28, preset="veryfast")


def end_to_end(size: str, count: int, threads: int) -> dict:
    """``mlsm enhance`` on a ``count``-frame clip in a fresh process: fps and peak RSS (MiB,
    the child's ``VmHWM``; Linux only)."""
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.mp4"
        write_clip(clip, dark_frames(size, count))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report
        # this (big) parent's peak
        script = ("import sys, time\nfrom mlsm.cli import main\nbegan = time.perf_counter()\n"
                  "code = main(sys.argv[1:])\nseconds = time.perf_counter() - began\n"
                  "peak = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0]\n"
                  "print(seconds, peak)\nsys.exit(code)\n")
        done = subprocess.run([sys.executable, "-c", script, "enhance", str(clip), "-o", str(Path(folder) / "out"),
                               "--threads", str(threads)], capture_output=True, text=True, check=True)
        seconds, rss_kib = done.stdout.strip().splitlines()[-1].split()  # kB
        return {"frames": count, "fps": count / float(seconds), "peak_rss_mib": int(rss_kib) / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--frames", type=int, default=4, help="timed frames per size and method (default 4)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--end-to-end", action="store_true",
                        help="also run mlsm enhance on 640x360 clips of 12 and 48 frames (fps, peak RSS)")
    parser.add_argument("--peers", type=Path, default=Path(os.environ.get("MLSM_PEERS_DIR", "") or PEERS))
    parser.add_argument("--out", type=Path, default=RESULTS / "video_fps", help="writes OUT.json and OUT.md")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    command = ("python benchmarks/video_fps.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip()
    load_before = os.getloadavg()
    table = methods(args.threads, args.peers)
    rows = {name: {} for name in table}
    for size in args.sizes:
        frames = dark_frames(size, args.frames + 1)
        for name, step in table.items():
            rows[name][size] = 1.0 / time_method(step, frames)
            print(f"{name} {size}: {rows[name][size]:.2f} fps", file=sys.stderr)
    report = {"command": command, "threads": args.threads, "frames": args.frames, "cpu": platform.processor()
              or platform.machine(), "torch": torch.__version__, "fps": rows}
    if args.end_to_end:
        report["end_to_end"] = [end_to_end("640x360", count, args.threads) for count in (12, 48)]
    report["load_average"] = {"start": load_before, "end": os.getloadavg()}
    load = " / ".join(" ".join(f"{value:.2f}" for value in report["load_average"][key]) for key in ("start", "end"))
    lines = [f"Frames per second on {args.threads} CPU threads (median of {args.frames} frames after one warm-up; "
             f"torch {torch.__version__}; load average 1/5/15 min at start / end: {load}). Command: `{command}`", "",
             "| method | " + " | ".join(args.sizes) + " |", "| --- |" + " ---: |" * len(args.sizes)]
    for name, by_size in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{by_size[size]:.2f}" for size in args.sizes) + " |")
    if args.end_to_end:
        lines += ["", "`mlsm enhance` on a whole 640x360 H.264 clip (decode, enhance, encode CRF 18), fresh process:",
                  "", "| clip frames | fps | peak RSS (MiB) |", "| ---: | ---: | ---: |"]
        lines += [f"| {run['frames']} | {run['fps']:.2f} | {run['peak_rss_mib']:.0f} |" for run in report["end_to_end"]]
    markdown = "\n".join(lines) + "\n"
    from mlsm.atomic import write_text_atomic

    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    write_text_atomic(args.out.with_suffix(".md"), markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
