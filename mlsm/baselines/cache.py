"""The one method cache: each method is built once, on first use, and kept.

Used by ``mlsm eval`` (run, scorecard, figures) and ``mlsm demo``. A method that fails to
build is remembered with its error: asking again raises the same error without building it
again (missing peer weights do not appear while a process runs). An unknown name
(:class:`~mlsm.baselines.registry.UnknownMethodError`) is a usage error and is not
remembered. Safe to share between threads (one build at a time).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from mlsm.baselines.base import Method
from mlsm.baselines.registry import UnknownMethodError, build_method

__all__ = ["MethodCache"]


class MethodCache:
    """Methods by name (see :mod:`mlsm.baselines.spec` for the grammar).

    Args:
        peers_dir: folder with the peers' official weights (passed to ``build_method``).
        device: torch device of the CNN methods.
        prepare: called once on each newly built method before it is handed out (e.g. a
            warm-up run); what it raises is not caught.
        build: ``build(name, peers_dir=..., device=...)``, default
            :func:`~mlsm.baselines.registry.build_method`.
    """

    def __init__(self, peers_dir: str | Path | None = None, device: str = "cpu",
                 prepare: Callable[[Method], None] | None = None, build: Callable[..., Method] | None = None):
        self.peers_dir = peers_dir
        self.device = device
        self.prepare = prepare
        self.build = build or build_method
        self.built: dict[str, Method] = {}
        self.failures: dict[str, Exception] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Method:
        """The method called ``name``; raises what building it raised (now or before)."""
        with self._lock:
            if name in self.built:
                return self.built[name]
            if name in self.failures:
                raise self.failures[name]
            try:
                method = self.build(name, peers_dir=self.peers_dir, device=self.device)
            except UnknownMethodError:
                raise
            except Exception as error:
                self.failures[name] = error
                raise
            if self.prepare is not None:
                self.prepare(method)
            self.built[name] = method
            return method
