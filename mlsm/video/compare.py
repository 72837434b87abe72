"""A before | after clip: the input and its enhanced version side by side (the demo shows it)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mlsm.atomic import atomic_path
from mlsm.video.source import VideoError, _ffmpeg_cause, import_av, open_video

__all__ = ["side_by_side"]

_GAP = 8  # white pixels between the halves (even, so yuv420p keeps even widths)


def side_by_side(before: str | os.PathLike, after: str | os.PathLike, dst: str | os.PathLike, crf: int = 23,
                 max_frames: int | None = None) -> int:
    """Write ``before | after`` (frame by frame, ``after``'s frame count and rate) to the MP4
    ``dst`` atomically; returns the number of frames. ``before`` frames are cropped to
    ``after``'s size (its even crop)."""
    av = import_av()
    source, video, _audio, _info = open_video(before)
    result, result_video, _result_audio, info = open_video(after)
    written = 0
    try:
        with atomic_path(dst) as temporary:
            try:
                with av.open(str(temporary), "w", format="mp4") as output:
                    stream = output.add_stream("libx264", rate=info.rate)
                    stream.width, stream.height = 2 * info.width + _GAP, info.height
                    stream.pix_fmt, stream.options = "yuv420p", {"crf": str(crf), "preset": "veryfast"}
                    gap = np.full((info.height, _GAP, 3), 255, np.uint8)
                    pairs = zip(source.decode(video), result.decode(result_video))
                    for index, (left, right) in enumerate(pairs):
                        if max_frames is not None and index >= max_frames:
                            break
                        pixels = np.concatenate([left.to_ndarray(format="rgb24")[:info.height, :info.width], gap,
                                                 right.to_ndarray(format="rgb24")], axis=1)
                        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                        frame.pts = index
                        for packet in stream.encode(frame):
                            output.mux(packet)
                        written += 1
                    for packet in stream.encode(None):
                        output.mux(packet)
            except av.FFmpegError as exc:
                raise VideoError(before, f"cannot build the side-by-side clip ({_ffmpeg_cause(exc)})") from None
    finally:
        source.close()
        result.close()
    return written
