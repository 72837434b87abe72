"""``mlsm demo``: a local web page to try mlsm on your own compressed dark photos (Gradio).

::

    mlsm demo [--model NAME|PATH] [--host 127.0.0.1] [--port 7860 (0: any free port)]
              [--peers-dir DIR] [--samples DIR] [--max-upload-mb 25] [--max-pixels 40e6]

Upload one or more photos (or pick a sample), choose the mlsm model and optionally a
comparison method from :mod:`mlsm.baselines.registry` (classical, peer, or a pipeline such
as ``"zero_dce+dncnn3"``), click *Enhance*. The page shows a before/after slider per method,
a 3x zoom on the darkest region (input | mlsm | comparison), the estimated JPEG quality
factor of the upload (:func:`mlsm.io.estimate_jpeg_quality`), the image size and the run
times, and offers the results for download as PNG or JPEG. A short video (its first
:data:`VIDEO_MAX_FRAMES` frames) gives a before | after clip and the enhanced MP4
(:func:`process_video`, needs ``mlsm[video]``).

Three layers, so the first can be tested without a browser (it lives in
:mod:`mlsm.app_processing` and never imports Gradio)::

    process(files, model_name, comparison, ...) -> DemoResult   plain Python; bad uploads become
                                                                 messages, never exceptions
    build_app(methods, ...) -> gr.Blocks                         layout and wiring only
    launch(app, host, port)                                      serving

The command line (``register`` / ``run``) is :mod:`mlsm.app_cli`, which imports this module
only when the demo starts, so ``mlsm demo --help`` stays light.

Everything stays on this computer: Gradio analytics are off, the Hugging Face hub is put in
offline mode, the theme uses system fonts only and no public share link is made. Gradio is
imported only when the demo starts (it is the optional extra ``mlsm[demo]``).
"""
from __future__ import annotations

import atexit
import inspect
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from mlsm.app_processing import (DOWNLOAD_JPEG_QUALITY, NO_COMPARISON, OUTPUT_FORMATS, SAMPLES_DIR, DemoLimits,
                                 DemoResult, MethodCache, MethodUnavailableError, PhotoReport, UploadTooLargeError,
                                 darkest_window, list_samples, process, zoom_panel)
from mlsm.io import IMAGE_EXTENSIONS
from mlsm.io.common import VIDEO_EXTENSIONS

__all__ = ["DOWNLOAD_JPEG_QUALITY", "DemoLimits", "PhotoReport", "DemoResult", "UploadTooLargeError",
           "MethodUnavailableError", "MethodCache", "NO_COMPARISON", "SAMPLES_DIR", "list_samples",
           "darkest_window", "zoom_panel", "process", "offline_environment", "build_app", "free_port", "launch",
           "VIDEO_EXTENSIONS", "VIDEO_MAX_FRAMES", "VideoDemoResult", "process_video"]

logger = logging.getLogger(__name__)

_OFFLINE_ENVIRONMENT = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                        "HF_HUB_DISABLE_TELEMETRY": "1"}

VIDEO_MAX_FRAMES = 150  # the demo enhances at most this many frames of an uploaded video


@dataclass
class VideoDemoResult:
    """What the video panel shows: a status line, the before | after clip and the enhanced MP4."""

    status: str
    side_by_side: Path | None = None
    enhanced: Path | None = None


def process_video(path, model, output_dir: str | Path, max_frames: int = VIDEO_MAX_FRAMES,
                  temporal_smoothing: float = 1.0) -> VideoDemoResult:
    """Enhance the first ``max_frames`` frames of the video at ``path`` with ``model``; bad
    uploads become a status message, never an exception."""
    if not path:
        return VideoDemoResult("Upload a short video first.")
    try:
        from mlsm.video import VideoError, enhance_video
        from mlsm.video.compare import side_by_side
    except ImportError as exc:
        return VideoDemoResult(f"Video needs PyAV: {exc}")
    source = Path(path)
    folder = Path(tempfile.mkdtemp(prefix="video-", dir=output_dir))
    stem = "".join(char if char.isalnum() or char in "-_" else "_" for char in source.stem)[:80] or "video"
    try:
        result = enhance_video(model, source, folder / f"{stem}_mlsm.mp4", max_frames=max_frames,
                               temporal_smoothing=temporal_smoothing)
        both = folder / f"{stem}_before_after.mp4"
        side_by_side(source, result.path, both, max_frames=max_frames)
    except (VideoError, ValueError) as exc:
        return VideoDemoResult(f"{source.name}: {' '.join(str(getattr(exc, 'cause', exc)).split())}")
    notes = "; ".join(result.notes)
    status = (f"{source.name}: {result.frames} frames {result.width}x{result.height} at {float(result.rate):.3g} fps "
              f"in {result.seconds:.1f} s (first {max_frames} frames at most)" + (f"; {notes}" if notes else ""))
    return VideoDemoResult(status, both, result.path)


