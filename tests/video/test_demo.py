"""The demo's video panel without a browser: mlsm.app.process_video and the side-by-side clip."""
from __future__ import annotations

import pytest

from tests.video.clips import dark_pan, read_clip, write_clip

import mlsm
from mlsm.app import process_video


@pytest.fixture(scope="module")
def model():
    return mlsm.load_model()


def test_short_video_gives_before_after_and_the_enhanced_clip(model, tmp_path):
    clip = write_clip(tmp_path / "night clip.mp4", dark_pan(8, 32, 48))
    result = process_video(str(clip), model, tmp_path, max_frames=5)
    assert "5 frames 48x32" in result.status
    enhanced, both = read_clip(result.enhanced), read_clip(result.side_by_side)
    assert len(enhanced["frames"]) == len(both["frames"]) == 5
    assert both["frames"][0].shape == (32, 2 * 48 + 8, 3)
    left, right = both["frames"][2][:, :48], both["frames"][2][:, 56:]
    assert right.mean() > left.mean() + 40  # after is brighter than before
    assert abs(float(right.mean()) - float(enhanced["frames"][2].mean())) < 6


def test_bad_uploads_become_a_status_line(model, tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"nope")
    assert process_video(str(tmp_path / "x.mp4"), model, tmp_path).status.startswith("x.mp4: not a readable video")
    assert process_video(None, model, tmp_path).status == "Upload a short video first."
