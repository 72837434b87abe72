"""``mlsm demo``: a local web page to try mlsm on your own compressed dark photos (Gradio).

::

    mlsm demo [--model NAME|PATH] [--host 127.0.0.1] [--port 7860 (0: any free port)]
              [--peers-dir DIR] [--samples DIR] [--max-upload-mb 25] [--max-pixels 40e6]

Upload one or more photos (or pick a sample), choose the mlsm model and optionally a
comparison method from :mod:`mlsm.baselines.registry` (classical, peer, or a pipeline such
as ``"zero_dce+dncnn3"``), click *Enhance*. The page shows a before/after slider per method,
a 3x zoom on the darkest region (input | mlsm | comparison), the estimated JPEG quality
factor of the upload (:func:`mlsm.io.estimate_jpeg_quality`), the image size and the run
times, and offers the results for download as PNG or JPEG.

Three layers, so the first can be tested without a browser::

    process(files, model_name, comparison, ...) -> DemoResult   plain Python; bad uploads become
                                                                 messages, never exceptions
    build_app(methods, ...) -> gr.Blocks                         layout and wiring only
    register(subparsers) / run(args)                             the command line (launch)

Everything stays on this computer: Gradio analytics are off, the Hugging Face hub is put in
offline mode, the theme uses system fonts only and no public share link is made. Gradio is
imported only when the demo starts (it is the optional extra ``mlsm[demo]``).
"""
from __future__ import annotations

import argparse
import atexit
import inspect
import ipaddress
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mlsm.cli import int_in_range, positive_float
from mlsm.io import (IMAGE_EXTENSIONS, ImageError, ImageInfo, ImageReadError, decode_image_bytes,
                     iter_image_files, to_uint8, write_image)

__all__ = ["DemoLimits", "PhotoReport", "DemoResult", "UploadTooLargeError", "MethodUnavailableError",
           "MethodCache", "NO_COMPARISON", "SAMPLES_DIR", "list_samples", "darkest_window", "zoom_panel",
           "process", "build_app", "launch", "register", "run"]

logger = logging.getLogger(__name__)

NO_COMPARISON = "none"
SAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "samples"
OUTPUT_FORMATS = {"PNG": ".png", "JPEG": ".jpg"}
DISPLAY_MAX_SIDE = 1600          # shown images are downscaled to this; downloads keep full size
DOWNLOAD_JPEG_QUALITY = 95
MEGABYTE = 1 << 20   # binary megabyte, as Gradio counts its upload limit
_OFFLINE_ENVIRONMENT = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                        "HF_HUB_DISABLE_TELEMETRY": "1"}


# --------------------------------------------------------------------------- limits and errors


@dataclass(frozen=True)
class DemoLimits:
    """Upload caps: encoded file size in bytes and decoded ``width * height``."""

    max_upload_bytes: int = 25 * MEGABYTE
    max_pixels: int = 40_000_000

    def __post_init__(self):
        if self.max_upload_bytes <= 0 or self.max_pixels <= 0:
            raise ValueError(f"limits must be positive, got {self}")


class UploadTooLargeError(ImageReadError):
    """An upload over the demo's file-size or pixel-count cap."""


