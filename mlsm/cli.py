"""The ``mlsm`` command line: ``main(argv) -> exit code``, callable from tests.

Each subcommand lives in its own module exposing ``register(subparsers)``; the parser it
adds sets ``func(args) -> int``. Exit codes: 0 success, 1 some inputs failed, 2 usage,
130 interrupted (Ctrl-C).

``register`` never imports torch, PIL or numpy (``tests/test_cli_light.py``): a command
imports what it needs when it runs, so ``mlsm --help`` and ``mlsm CMD --help`` start fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``inf`` and ``nan`` are refused)."""
    value = _number(text, float, "a number")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text}")
    return value


def int_in_range(what: str, low: int, high: int):
    """argparse type factory: an integer ``what`` in ``low..high``."""
    def parse(text: str) -> int:
        value = _number(text, int, f"an integer {what}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be in {low}..{high}, got {value}")
        return value
    parse.__name__ = what.replace(" ", "_")
    return parse


jpeg_quality = int_in_range("JPEG quality", 1, 100)


def print_note(message: object) -> None:
    """Print ``mlsm: note: MESSAGE`` as one line on stderr (something done differently than asked)."""
    print(f"mlsm: note: {' '.join(str(message).split())}", file=sys.stderr)


def print_error(message: object, code: int = 1) -> int:
    """Print ``mlsm: error: MESSAGE`` as one line on stderr and return ``code``."""
    print(f"mlsm: error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def add_command_group(subparsers, name: str, help: str, description: str):
    """``mlsm NAME SUBCOMMAND ...``: returns the group's parser and its subparsers; without a
    subcommand the group prints its help on stderr and exits 2."""
    group = subparsers.add_parser(name, help=help, description=description)
    group.set_defaults(func=lambda args: (group.print_help(sys.stderr), 2)[1])
    return group, group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")


# subcommand name -> module that registers it (kept in one table, imported lazily)
COMMANDS: dict[str, str] = {
    "data": "mlsm.data.cli",
    "demo": "mlsm.app_cli",
    "train": "mlsm.train.cli",
    "enhance": "mlsm.enhance_cli",
    "export-onnx": "mlsm.export_cli",
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


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process gets SIGTERM (handled like Ctrl-C)."""


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run ``mlsm ARGV``; Ctrl-C (also while the parser is built) prints one line and returns 130,
    SIGTERM likewise returns 143: the running command unwinds, so temporary files are removed."""
    previous = _handle_sigterm()
    try:
        return _main(argv)
    except Terminated:
        print("mlsm: interrupted (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("mlsm: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            import signal
            signal.signal(signal.SIGTERM, previous)


def _handle_sigterm():
    """Install the SIGTERM handler (main thread only); returns the previous one, or None."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):  # someone (a server, a test runner) handles it already
        return None
    signal.signal(signal.SIGTERM, _raise_terminated)
    return previous


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
