"""Tests of ``mlsm demo`` without a browser: the processing function, the page, the command."""
from __future__ import annotations

import urllib.request
from html.parser import HTMLParser
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from PIL import Image

from mlsm import app
from mlsm.app import DemoLimits, MethodCache, darkest_window, list_samples, process, zoom_panel
from mlsm.cli import main
from mlsm.io import read_image
from mlsm.models import Enhancer, ModelConfig, VAEConfig
from mlsm.models.weights import save_weights


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny random-init enhancer saved as a user checkpoint (no trained model ships yet)."""
    torch.manual_seed(0)
    network = Enhancer(ModelConfig(vae=VAEConfig(widths=[4, 6, 8])))
    return save_weights(tmp_path_factory.mktemp("model") / "tiny.safetensors", network, "enhancer",
                        network.config, card={})


@pytest.fixture(scope="module")
def methods(model_path, tmp_path_factory):
    """Models from the tiny checkpoint; an empty peers folder, so every peer is unavailable."""
    return MethodCache([str(model_path)], peers_dir=tmp_path_factory.mktemp("no-peers"))


@pytest.fixture
def dark_jpeg(tmp_path):
    """A 64 x 48 dark textured JPEG at quality 70."""
    rows, cols = np.mgrid[0:48, 0:64]
    pattern = (np.sin(cols / 3.0) * np.cos(rows / 5.0) + 1) / 2
    pixels = np.stack([pattern, pattern[::-1], 1 - pattern], axis=-1) * 0.15 + 0.02
    path = tmp_path / "dark photo.jpg"
    Image.fromarray(np.uint8(np.round(pixels * 255))).save(path, quality=70)
    return path


def test_process_good_image(methods, dark_jpeg, tmp_path):
    result = process([str(dark_jpeg)], methods.models[0], "gamma", "PNG", methods=methods, output_dir=tmp_path)
    assert result.errors == []
    assert result.status.startswith("Enhanced 1 photo in ")
    assert result.before.shape == result.mlsm.shape == result.comparison.shape == (48, 64, 3)
    assert result.before.dtype == np.uint8
    assert result.comparison.mean() > result.before.mean() + 20  # gamma brightens a dark photo
    photo = result.photos[0]
    assert (photo.name, photo.width, photo.height, photo.jpeg_quality) == ("dark photo.jpg", 64, 48, 70)
    assert set(photo.seconds) == {"mlsm", "gamma"} and all(s > 0 for s in photo.seconds.values())
    summary = result.summary_markdown()
    assert "QF 70" in summary and "64 x 48" in summary and "mlsm time" in summary and "gamma time" in summary
    assert [path.name for path in result.downloads] == ["dark-photo_mlsm.png", "dark-photo_gamma.png"]
    saved, info = read_image(result.downloads[1])
    assert info.format == "PNG" and saved.shape == (48, 64, 3)
    np.testing.assert_allclose(saved * 255, result.comparison, atol=0.51)
    # zoom: input | mlsm | gamma crops, each enlarged result.zoom_factor times
    side = 16
    assert result.zoom_factor == 3
    assert result.zoom.shape[1] == 3 * side * 3 + 2 * 8
    assert str(tmp_path) in str(result.downloads[0])


def test_process_brightness_scales_the_mlsm_output(methods, dark_jpeg, tmp_path):
    plain = process([str(dark_jpeg)], methods.models[0], None, methods=methods, output_dir=tmp_path)
    brighter = process([str(dark_jpeg)], methods.models[0], None, methods=methods, output_dir=tmp_path,
                       brightness=2.0)
    assert not plain.errors and not brighter.errors
    assert np.asarray(brighter.mlsm, np.float32).mean() > np.asarray(plain.mlsm, np.float32).mean() + 1
    again = process([str(dark_jpeg)], methods.models[0], None, methods=methods, output_dir=tmp_path)
    assert np.array_equal(np.asarray(again.mlsm), np.asarray(plain.mlsm))  # not sticky
    bad = process([str(dark_jpeg)], methods.models[0], None, methods=methods, output_dir=tmp_path, brightness=0)
    assert bad.errors == ["Brightness must be a number in (0, 10], got 0.0."]


def test_process_keep_well_exposed_leaves_a_bright_photo_at_its_brightness(tmp_path):
    methods = MethodCache(["mlsm_small.real_exposure"], peers_dir=tmp_path / "no-peers")
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:96, 0:128]
    pixels = 0.45 + 0.3 * np.sin(cols / 7.0) * np.cos(rows / 11.0) + 0.03 * rng.standard_normal((96, 128))
    path = tmp_path / "bright.png"
    Image.fromarray(np.uint8(np.clip(np.stack([pixels] * 3, -1), 0, 1) * 255)).save(path)
    kept = process([str(path)], methods.models[0], None, methods=methods, output_dir=tmp_path, keep_well_exposed=True)
    plain = process([str(path)], methods.models[0], None, methods=methods, output_dir=tmp_path)
    assert not kept.errors and not plain.errors
    before = np.asarray(kept.before, np.float32).mean()
    assert abs(np.asarray(kept.mlsm, np.float32).mean() - before) < 5  # levels of 255
    assert np.asarray(plain.mlsm, np.float32).mean() > before + 15  # by default the network brightens it



def test_process_colour_balance_switch(tmp_path):
    """The demo's colour switch reaches the model: on, a warm-cast dark photo keeps its cast's
    direction (red over blue); the two settings give different outputs, and it is not sticky."""
    methods = MethodCache(["mlsm_small.real_exposure"], peers_dir=tmp_path / "no-peers")
    rng = np.random.default_rng(3)
    pixels = 0.12 * (0.6 + 0.4 * rng.random((64, 96, 1))) * np.array([1.5, 1.0, 0.6])
    path = tmp_path / "warm.png"
    Image.fromarray(np.uint8(np.clip(pixels, 0, 1) * 255)).save(path)
    kwargs = dict(methods=methods, output_dir=tmp_path)
    balanced = process([str(path)], methods.models[0], None, **kwargs)
    network = process([str(path)], methods.models[0], None, colour_balance=False, **kwargs)
    again = process([str(path)], methods.models[0], None, **kwargs)
    assert not balanced.errors and not network.errors
    out = np.asarray(balanced.mlsm, np.float32)
    assert out[..., 0].mean() > out[..., 2].mean()
    assert not np.array_equal(out, np.asarray(network.mlsm))
    assert np.array_equal(out, np.asarray(again.mlsm))


def test_process_jpeg_download_and_comparison_only(methods, dark_jpeg, tmp_path):
    result = process(dark_jpeg, None, "he", "JPEG", methods=methods, output_dir=tmp_path)
    assert result.errors == [] and result.mlsm is None and result.comparison is not None
    assert [path.suffix for path in result.downloads] == [".jpg"]
    assert read_image(result.downloads[0])[1].jpeg_quality == app.DOWNLOAD_JPEG_QUALITY


def test_process_corrupt_upload_is_a_message(methods, tmp_path):
    corrupt = tmp_path / "holiday.jpg"
    corrupt.write_bytes(b"this is not a JPEG at all")
    result = process([str(corrupt)], methods.models[0], "gamma", methods=methods, output_dir=tmp_path)
    assert result.photos == [] and result.before is None and result.downloads == []
    assert len(result.errors) == 1
    assert result.errors[0].startswith("holiday.jpg: not a recognised image")
    assert "Traceback" not in result.status and "\n" not in result.status


def test_process_truncated_jpeg_is_a_message(methods, dark_jpeg, tmp_path):
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(dark_jpeg.read_bytes()[:300])
    result = process([truncated], methods.models[0], None, methods=methods, output_dir=tmp_path)
    assert result.photos == [] and result.errors[0].startswith("cut.jpg: ")


def test_process_keeps_good_photos_of_a_mixed_batch(methods, dark_jpeg, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    result = process([str(empty), str(dark_jpeg)], methods.models[0], None, methods=methods, output_dir=tmp_path)
    assert [photo.name for photo in result.photos] == ["dark photo.jpg"]
    assert result.errors == ["empty.png: file is empty (0 bytes)"]
    assert result.status.splitlines() == [result.status.splitlines()[0], "empty.png: file is empty (0 bytes)"]
    assert result.status.startswith("Enhanced 1 photo")


def test_process_oversize_file_names_the_limit(methods, dark_jpeg, tmp_path):
    limits = DemoLimits(max_upload_bytes=200, max_pixels=10**6)
    result = process([dark_jpeg], methods.models[0], "gamma", methods=methods, limits=limits, output_dir=tmp_path)
    assert result.photos == []
    assert len(result.errors) == 1
    message = result.errors[0]
    assert message.startswith(f"dark photo.jpg: file is {dark_jpeg.stat().st_size / 2**20:.3g} MB")
    assert f"upload limit of {200 / 2**20:g} MB" in message
    assert "--max-upload-mb" in message


def test_process_too_many_pixels_names_the_limit(methods, dark_jpeg, tmp_path):
    limits = DemoLimits(max_upload_bytes=10**6, max_pixels=64 * 48 - 1)
    result = process([dark_jpeg], methods.models[0], "gamma", methods=methods, limits=limits, output_dir=tmp_path)
    assert result.photos == []
    assert result.errors[0].startswith("dark photo.jpg: 64 x 48 = 0.00307 megapixels, over the limit")
    assert "--max-pixels" in result.errors[0]


def test_process_without_input_or_method(methods, dark_jpeg, tmp_path):
    assert process(None, methods.models[0], "gamma", methods=methods).errors[0].startswith("No photo")
    assert process([dark_jpeg], None, "none", methods=methods).errors[0].startswith("No method")
    assert "Unknown download format" in process([dark_jpeg], None, "gamma", "GIF", methods=methods).errors[0]


def test_unavailable_peer_is_listed_and_reported(methods, dark_jpeg, tmp_path):
    labels = dict((value, label) for label, value in methods.comparison_choices())
    assert labels["none"] == "none (mlsm only)" and labels["gamma"] == "gamma" and "identity" not in labels
    assert labels["zero_dce"] == "zero_dce (unavailable)"
    assert labels["dncnn3+zero_dce"] == "dncnn3+zero_dce (unavailable)"
    result = process([dark_jpeg], methods.models[0], "zero_dce+dncnn3", methods=methods, output_dir=tmp_path)
    assert result.photos == []
    assert result.errors == [f"comparison 'zero_dce+dncnn3' is unavailable: weights not found: "
                             f"{methods.peers_dir / 'zero-dce/Epoch99.pth'}"]


def test_unreadable_model_is_reported(tmp_path, dark_jpeg):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 32)
    cache = MethodCache([str(broken)], peers_dir=tmp_path)
    result = process([dark_jpeg], str(broken), None, methods=cache, output_dir=tmp_path)
    assert result.photos == [] and result.errors[0].startswith(f"mlsm '{broken}' could not be loaded")


def test_darkest_window_finds_the_dark_square():
    image = np.full((120, 200, 3), 0.8, np.float32)
    image[70:90, 30:50] = 0.05
    assert darkest_window(image, 20) == (70, 30)
    big = np.full((1100, 1500, 3), 0.8, np.float32)  # subsampled search: within one step
    big[600:700, 900:1000] = 0.0
    top, left = darkest_window(big, 100)
    assert abs(top - 600) <= 2 and abs(left - 900) <= 2


def test_zoom_panel_enlarges_each_crop():
    image = np.zeros((40, 40, 3), np.float32)
    image[10:20, 10:20] = 1.0
    panel = zoom_panel([("input", image), ("mlsm", 1 - image)], top=10, left=10, side=10, factor=3, gap=8)
    assert panel.shape == (22 + 30, 30 + 8 + 30, 3)
    assert panel[22:, :30].min() == 255 and panel[22:, 38:].max() == 0


def test_list_samples_handles_missing_and_mixed_folders(tmp_path):
    assert list_samples(tmp_path / "missing") == []
    assert list_samples(None) == []
    Image.new("RGB", (8, 8)).save(tmp_path / "b.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("not a photo")
    assert [path.name for path in list_samples(tmp_path)] == ["a.png", "b.jpg"]


def test_cli_demo_help(capsys):
    assert main(["demo", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--model", "--host", "--port", "--peers-dir", "--samples", "--max-upload-mb", "--max-pixels"):
        assert option in text


def test_cli_demo_rejects_bad_arguments(tmp_path, capsys):
    assert main(["demo", "--port", "70000"]) == 2
    assert main(["demo", "--max-upload-mb", "0"]) == 2
    pytest.importorskip("gradio")
    assert main(["demo", "--model", str(tmp_path / "missing.safetensors")]) == 1
    assert "missing.safetensors: no such model name or weight file" in capsys.readouterr().err


class _ResourceParser(HTMLParser):
    """Collects the URLs a page loads by itself: script src, link href, img src."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_build_app_serves_a_page_with_local_resources_only(methods, tmp_path):
    gr = pytest.importorskip("gradio")
    blocks = app.build_app(methods, samples=[], output_dir=tmp_path)
    assert isinstance(blocks, gr.Blocks)
    _, url, _ = app.launch(blocks, host="127.0.0.1", port=0, block=False)
    try:
        assert urlparse(url).hostname == "127.0.0.1"
        with urllib.request.urlopen(url, timeout=30) as response:
            html = response.read().decode()
        parser = _ResourceParser()
        parser.feed(html)
        assert parser.urls, "the page loads no script at all?"
        for resource in parser.urls:
            host = urlparse(resource).hostname
            assert host in (None, "127.0.0.1", "localhost"), f"page loads {resource}"
        theme = urllib.request.urlopen(url.rstrip("/") + "/theme.css", timeout=30).read().decode()
        assert "--font: ui-sans-serif, system-ui, sans-serif;" in theme  # system fonts only
        assert "@import" not in theme and "googleapis" not in theme
    finally:
        blocks.close()


