"""``mlsm demo``: the command line of the web demo (:mod:`mlsm.app`).

``register`` imports neither Gradio, torch, PIL nor numpy; ``run`` imports the page when the
demo starts.
"""
from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from mlsm.cli import int_in_range, positive_float

__all__ = ["register", "run"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``mlsm demo``."""
    parser = subparsers.add_parser(
        "demo", help="start the web demo on this computer (needs: pip install mlsm[demo])",
        description="Start a local web page to enhance dark photos with mlsm and compare methods. "
                    "It runs offline; open the printed URL in a browser.")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="mlsm weights: a shipped model name or a .safetensors file "
                             "(default: the shipped models)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int_in_range("port", 0, 65535), default=7860,
                        help="port (default 7860; 0: any free port)")
    parser.add_argument("--peers-dir", type=Path, default=None, metavar="DIR",
                        help="folder with the peers' official weights (default: $MLSM_PEERS_DIR)")
    parser.add_argument("--samples", type=Path, default=None, metavar="DIR",
                        help="folder of sample photos offered in the page (default: the bundled ones)")
    parser.add_argument("--max-upload-mb", type=positive_float, default=25.0, metavar="MB",
                        help="largest upload in megabytes (default 25)")
    parser.add_argument("--max-pixels", type=positive_float, default=40e6, metavar="N",
                        help="largest image in pixels, width x height (default 40e6)")
    parser.add_argument("--device", default="cpu", help="torch device for the networks (default cpu)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``mlsm demo``: check the arguments, load the model, serve until Ctrl+C."""
    from mlsm.app import build_app, launch, offline_environment
    from mlsm.app_processing import (MEGABYTE, SAMPLES_DIR, DemoLimits, MethodCache, MethodUnavailableError,
                                     default_models, list_samples)

    offline_environment()
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("mlsm: error: the demo needs Gradio: pip install 'mlsm[demo]'", file=sys.stderr)
        return 1
    limits = DemoLimits(int(args.max_upload_mb * MEGABYTE), int(args.max_pixels))
    try:
        methods = MethodCache(default_models(args.model), peers_dir=args.peers_dir, device=args.device)
        if methods.models:
            methods.mlsm(methods.models[0])  # load now: a bad file fails here, and the first click is fast
    except (FileNotFoundError, MethodUnavailableError, ValueError) as exc:
        print(f"mlsm: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if not methods.models:
        print("mlsm: note: no mlsm model installed; only comparison methods will run "
              "(pass --model PATH to a .safetensors file from `mlsm train`)", file=sys.stderr)
    if not _is_loopback(args.host):
        print(f"mlsm: warning: serving on {args.host}: other computers on the network can use the demo",
              file=sys.stderr)
    samples = list_samples(SAMPLES_DIR if args.samples is None else args.samples)
    app = build_app(methods, samples=samples, limits=limits)
    try:
        _, url, _ = launch(app, host=args.host, port=args.port, limits=limits, block=False)
    except OSError as exc:  # port taken, address not available
        print(f"mlsm: error: cannot serve on {args.host}:{args.port} ({' '.join(str(exc).split())}); "
              "try --port 0 for any free port", file=sys.stderr)
        return 1
    print(f"mlsm demo: open {url} in a browser (Ctrl+C to stop)", file=sys.stderr, flush=True)
    app.block_thread()  # until Ctrl+C, then closes the server
    return 0
