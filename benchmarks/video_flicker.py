"""Flicker of video enhancement on a clip whose true brightness is constant.

The clip: a window of ``--size`` pixels panning ``--pan`` pixels a frame to the right across
a still photo (Kodak24 ``kodim23`` by default), darkened at one constant exposure in linear
light, with seeded Gaussian noise, and H.264-compressed (libx264, yuv420p, ``--crf``). The
clean pan is the reference. Each method enhances the decoded dark frames one by one:

* ``mlsm (smoothing S s)``: :func:`mlsm.video.enhance_frames` with ``temporal_smoothing=S``;
* ``mlsm (per frame)``: the same with smoothing off (each frame as a photo);
* ``Zero-DCE (per frame)``: the official weights (``../shared/peers`` or ``MLSM_PEERS_DIR``).

Reported per method (:mod:`mlsm.video.flicker`, 0..1 scale): the standard deviation over
time of the mean luma (``brightness std``; the clean clip's own value is the floor, since
the pan changes content a little), the standard deviation of its frame-to-frame steps
(``step std``), the mean absolute temporal difference after undoing the known pan, and PSNR
against the clean frames (mean over frames, dB)::

    photo --pan, darken, noise--> dark frames --libx264 CRF--> decode --method--> metrics

    python benchmarks/video_flicker.py                      # writes benchmarks/results/video_flicker.{json,md}
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
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


def build_clip(photo: Path, frames: int, width: int, height: int, pan: int, exposure: float, noise: float,
               seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(clean, dark)`` uint8 frames: the pan over ``photo`` and its darkened, noisy version."""
    from PIL import Image

    from mlsm.colour import linear_to_srgb, srgb_to_linear

    image = np.asarray(Image.open(photo).convert("RGB"), np.float32) / 255.0
    need = width + pan * (frames - 1)
    if image.shape[1] < need or image.shape[0] < height:
        raise SystemExit(f"{photo} is {image.shape[1]}x{image.shape[0]}: too small for a {width}x{height} "
                         f"window panning {pan} px over {frames} frames")
    top = (image.shape[0] - height) // 2
    rng = np.random.default_rng(seed)
    clean, dark = [], []
    for index in range(frames):
        window = image[top:top + height, index * pan:index * pan + width]
        clean.append(np.round(window * 255).astype(np.uint8))
        darkened = linear_to_srgb(srgb_to_linear(window) * exposure) + rng.normal(0.0, noise, window.shape)
        dark.append(np.round(np.clip(darkened, 0, 1) * 255).astype(np.uint8))
    return clean, dark


def compress(frames: list[np.ndarray], fps: int, crf: int) -> list[np.ndarray]:
    """``frames`` through libx264 (yuv420p, CRF ``crf``) and back."""
    import av

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dark.mp4"
        write_h264(path, frames, fps, crf)
        with av.open(str(path)) as source:
            return [frame.to_ndarray(format="rgb24") for frame in source.decode(video=0)]


def measure(frames: list[np.ndarray], clean: list[np.ndarray], pan: int) -> dict:
    from mlsm.metrics import psnr
    from mlsm.video.flicker import brightness_std, compensated_temporal_difference, mean_luma_series, step_std

    return {"mean_luma": float(mean_luma_series(frames).mean()), "brightness_std": brightness_std(frames),
            "step_std": step_std(frames), "compensated_mad": compensated_temporal_difference(frames, (0, pan)),
            "psnr": float(np.mean([psnr(out.astype(np.float32) / 255, ref.astype(np.float32) / 255)
                                   for out, ref in zip(frames, clean)]))}


def run(args: argparse.Namespace) -> dict:
    import torch

    import mlsm
    from mlsm.video import enhance_frames

    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    clean, dark = build_clip(args.photo, args.frames, width, height, args.pan, args.exposure, args.noise, args.seed)
    decoded = compress(dark, args.fps, args.crf)
    rows = {"clean clip (reference)": measure(clean, clean, args.pan),
            "dark input (H.264)": measure(decoded, clean, args.pan)}
    model = mlsm.load_model()
    for label, smoothing in ((f"mlsm (smoothing {args.smoothing:g} s)", args.smoothing), ("mlsm (per frame)", 0.0)):
        out = [frame.astype(np.uint8) for frame in enhance_frames(model, decoded, args.fps,
                                                                  temporal_smoothing=smoothing)]
        rows[label] = measure(out, clean, args.pan)
    if (args.peers / "zero-dce" / "Epoch99.pth").is_file():
        from mlsm.baselines.peers import build_peer

        zero_dce = build_peer("zero_dce", args.peers)
        out = [np.round(zero_dce(frame.astype(np.float32) / 255) * 255).astype(np.uint8) for frame in decoded]
        rows["Zero-DCE (per frame)"] = measure(out, clean, args.pan)
    else:
        print(f"Zero-DCE weights not found in {args.peers}: its row is left out", file=sys.stderr)
    return {"clip": {"photo": args.photo.name, "frames": args.frames, "size": args.size, "fps": args.fps,
                     "pan_px_per_frame": args.pan, "exposure": args.exposure, "noise_std": args.noise,
                     "seed": args.seed, "crf": args.crf}, "rows": rows}


def render(report: dict, command: str) -> str:
    clip = report["clip"]
    lines = [f"Clip: {clip['photo']}, {clip['frames']} frames {clip['size']} at {clip['fps']} fps, pan "
             f"{clip['pan_px_per_frame']} px/frame, exposure x{clip['exposure']:g} (linear), noise std "
             f"{clip['noise_std']:g}, seed {clip['seed']}, H.264 CRF {clip['crf']}. Command: `{command}`", "",
             "| method | mean luma | brightness std | step std | pan-compensated MAD | PSNR (dB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, row in report["rows"].items():
        lines.append(f"| {label} | {row['mean_luma']:.3f} | {row['brightness_std']:.4f} | {row['step_std']:.4f} | "
                     f"{row['compensated_mad']:.4f} | {row['psnr']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x240", help="window WxH (default 320x240)")
    parser.add_argument("--pan", type=int, default=2, help="pixels per frame to the right (default 2)")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--exposure", type=float, default=0.08, help="linear-light exposure (default 0.08)")
    parser.add_argument("--noise", type=float, default=0.01, help="Gaussian noise std in sRGB 0..1 (default 0.01)")
    parser.add_argument("--crf", type=int, default=28, help="libx264 CRF of the dark clip (default 28)")
    parser.add_argument("--smoothing", type=float, default=1.0, help="mlsm temporal smoothing, s (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peers", type=Path, default=Path(os.environ.get("MLSM_PEERS_DIR", "") or PEERS))
    parser.add_argument("--out", type=Path, default=RESULTS / "video_flicker", help="writes OUT.json and OUT.md")
    args = parser.parse_args(argv)
    command = "python benchmarks/video_flicker.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()
    report = run(args)
    report["command"], report["seconds"] = command.strip(), time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from mlsm.atomic import write_text_atomic

    write_text_atomic(args.out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    table = render(report, command.strip())
    write_text_atomic(args.out.with_suffix(".md"), table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
