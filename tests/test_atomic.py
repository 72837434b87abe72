"""Tests for mlsm.atomic: atomic replacement, temporary names within the name limit, stale parts."""
import os
import subprocess
import sys

import pytest

from mlsm.atomic import atomic_path, remove_stale_parts, temporary_file, write_bytes_atomic, write_text_atomic


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    write_bytes_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target, fsync=True) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def _dead_pid() -> int:
    """The pid of a child that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_long_target_names_get_temporary_names_within_the_limit(tmp_path):
    for length in (240, 250, 255):
        name = "é" * ((length - 4) // 2) + "x" * ((length - 4) % 2) + ".txt"
        assert len(name.encode()) == length
        handle, temporary = temporary_file(tmp_path / name)
        os.close(handle)
        assert len(temporary.name.encode()) <= 255 and temporary.name.endswith(".part")
        temporary.unlink()
        write_text_atomic(tmp_path / name, "ok")
        assert (tmp_path / name).read_text() == "ok"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []


def test_stale_parts_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead = tmp_path / f".out.png.{_dead_pid()}.abcd1234.part"
    alive = tmp_path / f".out.png.{os.getppid()}.abcd1234.part"
    foreign = tmp_path / ".out.png.abcd1234.part"  # another naming scheme: not ours to judge
    for path in (dead, alive, foreign):
        path.write_bytes(b"")
    write_bytes_atomic(tmp_path / "new.bin", b"1")  # first write in this folder sweeps it
    assert not dead.exists() and alive.exists() and foreign.exists()
    assert remove_stale_parts(tmp_path) == []