# --------------------------------------------------------------------------- page


def offline_environment() -> None:
    """Switch off Gradio analytics and Hugging Face hub access (before gradio is imported)."""
    os.environ.update(_OFFLINE_ENVIRONMENT)


def _theme():
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def _accepts(function, name: str) -> bool:
    return name in inspect.signature(function).parameters


_INTRO = """# mlsm: brighten compressed dark photos
Upload dark JPEG photos{samples}, then click **Enhance**. Everything runs on this
computer; nothing is sent anywhere. mlsm implements Zeng et al., *Multiple Latent Space Mapping
for Compressed Dark Image Enhancement*: it brightens the photo and removes JPEG blocking together."""


def build_app(methods: MethodCache, *, samples: Sequence[Path] = (), limits: DemoLimits | None = None,
              output_dir: str | Path | None = None, default_comparison: str | None = None):
    """The page (a ``gr.Blocks``): inputs on the left, results on the right.

    ``output_dir`` holds the downloads (default: a temporary folder removed at exit).
    """
    offline_environment()
    import gradio as gr

    limits = limits or DemoLimits()
    if output_dir is None:
        output_dir = tempfile.mkdtemp(prefix="mlsm-demo-")
        atexit.register(shutil.rmtree, output_dir, ignore_errors=True)
    samples = {path.name: path for path in samples}
    model_choices = methods.model_choices()
    comparison_choices = methods.comparison_choices()
    if default_comparison is None:
        default_comparison = NO_COMPARISON if model_choices else "gamma"
    slider = getattr(gr, "ImageSlider", None)

    def before_after(label: str, elem_id: str, visible: bool = True):
        if slider is not None:
            options = {"label": label, "elem_id": elem_id, "type": "numpy", "format": "png",
                       "interactive": False, "visible": visible, "max_height": 420}
            return slider(**{key: value for key, value in options.items() if _accepts(slider.__init__, key)})
        return gr.Image(label=f"{label} (left: before, right: after)", elem_id=elem_id, format="png",
                        interactive=False, visible=visible)

    def pair(before, after):
        if before is None or after is None:
            return None
        if slider is not None:
            return (before, after)
        return np.concatenate([before, np.full((before.shape[0], 8, 3), 255, np.uint8), after], axis=1)

    blocks_options = {"title": "mlsm demo", "analytics_enabled": False}
    if not _accepts(gr.Blocks.launch, "theme"):  # Gradio < 6 takes the theme here
        blocks_options["theme"] = _theme()
    with gr.Blocks(**blocks_options) as app:
        gr.Markdown(_INTRO.format(samples=" (or pick a sample)" if samples else ""))
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                uploads = gr.File(label="Dark photos", file_count="multiple", type="filepath",
                                  file_types=list(IMAGE_EXTENSIONS), elem_id="uploads", height=150)
                sample = gr.Dropdown(choices=list(samples), value=None, label="Or try a sample",
                                     elem_id="sample", visible=bool(samples))
                model = gr.Dropdown(choices=model_choices, value=model_choices[0][1] if model_choices else None,
                                    label="mlsm model", elem_id="model", interactive=bool(model_choices),
                                    info=None if model_choices else "none installed: use --model PATH")
                comparison = gr.Dropdown(choices=comparison_choices, value=default_comparison,
                                         label="Compare with", elem_id="comparison",
                                         info="classical, peers, pipelines (a+b: a, then b)")
                brightness = gr.Slider(minimum=0.5, maximum=3.0, value=1.0, step=0.1, label="mlsm brightness",
                                       info="scales the mlsm output in linear light", elem_id="brightness")
                keep = gr.Checkbox(value=False, label="Keep well-exposed photos as they are",
                                   info="mlsm's keep gate: no brightening for a photo it finds well exposed",
                                   elem_id="keep-well-exposed")
                balance = gr.Checkbox(value=True, label="Keep the photo's colour balance",
                                      info="undo the colour cast brightening adds (off: the network's colours)",
                                      elem_id="colour-balance")
                shadows = gr.Checkbox(value=True, label="Neutral deep shadows",
                                      info="near-black areas hold no colour: keep them grey (off: the network's colours)",
                                      elem_id="neutral-shadows")
                headroom = gr.Checkbox(value=True, label="Highlight headroom",
                                       info="keep a photo's sky, windows and lamps from washing to white, with their own clouds and colours (off: the network's)",
                                       elem_id="highlight-headroom")
                chroma = gr.Checkbox(value=True, label="Smooth colour noise",
                                     info="flat areas the brightening lifted lose the colour blotches of camera noise (off: kept)",
                                     elem_id="chroma-denoise")
                output_format = gr.Radio(choices=list(OUTPUT_FORMATS), value="PNG", label="Download as",
                                         elem_id="format")
                enhance = gr.Button("Enhance", variant="primary", elem_id="enhance")
                status = gr.Textbox(label="Status", lines=2, interactive=False, elem_id="status")
            with gr.Column(scale=3):
                with gr.Row():
                    mlsm_slider = before_after("Before / after: mlsm", "slider-mlsm", visible=bool(model_choices))
                    comparison_slider = before_after(f"Before / after: {default_comparison}", "slider-comparison",
                                                     visible=default_comparison != NO_COMPARISON)
                zoom = gr.Image(label="Zoom on the darkest region", format="png", interactive=False,
                                elem_id="zoom", height=260)
                summary = gr.Markdown(elem_id="summary")
                downloads = gr.File(label="Download results", file_count="multiple", interactive=False,
                                    elem_id="downloads")
        with gr.Accordion(f"Short video (first {VIDEO_MAX_FRAMES} frames)", open=False):
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    video_upload = gr.File(label="Dark video", file_count="single", type="filepath",
                                           file_types=list(VIDEO_EXTENSIONS), elem_id="video-upload", height=120)
                    video_button = gr.Button("Enhance video", elem_id="enhance-video")
                    video_status = gr.Textbox(label="Video status", lines=2, interactive=False,
                                              elem_id="video-status")
                with gr.Column(scale=3):
                    video_pair = gr.Video(label="Before | after (mlsm)", interactive=False, elem_id="video-pair")
                    video_download = gr.File(label="Enhanced video", interactive=False, elem_id="video-download")

        def pick_sample(name):
            if not name or name not in samples:
                return gr.update()
            folder = Path(tempfile.mkdtemp(prefix="sample-", dir=output_dir))
            return [str(shutil.copy2(samples[name], folder / samples[name].name))]

        def on_enhance(files, model_name, comparison_name, fmt, gain=1.0, keep_well_exposed=False,
                       colour_balance=True, neutral_shadows=True, highlight_headroom=True, chroma_denoise=True):
            result = process(files, model_name, comparison_name, fmt, methods=methods, limits=limits,
                             output_dir=output_dir, brightness=gain, keep_well_exposed=keep_well_exposed,
                             colour_balance=colour_balance, neutral_shadows=neutral_shadows,
                             highlight_headroom=highlight_headroom, chroma_denoise=chroma_denoise)
            if result.errors:
                gr.Warning(result.errors[0] if len(result.errors) == 1 else f"{len(result.errors)} problems: see Status")
            name = result.comparison_name
            factor = f" ({result.zoom_factor}x)" if result.zoom_factor else ""
            return (gr.update(value=pair(result.before, result.mlsm), visible=bool(model_name)),
                    gr.update(value=pair(result.before, result.comparison), visible=name is not None,
                              label=f"Before / after: {name}"),
                    gr.update(value=result.zoom, label=f"Zoom on the darkest region{factor}"),
                    result.status, result.summary_markdown(),
                    [str(path) for path in result.downloads] or None)

        def on_video(path, model_name, gain=1.0):
            if not model_name:
                return None, None, "No mlsm model is installed: use --model PATH"
            try:
                model = methods.mlsm(model_name)
            except MethodUnavailableError as exc:
                return None, None, str(exc)
            previous = model.brightness
            model.brightness = gain
            try:
                result = process_video(path, model, output_dir)
            finally:
                model.brightness = previous
            return (str(result.side_by_side) if result.side_by_side else None,
                    str(result.enhanced) if result.enhanced else None, result.status)

        video_button.click(on_video, inputs=[video_upload, model, brightness],
                           outputs=[video_pair, video_download, video_status])
        sample.change(pick_sample, inputs=sample, outputs=uploads)
        enhance.click(on_enhance, inputs=[uploads, model, comparison, output_format, brightness, keep, balance,
                                              shadows, headroom, chroma],
                      outputs=[mlsm_slider, comparison_slider, zoom, status, summary, downloads])
    app.queue(default_concurrency_limit=1, max_size=32)
    return app


# --------------------------------------------------------------------------- launcher


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def launch(app, host: str = "127.0.0.1", port: int = 7860, limits: DemoLimits | None = None,
           block: bool = True):
    """Serve ``app`` on ``host:port`` (port 0: any free port); returns Gradio's (app, url, share_url).

    With ``block`` this returns when the server stops (Ctrl+C); otherwise it serves in a
    background thread until ``app.close()``.
    """
    import gradio as gr

    limits = limits or DemoLimits()
    options = {"server_name": host, "server_port": port or free_port(host), "share": False,
               "inbrowser": False, "prevent_thread_lock": not block, "show_error": False,
               "max_file_size": limits.max_upload_bytes, "ssr_mode": False, "theme": _theme()}
    options = {key: value for key, value in options.items() if _accepts(gr.Blocks.launch, key)}
    return app.launch(**options)