def test_process_neutral_shadows_switch(tmp_path):
    """The demo's shadow switch reaches the model: on, a near-black band (RGB 1, 1, 0 levels)
    comes out grey; off, coloured; and it is not sticky."""
    methods = MethodCache(["mlsm_small.real_exposure"], peers_dir=tmp_path / "no-peers")
    pixels = np.zeros((64, 96, 3), np.uint8)
    pixels[:32] = (1, 1, 0)
    pixels[32:] = (120, 80, 40)
    path = tmp_path / "black-sky.png"
    Image.fromarray(pixels).save(path)
    kwargs = dict(methods=methods, output_dir=tmp_path)

    def spread(result) -> float:
        band = np.asarray(result.mlsm, np.int32)[4:24, 4:-4]
        return float((band.max(-1) - band.min(-1)).mean())

    neutral = process([str(path)], methods.models[0], None, **kwargs)
    coloured = process([str(path)], methods.models[0], None, neutral_shadows=False, **kwargs)
    again = process([str(path)], methods.models[0], None, **kwargs)
    assert not neutral.errors and not coloured.errors
    assert spread(neutral) <= 1.0 < spread(coloured)
    assert np.array_equal(np.asarray(neutral.mlsm), np.asarray(again.mlsm))


def test_process_chroma_denoise_switch(tmp_path):
    """The demo's colour-noise switch reaches the model: on, a dark flat grey photo (PNG, camera
    quality) with colour blotches comes out with less colour variation than off; not sticky."""
    methods = MethodCache(["mlsm_small.real_exposure"], peers_dir=tmp_path / "no-peers")
    rng = np.random.default_rng(0)
    blotches = rng.normal(size=(24, 32, 3))
    blotches = np.asarray(Image.fromarray(np.uint8(np.clip(128 + 40 * blotches, 0, 255))).resize((256, 192), Image.BICUBIC), np.float64) - 128
    pixels = np.clip(14 + blotches / 24 + rng.normal(0, 0.6, (192, 256, 3)), 0, 255).round().astype(np.uint8)
    path = tmp_path / "blotchy-ceiling.png"
    Image.fromarray(pixels).save(path)
    kwargs = dict(methods=methods, output_dir=tmp_path)

    def colour_spread(result) -> float:
        out = np.asarray(result.mlsm, np.float64)
        chroma = out - out @ np.array([0.299, 0.587, 0.114])[:, None]
        return float(chroma.std(axis=(0, 1)).sum())

    smooth = process([str(path)], methods.models[0], None, **kwargs)
    blotchy = process([str(path)], methods.models[0], None, chroma_denoise=False, **kwargs)
    again = process([str(path)], methods.models[0], None, **kwargs)
    assert not smooth.errors and not blotchy.errors
    assert colour_spread(smooth) < 0.5 * colour_spread(blotchy), (colour_spread(smooth), colour_spread(blotchy))  # 2.9, 11.9
    assert np.array_equal(np.asarray(smooth.mlsm), np.asarray(again.mlsm))


def test_process_highlight_headroom_switch(tmp_path):
    """The demo's headroom switch reaches the model: on, a bright sky over a dark ground comes
    out less white than off; and it is not sticky."""
    methods = MethodCache(["mlsm_small.real_exposure"], peers_dir=tmp_path / "no-peers")
    pixels = np.zeros((64, 96, 3), np.uint8)
    pixels[:32] = (170, 190, 220)
    pixels[32:] = (22, 20, 15)
    path = tmp_path / "sky.png"
    Image.fromarray(pixels).save(path)
    kwargs = dict(methods=methods, output_dir=tmp_path)

    def sky(result) -> float:
        return float(np.asarray(result.mlsm, np.float64)[4:24, 4:-4].mean())

    capped = process([str(path)], methods.models[0], None, **kwargs)
    washed = process([str(path)], methods.models[0], None, highlight_headroom=False, **kwargs)
    again = process([str(path)], methods.models[0], None, **kwargs)
    assert not capped.errors and not washed.errors
    assert sky(capped) < sky(washed) - 2.0
    assert np.array_equal(np.asarray(capped.mlsm), np.asarray(again.mlsm))
