"""``mlsm export-onnx``: export a model to ONNX and verify it with onnxruntime.

    mlsm export-onnx [--model NAME|PATH] -o model.onnx [--opset 17] [--overwrite]

The graph and its checks are :mod:`mlsm.inference.onnx_graph`; torch and onnx are imported
when the command runs, not when it registers.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mlsm.cli import int_in_range, print_error as _error
from mlsm.inference.options import DEFAULT_OPSET

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-onnx", help="export a model to ONNX (dynamic batch/height/width) and verify it",
        description="Export the network to ONNX: input 'image' (N, 3, H, W) in [0, 1], any H and W "
                    "(reflect padding is inside the graph), output 'enhanced'. The file is checked "
                    "with onnxruntime against PyTorch before it is written. Needs mlsm[onnx].")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="zoo name or .safetensors file (default: the bundled default model)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.onnx", help="output file")
    parser.add_argument("--opset", type=int_in_range("opset", 11, 23), default=DEFAULT_OPSET,
                        help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit codes: 0 written, 1 export/verification/write failed, 2 usage (model, extra, path)."""
    from mlsm.inference.onnx_graph import (VERIFY_SIZE, OnnxExportError, OnnxUnavailableError, export_onnx,
                                           import_onnx, import_onnxruntime)
    from mlsm.models.zoo import ModelUnavailableError, resolve_network

    if args.output.suffix.lower() != ".onnx":
        return _error(f"{args.output}: output must end in .onnx", 2)
    try:
        import_onnx()
        import_onnxruntime()
        network, metadata = resolve_network(args.model)
    except (OnnxUnavailableError, ModelUnavailableError) as exc:
        return _error(exc, 2)
    try:
        difference = export_onnx(network, args.output, opset=args.opset, metadata=metadata,
                                 overwrite=args.overwrite)
    except FileExistsError as exc:
        return _error(exc, 2)
    except (OnnxExportError, OSError) as exc:
        return _error(f"{args.output}: {exc}", 1)
    height, width = VERIFY_SIZE
    print(f"wrote {args.output} (opset {args.opset}, dynamic batch/height/width, any size); "
          f"onnxruntime vs PyTorch max abs diff {difference:.3g} on a random 1x3x{height}x{width} image")
    return 0
