"""mlsm.video end to end: clips built here with PyAV, enhanced through ``mlsm enhance`` and the API."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.video.clips import av, dark_pan, read_clip, write_clip

import mlsm
from mlsm.cli import main
from mlsm.video import BrightnessSmoother, VideoError, enhance_frames, enhance_video
from mlsm.video.flicker import compensated_temporal_difference, mean_luma_series, step_std

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT.parent / "shared" / "peers"


@pytest.fixture(scope="module")
def model():
    return mlsm.load_model()


@pytest.fixture(scope="module")
def pan_clip(tmp_path_factory) -> Path:
    """24 dark frames 64x48 at 24 fps, panning one pixel a frame, H.264 CRF 28, AAC audio."""
    return write_clip(tmp_path_factory.mktemp("clip") / "pan.mp4", dark_pan(24, 48, 64))


def _parts(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.endswith(".part")]


def test_cli_enhances_a_clip_beside_a_photo(pan_clip, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    from PIL import Image
    Image.fromarray(dark_pan(1, 20, 24)[0]).save(photo)
    out = tmp_path / "out"
    assert main(["enhance", str(pan_clip), str(photo), "-o", str(out), "--threads", "2"]) == 0
    assert "2 enhanced, 0 skipped, 0 failed" in capsys.readouterr().out
    assert sorted(path.name for path in out.iterdir()) == ["pan.mp4", "photo.png"]
    source, result = read_clip(pan_clip), read_clip(out / "pan.mp4")
    assert len(result["frames"]) == 24 and result["frames"][0].shape == (48, 64, 3)
    assert result["rate"] == 24 and result["times"] == pytest.approx(source["times"], abs=1e-3)
    assert result["kinds"] == ["audio", "video"] and result["audio"] == "aac"
    assert mean_luma_series(result["frames"]).mean() > mean_luma_series(source["frames"]).mean() + 0.2
    assert _parts(out) == []


def test_a_folder_contributes_its_videos(pan_clip, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "night.MKV").write_bytes(pan_clip.read_bytes())  # an MP4 named .MKV: read by content
    out = tmp_path / "out"
    assert main(["enhance", str(folder), "-o", str(out), "--max-frames", "3", "--suffix", "_bright"]) == 0
    assert len(read_clip(out / "night_bright.mp4")["frames"]) == 3


def test_smoothing_flickers_less_than_per_frame_and_zero_dce(model, pan_clip, tmp_path):
    smooth = read_clip(enhance_video(model, pan_clip, tmp_path / "smooth.mp4", temporal_smoothing=1.0).path)
    alone = read_clip(enhance_video(model, pan_clip, tmp_path / "alone.mp4", temporal_smoothing=0.0).path)
    assert step_std(smooth["frames"]) < 0.5 * step_std(alone["frames"])
    assert compensated_temporal_difference(smooth["frames"], (0, 1)) < compensated_temporal_difference(
        alone["frames"], (0, 1))
    if not (PEERS / "zero-dce" / "Epoch99.pth").is_file():
        pytest.skip(f"Zero-DCE weights not found at {PEERS / 'zero-dce'}: the comparison with it needs them")
    from mlsm.baselines.peers import build_peer
    zero_dce = build_peer("zero_dce", PEERS)
    per_frame = [zero_dce(frame.astype(np.float32) / 255.0) for frame in read_clip(pan_clip)["frames"]]
    assert mean_luma_series(smooth["frames"]).mean() > mean_luma_series(per_frame).mean()
    assert step_std(smooth["frames"]) < step_std(per_frame)


def test_enhance_frames_is_lazy_and_keeps_shapes(model):
    frames = dark_pan(5, 16, 20)
    consumed = []

    def source():
        for index, frame in enumerate(frames):
            consumed.append(index)
            yield frame

    iterator = enhance_frames(model, source(), fps=25)
    first = next(iterator)
    assert consumed == [0] and first.shape == (16, 20, 3) and first.dtype == np.uint8
    assert len(list(iterator)) == 4
    with pytest.raises(ValueError, match="fps"):
        next(enhance_frames(model, frames, fps=0))


def test_scene_cut_resets_the_average():
    smoother = BrightnessSmoother(time_constant=10.0, scene_cut=0.5)
    assert smoother.update(2.0, -4.0, 0.0) == 2.0
    assert smoother.update(1.0, -4.0, 0.04) == pytest.approx(2.0 - (1 - np.exp(-0.004)), rel=1e-9)
    assert smoother.update(1.0, -3.0, 0.08) == 1.0 and smoother.cuts == 1
    assert BrightnessSmoother(0.0).update(3.0, 0.0, 0.0) == 3.0
    with pytest.raises(ValueError):
        BrightnessSmoother(-1.0)


def test_part_of_a_clip_and_metadata(model, tmp_path):
    clip = write_clip(tmp_path / "rot.mp4", dark_pan(12, 32, 48), rotation=90)
    part = enhance_video(model, clip, tmp_path / "part.mp4", start=0.25, duration=0.25)
    result = read_clip(part.path)
    assert part.frames == len(result["frames"]) == 6 and result["times"][0] == pytest.approx(0.0, abs=1e-3)
    assert result["rotation"] == 90 and result["audio"] == "aac"
    assert enhance_video(model, clip, tmp_path / "few.mp4", max_frames=4).frames == 4
    with pytest.raises(VideoError, match=r"rot\.mp4: no video frames decoded from 9 s"):
        enhance_video(model, clip, tmp_path / "none.mp4", start=9.0)
    assert not (tmp_path / "none.mp4").exists() and _parts(tmp_path) == []


def test_variable_frame_rate_keeps_frame_times(model, tmp_path):
    pts = [0, 3, 10, 12, 25, 31]  # in 1/240 s
    clip = write_clip(tmp_path / "vfr.mkv", dark_pan(6, 32, 32), pts=pts, audio=False, container="matroska")
    result = read_clip(enhance_video(model, clip, tmp_path / "vfr.mp4").path)
    assert result["times"] == pytest.approx([value / 240 for value in pts], abs=2e-3)


def test_odd_sizes_are_cropped_and_tiny_ones_refused(model, tmp_path):
    odd = write_clip(tmp_path / "odd.mkv", dark_pan(3, 17, 33), codec="ffv1", pix_fmt="yuv444p", audio=False,
                     container="matroska")
    result = enhance_video(model, odd, tmp_path / "odd.mp4")
    assert (result.width, result.height) == (32, 16) and "33x17 cropped to 32x16" in result.notes[0]
    assert read_clip(result.path)["frames"][0].shape == (16, 32, 3)
    tiny = write_clip(tmp_path / "tiny.nut", [np.zeros((1, 1, 3), np.uint8)] * 3, codec="rawvideo",
                      pix_fmt="rgb24", audio=False, container="nut")
    with pytest.raises(VideoError, match=r"tiny\.nut: video is 1x1: .*at least 2x2"):
        enhance_video(model, tiny, tmp_path / "tiny.mp4")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["odd.mkv", "odd.mp4", "tiny.nut"]


def _bad_inputs(folder: Path, pan_clip: Path) -> dict[str, str]:
    """file name -> the cause its error line must give."""
    data = pan_clip.read_bytes()
    (folder / "garbage.mp4").write_bytes(b"not a video at all" * 10)
    (folder / "truncated.mp4").write_bytes(data[:len(data) // 2])  # moov atom at the end: lost
    corrupt = bytearray(data)
    start = corrupt.find(b"mdat") + 200
    corrupt[start:start + 400] = np.random.default_rng(1).integers(0, 256, 400, dtype=np.uint8).tobytes()
    (folder / "corrupt.mp4").write_bytes(bytes(corrupt))  # garbage inside the first frames' data
    output = av.open(str(folder / "sound.mp4"), "w")
    sound = output.add_stream("aac", rate=16000)
    sound.layout = "mono"
    for index in range(4):
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 16000, index * 1024
        for packet in sound.encode(chunk):
            output.mux(packet)
    for packet in sound.encode(None):
        output.mux(packet)
    output.close()
    avi = write_clip(folder / "mpeg4.avi", dark_pan(3, 16, 16), codec="mpeg4", audio=False, container="avi")
    (folder / "unknown.avi").write_bytes(avi.read_bytes().replace(b"FMP4", b"QQQQ"))
    avi.unlink()
    empty = av.open(str(folder / "empty.mp4"), "w")  # a header, not one frame
    stream = empty.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
    empty.start_encoding()
    empty.close()
    return {"garbage.mp4": "not a readable video", "truncated.mp4": "not a readable video",
            "sound.mp4": "no video stream (streams: audio)", "unknown.avi": "unsupported video codec",
            "empty.mp4": "no video stream (streams: none)", "corrupt.mp4": "corrupt or truncated video data"}


def test_bad_videos_fail_one_line_each_and_the_batch_goes_on(pan_clip, tmp_path, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    causes = _bad_inputs(folder, pan_clip)
    (folder / "good.mp4").write_bytes(pan_clip.read_bytes())
    assert main(["enhance", str(folder), "-o", str(out), "--max-frames", "2"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == len(causes), captured.err
    for name, cause in causes.items():
        assert any(line.startswith(f"mlsm: error: {folder / name}: {cause}") for line in lines), (name, lines)
    assert f"1 enhanced, 0 skipped, {len(causes)} failed" in captured.out
    assert sorted(path.name for path in out.iterdir()) == ["good.mp4"]


def test_truncated_stream_with_a_complete_header_fails(model, pan_clip, tmp_path):
    clip = tmp_path / "fast.mp4"
    with av.open(str(pan_clip)) as source, av.open(str(clip), "w", options={"movflags": "faststart"}) as output:
        stream = output.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                output.mux(packet)
    data = clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(VideoError, match=r"cut\.mp4: truncated video: \d+ of the 24 frames"):
        enhance_video(model, tmp_path / "cut.mp4", tmp_path / "cut_out.mp4")
    assert not (tmp_path / "cut_out.mp4").exists() and _parts(tmp_path) == []


def test_never_overwrites_the_input_or_an_existing_output(model, pan_clip, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(pan_clip.read_bytes())
    with pytest.raises(VideoError, match="refusing to overwrite the input"):
        enhance_video(model, clip, clip, overwrite=True)
    assert main(["enhance", str(clip), "-o", str(tmp_path), "--overwrite"]) == 1
    assert "refusing to overwrite an input file" in capsys.readouterr().err
    assert clip.read_bytes() == pan_clip.read_bytes()
    (tmp_path / "taken.mp4").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        enhance_video(model, clip, tmp_path / "taken.mp4")
    assert (tmp_path / "taken.mp4").read_bytes() == b"keep"


@pytest.mark.parametrize("signum, code, line", [(signal.SIGTERM, 143, "mlsm: interrupted (SIGTERM)"),
                                                (signal.SIGINT, 130, "mlsm: interrupted")])
def test_interrupt_mid_clip_leaves_no_temporary_file(pan_clip, tmp_path, signum, code, line):
    marker, out = tmp_path / "busy", tmp_path / "out"
    script = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # a background shell starts us with SIGINT ignored\n"
        "import mlsm.video.frames as frames\n"
        "original = frames.FrameEnhancer.__call__\n"
        "def slow(self, frame, time_s):\n"
        "    if len(self.targets) == 3:\n"
        "        pathlib.Path(sys.argv[1]).write_text('now')\n"
        "        time.sleep(60)\n"
        "    return original(self, frame, time_s)\n"
        "frames.FrameEnhancer.__call__ = slow\n"
        "from mlsm.cli import main\n"
        "sys.exit(main(sys.argv[2:]))\n")
    child = subprocess.Popen([sys.executable, "-c", script, str(marker), "enhance", str(pan_clip), "-o", str(out),
                              "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), child.communicate()[1]
    assert _parts(out), "caught mid-write: the temporary file exists"
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == code, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == line
    assert list(out.iterdir()) == []


def test_cli_video_options_are_checked(pan_clip, tmp_path):
    for option in (["--crf", "52"], ["--temporal-smoothing", "-1"], ["--max-frames", "0"], ["--start", "nan"],
                   ["--duration", "0"]):
        assert main(["enhance", str(pan_clip), "-o", str(tmp_path), *option]) == 2, option


def test_audio_is_copied_packet_for_packet(model, pan_clip, tmp_path):
    result = enhance_video(model, pan_clip, tmp_path / "out.mp4")

    def packets(path):
        with av.open(str(path)) as container:
            return [(packet.pts, bytes(packet)) for packet in container.demux(container.streams.audio[0])
                    if packet.pts is not None]

    assert result.audio == "aac" and packets(result.path) == packets(pan_clip)  # AAC priming packet included


@pytest.mark.skipif(__import__("importlib").util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_cli_onnx_backend_enhances_a_clip(pan_clip, tmp_path):
    out = tmp_path / "out"
    assert main(["enhance", str(pan_clip), "-o", str(out), "--backend", "onnx", "--max-frames", "3"]) == 0
    assert len(read_clip(out / "pan.mp4")["frames"]) == 3


def test_a_scene_cut_resets_the_smoothing(model, tmp_path):
    frames = dark_pan(6, 32, 48, level=20.0) + dark_pan(6, 32, 48, level=90.0, seed=3)
    clip = write_clip(tmp_path / "cut.mp4", frames, audio=False)
    result = enhance_video(model, clip, tmp_path / "out.mp4", temporal_smoothing=5.0)
    assert result.scene_cuts == 1
    means = mean_luma_series(read_clip(result.path)["frames"])
    alone = mean_luma_series(read_clip(enhance_video(model, clip, tmp_path / "alone.mp4",
                                                     temporal_smoothing=0.0).path)["frames"])
    # the new scene starts at its own brightness, as enhanced alone (without the reset it would
    # stay near the old scene's for seconds: a time constant of 5 s against 6 frames at 24 fps)
    assert alone[6] > alone[5] + 0.1
    assert abs(means[6] - alone[6]) < 0.03 and abs(means[6] - means[11]) < 0.05
    assert means[6] > means[5] + 0.1


def test_audio_mp4_cannot_hold_is_dropped_with_a_note(model, tmp_path):
    clip = tmp_path / "pcm.mkv"
    output = av.open(str(clip), "w")
    stream = output.add_stream("ffv1", rate=24)
    stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv444p"
    sound = output.add_stream("pcm_s16le", rate=8000)
    sound.layout = "mono"
    for index, pixels in enumerate(dark_pan(3, 16, 16)):
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = index
        output.mux(stream.encode(frame))
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 333), np.int16), format="s16", layout="mono")
        chunk.sample_rate, chunk.pts = 8000, index * 333
        output.mux(sound.encode(chunk))
    output.mux(stream.encode(None))
    output.mux(sound.encode(None))
    output.close()
    result = enhance_video(model, clip, tmp_path / "out.mp4")
    assert result.audio is None and result.notes == ["audio (pcm_s16le) dropped: MP4 cannot hold it without re-encoding"]
    assert read_clip(result.path)["kinds"] == ["video"] and result.frames == 3


def test_a_frame_the_keep_gate_finds_well_exposed_keeps_its_brightness():
    """As for photos (with keep_well_exposed): a head whose keep gate says "well exposed" gives
    the network's output relit to the frame's own local brightness; without the gate the
    network brightens it."""
    from mlsm.models.exposure import ExposureHead

    plain = mlsm.load_model()
    gated = mlsm.load_model(keep_well_exposed=True)
    head = plain.exposure_head
    gated.exposure_head = ExposureHead.from_spec(
        {**head.spec(), "keep_gate": {"percentiles": [0.5], "weight": [0.0, 0.0, 5.0], "band": [0.35, 0.65]}}, head.weight)
    rng = np.random.default_rng(0)
    frames = [np.clip(0.45 + 0.1 * rng.standard_normal((32, 40, 3)), 0, 1).astype(np.float32) for _ in range(3)]
    kept = list(enhance_frames(gated, frames, fps=24, temporal_smoothing=0.0))
    brightened = list(enhance_frames(plain, frames, fps=24, temporal_smoothing=0.0))
    source = mean_luma_series(frames)
    assert np.abs(mean_luma_series(kept) - source).max() < 0.02
    assert (mean_luma_series(brightened) - source).min() > 0.05


def test_frames_get_the_photo_colour_balance():
    """As for photos: a frame keeps its own colour balance, and one the brightness floor lifts
    keeps the head's share of its cast (here a head with no say of its own: only the floor)."""
    import math

    import torch

    from mlsm.colour import linear_to_srgb
    from mlsm.inference.balance import log_chroma
    from mlsm.models.exposure import ExposureHead

    rng = np.random.default_rng(1)
    cast = np.array([0.3, 0.0, -0.3])
    frames = [linear_to_srgb((0.01 * (0.5 + rng.random((32, 40, 1))) * np.exp(cast)).astype(np.float32))
              for _ in range(2)]
    chroma_in = log_chroma(torch.from_numpy(frames[0]).permute(2, 0, 1)[None])[0]
    results = {}
    for balance in (True, False):
        model = mlsm.load_model(colour_balance=balance)
        model.exposure_head = ExposureHead(grid_cells=64, exposure_range=(0.5, 1.0),  # no say on these frames
                                           floor_log_mean=math.log(0.4), floor_chroma=0.4)
        out = list(enhance_frames(model, frames, fps=24, temporal_smoothing=0.0))[0]
        results[balance] = log_chroma(torch.from_numpy(out).permute(2, 0, 1)[None])[0]
    assert torch.allclose(results[True], 0.4 * chroma_in, atol=0.02)
    assert not torch.allclose(results[False], 0.4 * chroma_in, atol=0.05)


