"""Where the images of an ``mlsm eval`` run come from: synthetic set folders (``mlsm data
synth``) or paired data-set folders (``[NAME=]layout:ROOT``, converted once into the run
folder), each checked against the fingerprint of the set its stored cells were computed on."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from mlsm.atomic import write_text_atomic
from mlsm.data.evalset import (
    DEFAULT_QUALITIES,
    MANIFEST_NAME,
    EvalSet,
    EvalSetError,
    load_evalset,
    paired_folder_evalset,
)
from mlsm.data.folders import LAYOUTS

__all__ = ["EvalConfigError", "EvalSource", "resolve_sets", "qualities_for", "check_fingerprint", "manifest_digest"]

_SET_FINGERPRINT = "set.json"


class EvalConfigError(ValueError):
    """A usage problem: unknown method, bad set source, a QF a set does not have, stale cells."""



@dataclass(frozen=True)
class EvalSource:
    """One evaluation set of a run: its table name, what the user gave, and the loaded set."""

    name: str
    spec: str
    evalset: EvalSet



def _split_name(spec: str) -> tuple[str | None, str]:
    name, sep, rest = spec.partition("=")
    if sep and name and re.fullmatch(r"[A-Za-z0-9._+-]+", name):
        return name, rest
    return None, spec


def manifest_digest(evalset: EvalSet) -> str:
    """sha256 (hex) of the set's ``manifest.json``: which version of the set a result is of."""
    return hashlib.sha256((evalset.root / MANIFEST_NAME).read_bytes()).hexdigest()


def _convert_paired(layout: str, root: Path, dst: Path, qualities: Sequence[int]) -> EvalSet:
    """The eval-set copy of a paired folder in ``dst``, made once (rebuilt if it does not fit)."""
    if (dst / MANIFEST_NAME).is_file():
        try:
            existing = load_evalset(dst)
            same_source = existing.manifest.get("source") == str(root) and (
                layout == "auto" or existing.manifest.get("layout") == layout)
            if same_source and set(qualities) <= set(existing.qualities):
                return existing
        except EvalSetError:
            pass
    paired_folder_evalset(root, layout, dst, qualities=qualities, overwrite=True,
                          command=f"mlsm eval (converted {layout}:{root})")
    return load_evalset(dst)


def resolve_sets(specs: Sequence[str | Path], out_dir: Path,
                 qualities: Sequence[int] | None = None) -> list[EvalSource]:
    """Load every set source (see the module docstring); paired folders are converted once.

    Raises :class:`EvalConfigError` for a source that is neither, or duplicate set names;
    :class:`~mlsm.data.evalset.EvalSetError` / ``DatasetError`` for unreadable sets.
    """
    if not specs:
        raise EvalConfigError("no evaluation sets given (pass --sets PATH...)")
    sources: list[EvalSource] = []
    for raw in specs:
        spec = str(raw)
        name, body = _split_name(spec)
        layout, sep, root_text = body.partition(":")
        if sep and layout in (*LAYOUTS, "auto") and root_text:
            root = Path(root_text).expanduser()
            if not root.is_dir():
                raise EvalConfigError(f"--sets {spec}: {root} is not a folder")
            name = name or re.sub(r"[^A-Za-z0-9._+-]+", "_", root.resolve().name) or layout
            evalset = _convert_paired(layout, root.resolve(), Path(out_dir) / "sets" / name,
                                      list(qualities or DEFAULT_QUALITIES))
        else:
            folder = Path(body).expanduser()
            if not (folder / MANIFEST_NAME).is_file() and not (folder.is_file() and folder.name == MANIFEST_NAME):
                raise EvalConfigError(
                    f"--sets {spec}: not an evaluation set (no {MANIFEST_NAME} in {folder}) and not "
                    f"LAYOUT:ROOT with LAYOUT one of {', '.join((*LAYOUTS, 'auto'))}; make a set with "
                    "`mlsm data synth SRC DST` or `mlsm data pairs ROOT DST`")
            evalset = load_evalset(folder)
            name = name or re.sub(r"[^A-Za-z0-9._+-]+", "_", evalset.root.resolve().name) or "set"
        if any(source.name == name for source in sources):
            raise EvalConfigError(f"two sets are named {name!r}; name them with NAME=PATH")
        sources.append(EvalSource(name, spec, evalset))
    return sources


def qualities_for(source: EvalSource, qualities: Sequence[int] | None) -> list[int]:
    """``qualities`` (None: all of the set's), checked to be in the set; else EvalConfigError."""
    if qualities is None:
        return list(source.evalset.qualities)
    missing = [q for q in qualities if q not in source.evalset.qualities]
    if missing:
        raise EvalConfigError(f"set {source.name!r} has no QF {', '.join(map(str, missing))} "
                              f"(it has {', '.join(map(str, source.evalset.qualities))})")
    return [int(q) for q in qualities]


def check_fingerprint(out_dir: Path, source: EvalSource) -> None:
    """Tie ``cells/<set>`` to one version of the set; refuse to mix two versions."""
    path = Path(out_dir) / "cells" / source.name / _SET_FINGERPRINT
    digest = manifest_digest(source.evalset)
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8")).get("manifest_sha256")
        except (OSError, ValueError, AttributeError):
            stored = None
        if stored is not None and stored != digest:
            raise EvalConfigError(
                f"{path.parent}: these results were computed on a different version of set "
                f"{source.name!r} ({source.evalset.root}); use another --out folder or delete {path.parent}")
        if stored == digest:
            return
    write_text_atomic(path, json.dumps({"set": source.name, "root": str(source.evalset.root),
                                        "manifest_sha256": digest}, indent=1) + "\n")


# ----------------------------------------------------------------------------- cell files
