"""``enhance_video(model, src, dst)``: decode, enhance frame by frame, encode H.264, atomically.

::

    src ─ PyAV demux ─┬─ video packets ─ decode ─ crop to even ─ FrameEnhancer ─ libx264 (yuv420p, CRF) ─┐
                      └─ audio packets (first audio stream) ─ copied, not re-encoded ───────────────────┴─ MP4

Frames stream one at a time (memory does not grow with the clip's length). Kept from the
input: frame times (so the frame rate, also a variable one), the time base, the rotation
(display matrix) and the first audio stream when MP4 can hold its codec (AAC, MP3, Opus,
AC-3, E-AC-3, ALAC, FLAC; otherwise it is dropped with a note). Odd widths or heights lose
their last column or row (yuv420p needs even sizes), with a note. The output is written to
a temporary file beside ``dst`` (:func:`mlsm.atomic.atomic_path`) and renamed at the end:
any error, Ctrl-C or SIGTERM leaves neither a partial output nor the temporary file.
"""
from __future__ import annotations

import math
import os
import time as _time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

from mlsm.atomic import atomic_path
from mlsm.video.frames import FrameEnhancer
from mlsm.video.source import VideoError, VideoInfo, _ffmpeg_cause, import_av, open_video
from mlsm.video.temporal import DEFAULT_SCENE_CUT, DEFAULT_TEMPORAL_SMOOTHING

__all__ = ["DEFAULT_CRF", "DEFAULT_PRESET", "VideoProgress", "VideoResult", "enhance_video"]

DEFAULT_CRF = 18  # x264's "visually lossless"
DEFAULT_PRESET = "medium"
_MP4_AUDIO = {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}


@dataclass(frozen=True)
class VideoProgress:
    """Passed to the progress callback after every frame."""

    frames: int  # frames written so far
    total: int | None  # frames expected (None: unknown)
    fps: float  # frames per second so far
    eta: float | None  # seconds left (None: unknown)


@dataclass
class VideoResult:
    """What :func:`enhance_video` wrote."""

    path: Path
    frames: int
    width: int
    height: int
    rate: Fraction
    audio: str | None  # the copied audio codec, None without audio
    scene_cuts: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def _expected_frames(info: VideoInfo, start: float, duration: float | None, max_frames: int | None) -> int | None:
    counts = []
    if info.duration is not None:
        counts.append(math.ceil(max(info.duration - start, 0.0) * info.fps))
    elif info.frames and not start:
        counts.append(info.frames)
    if duration is not None:
        counts.append(math.ceil(duration * info.fps))
    if max_frames is not None:
        counts.append(max_frames)
    return min(counts) if counts else None


def _check_arguments(crf: int, max_frames, start: float, duration, temporal_smoothing: float) -> None:
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    if not 0 <= start < math.inf:
        raise ValueError(f"start must be a finite number of seconds >= 0, got {start}")
    if duration is not None and not 0 < duration < math.inf:
        raise ValueError(f"duration must be a finite number of seconds > 0, got {duration}")
    if not 0 <= temporal_smoothing < math.inf:
        raise ValueError(f"temporal_smoothing must be a finite number of seconds >= 0, got {temporal_smoothing}")


def enhance_video(model, src: str | os.PathLike, dst: str | os.PathLike, *, crf: int = DEFAULT_CRF,
                  preset: str = DEFAULT_PRESET, temporal_smoothing: float = DEFAULT_TEMPORAL_SMOOTHING,
                  scene_cut: float = DEFAULT_SCENE_CUT, max_frames: int | None = None, start: float = 0.0,
                  duration: float | None = None, overwrite: bool = False,
                  progress: Callable[[VideoProgress], None] | None = None) -> VideoResult:
    """Enhance the video ``src`` into the MP4 ``dst`` (H.264 yuv420p, audio copied).

    Args:
        model: a loaded model (``mlsm.load_model()``; torch or onnx backend, its tiling and
            exposure options apply to every frame).
        crf: x264 constant rate factor 0..51 (18: visually lossless; +6 halves the size).
        preset: x264 speed preset (``ultrafast`` .. ``veryslow``).
        temporal_smoothing: seconds; time constant of the brightness smoothing (0: each
            frame on its own, as a photo). See :mod:`mlsm.video.temporal`.
        scene_cut: input mean log-luminance jump that resets the smoothing.
        max_frames: stop after this many frames.
        start, duration: process only ``[start, start + duration)`` seconds of the clip.
        overwrite: replace an existing ``dst`` (never ``src`` itself).
        progress: called with a :class:`VideoProgress` after each frame.

    Raises:
        VideoError: unreadable, truncated or corrupt input, no video stream, unsupported
            codec, no frame in the range, a size under 2x2, or a write that failed.
        FileExistsError: ``dst`` exists and ``overwrite`` is False.
        ValueError: an argument out of range.
    """
    _check_arguments(crf, max_frames, start, duration, temporal_smoothing)
    av = import_av()
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.exists() and os.path.samefile(src, dst) or dst.resolve() == src.resolve():
        raise VideoError(dst, f"refusing to overwrite the input ({src})")
    if (dst.exists() or dst.is_symlink()) and not overwrite:
        raise FileExistsError(f"{dst}: file exists (pass overwrite=True to replace it)")
    container, video, audio, info = open_video(src)
    began = _time.perf_counter()
    try:
        expected = _expected_frames(info, start, duration, max_frames)
        with atomic_path(dst) as temporary:
            try:
                result = _transcode(av, container, video, audio, info, temporary, dst, model, crf, preset,
                                    FrameEnhancer(model, temporal_smoothing, scene_cut), max_frames, start, duration,
                                    expected, progress, began)
            except av.FFmpegError as exc:
                raise VideoError(src, f"corrupt or truncated video data ({_ffmpeg_cause(exc)})") from None
            if result.frames == 0:
                where = f" from {start:g} s" if start else ""
                raise VideoError(src, f"no video frames decoded{where} (empty, truncated or corrupt video)")
            whole_clip = not start and max_frames is None and duration is None
            if whole_clip and info.frames and result.frames < info.frames:
                raise VideoError(src, f"truncated video: {result.frames} of the {info.frames} frames its header "
                                      f"lists could be decoded")
    finally:
        container.close()
    result.seconds = _time.perf_counter() - began
    return result