def test_colour_balance_target_is_smoothed_over_time():
    """The colour step's target follows the EMA of the brightness: a cast that flips every
    frame moves the output's chroma less with smoothing than without, and a scene cut (the
    input 1.5 stops brighter) takes the new frame's own target at once."""
    import torch

    from mlsm.colour import linear_to_srgb
    from mlsm.inference.balance import log_chroma

    rng = np.random.default_rng(2)
    base = 0.02 * (0.5 + rng.random((32, 40, 1)))

    def frame(cast: float, level: float = 1.0) -> np.ndarray:
        return linear_to_srgb((level * base * np.exp(np.array([cast, 0.0, -cast]))).astype(np.float32))

    def red_chroma(frames) -> np.ndarray:
        return np.array([float(log_chroma(torch.from_numpy(f).permute(2, 0, 1)[None])[0, 0]) for f in frames])

    flipping = [frame(0.15 if i % 2 else -0.15) for i in range(8)]
    model = mlsm.load_model()
    unsmoothed = red_chroma(enhance_frames(model, flipping, fps=24, temporal_smoothing=0.0))
    smoothed = red_chroma(enhance_frames(model, flipping, fps=24, temporal_smoothing=1.0))
    swing = lambda series: float(np.abs(np.diff(series[2:])).mean())  # noqa: E731
    assert swing(smoothed) < 0.5 * swing(unsmoothed)
    cut = [frame(-0.15)] * 4 + [frame(0.15, level=4.5)]
    alone = red_chroma(enhance_frames(model, cut[-1:], fps=24, temporal_smoothing=1.0))[0]
    after_cut = red_chroma(enhance_frames(model, cut, fps=24, temporal_smoothing=1.0))[-1]
    assert abs(after_cut - alone) < 0.01
