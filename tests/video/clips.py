"""Short clips built with PyAV for the video tests (tiny, so that the whole folder stays fast)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

av = __import__("pytest").importorskip("av")


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour texture in [0, 1], (height, width, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.random(3) * 6.0
    channels = [0.5 + 0.4 * np.sin(xx / (5.0 + c) + phase[c]) * np.cos(yy / (7.0 + c)) for c in range(3)]
    return np.stack(channels, -1)


def dark_pan(count: int, height: int, width: int, level: float = 40.0, seed: int = 0) -> list[np.ndarray]:
    """``count`` uint8 frames: a window panning one pixel a frame to the right over a dark texture."""
    scene = texture(height, width + count, seed) * level
    return [np.round(scene[:, index:index + width]).astype(np.uint8) for index in range(count)]


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 24, crf: int = 28, audio: bool = True,
               rotation: int = 0, pts: list[int] | None = None, codec: str = "libx264", container: str | None = None,
               pix_fmt: str = "yuv420p") -> Path:
    """Encode ``frames`` (uint8 RGB) into ``path``; with ``audio`` a 440 Hz AAC tone as long as the clip."""
    output = av.open(str(path), "w", format=container)
    stream = output.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
    if codec == "libx264":
        stream.options = {"crf": str(crf), "preset": "ultrafast"}
    if pts is not None:
        stream.time_base = Fraction(1, fps * 10)
        stream.codec_context.time_base = Fraction(1, fps * 10)
    if rotation:
        stream.set_display_rotation(rotation)
    sound = None
    if audio:
        sound = output.add_stream("aac", rate=16000)
        sound.layout = "mono"
    samples_done, per_frame = 0, 16000 // fps
    for index, pixels in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = pts[index] if pts is not None else index
        if pts is not None:
            frame.time_base = stream.codec_context.time_base
        for packet in stream.encode(frame):
            output.mux(packet)
        if sound is not None:
            seconds = (np.arange(per_frame) + samples_done) / 16000
            tone = (0.1 * np.sin(2 * np.pi * 440 * seconds)).astype(np.float32)[None]
            chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, samples_done
            samples_done += per_frame
            for packet in sound.encode(chunk):
                output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)
    if sound is not None:
        for packet in sound.encode(None):
            output.mux(packet)
    output.close()
    return path


def read_clip(path: Path) -> dict:
    """Frames (uint8 RGB), frame rate, frame times, rotation and stream kinds of ``path``."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        kinds = sorted(stream.type for stream in container.streams)
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        frames, times, rotation = [], [], 0
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * video.time_base))
            rotation = frame.rotation
        return {"frames": frames, "rate": video.average_rate, "times": times, "rotation": rotation,
                "kinds": kinds, "audio": audio, "width": video.codec_context.width,
                "height": video.codec_context.height}