class MethodUnavailableError(RuntimeError):
    """A model or comparison method that cannot be built here (e.g. peer weights missing)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, (ImageError, MethodUnavailableError)):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- methods


class MethodCache:
    """Builds the mlsm models and comparison methods on first use and keeps them.

    Args:
        models: mlsm weight names (see :func:`mlsm.models.zoo.list_models`) or ``.safetensors``
            paths offered in the model menu, first one the default.
        peers_dir: folder with the peers' official weights (default: ``MLSM_PEERS_DIR``).
        device: torch device for the CNNs.
    """

    def __init__(self, models: Sequence[str] = (), peers_dir: str | Path | None = None, device: str = "cpu"):
        from mlsm.baselines.peers import default_peers_dir

        self.models = list(dict.fromkeys(str(model) for model in models))
        self.peers_dir = Path(peers_dir).expanduser() if peers_dir else default_peers_dir()
        self.device = device
        self._built: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the model menu: zoo names as they are, paths by file name."""
        return [(Path(name).name if Path(name).suffix else name, name) for name in self.models]

    def unavailable_reason(self, name: str) -> str | None:
        """Why comparison ``name`` cannot run here (missing peer weights), or None if it can."""
        from mlsm.baselines.peers import PEERS

        for step in (part.strip() for part in name.split("+")):
            if step not in PEERS:
                continue
            if self.peers_dir is None:
                return "needs the official peer weights: start with --peers-dir DIR"
            for relative in PEERS[step].weight_files:
                if not (self.peers_dir / relative).is_file():
                    return f"weights not found: {self.peers_dir / relative}"
        return None

    def comparison_choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs: "none", then every registered method; unavailable ones say why."""
        from mlsm.baselines.registry import list_methods

        choices = [("none (mlsm only)", NO_COMPARISON)]
        for name in list_methods():
            if name == "identity":
                continue  # the input itself is already shown
            reason = self.unavailable_reason(name)
            choices.append((f"{name} (unavailable)" if reason else name, name))
        return choices

    def mlsm(self, name: str):
        """The loaded :class:`~mlsm.models.zoo.EnhancementModel` for a zoo name or path."""
        from mlsm.models.zoo import load_model

        return self._get("mlsm", name, lambda: load_model(name, device=self.device))

    def comparison(self, name: str):
        """The comparison :class:`~mlsm.baselines.base.Method` called ``name``."""
        from mlsm.baselines.registry import build_method

        reason = self.unavailable_reason(name)
        if reason:
            raise MethodUnavailableError(f"comparison {name!r} is unavailable: {reason}")
        return self._get("comparison", name, lambda: build_method(name, peers_dir=self.peers_dir,
                                                                  device=self.device))

    def _get(self, kind: str, name: str, build):
        with self._lock:
            key = (kind, name)
            if key not in self._built:
                try:
                    self._built[key] = build()
                except Exception as exc:
                    raise MethodUnavailableError(f"{kind} {name!r} could not be loaded ({_one_line(exc)})") from exc
            return self._built[key]


def default_models(requested: str | None = None) -> list[str]:
    """The model menu: ``requested`` (checked to exist) first, then every shipped model."""
    from mlsm.models.zoo import DEFAULT_MODEL, list_models, resolve_weights

    shipped = list_models()
    if DEFAULT_MODEL in shipped:
        shipped = [DEFAULT_MODEL] + [name for name in shipped if name != DEFAULT_MODEL]
    if requested is None:
        return shipped
    resolve_weights(requested)  # FileNotFoundError with a clear message
    return [str(requested)] + [name for name in shipped if name != str(requested)]


# --------------------------------------------------------------------------- samples


def list_samples(folder: str | Path | None = SAMPLES_DIR) -> list[Path]:
    """Images directly inside ``folder``, sorted; empty when the folder is missing or empty."""
    if folder is None or not Path(folder).is_dir():
        return []
    return iter_image_files(Path(folder))


# --------------------------------------------------------------------------- pictures


def _luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of float RGB (H, W, 3)."""
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def darkest_window(image: np.ndarray, side: int) -> tuple[int, int]:
    """(top, left) of the ``side`` x ``side`` window of lowest mean luma in float RGB ``image``.

    Window means come from a summed-area table on a subsampled luma (about 512 px a side),
    so a 40 MP photo costs milliseconds; the answer is exact on small images.
    """
    height, width = image.shape[:2]
    side = max(1, min(int(side), height, width))
    step = max(1, max(height, width) // 512)
    luma = _luminance(image[::step, ::step]).astype(np.float64)
    window = max(1, side // step)
    window_h, window_w = min(window, luma.shape[0]), min(window, luma.shape[1])
    table = np.zeros((luma.shape[0] + 1, luma.shape[1] + 1))
    table[1:, 1:] = luma.cumsum(0).cumsum(1)
    sums = (table[window_h:, window_w:] - table[:-window_h, window_w:]
            - table[window_h:, :-window_w] + table[:-window_h, :-window_w])
    row, col = np.unravel_index(int(np.argmin(sums)), sums.shape)
    return min(int(row) * step, height - side), min(int(col) * step, width - side)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def zoom_panel(panels: Sequence[tuple[str, np.ndarray]], top: int, left: int, side: int,
               factor: int = 3, gap: int = 8) -> np.ndarray:
    """The same ``side``-pixel crop of every image, enlarged ``factor`` times (nearest
    neighbour, so JPEG blocks and noise stay visible), side by side under their labels.

    ``panels`` are (label, float RGB image) of equal size; returns uint8 (H, W, 3).
    """
    label_height = 22
    tile = side * factor
    canvas = Image.new("RGB", (len(panels) * tile + (len(panels) - 1) * gap, tile + label_height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(14)
    for index, (label, image) in enumerate(panels):
        crop = to_uint8(np.clip(image[top:top + side, left:left + side], 0.0, 1.0))
        enlarged = Image.fromarray(crop).resize((tile, tile), Image.NEAREST)
        x = index * (tile + gap)
        canvas.paste(enlarged, (x, label_height))
        draw.text((x + 2, 3), label, fill="black", font=font)
    return np.asarray(canvas)


def _display(image: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """uint8 copy for the page, downscaled (Lanczos) so its longer side is at most ``max_side``."""
    pixels = to_uint8(np.clip(image, 0.0, 1.0))
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.LANCZOS))


# --------------------------------------------------------------------------- processing


@dataclass
class PhotoReport:
    """What the page tells about one upload."""

    name: str
    width: int
    height: int
    file_bytes: int
    jpeg_quality: int | None
    seconds: dict[str, float] = field(default_factory=dict)   # method label -> run time


@dataclass
class DemoResult:
    """Everything :func:`process` produces for the page (images are uint8 (H, W, 3)).

    ``before``/``mlsm``/``comparison`` and ``zoom`` describe the first photo that worked;
    ``downloads`` holds one file per photo and method; ``errors`` one line per problem.
    """

    before: np.ndarray | None = None
    mlsm: np.ndarray | None = None
    comparison: np.ndarray | None = None
    comparison_name: str | None = None
    zoom: np.ndarray | None = None
    zoom_factor: int | None = None
    photos: list[PhotoReport] = field(default_factory=list)
    downloads: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """A success line (when a photo worked), then one line per problem."""
        lines = list(self.errors)
        if self.photos:
            total = sum(sum(photo.seconds.values()) for photo in self.photos)
            plural = "s" if len(self.photos) != 1 else ""
            lines.insert(0, f"Enhanced {len(self.photos)} photo{plural} in {total:.2f} s.")
        return "\n".join(lines)

    def summary_markdown(self) -> str:
        """A table: photo, size, estimated JPEG quality, run time per method."""
        if not self.photos:
            return ""
        labels = list(dict.fromkeys(label for photo in self.photos for label in photo.seconds))
        header = "| photo | size | JPEG quality (estimated) | " + " | ".join(f"{label} time" for label in labels) + " |"
        lines = [header, "|" + " --- |" * (3 + len(labels))]
        for photo in self.photos:
            quality = f"QF {photo.jpeg_quality}" if photo.jpeg_quality is not None else "not a JPEG"
            size = (f"{photo.width} x {photo.height} ({photo.width * photo.height / 1e6:.2g} MP, "
                    f"{_human_bytes(photo.file_bytes)})")
            times = " | ".join(f"{photo.seconds[label]:.2f} s" if label in photo.seconds else "-" for label in labels)
            lines.append(f"| {photo.name} | {size} | {quality} | {times} |")
        return "\n".join(lines)


def _human_bytes(count: int) -> str:
    """2048 -> "2.0 KB", 3 << 20 -> "3.0 MB" (binary units, as the page shows upload sizes)."""
    return f"{count / MEGABYTE:.1f} MB" if count >= MEGABYTE else f"{count / 1024:.1f} KB"


def _as_paths(files) -> list[Path]:
    """Gradio hands over a path, a list of paths, or (older versions) objects with ``.name``."""
    if files is None:
        return []
    if isinstance(files, (str, os.PathLike)) or hasattr(files, "name"):
        files = [files]
    return [Path(item if isinstance(item, (str, os.PathLike)) else item.name) for item in files if item]


def _read_upload(path: Path, limits: DemoLimits) -> tuple[np.ndarray, ImageInfo, int]:
    """Decode one upload within the demo's limits; (float RGB, info, file size in bytes)."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageReadError(name, f"upload could not be read ({_one_line(exc)})") from exc
    if size > limits.max_upload_bytes:
        raise UploadTooLargeError(
            name, f"file is {size / MEGABYTE:.3g} MB, over the upload limit of "
            f"{limits.max_upload_bytes / MEGABYTE:g} MB (start mlsm demo with a larger --max-upload-mb)")
    data = path.read_bytes()
    try:
        with Image.open(path) as header:  # header only: refuse before any pixel is decoded
            width, height = header.size
    except Exception:
        width = height = 0  # decode_image_bytes below names the problem
    if width * height > limits.max_pixels:
        raise UploadTooLargeError(
            name, f"{width} x {height} = {width * height / 1e6:.3g} megapixels, over the limit of "
            f"{limits.max_pixels / 1e6:g} megapixels (start mlsm demo with a larger --max-pixels)")
    image, info = decode_image_bytes(data, name, max_pixels=limits.max_pixels)
    return image, info, size


def _safe_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "image"


def process(files, model_name: str | None, comparison: str | None = NO_COMPARISON,
            output_format: str = "PNG", *, methods: MethodCache, limits: DemoLimits | None = None,
            output_dir: str | Path | None = None, brightness: float = 1.0) -> DemoResult:
    """Enhance every uploaded photo with the mlsm model and the comparison method.

    Args:
        files: uploaded file paths (one, a list, or None).
        model_name: an entry of ``methods.models`` (zoo name or path); None or "" skips mlsm.
        comparison: a registry name, or :data:`NO_COMPARISON`/None for none.
        output_format: "PNG" or "JPEG" (quality 95) for the downloads.
        methods: where the models come from (built once, reused).
        limits: upload caps (default :class:`DemoLimits`).
        output_dir: parent folder of the downloads (default: the system temp folder).
        brightness: scales the mlsm output's brightness in linear light (``mlsm enhance
            --brightness``); the comparison method is left as it is.

    Returns:
        A :class:`DemoResult`. Unreadable, corrupt or oversized uploads and unavailable
        methods are reported in ``errors`` (one line each, naming the file or method); this
        function does not raise for them. Good photos in the same batch are still processed.
    """
    limits = limits or DemoLimits()
    result = DemoResult()
    paths = _as_paths(files)
    comparison = None if comparison in (None, "", NO_COMPARISON) else str(comparison)
    extension = OUTPUT_FORMATS.get(str(output_format).upper())
    if not paths:
        result.errors.append("No photo: upload one (or pick a sample) first.")
    if extension is None:
        result.errors.append(f"Unknown download format {output_format!r}; choose one of {', '.join(OUTPUT_FORMATS)}.")
    if not model_name and comparison is None:
        result.errors.append("No method: choose an mlsm model (start with --model PATH) or a comparison method.")
    try:
        brightness = float(brightness)
    except (TypeError, ValueError):
        brightness = float("nan")
    if not 0 < brightness <= 10:
        result.errors.append(f"Brightness must be a number in (0, 10], got {brightness!r}.")
    if result.errors:
        return result

    runs = []  # (label, method)
    try:
        if model_name:
            model = methods.mlsm(model_name)
            model.brightness = brightness  # one request at a time (queue concurrency 1)
            runs.append(("mlsm", model))
        if comparison is not None:
            runs.append((comparison, methods.comparison(comparison)))
    except MethodUnavailableError as exc:
        result.errors.append(_one_line(exc))
        return result
    result.comparison_name = comparison
    run_dir = Path(tempfile.mkdtemp(prefix="mlsm-demo-", dir=output_dir))

    for path in paths:
        try:
            image, info, file_bytes = _read_upload(path, limits)
        except ImageError as exc:
            result.errors.append(_one_line(exc))
            continue
        except Exception as exc:  # never let an upload crash the page
            logger.exception("reading %s failed", path)
            result.errors.append(f"{path.name}: could not be read ({_one_line(exc)})")
            continue
        photo = PhotoReport(path.name, info.width, info.height, file_bytes, info.jpeg_quality)
        outputs: dict[str, np.ndarray] = {}
        for label, method in runs:
            try:
                start = time.perf_counter()
                outputs[label] = np.asarray(method(image), dtype=np.float32)
                photo.seconds[label] = time.perf_counter() - start
                target = run_dir / f"{_safe_stem(path.stem)}_{_safe_stem(label)}{extension}"
                result.downloads.append(write_image(target, outputs[label], quality=DOWNLOAD_JPEG_QUALITY,
                                                    exif=info.exif, icc_profile=info.icc_profile,
                                                    overwrite=True))
            except Exception as exc:
                logger.exception("%s on %s failed", label, path)
                outputs.pop(label, None)
                result.errors.append(f"{path.name}: {label} failed ({_one_line(exc)})")
        if not outputs:
            continue
        result.photos.append(photo)
        if result.before is None:
            _show(result, image, outputs, comparison)
    return result


def _show(result: DemoResult, image: np.ndarray, outputs: dict[str, np.ndarray], comparison: str | None) -> None:
    """Fill the sliders and the darkest-region zoom of ``result`` from one photo."""
    result.before = _display(image)
    if "mlsm" in outputs:
        result.mlsm = _display(outputs["mlsm"])
    if comparison in outputs:
        result.comparison = _display(outputs[comparison])
    side = int(np.clip(min(image.shape[:2]) // 4, 16, 160))
    result.zoom_factor = 3 if side <= 96 else 2
    top, left = darkest_window(image, side)
    panels = [("input", image)] + [(label, output) for label, output in outputs.items()]
    result.zoom = zoom_panel(panels, top, left, side, factor=result.zoom_factor)


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

        def pick_sample(name):
            if not name or name not in samples:
                return gr.update()
            folder = Path(tempfile.mkdtemp(prefix="sample-", dir=output_dir))
            return [str(shutil.copy2(samples[name], folder / samples[name].name))]

        def on_enhance(files, model_name, comparison_name, fmt, gain=1.0):
            result = process(files, model_name, comparison_name, fmt, methods=methods, limits=limits,
                             output_dir=output_dir, brightness=gain)
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

        sample.change(pick_sample, inputs=sample, outputs=uploads)
        enhance.click(on_enhance, inputs=[uploads, model, comparison, output_format, brightness],
                      outputs=[mlsm_slider, comparison_slider, zoom, status, summary, downloads])
    app.queue(default_concurrency_limit=1, max_size=32)
    return app


# --------------------------------------------------------------------------- launcher


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``mlsm demo``."""
    parser = subparsers.add_parser(
        "demo", help="start the web demo on this computer (needs: pip install mlsm[demo])",
        description="Start a local web page to enhance dark photos with mlsm and compare methods. "
                    "It runs offline; open the printed URL in a browser.")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="mlsm weights: a shipped model name or a .safetensors file "
                             "(default: the shipped models)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int_in_range("port", 0, 65535), default=7860,
                        help="port (default 7860; 0: any free port)")
    parser.add_argument("--peers-dir", type=Path, default=None, metavar="DIR",
                        help="folder with the peers' official weights (default: $MLSM_PEERS_DIR)")
    parser.add_argument("--samples", type=Path, default=SAMPLES_DIR, metavar="DIR",
                        help="folder of sample photos offered in the page (default: the bundled ones)")
    parser.add_argument("--max-upload-mb", type=positive_float, default=25.0, metavar="MB",
                        help="largest upload in megabytes (default 25)")
    parser.add_argument("--max-pixels", type=positive_float, default=40e6, metavar="N",
                        help="largest image in pixels, width x height (default 40e6)")
    parser.add_argument("--device", default="cpu", help="torch device for the networks (default cpu)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``mlsm demo``: check the arguments, load the model, serve until Ctrl+C."""
    offline_environment()
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("mlsm: error: the demo needs Gradio: pip install 'mlsm[demo]'", file=sys.stderr)
        return 1
    limits = DemoLimits(int(args.max_upload_mb * MEGABYTE), int(args.max_pixels))
    try:
        methods = MethodCache(default_models(args.model), peers_dir=args.peers_dir, device=args.device)
        if methods.models:
            methods.mlsm(methods.models[0])  # load now: a bad file fails here, and the first click is fast
    except (FileNotFoundError, MethodUnavailableError, ValueError) as exc:
        print(f"mlsm: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if not methods.models:
        print("mlsm: note: no mlsm model installed; only comparison methods will run "
              "(pass --model PATH to a .safetensors file from `mlsm train`)", file=sys.stderr)
    if not _is_loopback(args.host):
        print(f"mlsm: warning: serving on {args.host}: other computers on the network can use the demo",
              file=sys.stderr)
    samples = list_samples(args.samples)
    app = build_app(methods, samples=samples, limits=limits)
    try:
        _, url, _ = launch(app, host=args.host, port=args.port, limits=limits, block=False)
    except OSError as exc:  # port taken, address not available
        print(f"mlsm: error: cannot serve on {args.host}:{args.port} ({' '.join(str(exc).split())}); "
              "try --port 0 for any free port", file=sys.stderr)
        return 1
    print(f"mlsm demo: open {url} in a browser (Ctrl+C to stop)", file=sys.stderr, flush=True)
    app.block_thread()  # until Ctrl+C, then closes the server
    return 0
