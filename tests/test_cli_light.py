"""``mlsm --help`` and ``mlsm CMD [SUB] --help`` import neither torch, PIL nor numpy; Ctrl-C is one line."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mlsm import cli

HEAVY = ("torch", "PIL", "numpy")

# runs in a fresh interpreter: every help of COMMAND (its subcommands too), then the check
_PROBE = textwrap.dedent("""
    import argparse, contextlib, io, sys
    from mlsm.cli import build_parser, main

    def subcommands(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices
        return {}

    command = sys.argv[1:]
    argvs = [command + ["--help"]]
    if command:
        argvs += [command + [sub, "--help"] for sub in subcommands(subcommands(build_parser())[command[0]])]
    for argv in argvs:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(argv)
        assert code == 0 and "usage: mlsm" in out.getvalue(), (argv, code)
    heavy = [name for name in HEAVY if name in sys.modules]
    assert not heavy, f"{command} --help imported {heavy}"
    print(len(argvs))
""").replace("HEAVY", repr(HEAVY))


@pytest.mark.parametrize("command", [None, *cli.COMMANDS])
def test_help_imports_no_heavy_module(command):
    argv = [] if command is None else [command]
    result = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    helps = int(result.stdout.strip())
    assert helps >= 1
    if command in ("data", "eval"):  # groups: each subcommand's help was shown too
        assert helps >= 4


def test_python_m_mlsm_help_is_light():
    code = ("import runpy, sys; sys.argv = ['mlsm', '--help']\n"
            "try:\n    runpy.run_module('mlsm', run_name='__main__')\nexcept SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n"
            f"assert not [m for m in {HEAVY!r} if m in sys.modules], sorted(sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "export-onnx" in result.stdout and "enhance" in result.stdout


def test_ctrl_c_while_building_the_parser_is_one_line(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["--help"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "mlsm: interrupted\n" and "Traceback" not in captured.err


def test_ctrl_c_while_a_command_runs_is_one_line(monkeypatch, capsys):
    def register(subparsers):
        subparsers.add_parser("stall").set_defaults(func=lambda args: (_ for _ in ()).throw(KeyboardInterrupt))

    module = type(sys)("fake_stall_cli")
    module.register = register
    monkeypatch.setitem(sys.modules, "fake_stall_cli", module)
    monkeypatch.setitem(cli.COMMANDS, "stall", "fake_stall_cli")
    assert cli.main(["stall"]) == 130
    assert capsys.readouterr().err == "mlsm: interrupted\n"
