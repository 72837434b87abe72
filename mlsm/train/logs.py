"""What a training run leaves behind while it runs: ``metrics.jsonl``, TensorBoard events, and
the SIGTERM/SIGINT flag that makes :class:`mlsm.train.loop.Trainer` stop at a step boundary."""
from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from torch import Tensor

__all__ = ["METRICS_NAME", "MetricsLog", "StopSignal"]

logger = logging.getLogger("mlsm.train.loop")  # one logger name for everything the loop reports

METRICS_NAME = "metrics.jsonl"


class StopSignal:
    """SIGTERM/SIGINT set a flag (checked at step boundaries); a second signal acts as usual."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        logger.warning("received signal %d: saving a checkpoint and stopping", signum)
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _record_step(line: str) -> int | None:
    """The ``step`` of one metrics.jsonl line; ``None`` for a blank or torn (killed mid-write) line."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


class MetricsLog:
    """``metrics.jsonl`` (one flushed JSON object per line) and TensorBoard, main rank only."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool, resume_step: int | None):
        self.enabled = enabled
        self.writer = None
        self.path = out_dir / METRICS_NAME
        self.handle = None
        if not enabled:
            return
        if resume_step is not None and self.path.exists():
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if _record_step(line) is not None and _record_step(line) <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            self.handle = self.path.open("a", encoding="utf-8")
        else:
            self.handle = self.path.open("w", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                logger.warning("tensorboard is not installed: TensorBoard logging disabled "
                               "(pip install 'mlsm[log]')")
            else:
                # events logged after the checkpoint's step by the interrupted run are dropped
                purge = None if resume_step is None else resume_step + 1
                self.writer = SummaryWriter(log_dir=str(out_dir / "tb"), purge_step=purge)

    def scalars(self, kind: str, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"kind": kind, "step": step, **values}
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{kind}/{key}", value, step)

    def images(self, step: int, images: dict[str, Tensor]) -> None:
        if self.writer is not None:
            for key, value in images.items():
                self.writer.add_images(f"samples/{key}", value.detach().float().clamp(0, 1).cpu(), step)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.writer is not None:
            self.writer.close()
