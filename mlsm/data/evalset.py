"""Fixed evaluation sets: the same compressed dark inputs for every method and every run.

The paper evaluates each method on dark images JPEG-compressed at QF 90, 80, 70 and 60
(Zeng et al., Section IV-B and Tables III-IV). An evaluation set stores those inputs once,
as the real JPEG files, so that ``mlsm eval`` and every peer method read identical bytes::

    DST/manifest.json        format "mlsm-evalset/1": qualities, seed, degradation settings,
                             one record per image, the command that made the set
    DST/gt/NAME.png          ground truth, lossless (16-bit if the source was)
    DST/qf90/NAME.jpg        the dark input of NAME encoded at QF 90 (Pillow / libjpeg bytes,
    DST/qf60/NAME.jpg        never re-encoded); every QF encodes the *same* dark 8-bit image

Two ways to build one:

* :func:`synthesize_evalset` from clean photos. Image ``i`` of the sorted file list gets
  ``numpy.random.default_rng([seed, i])``; its degradation is drawn once
  (:func:`mlsm.data.degrade.sample_params`, then :func:`~mlsm.data.degrade.darken`: exposure,
  colour cast, shot and read noise, 8-bit quantisation) and encoded at each QF. The same
  inputs and seed give byte-identical files.
* :func:`paired_folder_evalset` from a real paired set (LOL, LSRW, SICE, RELLISUR; see
  :mod:`mlsm.data.folders`): the reference is the ground truth and the stored dark image is
  encoded at each QF, the paper's own setting.

Every file is written to a temporary name and moved into place (``os.replace``), and the
manifest is written last, so an interrupted run never leaves a set that looks complete.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from mlsm.atomic import write_bytes_atomic
from mlsm.data.degrade import DegradationRanges, darken, sample_params
from mlsm.data.folders import detect_layout, find_named_pairs, safe_name
from mlsm.io import encode_jpeg, iter_image_files, read_image, to_uint8, write_image

__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "EvalSetError",
    "EvalItem",
    "EvalSet",
    "synthesize_evalset",
    "paired_folder_evalset",
    "load_evalset",
]

FORMAT = "mlsm-evalset/1"
MANIFEST_NAME = "manifest.json"
DEFAULT_QUALITIES = (90, 80, 70, 60)
_SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")


class EvalSetError(ValueError):
    """An evaluation set that cannot be written or read; the message names the file."""


@dataclass(frozen=True)
class EvalItem:
    """One image of an evaluation set: its ground truth and its dark JPEG at each QF."""

    name: str
    gt: Path
    low: dict[int, Path]
    params: dict = field(default_factory=dict)
    source: object = None

    def low_path(self, quality: int) -> Path:
        """Path of the dark JPEG at ``quality``; KeyError names the qualities there are."""
        try:
            return self.low[int(quality)]
        except KeyError:
            raise KeyError(f"{self.name}: no QF {quality} (has {sorted(self.low)})") from None


@dataclass(frozen=True)
class EvalSet:
    """A loaded evaluation set (see :func:`load_evalset`); iterates over its items."""

    root: Path
    qualities: tuple[int, ...]
    items: tuple[EvalItem, ...]
    manifest: dict

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[EvalItem]:
        return iter(self.items)

    @property
    def seed(self):
        return self.manifest.get("seed")

    @property
    def source(self):
        return self.manifest.get("source")

    def summary(self) -> str:
        """Several human-readable lines: origin, size, qualities and mean file size per QF."""
        sizes = {q: [item.low[q].stat().st_size for item in self.items] for q in self.qualities}
        lines = [
            f"{self.root}: {self.manifest.get('format')}, {self.manifest.get('kind', '?')} set, "
            f"{len(self.items)} images, QF {', '.join(map(str, self.qualities))}, "
            f"subsampling {self.manifest.get('subsampling', '?')}",
            f"source: {self.source}" + (f" (layout {self.manifest['layout']})" if self.manifest.get("layout") else ""),
            f"seed: {self.seed}",
        ]
        if self.manifest.get("ranges"):
            lines.append(f"degradation: {json.dumps(self.manifest['ranges'])}"
                         + (f", fixed exposure {self.manifest['exposure']}" if self.manifest.get("exposure") else ""))
        lines.append("mean JPEG size: " + ", ".join(f"QF {q}: {np.mean(sizes[q]) / 1024:.1f} KiB"
                                                      for q in self.qualities))
        lines.append(f"made by: {self.manifest.get('command')} (mlsm {self.manifest.get('mlsm_version')})")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- writing

def _check_qualities(qualities: Iterable[int]) -> tuple[int, ...]:
    values = tuple(qualities)
    if not values:
        raise EvalSetError("at least one JPEG quality (QF) is needed")
    for quality in values:
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
            raise EvalSetError(f"JPEG quality must be an integer in 1..100, got {quality!r}")
    if len(set(values)) != len(values):
        raise EvalSetError(f"JPEG qualities must be distinct, got {list(values)}")
    return tuple(int(q) for q in values)


def _listed_files(manifest: dict) -> set[str]:
    """Relative paths of the files an (old) manifest lists; tolerant of a damaged manifest."""
    files = set()
    for image in manifest.get("images", []) if isinstance(manifest, dict) else []:
        if isinstance(image, dict):
            if isinstance(image.get("gt"), str):
                files.add(image["gt"])
            if isinstance(image.get("low"), dict):
                files.update(v for v in image["low"].values() if isinstance(v, str))
    return files


def _prepare_destination(dst: Path, overwrite: bool) -> set[str]:
    """Check ``dst`` may be written; returns the files of a set being replaced."""
    if dst.exists() and not dst.is_dir():
        raise EvalSetError(f"destination {dst} exists and is not a folder")
    if not dst.exists() or not any(dst.iterdir()):
        return set()
    if not overwrite:
        raise EvalSetError(f"destination {dst} is not empty; pass overwrite=True (--overwrite) to replace "
                           "the evaluation set there")
    manifest = dst / MANIFEST_NAME
    old_files: set[str] = set()
    if manifest.is_file():
        try:
            old_files = _listed_files(json.loads(manifest.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
        manifest.unlink()  # the set is incomplete until the new manifest is written
    return old_files


def _encode_set(dst: Path, header: dict, entries: Iterable[tuple[str, np.ndarray, int, np.ndarray, dict]],
                qualities: tuple[int, ...], subsampling: str, overwrite: bool) -> Path:
    """Write ground truths, dark JPEGs and (last) the manifest of one set."""
    old_files = _prepare_destination(dst, overwrite)
    images = []
    for name, clean, bit_depth, dark_uint8, record in entries:
        gt_rel = f"gt/{name}.png"
        write_image(dst / gt_rel, clean, overwrite=True, bit_depth=16 if bit_depth == 16 else 8)
        low = {}
        for quality in qualities:
            low_rel = f"qf{quality}/{name}.jpg"
            write_bytes_atomic(dst / low_rel, encode_jpeg(dark_uint8, quality, subsampling))
            low[str(quality)] = low_rel
        images.append({"name": name, "gt": gt_rel, "low": low,
                       "width": int(clean.shape[1]), "height": int(clean.shape[0]), **record})
    from mlsm import __version__

    header = dict(header)
    command = header.pop("command")
    manifest = {"format": FORMAT, **header, "qualities": list(qualities), "subsampling": subsampling,
                "images": images, "command": command, "mlsm_version": __version__}
    path = dst / MANIFEST_NAME
    write_bytes_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    for stale in sorted(old_files - _listed_files(manifest)):
        target = (dst / stale).resolve()
        if dst.resolve() in target.parents and target.is_file():
            target.unlink()
    return path


def _unique_names(files: Sequence[Path]) -> list[str]:
    """File stems, prefixed with the parent folder where two files share a stem."""
    stems = [safe_name(p.stem) for p in files]
    names = [safe_name(f"{p.parent.name}_{p.stem}") if stems.count(s) > 1 else s
             for p, s in zip(files, stems)]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}_{count}")
    return unique


def _source_files(src_paths: Sequence[str | Path], dst: Path) -> list[Path]:
    for src in src_paths:
        if not Path(src).exists() and not any(c in str(src) for c in "*?["):
            raise EvalSetError(f"source {src} does not exist")
    inside = dst.resolve()
    files = sorted(p for p in iter_image_files([str(s) for s in src_paths], recursive=True)
                   if inside not in p.resolve().parents)  # never read a set being (re)written
    if not files:
        raise EvalSetError(f"no images found in {', '.join(map(str, src_paths))}")
    return files


# the degradation fields of the first release, recorded in every synthetic manifest
_V1_RANGE_FIELDS = ("exposure", "colour_cast", "photons_at_white", "read_noise_std")


def synthesize_evalset(src_paths: str | Path | Sequence[str | Path], dst: str | Path,
                       qualities: Sequence[int] = DEFAULT_QUALITIES, seed: int = 0,
                       ranges: DegradationRanges = DegradationRanges.v1(), exposure: float | None = None,
                       subsampling: str = "4:2:0", overwrite: bool = False, max_images: int | None = None,
                       command: str | None = None) -> Path:
    """Make an evaluation set of synthetic compressed dark images from clean photos.

    Args:
        src_paths: image files and/or folders (searched recursively) of clean photos.
        dst: output folder (created; must be empty unless ``overwrite``).
        qualities: JPEG QFs, each encodes the same dark image.
        seed: image ``i`` of the sorted file list uses ``numpy.random.default_rng([seed, i])``.
        ranges: degradation ranges (its ``quality`` and ``subsampling`` are not used here).
        exposure: a fixed exposure that replaces the one drawn from ``ranges.exposure``.
        subsampling: JPEG chroma subsampling.
        max_images: keep only the first N files of the sorted list.
        command: recorded in the manifest (the CLI passes its command line).

    Returns:
        Path of the manifest. Raises :class:`EvalSetError` or :class:`mlsm.io.ImageError`.
    """
    if isinstance(src_paths, (str, os.PathLike)):
        src_paths = [src_paths]
    src_paths = list(src_paths)
    dst = Path(dst)
    qualities = _check_qualities(qualities)
    if subsampling not in _SUBSAMPLINGS:
        raise EvalSetError(f"subsampling must be one of {', '.join(_SUBSAMPLINGS)}, got {subsampling!r}")
    if exposure is not None and not exposure > 0:
        raise EvalSetError(f"exposure must be positive, got {exposure!r}")
    if max_images is not None and max_images < 1:
        raise EvalSetError(f"max_images must be at least 1, got {max_images!r}")
    files = _source_files(src_paths, dst)
    names = _unique_names(files)
    count = len(files) if max_images is None else min(max_images, len(files))

    def entries():
        for index in range(count):
            clean, info = read_image(files[index])
            rng = np.random.default_rng([seed, index])
            params = sample_params(rng, ranges)
            if exposure is not None:
                params = replace(params, exposure=float(exposure))
            dark = to_uint8(darken(clean, params, rng))
            record = {"source": str(files[index]),
                      "params": {"exposure": params.exposure, "colour_gains": list(params.colour_gains),
                                 "photons_at_white": params.photons_at_white,
                                 "read_noise_std": params.read_noise_std}}
            yield names[index], clean, info.bit_depth, dark, record

    # the v1 fields always, a v2 field only where it differs from v1 (manifests of v1 sets unchanged)
    v1_ranges = asdict(DegradationRanges.v1())
    degradation = {key: value for key, value in asdict(ranges).items() if key not in ("quality", "subsampling")
                   and (key in _V1_RANGE_FIELDS or value != v1_ranges[key])}
    header = {"kind": "synthetic", "source": [str(s) for s in src_paths], "seed": int(seed),
              "ranges": degradation, "exposure": None if exposure is None else float(exposure),
              "command": command or (f"synthesize_evalset({[str(s) for s in src_paths]!r}, {str(dst)!r}, "
                                     f"qualities={list(qualities)}, seed={seed}, ranges={ranges!r}, "
                                     f"exposure={exposure!r}, subsampling={subsampling!r}, "
                                     f"max_images={max_images!r})")}
    return _encode_set(dst, header, entries(), qualities, subsampling, overwrite)


def paired_folder_evalset(root: str | Path, layout: str, dst: str | Path,
                          qualities: Sequence[int] = DEFAULT_QUALITIES, *, subsampling: str = "4:2:0",
                          overwrite: bool = False, max_images: int | None = None, sice_pick: str = "darkest",
                          command: str | None = None) -> Path:
    """Make an evaluation set from a real paired folder (the paper's setting, IV-B).

    Ground truth = the pair's reference image; the dark input = the pair's stored dark image
    encoded at each QF. ``layout`` is one of ``auto``, ``lol``, ``lsrw``, ``sice``,
    ``rellisur`` (see :func:`mlsm.data.folders.find_named_pairs`); ``max_images`` keeps the
    first N pairs. Returns the manifest path.
    """
    dst = Path(dst)
    qualities = _check_qualities(qualities)
    if subsampling not in _SUBSAMPLINGS:
        raise EvalSetError(f"subsampling must be one of {', '.join(_SUBSAMPLINGS)}, got {subsampling!r}")
    if max_images is not None and max_images < 1:
        raise EvalSetError(f"max_images must be at least 1, got {max_images!r}")
    resolved_layout = detect_layout(root) if layout == "auto" else layout
    pairs = find_named_pairs(root, resolved_layout, sice_pick=sice_pick)
    pairs = pairs[:max_images] if max_images is not None else pairs

    def entries():
        for pair in pairs:
            high, info = read_image(pair.high)
            low, _ = read_image(pair.low)
            if low.shape != high.shape:
                raise EvalSetError(f"size mismatch: {pair.low} is {low.shape[1]}x{low.shape[0]} but "
                                   f"{pair.high} is {high.shape[1]}x{high.shape[0]}")
            record = {"source": {"low": str(pair.low), "high": str(pair.high)}, "params": {}}
            yield pair.name, high, info.bit_depth, to_uint8(low), record

    header = {"kind": "paired", "source": str(root), "layout": resolved_layout, "seed": None,
              "ranges": None, "exposure": None,
              "command": command or (f"paired_folder_evalset({str(root)!r}, {layout!r}, {str(dst)!r}, "
                                     f"qualities={list(qualities)}, subsampling={subsampling!r}, "
                                     f"max_images={max_images!r}, sice_pick={sice_pick!r})")}
    return _encode_set(dst, header, entries(), qualities, subsampling, overwrite)


# ----------------------------------------------------------------------------- reading

def _inside(root: Path, relative: object, manifest: Path, what: str) -> Path:
    if not isinstance(relative, str) or not relative:
        raise EvalSetError(f"{manifest}: {what} must be a relative path, got {relative!r}")
    path = root / relative
    if Path(relative).is_absolute() or root.resolve() not in path.resolve().parents:
        raise EvalSetError(f"{manifest}: {what} {relative!r} points outside {root}")
    if not path.is_file():
        raise EvalSetError(f"{manifest}: missing file {path} ({what})")
    return path


def load_evalset(dst: str | Path) -> EvalSet:
    """Read and validate ``dst/manifest.json``; every listed file must exist.

    Raises :class:`EvalSetError` naming the manifest and the offending entry or file.
    """
    root = Path(dst)
    manifest_path = root / MANIFEST_NAME if root.is_dir() or not root.name.endswith(".json") else root
    root = manifest_path.parent
    if not manifest_path.is_file():
        raise EvalSetError(f"{manifest_path}: no evaluation-set manifest here "
                           "(make one with `mlsm data synth` or `mlsm data pairs`)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"{manifest_path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise EvalSetError(f"{manifest_path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise EvalSetError(f"{manifest_path}: format is {found!r}, expected {FORMAT!r}")
    try:
        qualities = _check_qualities(manifest.get("qualities") or ())
    except EvalSetError as exc:
        raise EvalSetError(f"{manifest_path}: {exc}") from None
    records = manifest.get("images")
    if not isinstance(records, list) or not records:
        raise EvalSetError(f"{manifest_path}: 'images' must be a non-empty list")
    items, names = [], set()
    for number, record in enumerate(records):
        where = f"images[{number}]"
        if not isinstance(record, dict) or not isinstance(record.get("name"), str) or not record["name"]:
            raise EvalSetError(f"{manifest_path}: {where} needs a 'name'")
        name = record["name"]
        if name in names:
            raise EvalSetError(f"{manifest_path}: image name {name!r} appears twice")
        names.add(name)
        gt = _inside(root, record.get("gt"), manifest_path, f"ground truth of {name}")
        low_records = record.get("low")
        if not isinstance(low_records, dict) or {str(q) for q in qualities} - set(low_records):
            raise EvalSetError(f"{manifest_path}: {name} must list a dark JPEG for each QF "
                               f"{list(qualities)}, has {sorted(low_records) if isinstance(low_records, dict) else None}")
        low = {q: _inside(root, low_records[str(q)], manifest_path, f"QF {q} input of {name}") for q in qualities}
        params = record.get("params") or {}
        if not isinstance(params, dict):
            raise EvalSetError(f"{manifest_path}: params of {name} must be an object")
        items.append(EvalItem(name, gt, low, params, record.get("source")))
    return EvalSet(root, qualities, tuple(items), manifest)
