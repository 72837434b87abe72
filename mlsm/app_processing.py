"""What ``mlsm demo`` does with an upload, without Gradio: limits, the method cache, samples,
the darkest-region zoom and :func:`process` (bad uploads become messages, never exceptions).
The page and the command line are in :mod:`mlsm.app`."""
from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mlsm.eval.crops import darkest_region
from mlsm.inference.options import InferenceOptions
from mlsm.io import (ImageError, ImageInfo, ImageReadError, decode_image_bytes,
                     iter_image_files, to_uint8, write_image)

__all__ = ["DemoLimits", "PhotoReport", "DemoResult", "UploadTooLargeError", "MethodUnavailableError",
           "MethodCache", "NO_COMPARISON", "SAMPLES_DIR", "OUTPUT_FORMATS", "DOWNLOAD_JPEG_QUALITY", "MEGABYTE",
           "default_models", "list_samples", "darkest_window", "zoom_panel", "process"]

logger = logging.getLogger("mlsm.app")

NO_COMPARISON = "none"
SAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "samples"
OUTPUT_FORMATS = {"PNG": ".png", "JPEG": ".jpg"}
DISPLAY_MAX_SIDE = 1600          # shown images are downscaled to this; downloads keep full size
DOWNLOAD_JPEG_QUALITY = 95
MEGABYTE = 1 << 20   # binary megabyte, as Gradio counts its upload limit



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
    """The demo's menus over the shared :class:`mlsm.baselines.cache.MethodCache`: mlsm models
    and comparison methods are built on first use and kept.

    Args:
        models: mlsm weight names (see :func:`mlsm.models.zoo.list_models`) or ``.safetensors``
            paths offered in the model menu, first one the default.
        peers_dir: folder with the peers' official weights (default: ``MLSM_PEERS_DIR``).
        device: torch device for the CNNs.
    """

    def __init__(self, models: Sequence[str] = (), peers_dir: str | Path | None = None, device: str = "cpu"):
        from mlsm.baselines.cache import MethodCache as SharedCache
        from mlsm.baselines.peers import default_peers_dir

        self.models = list(dict.fromkeys(str(model) for model in models))
        self.peers_dir = Path(peers_dir).expanduser() if peers_dir else default_peers_dir()
        self.device = device
        self._methods = SharedCache(self.peers_dir, device)

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the model menu: zoo names as they are, paths by file name."""
        return [(Path(name).name if Path(name).suffix else name, name) for name in self.models]

    def unavailable_reason(self, name: str) -> str | None:
        """Why comparison ``name`` cannot run here (missing peer weights), or None if it can."""
        from mlsm.baselines.peers import PEERS
        from mlsm.baselines.spec import MethodSpec

        for step in MethodSpec.parse(name).steps:
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
        """The loaded mlsm model (method ``mlsm:<name>``) for a zoo name or weights path."""
        from mlsm.baselines.spec import MLSM_PREFIX

        return self._get("mlsm", name, f"{MLSM_PREFIX}:{name}")

    def comparison(self, name: str):
        """The comparison :class:`~mlsm.baselines.base.Method` called ``name``."""
        reason = self.unavailable_reason(name)
        if reason:
            raise MethodUnavailableError(f"comparison {name!r} is unavailable: {reason}")
        return self._get("comparison", name, name)

    def _get(self, kind: str, name: str, spec: str):
        try:
            return self._methods.get(spec)
        except Exception as exc:
            raise MethodUnavailableError(f"{kind} {name!r} could not be loaded ({_one_line(exc)})") from exc


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


def _zoom_region(image: np.ndarray, side: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the demo's zoom: :func:`mlsm.eval.crops.darkest_region`, pitch-black
    windows included (the demo shows what the methods make of the blackest parts too)."""
    return darkest_region(image, side, min_mean=0.0)


def darkest_window(image: np.ndarray, side: int) -> tuple[int, int]:
    """(top, left) of the demo's zoom window (side ``side`` px, at most half the image) in
    float RGB ``image``; see :func:`_zoom_region`."""
    left, top, _, _ = _zoom_region(image, side)
    return top, left


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
            output_dir: str | Path | None = None, brightness: float = 1.0,
            keep_well_exposed: bool = False, colour_balance: bool = True,
            neutral_shadows: bool = True, highlight_headroom: bool = True,
            chroma_denoise: bool = True) -> DemoResult:
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
        keep_well_exposed: a photo the model's keep gate finds already well exposed keeps its
            own brightness (``mlsm enhance --keep-well-exposed``).
        colour_balance: the output keeps the photo's colour balance (``mlsm enhance
            --no-colour-balance`` turns it off; :mod:`mlsm.inference.balance`).
        neutral_shadows: near-black areas of the photo come out grey (``mlsm enhance
            --no-neutral-shadows`` turns it off; :mod:`mlsm.inference.shadows`).
        highlight_headroom: a photo's lit parts keep headroom instead of washing to white
            (``mlsm enhance --no-highlight-headroom`` turns it off; :mod:`mlsm.inference.highlights`).
        chroma_denoise: flat areas the enhancement lifted lose the colour blotches of camera
            noise (``mlsm enhance --no-chroma-denoise`` turns it off; :mod:`mlsm.inference.chroma`).

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
            # one request at a time (queue concurrency 1): this request's options on the shared model
            model.options = InferenceOptions.resolve(model.options, brightness=brightness,
                                                     keep_well_exposed=bool(keep_well_exposed),
                                                     colour_balance=bool(colour_balance),
                                                     neutral_shadows=bool(neutral_shadows),
                                                     highlight_headroom=bool(highlight_headroom),
                                                     chroma_denoise=bool(chroma_denoise))
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
    left, top, side, _ = _zoom_region(image, side)
    panels = [("input", image)] + [(label, output) for label, output in outputs.items()]
    result.zoom = zoom_panel(panels, top, left, side, factor=result.zoom_factor)


