"""Expanding files, folders and globs into image lists (:func:`iter_image_files`)."""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Iterable

from mlsm.io.common import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, ImageReadError, PathLike, why_not_a_file

_MAGIC = re.compile(r"[*?[]")


# --------------------------------------------------------------------------- listing


def _is_image_name(path: Path, videos: bool = False) -> bool:
    suffix = path.suffix.lower()
    return suffix in IMAGE_EXTENSIONS or (videos and suffix in VIDEO_EXTENSIONS)


def _glob(pattern: str, recursive: bool) -> list[Path]:
    """:func:`glob.glob`, except that a recursive ``**`` never descends into symbolic links to
    folders (as folder mode), so a link loop such as ``sub/up -> ..`` cannot hang the listing."""
    if not (recursive and "**" in pattern):
        return [Path(match) for match in glob.glob(pattern)]
    parts = Path(pattern).parts
    fixed = 0
    while fixed < len(parts) - 1 and not _MAGIC.search(parts[fixed]):
        fixed += 1
    anchor = Path(*parts[:fixed]) if fixed else Path()
    rest = [part if part == "**" else part.replace("**", "*") for part in parts[fixed:]]
    matches = []
    for match in anchor.glob("/".join(rest)):
        relative = match.relative_to(anchor).parts
        if not any(part.startswith(".") for part in relative):  # glob's rule for hidden names
            matches.append(match)
    return matches


def iter_image_files(paths: PathLike | Iterable[PathLike], recursive: bool = False, videos: bool = False) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted, de-duplicated list of images.

    Folders contribute files whose extension is in :data:`IMAGE_EXTENSIONS` (any case), all
    levels deep when ``recursive``; hidden entries (names starting with ".") are skipped.
    Patterns (``*``, ``?``, ``[``) are expanded with :mod:`glob` (``**`` when ``recursive``)
    and may match nothing. Neither folders nor ``**`` descend into symbolic links to folders.
    With ``videos``, files with a :data:`VIDEO_EXTENSIONS` extension count too.

    Raises:
        ImageReadError: a named file or folder does not exist (or is a FIFO, a device, a
            broken link or a link loop), or a named file does not have an image extension.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: set[Path] = set()

    def add_folder(folder: Path) -> None:
        entries = folder.rglob("*") if recursive else folder.iterdir()
        for entry in entries:
            relative = entry.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts):
                continue
            if _is_image_name(entry, videos) and entry.is_file():
                found.add(entry)

    for item in paths:
        candidate = Path(item)
        text = str(item)
        if candidate.is_dir():
            add_folder(candidate)
        elif candidate.is_file():
            if not _is_image_name(candidate, videos):
                known = IMAGE_EXTENSIONS + (VIDEO_EXTENSIONS if videos else ())
                raise ImageReadError(candidate, f"not an image file extension (expected one of {', '.join(known)})")
            found.add(candidate)
        elif any(char in text for char in "*?["):
            for match_path in _glob(text, recursive):
                if match_path.is_dir():
                    add_folder(match_path)
                elif match_path.is_file() and _is_image_name(match_path, videos):
                    found.add(match_path)
        else:
            raise ImageReadError(candidate, why_not_a_file(candidate))
    return sorted(found)
