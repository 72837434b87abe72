"""The ``mlsm`` command line: ``main(argv) -> exit code``, callable from tests.

Each subcommand lives in its own module exposing ``register(subparsers)``; the parser it
adds sets ``func(args) -> int``. Exit codes: 0 success, 1 some inputs failed, 2 usage.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand name -> module that registers it (kept in one table, imported lazily)
COMMANDS: dict[str, str] = {
    "data": "mlsm.data.cli",
    "demo": "mlsm.app",
    "train": "mlsm.train.cli",
    "enhance": "mlsm.enhance",
    "export-onnx": "mlsm.export",
    "eval": "mlsm.eval.cli",
}


def build_parser() -> argparse.ArgumentParser:
    from mlsm import __version__

    parser = argparse.ArgumentParser(
        prog="mlsm",
        description="Enhance JPEG-compressed dark photos (Multiple Latent Space Mapping).",
    )
    parser.add_argument("--version", action="version", version=f"mlsm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("mlsm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
