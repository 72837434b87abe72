"""Writing a list of frames as an H.264 clip (the benchmarks' and tests' synthetic clips)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from mlsm.video.source import import_av

__all__ = ["write_h264"]


def write_h264(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: int, crf: int = 23,
               preset: str = "medium") -> None:
    """Encode uint8 RGB ``frames`` (H, W, 3; even sizes) with libx264, yuv420p, CRF ``crf``,
    frame ``i`` at time ``i / fps``."""
    av = import_av()
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
