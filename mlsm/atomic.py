"""Atomic file writes: write to a temporary file in the target folder, then ``os.replace``.

A reader never sees a partial file and a failed write leaves the previous file (if any)
untouched and no temporary file behind. Used for eval sets, results, figures, configs,
ONNX exports and training checkpoints (image writes, which also refuse to overwrite, live
in :mod:`mlsm.io` and take their temporary files from here).

Temporary files are named ``.NAME.PID.XXXXXXXX.part``: NAME is cut (on a UTF-8 boundary) so
the whole name fits the folder's name limit (255 bytes on most file systems), and PID lets a
later run recognise the leftovers of a killed one (SIGKILL, power loss) and remove them:
:func:`temporary_file` sweeps each folder once per process, removing ``.part`` files whose
process is gone.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "default_file_mode", "remove_stale_parts", "temporary_file",
           "write_bytes_atomic", "write_text_atomic"]

PART_SUFFIX = ".part"
_RANDOM_LENGTH = 8  # characters tempfile.mkstemp adds
_PART_NAME = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{%d}%s$" % (_RANDOM_LENGTH, re.escape(PART_SUFFIX)))
_swept: set[str] = set()


def default_file_mode() -> int:
    """The mode a new file gets under the current umask (``0o666 & ~umask``)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return 255


def _part_prefix(target: Path) -> str:
    """``.NAME.PID.`` with NAME cut so that the temporary name fits the folder's name limit."""
    pid = f".{os.getpid()}."
    room = _name_max(target.parent) - len(".") - len(pid) - _RANDOM_LENGTH - len(PART_SUFFIX)
    name = target.name.encode("utf-8", "surrogateescape")[:max(room, 1)]
    return "." + name.decode("utf-8", "ignore") + pid


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):  # another user's process, or no such check here
        return True
    return True


def remove_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Remove ``.NAME.PID.XXXXXXXX.part`` files in ``folder`` whose process no longer runs.

    Files of running processes (this one included) and files of other naming schemes are left
    alone. Returns the paths removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PART_NAME.match(entry.name)
        if match and not _process_alive(int(match.group(1))):
            try:
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def temporary_file(target: str | os.PathLike) -> tuple[int, Path]:
    """``(fd, path)`` of a new hidden temporary file beside ``target``, for writing then renaming.

    The folder must exist. Its stale temporary files (see :func:`remove_stale_parts`) are
    removed first, once per folder and process.
    """
    target = Path(target)
    key = os.path.abspath(target.parent)
    if key not in _swept:
        _swept.add(key)
        remove_stale_parts(target.parent)
    handle, name = tempfile.mkstemp(prefix=_part_prefix(target), suffix=PART_SUFFIX, dir=target.parent)
    return handle, Path(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    The caller writes the temporary file by any means (``torch.save``, ``savefig``...).
    With ``fsync`` the file and the folder are flushed to disk (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = temporary_file(path)
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, default_file_mode())  # mkstemp makes 0600; give the usual file mode
        if fsync:
            with open(temporary, "rb") as stream:
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    if fsync:
        try:
            directory = os.open(path.parent, os.O_RDONLY)
        except OSError:  # platforms without directory file descriptors
            return
        try:
            os.fsync(directory)
        except OSError:
            pass
        finally:
            os.close(directory)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)
