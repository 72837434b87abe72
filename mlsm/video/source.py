"""Reading videos with PyAV: opening, the stream facts kept in the output, errors as one line.

PyAV (``pip install av``, FFmpeg inside its wheel) is imported inside the functions, so
``mlsm --help`` stays light. Every FFmpeg failure becomes a :class:`VideoError`
``"<file>: <cause>"``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

__all__ = ["VideoError", "VideoInfo", "import_av", "is_video_file", "open_video"]


class VideoError(Exception):
    """A video that cannot be read or written; ``str`` is ``"<path>: <cause>"`` on one line."""

    def __init__(self, path: str | os.PathLike, cause: str):
        self.path = Path(path)
        self.cause = " ".join(str(cause).split())
        super().__init__(f"{self.path}: {self.cause}")

    def __reduce__(self):
        return type(self), (self.path, self.cause)


def import_av():
    """The ``av`` module, or an ImportError saying how to install it."""
    try:
        import av
    except ImportError:
        raise ImportError("video needs PyAV: pip install 'mlsm[video]' (or pip install av)") from None
    # FFmpeg's log callback stays off (PyAV's default since 13): failures raise instead, and a
    # Python log callback called from FFmpeg's decoding threads can deadlock.
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What the output keeps of the input's first video stream (and its first audio stream)."""

    width: int
    height: int
    rate: Fraction  # frames per second (average; the frame times themselves are kept)
    time_base: Fraction
    codec: str
    frames: int | None  # from the container header (None: unknown)
    duration: float | None  # seconds (None: unknown)
    audio_codec: str | None

    @property
    def fps(self) -> float:
        return float(self.rate)


def _ffmpeg_cause(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


def open_video(path: str | os.PathLike):
    """``(container, video_stream, audio_stream or None, VideoInfo)`` for ``path``.

    Raises:
        VideoError: not a readable container, no video stream, a codec FFmpeg cannot decode,
            a size H.264 cannot hold (under 2x2).
    """
    av = import_av()
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "no such file" if not path.exists() else "not a regular file")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise VideoError(path, f"not a readable video ({_ffmpeg_cause(exc)})") from None
    try:
        videos = container.streams.video
        if not videos:
            kinds = sorted({stream.type for stream in container.streams}) or ["none"]
            raise VideoError(path, f"no video stream (streams: {', '.join(kinds)})")
        video = videos[0]
        context = video.codec_context
        codec = getattr(getattr(context, "codec", None), "name", None) if context is not None else None
        if context is None or not codec or codec == "none":
            raise VideoError(path, "unsupported video codec (FFmpeg has no decoder for it)")
        width, height = int(context.width or 0), int(context.height or 0)
        if width < 2 or height < 2:
            raise VideoError(path, f"video is {width}x{height}: H.264 (yuv420p) needs at least 2x2 pixels")
        rate = video.average_rate or video.guessed_rate or video.base_rate
        if not rate or rate <= 0:
            raise VideoError(path, "video stream has no frame rate")
        duration = None
        if video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_codec = audio.codec_context.name if audio is not None and audio.codec_context is not None else None
        info = VideoInfo(width, height, Fraction(rate), Fraction(video.time_base or Fraction(1, 90000)), codec,
                         int(video.frames) or None, duration, audio_codec)
        video.thread_type = "AUTO"
        return container, video, audio, info
    except BaseException:
        container.close()
        raise


def is_video_file(path: str | os.PathLike) -> bool:
    """True when FFmpeg opens ``path`` and finds a video stream with more than one frame or an
    unknown count (so a JPEG, which FFmpeg also reads, is not taken for a video)."""
    try:
        container, _video, _audio, info = open_video(path)
    except (VideoError, ImportError):
        return False
    try:
        return info.codec not in {"mjpeg", "png", "bmp", "tiff", "webp", "gif"} or (info.frames or 0) > 1
    finally:
        container.close()
