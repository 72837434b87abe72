"""``mlsm enhance``: enhance dark, JPEG-compressed photos (and videos) in batch.

    mlsm enhance INPUT... -o OUT [-r] [--format png|jpg|tif|same] [--quality Q] [--suffix S]
                 [--skip-existing | --overwrite] [--model NAME|PATH] [--backend torch|onnx]
                 [--device auto|cpu|cuda] [--threads N] [--tile T] [--overlap O]
                 [--crf C] [--temporal-smoothing S] [--max-frames N] [--start S] [--duration S]

Inputs are image files, folders (``-r`` to descend) and glob patterns, expanded here by
:func:`mlsm.io.iter_image_files` (so quoted patterns work on every shell). Output paths:

* a file ``dir/photo.jpg``         -> ``OUT/photo<suffix>.<ext>``
* a folder ``dir`` (with ``-r``)   -> ``OUT/<path relative to dir>/photo<suffix>.<ext>``
* a pattern ``dir/**/*.jpg``       -> relative to the pattern's fixed prefix ``dir``

``<ext>`` is ``png`` (default), ``jpg``, ``tif`` or, with ``--format same``, the input's.
16-bit inputs give 16-bit PNG/TIFF outputs. EXIF (orientation reset to 1: the pixels are
already upright) and an RGB ICC profile are copied where the output format holds them.
Outputs are written atomically; inputs are never overwritten, even with ``--overwrite``.

Videos (``.mp4 .mov .m4v .mkv .avi .webm`` in folders and patterns; a named file of any
extension that FFmpeg reads as a video; an image-named file Pillow refuses but FFmpeg reads)
go to ``OUT/<stem><suffix>.mp4`` whatever ``--format``: H.264 yuv420p at ``--crf``, frame
times, rotation and audio kept, brightness smoothed over ``--temporal-smoothing`` seconds
(:mod:`mlsm.video`). ``--max-frames``, ``--start`` and ``--duration`` take part of a clip.

One bad file never stops the batch: it prints one line ``mlsm: error: <file>: <cause>``
on stderr and the next file goes on. The last line (stdout) is the summary
``N enhanced, M skipped, K failed in T s``. Exit codes: 0 all written or skipped, 1 some
inputs failed, 2 usage (bad option, no input matched, model not found).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import warnings
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlsm.cli import (int_in_range, jpeg_quality, non_negative_int, positive_float, positive_int,
                      print_error as _error, print_note)
from mlsm.inference.options import DEFAULT_OVERLAP, DEFAULT_TILE, InferenceOptions

__all__ = ["UsageError", "load_enhancer", "OutputJob", "plan_outputs", "register", "run"]

FORMATS = {"png": ".png", "jpg": ".jpg", "tif": ".tif", "same": None}
_HIGH_BIT_DEPTH_EXTENSIONS = (".png", ".tif", ".tiff")


class UsageError(ValueError):
    """A command-line choice that cannot work (exit code 2)."""


def output_suffix(text: str) -> str:
    """argparse type for ``--suffix``: text for a file name, never a path (it must not lead
    outside ``-o``)."""
    separators = {"/", "\\", "\x00", os.sep} | ({os.altsep} if os.altsep else set())
    if any(separator in text for separator in separators):
        raise argparse.ArgumentTypeError(f"must not contain a path separator or NUL, got {text!r}")
    return text


# --------------------------------------------------------------------------- the model


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: CUDA is not available in this PyTorch build or machine")
    return device


def load_enhancer(model: str | None, backend: str | None = None, device: str = "auto", threads: int | None = None,
                  options: InferenceOptions | None = None):
    """The enhancer ``mlsm enhance`` uses: an EnhancementModel (torch) or an OnnxEnhancer.

    ``backend`` None picks onnx for a ``.onnx`` path, torch otherwise. Raises
    :class:`~mlsm.models.zoo.ModelUnavailableError` or :class:`UsageError` (exit code 2).
    """
    from mlsm.inference.torch_backend import EnhancementModel
    from mlsm.models.zoo import ModelUnavailableError, default_model_name, resolve_network

    device = _pick_device(device)
    is_onnx_file = model is not None and str(model).lower().endswith(".onnx")
    backend = backend or ("onnx" if is_onnx_file else "torch")
    if backend == "onnx":
        from mlsm.inference.onnx_backend import load_onnx_model
        from mlsm.inference.onnx_graph import OnnxExportError, OnnxUnavailableError

        name = default_model_name(model)
        try:
            return load_onnx_model(name, device=device, threads=threads, options=options)
        except OnnxUnavailableError as exc:
            raise UsageError(str(exc)) from None
        except (FileNotFoundError, ValueError, KeyError, OnnxExportError) as exc:
            raise ModelUnavailableError(" ".join(str(exc).split())) from None
    if is_onnx_file:
        raise UsageError(f"{model}: an .onnx model needs --backend onnx")
    network, metadata = resolve_network(model, device)
    return EnhancementModel(network, metadata, device=device, options=options)


# --------------------------------------------------------------------------- planning


@dataclass
class OutputJob:
    """One input image and where its enhanced version goes (``error`` set: fails as planned)."""

    source: Path
    target: Path
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what was tolerated (corrupt EXIF, trimmed metadata)
    video: bool = False  # read with PyAV, written as MP4


def _glob_base(pattern: str) -> Path:
    """The leading components of ``pattern`` without wildcards (``a/b/*/x.jpg`` -> ``a/b``)."""
    fixed = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _relative_name(source: Path, base: Path | None) -> Path:
    """Path of ``source`` below ``base`` (just its name when there is no base)."""
    if base is not None:
        try:
            return source.relative_to(base)
        except ValueError:
            pass
    return Path(source.name)


def _is_strictly_inside(path: Path, folder: Path) -> bool:
    return path != folder and folder in path.parents


def output_path(relative: Path, output_dir: Path, image_format: str, suffix: str, video: bool = False) -> Path:
    """``OUT/<relative folder>/<stem><suffix><ext>`` for ``--format`` ``image_format``
    (``.mp4`` for a video)."""
    extension = ".mp4" if video else (FORMATS[image_format] or relative.suffix)
    return output_dir / relative.parent / f"{relative.stem}{suffix}{extension}"


def plan_outputs(inputs: list[str], output_dir: Path, recursive: bool, image_format: str,
                 suffix: str) -> tuple[list[OutputJob], list[str]]:
    """Jobs in input order plus one error line per input argument that named nothing usable.

    A file reached twice (named and inside a named folder) is done once; when two inputs
    would write the same output the later one gets ``error`` set. An output folder nested
    inside an input folder (``photos -r -o photos/bright``) is not read as input, so a
    second run does not enhance the first run's outputs.
    """
    from mlsm.io import ImageError, iter_image_files
    from mlsm.io.common import VIDEO_EXTENSIONS

    jobs: list[OutputJob] = []
    errors: list[str] = []
    seen_sources: set[Path] = set()
    claimed: dict[Path, Path] = {}
    output_root = output_dir.resolve()
    for item in inputs:
        candidate = Path(item)
        if candidate.is_dir():
            base = candidate
        elif candidate.is_file():
            base = None
        elif glob.has_magic(item):
            base = _glob_base(item)
        else:
            base = None
        try:
            sources = iter_image_files([item], recursive=recursive, videos=True)
        except ImageError as exc:
            if not (candidate.is_file() and _is_video_content(candidate)):
                errors.append(str(exc))
                continue
            sources = [candidate]  # a video by content, whatever its extension
        nested_output = base is not None and _is_strictly_inside(output_root, base.resolve())
        for source in sources:
            key = source.resolve()
            if key in seen_sources or (nested_output and _is_strictly_inside(key, output_root)):
                continue
            seen_sources.add(key)
            video = source.suffix.lower() in VIDEO_EXTENSIONS or source.suffix.lower() not in _image_extensions()
            target = output_path(_relative_name(source, base), output_dir, image_format, suffix, video)
            job = OutputJob(source, target, video=video)
            owner = claimed.setdefault(target.resolve(), source)
            if owner != source:
                job.error = f"{source}: output {target} is also the output of {owner} (use separate runs or --suffix)"
            jobs.append(job)
    return jobs, errors


def _image_extensions() -> tuple[str, ...]:
    from mlsm.io import IMAGE_EXTENSIONS

    return IMAGE_EXTENSIONS


def _is_video_content(path: Path) -> bool:
    try:
        from mlsm.video import is_video_file
    except ImportError:
        return False
    return is_video_file(path)


# --------------------------------------------------------------------------- one file


def _check_target(job: OutputJob, args: argparse.Namespace, protected: set[Path]) -> bool:
    """False: skip this job (``--skip-existing``); raises when its output may not be written."""
    from mlsm.io import ImageWriteError

    if job.target.resolve() in protected:
        raise ImageWriteError(job.target, f"refusing to overwrite an input file ({job.source})")
    if job.target.exists() or job.target.is_symlink():
        if args.skip_existing:
            return False
        if not args.overwrite:
            raise ImageWriteError(job.target, "file exists (pass --overwrite to replace it or --skip-existing)")
    return True


def _enhance_one(model, job: OutputJob, args: argparse.Namespace, protected: set[Path], bar=None) -> str:
    """Enhance ``job``; returns "enhanced" or "skipped", raises on failure."""
    from mlsm.io import ImageReadError, ImageWriteNote, read_image, write_image

    if job.video:
        return _enhance_video(model, job, args, protected, bar)
    if not _check_target(job, args, protected):
        return "skipped"
    try:
        image, info = read_image(job.source)
    except ImageReadError:
        if not _is_video_content(job.source):
            raise
        job.video = True  # named like an image, but a video
        job.target = job.target.with_suffix(".mp4")
        return _enhance_video(model, job, args, protected, bar)
    notes = [f"{job.source}: {note}" for note in info.notes]
    enhanced = model.enhance(image)
    high_depth = info.bit_depth == 16 and job.target.suffix.lower() in _HIGH_BIT_DEPTH_EXTENSIONS
    # ``protected`` was checked above in O(1) per file; write_image re-checks this job's own
    # input (also through hard links). Passing every input would cost O(N) resolves per file.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageWriteNote)
        write_image(job.target, enhanced, quality=args.quality, overwrite=args.overwrite, exif=info.exif,
                    icc_profile=info.icc_profile, bit_depth=16 if high_depth else 8, protected=(job.source,))
    notes += [str(warning.message) for warning in caught if issubclass(warning.category, ImageWriteNote)]
    job.notes = notes
    return "enhanced"


def _enhance_video(model, job: OutputJob, args: argparse.Namespace, protected: set[Path], bar) -> str:
    """Enhance the video ``job`` into its MP4 target (progress on the bar's line when shown)."""
    from mlsm.video import enhance_video

    if not _check_target(job, args, protected):
        return "skipped"
    show = bar is not None and not bar.disable

    def progress(state) -> None:
        if show:
            eta = f", ETA {state.eta:.0f} s" if state.eta is not None else ""
            total = f"/{state.total}" if state.total else ""
            bar.set_postfix_str(f"{job.source.name}: frame {state.frames}{total}, {state.fps:.2f} fps{eta}")

    result = enhance_video(model, job.source, job.target, crf=args.crf, temporal_smoothing=args.temporal_smoothing,
                           max_frames=args.max_frames, start=args.start, duration=args.duration,
                           overwrite=args.overwrite, progress=progress)
    job.notes = [f"{job.source}: {note}" for note in result.notes]
    return "enhanced"


def _failure_line(job: OutputJob, exc: BaseException) -> str:
    """``<source>: <cause>`` on one line, whatever failed."""
    from mlsm.io import ImageError, ImageWriteError

    text = " ".join(str(exc).split())
    if type(exc).__name__ == "VideoError":  # mlsm.video.VideoError, "<path>: <cause>"
        return text if Path(exc.path) == job.source else f"{job.source}: {text}"
    if isinstance(exc, (ImportError, FileExistsError)):
        return f"{job.source}: {text}"
    if isinstance(exc, ImageError) and not isinstance(exc, ImageWriteError) and Path(exc.path) == job.source:
        return text  # already "<source>: <cause>"
    if isinstance(exc, ImageError):
        return f"{job.source}: {text}"  # "<source>: <target>: <cause>"
    return f"{job.source}: {type(exc).__name__}: {text}" if text else f"{job.source}: {type(exc).__name__}"


# --------------------------------------------------------------------------- command line


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "enhance", help="enhance dark JPEG photos and videos (files, folders, glob patterns)",
        description="Enhance dark, JPEG-compressed photos. One bad file never stops the batch. "
                    "Exit codes: 0 all done, 1 some files failed, 2 usage error.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, folders or quoted glob patterns")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT", help="output folder")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders (and ** in patterns)")
    parser.add_argument("--format", dest="image_format", choices=tuple(FORMATS), default="png",
                        help="output format; 'same' keeps each input's extension (default: png)")
    parser.add_argument("--quality", type=jpeg_quality, default=95, help="JPEG/WebP quality 1..100 (default 95)")
    parser.add_argument("--suffix", type=output_suffix, default="",
                        help="appended to each output stem, e.g. _enhanced (no path separators)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="leave outputs that already exist")
    existing.add_argument("--overwrite", action="store_true", help="replace outputs that exist (never inputs)")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="zoo name, .safetensors or (with --backend onnx) .onnx file (default: bundled model)")
    parser.add_argument("--backend", choices=("torch", "onnx"), default=None,
                        help="torch (default) or onnx (onnxruntime, needs mlsm[onnx]; default for .onnx files)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N", help="CPU threads")
    parser.add_argument("--tile", type=positive_int, default=DEFAULT_TILE,
                        help=f"tile side in pixels (default {DEFAULT_TILE})")
    parser.add_argument("--overlap", type=non_negative_int, default=DEFAULT_OVERLAP,
                        help=f"tile overlap (default {DEFAULT_OVERLAP})")
    parser.add_argument("--brightness", type=positive_float, default=1.0, metavar="F",
                        help="scale the output's brightness in linear light (after the exposure head, "
                             "if the model has one), e.g. 1.5 for brighter results (default 1)")
    parser.add_argument("--no-exposure-calibration", dest="calibrate_exposure", action="store_false",
                        help="keep the network's own brightness (skip the model's global exposure head)")
    parser.add_argument("--no-shift-ensemble", dest="shift_ensemble", action="store_false",
                        help="run the network once instead of twice (about 2x faster; the output keeps a "
                             "faint 2x2/8x8 grid pattern of the network's own)")
    parser.add_argument("--no-monotone-gain", dest="monotone_gain", action="store_false",
                        help="keep the network's own tone in the shadows (by default darker tones gain at "
                             "least as much as brighter ones, lifting the deep shadows it crushes)")
    parser.add_argument("--keep-well-exposed", action="store_true",
                        help="leave a photo the model's keep gate finds already well exposed at its own "
                             "brightness (deblocked and denoised, not brightened); off by default")
    parser.add_argument("--no-colour-balance", dest="colour_balance", action="store_false",
                        help="keep the network's own colours (by default the output keeps the photo's global "
                             "colour balance, and a very dark photo the brightness floor lifts keeps only part "
                             "of its colour cast, as LOL's normal-light photos do)")
    parser.add_argument("--no-neutral-shadows", dest="neutral_shadows", action="store_false",
                        help="keep the colour the network gives the deepest shadows (by default where the "
                             "photo is too dark to hold colour, under 8 of 255 levels, the output fades to grey "
                             "at the same brightness: a black sky stays black instead of turning olive)")
    parser.add_argument("--no-chroma-denoise", dest="chroma_denoise", action="store_false",
                        help="keep the colour blotches a camera's noise leaves in flat areas once they are "
                             "brightened (by default, on camera-quality photos, the colour of flat areas the "
                             "enhancement lifted goes to its local mean at the same brightness)")
    parser.add_argument("--no-highlight-headroom", dest="highlight_headroom", action="store_false",
                        help="let the network lift a photo's lit parts (sky, windows, lamps) as far as it "
                             "likes (by default they keep headroom under a ceiling from the photo's own "
                             "brightness, the mid-tones get the brightness instead, and well-exposed parts keep the "
                             "photo's own clouds and colours)")
    parser.add_argument("--detail", type=detail_strength, default=None, metavar="auto|S",
                        help="strength 0..1 of the input detail transfer: the photo's own texture added back "
                             "where it stands above its noise; auto (default) sets it from the photo's JPEG "
                             "quality, read from its pixels: 0 up to QF 90 (blocks), 1 from QF 96 (camera "
                             "quality, PNG); 0 turns it off. Photos only")
    video = parser.add_argument_group("videos (H.264 MP4 outputs; needs mlsm[video])")
    video.add_argument("--crf", type=int_in_range("CRF", 0, 51), default=18,
                       help="x264 constant rate factor 0..51; 18 is visually lossless, +6 halves the size (default 18)")
    video.add_argument("--temporal-smoothing", type=non_negative_float, default=1.0, metavar="SECONDS",
                       help="time constant of the brightness smoothing over frames, reset at scene cuts; "
                            "0 enhances each frame on its own (default 1)")
    video.add_argument("--max-frames", type=positive_int, default=None, metavar="N", help="stop after N frames")
    video.add_argument("--start", type=non_negative_float, default=0.0, metavar="SECONDS",
                       help="skip the first SECONDS of each video")
    video.add_argument("--duration", type=positive_float, default=None, metavar="SECONDS",
                       help="process at most SECONDS of each video")
    parser.set_defaults(func=run)


def detail_strength(text: str) -> float | None:
    """argparse type of ``--detail``: ``auto`` (None) or a number in [0, 1]."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be auto or a number in [0, 1], got {text}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from mlsm.models.zoo import ModelUnavailableError

    jobs, input_errors = plan_outputs(args.inputs, args.output, args.recursive, args.image_format, args.suffix)
    for line in input_errors:
        _error(line)
    if not jobs:
        _error(f"no input images found in {' '.join(args.inputs)} "
               f"(image extensions: .jpg .jpeg .png .bmp .tif .tiff .webp; video: .mp4 .mov .m4v .mkv .avi .webm"
               f"{'' if args.recursive else '; -r to descend'})")
        return 2

    try:
        options = InferenceOptions(tile=args.tile, overlap=args.overlap,
                                   calibrate_exposure=args.calibrate_exposure, brightness=args.brightness,
                                   shift_ensemble=args.shift_ensemble, monotone_gain=args.monotone_gain,
                                   detail=args.detail, keep_well_exposed=args.keep_well_exposed,
                                   colour_balance=args.colour_balance, neutral_shadows=args.neutral_shadows,
                                   highlight_headroom=args.highlight_headroom, chroma_denoise=args.chroma_denoise)
    except ValueError as exc:
        _error(f"--tile/--overlap/--brightness: {exc}")
        return 2
    cores = os.cpu_count() or 1
    if args.threads and args.threads > cores:
        print_note(f"--threads {args.threads} capped at {cores}, the number of CPU cores")
        args.threads = cores
    previous_threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        try:
            model = load_enhancer(args.model, args.backend, args.device, args.threads, options)
        except (ModelUnavailableError, UsageError) as exc:
            _error(exc)
            return 2
        protected = {job.source.resolve() for job in jobs}
        counts = {"enhanced": 0, "skipped": 0, "failed": len(input_errors)}
        start = time.perf_counter()
        show_bar = bool(getattr(sys.stderr, "isatty", lambda: False)())
        with tqdm(jobs, file=sys.stderr, disable=not show_bar, unit="image", desc="enhance") as bar:
            for job in bar:
                if job.error:  # known before running (its output collides with another's)
                    counts["failed"] += 1
                    _report(bar, show_bar, job.error)
                    continue
                try:
                    counts[_enhance_one(model, job, args, protected, bar)] += 1
                except Exception as exc:  # one bad file never stops the batch (Ctrl-C still does)
                    counts["failed"] += 1
                    _report(bar, show_bar, _failure_line(job, exc))
                for note in job.notes:
                    _report(bar, show_bar, note, "note")
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous_threads)
    print(f"{counts['enhanced']} enhanced, {counts['skipped']} skipped, {counts['failed']} failed "
          f"in {elapsed:.1f} s")
    return 1 if counts["failed"] else 0


def _report(bar, show_bar: bool, line: str, kind: str = "error") -> None:
    text = f"mlsm: {kind}: {' '.join(line.split())}"
    if show_bar:
        bar.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr)