def _even_size(info: VideoInfo, notes: list[str]) -> tuple[int, int]:
    width, height = info.width - info.width % 2, info.height - info.height % 2
    if (width, height) != (info.width, info.height):
        notes.append(f"{info.width}x{info.height} cropped to {width}x{height} (H.264 yuv420p needs even sizes; "
                     f"the last {'column' if width != info.width else ''}"
                     f"{' and ' if width != info.width and height != info.height else ''}"
                     f"{'row' if height != info.height else ''} dropped)")
    return width, height


def _transcode(av, container, video, audio, info: VideoInfo, temporary: Path, dst: Path, model, crf: int, preset: str,
               enhancer: FrameEnhancer, max_frames, start: float, duration, expected, progress, began) -> VideoResult:
    notes: list[str] = []
    width, height = _even_size(info, notes)
    time_base = info.time_base
    origin = float(video.start_time * time_base) if video.start_time is not None else 0.0
    if start > 0:
        container.seek(int((origin + start) / time_base), stream=video, backward=True, any_frame=False)
    end = start + duration if duration is not None else math.inf
    copy_audio = audio is not None and info.audio_codec in _MP4_AUDIO
    if audio is not None and not copy_audio:
        notes.append(f"audio ({info.audio_codec}) dropped: MP4 cannot hold it without re-encoding")

    output = av.open(str(temporary), "w", format="mp4")
    try:
        stream = output.add_stream("libx264", rate=info.rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.options = {"crf": str(crf), "preset": preset}
        audio_out = output.add_stream_from_template(audio) if copy_audio else None
        pending_audio = []  # audio packets demuxed before the first video frame fixed the time origin
        offset_seconds: float | None = None  # input time of the output's time 0
        written, last_pts = 0, None
        demuxed = [video] + ([audio] if copy_audio else [])
        done = False
        for packet in container.demux(*demuxed):
            if packet.stream is not video:
                if packet.pts is None or packet.dts is None:
                    continue
                pending_audio.append(packet)
                if offset_seconds is not None:
                    _mux_audio(output, audio_out, pending_audio, offset_seconds, origin + end)
                continue
            for frame in packet.decode():
                seconds = float(frame.pts * time_base) if frame.pts is not None else origin + written / info.fps
                relative = seconds - origin
                if relative < start - 0.5 / info.fps:
                    continue
                if relative >= end - 0.5 / info.fps or (max_frames is not None and written >= max_frames):
                    done = True
                    break
                if offset_seconds is None:
                    offset_seconds = seconds
                    if frame.rotation:
                        stream.set_display_rotation(frame.rotation)
                pixels = frame.to_ndarray(format="rgb24")[:height, :width]
                enhanced = enhancer(pixels, relative)
                out_frame = av.VideoFrame.from_ndarray(enhanced, format="rgb24")
                pts = round((seconds - offset_seconds) / time_base)
                pts = pts if last_pts is None or pts > last_pts else last_pts + 1
                out_frame.pts, out_frame.time_base, last_pts = pts, time_base, pts
                for encoded in stream.encode(out_frame):
                    output.mux(encoded)
                written += 1
                if audio_out is not None:
                    _mux_audio(output, audio_out, pending_audio, offset_seconds, origin + end)
                if progress is not None:
                    elapsed = _time.perf_counter() - began
                    rate = written / elapsed if elapsed > 0 else 0.0
                    eta = (expected - written) / rate if expected and rate > 0 else None
                    progress(VideoProgress(written, expected, rate, None if eta is None else max(eta, 0.0)))
            if done:
                break
        if written:
            for encoded in stream.encode(None):
                output.mux(encoded)
    finally:
        try:
            output.close()
        except av.FFmpegError:
            if written:
                raise
    return VideoResult(dst, written, width, height, info.rate, info.audio_codec if copy_audio and written else None,
                       enhancer.smoother.cuts, 0.0, notes)


def _mux_audio(output, stream, packets: list, offset_seconds: float, end_seconds: float) -> None:
    """Mux the pending audio ``packets`` shifted so that ``offset_seconds`` is time 0; drop
    those that end before it or start past ``end_seconds``; empties the list."""
    for packet in packets:
        base = packet.time_base
        seconds = float(packet.pts * base)
        ends = seconds + float((packet.duration or 0) * base)
        # kept: packets that end at time 0 or later, so the codec's priming (AAC's first 1024
        # samples, pts < 0), which the decoder needs and then drops, stays
        if ends < offset_seconds - 1e-6 or seconds >= end_seconds:
            continue
        shift = round(offset_seconds / base)
        packet.pts -= shift
        packet.dts -= shift
        packet.stream = stream
        output.mux(packet)
    packets.clear()
