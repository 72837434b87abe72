"""Paired folder data sets in the layouts the public low-light sets ship in.

The paper trains and tests on real (dark, normal-light) pairs from LOL, LSRW, SICE and
RELLISUR (Zeng et al., Section IV-B, Tables I-II) and makes the *compressed* dark input by
JPEG-compressing the dark image at a quality factor (QF) of 90, 80, 70 or 60
(:func:`mlsm.data.degrade.compress`). :func:`find_pairs` reads these layouts::

    lol       ROOT/{our485,eval15}/{low,high}/NAME             LOL (Wei et al. 2018); ROOT may
                                                               also be our485/ or eval15/ itself
              ROOT/[Real_captured/]{Train,Test}/{Low,Normal}/  LOL-v2: low00001 <-> normal00001
    lsrw      ROOT/.../{low,high}/NAME                         LSRW, e.g. LSRW/Training data/Huawei/low
    sice      ROOT/N/{1,2,...}.JPG + ROOT/Label/N.JPG          SICE Part1/Part2 multi-exposure sequences
    rellisur  ROOT/{Train,Val,Test}/LLLR/ID-EV.png             RELLISUR, ground truth at the *same*
              + .../NLHR-Duplicates/X1/ID-EV.png               size (x1): NLHR-Duplicates/X1 (same
              or .../NLHR/X1/ID.png                            name) or NLHR/X1 (name before '-')
    auto      detect one of the above

Matching rules and the choices made for each set:

* Files are matched by file stem; a dark image without its ground truth (or the reverse),
  two files with the same stem, or a pair whose sizes differ raise :class:`DatasetError`
  naming the files. An empty result raises naming the root and layout.
* LOL-v2 names carry a ``low`` / ``normal`` prefix before the number, which is stripped.
* SICE has no single dark image per scene: each folder ``N`` holds an exposure sequence and
  ``Label/N.*`` is its reference. mlsm takes the **darkest** exposure (lowest mean
  brightness of a 64 px thumbnail, ties broken by file order) as the dark input; pass
  ``sice_pick="first"`` for the convention of taking the first file in natural order
  (SICE numbers its sequences from under- to over-exposed).
* RELLISUR stores each dark capture (``LLLR``, 625 x 625, several exposure values per scene)
  at x1 and its normal-light reference at x1, x2 and x4. Only the x1 reference has the
  dark image's size, so only x1 pairs are used; ``NLHR-Duplicates/X1`` (one copy per dark
  file, same name) is preferred, else ``NLHR/X1/ID.png`` serves every ``ID-EV.png``.

Pair names (``"name"`` in an item, file names in an evaluation set) are the matched stem,
prefixed with the folder it came from (``eval15_1``) where two folders share a stem.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from mlsm.data.degrade import compress
from mlsm.io import iter_image_files, read_image, to_float32, to_uint8
from mlsm.io.convert import to_tensor

__all__ = [
    "LAYOUTS",
    "DatasetError",
    "ImagePair",
    "detect_layout",
    "find_named_pairs",
    "find_pairs",
    "random_paired_crop",
    "parse_pairs_spec",
    "collect_pairs",
    "holdout_names",
    "read_name_list",
    "safe_name",
    "PairedFolder",
]

LAYOUTS = ("lol", "lsrw", "sice", "rellisur")
_MAX_DEPTH = 3          # how deep below ROOT the low/high, Label and LLLR folders are searched
_LOW_DIRS = ("low",)
_HIGH_DIRS = {"lol": ("high", "normal"), "lsrw": ("high", "normal")}
_LOL_V2_PREFIX = re.compile(r"^(low|normal|high)(?=\d)", re.IGNORECASE)


class DatasetError(ValueError):
    """A data-set folder that cannot be read as the requested layout."""


@dataclass(frozen=True)
class ImagePair:
    """One (dark, normal-light) pair: file paths and a unique, file-name-safe name."""

    low: Path
    high: Path
    name: str


# ----------------------------------------------------------------------------- helpers

def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: _natural_key(p.name))


def _child(folder: Path, names: Sequence[str]) -> Path | None:
    """The sub-folder of ``folder`` whose name is one of ``names`` (case-insensitive)."""
    wanted = [n.lower() for n in names]
    matches = [d for d in _subdirs(folder) if d.name.lower() in wanted]
    matches.sort(key=lambda d: wanted.index(d.name.lower()))
    return matches[0] if matches else None


def _walk_dirs(root: Path, max_depth: int = _MAX_DEPTH) -> list[Path]:
    """``root`` and its sub-folders down to ``max_depth`` levels, in natural order."""
    found, frontier = [root], [root]
    for _ in range(max_depth):
        frontier = [child for folder in frontier for child in _subdirs(folder)]
        found.extend(frontier)
    return found


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _images(folder: Path) -> list[Path]:
    return sorted(iter_image_files([folder], recursive=False), key=lambda p: _natural_key(p.name))


def _by_key(files: Sequence[Path], key_of) -> dict[str, Path]:
    table: dict[str, Path] = {}
    for path in files:
        key = key_of(path)
        if key in table:
            raise DatasetError(f"two files share the name {key!r}: {table[key]} and {path}")
        table[key] = path
    return table


def _match(low_files: dict[str, Path], high_files: dict[str, Path], low_dir: Path,
           high_dir: Path) -> list[tuple[str, Path, Path]]:
    """Pairs (key, low, high) of two key -> file tables; any unmatched file raises."""
    missing_high = [low_files[k] for k in low_files if k not in high_files]
    missing_low = [high_files[k] for k in high_files if k not in low_files]
    problems = []
    if missing_high:
        problems.append(f"no ground truth in {high_dir} for {_list(missing_high)}")
    if missing_low:
        problems.append(f"no dark image in {low_dir} for {_list(missing_low)}")
    if problems:
        raise DatasetError("; ".join(problems))
    return [(key, low_files[key], high_files[key]) for key in sorted(low_files, key=_natural_key)]


def _list(paths: Sequence[Path], limit: int = 5) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, after any EXIF rotation."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _mean_brightness(path: Path) -> float:
    """Mean grey level of a <= 64 px thumbnail (cheap: JPEG decodes at reduced scale)."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (64, 64))
            thumb = image.convert("L")
            thumb.thumbnail((64, 64))
            return float(np.asarray(thumb, dtype=np.float32).mean())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc


# ----------------------------------------------------------------------------- layouts

def _low_high_groups(root: Path, high_names: Sequence[str]) -> list[tuple[Path, Path, Path]]:
    groups = []
    for folder in _walk_dirs(root):
        low, high = _child(folder, _LOW_DIRS), _child(folder, high_names)
        if low is not None and high is not None:
            groups.append((folder, low, high))
    return groups


def _pairs_low_high(root: Path, layout: str) -> list[tuple[Path, str, Path, Path]]:
    strip = layout == "lol"

    def key_of(path: Path) -> str:
        return _LOL_V2_PREFIX.sub("", path.stem) if strip else path.stem

    out = []
    for group, low_dir, high_dir in _low_high_groups(root, _HIGH_DIRS[layout]):
        matched = _match(_by_key(_images(low_dir), key_of), _by_key(_images(high_dir), key_of),
                         low_dir, high_dir)
        out.extend((group, key, low, high) for key, low, high in matched)
    return out


def _sice_groups(root: Path) -> list[tuple[Path, Path]]:
    return [(folder, label) for folder in _walk_dirs(root)
            if (label := _child(folder, ("Label", "label", "Labels"))) is not None]


def _pairs_sice(root: Path, pick: str) -> list[tuple[Path, str, Path, Path]]:
    if pick not in ("darkest", "first"):
        raise DatasetError(f"sice_pick must be 'darkest' or 'first', got {pick!r}")
    out = []
    for group, label_dir in _sice_groups(root):
        labels = _by_key(_images(label_dir), lambda p: p.stem)
        sequences = {d.name: d for d in _subdirs(group) if d != label_dir}
        darkest: dict[str, Path] = {}
        for name, folder in sequences.items():
            frames = _images(folder)
            if not frames:
                continue
            darkest[name] = frames[0] if pick == "first" else min(frames, key=_mean_brightness)
        matched = _match(darkest, labels, group, label_dir)
        out.extend((group, key, low, high) for key, low, high in matched)
    return out


def _rellisur_groups(root: Path) -> list[tuple[Path, Path]]:
    return [(folder, low) for folder in _walk_dirs(root)
            if (low := _child(folder, ("LLLR",))) is not None]


def _pairs_rellisur(root: Path) -> list[tuple[Path, str, Path, Path]]:
    out = []
    groups = _rellisur_groups(root) or [
        (folder, low) for folder, low, _ in _low_high_groups(root, ("high", "NLHR"))]
    for group, low_dir in groups:
        low_files = _by_key(_images(low_dir), lambda p: p.stem)
        duplicates = _child(group, ("NLHR-Duplicates",))
        nlhr = _child(group, ("NLHR",))
        if duplicates is not None and _child(duplicates, ("X1",)) is not None:
            high_dir = _child(duplicates, ("X1",))
            high_files = _by_key(_images(high_dir), lambda p: p.stem)
        elif nlhr is not None and (_child(nlhr, ("X1",)) is not None or _images(nlhr)):
            high_dir = _child(nlhr, ("X1",)) or nlhr
            references = _by_key(_images(high_dir), lambda p: p.stem)
            # NLHR/X1/ID.png is the reference of every LLLR/ID-EV.png
            missing = [low_files[k] for k in low_files if k.split("-")[0] not in references]
            if missing:
                raise DatasetError(f"no ground truth in {high_dir} for {_list(missing)}")
            high_files = {k: references[k.split("-")[0]] for k in low_files}
        elif (high := _child(group, ("high",))) is not None:
            high_dir, high_files = high, _by_key(_images(high), lambda p: p.stem)
        else:
            raise DatasetError(f"{group}: found {low_dir.name}/ but no NLHR-Duplicates/X1, NLHR/X1 "
                               "or high/ folder with the same-size (x1) ground truth")
        matched = _match(low_files, high_files, low_dir, high_dir)
        out.extend((group, key, low, high) for key, low, high in matched)
    return out


def detect_layout(root: str | Path) -> str:
    """Name of the layout of ``root`` (one of :data:`LAYOUTS`); raises if none fits."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data-set root {root} is not a folder")
    if _rellisur_groups(root):
        return "rellisur"
    if _sice_groups(root):
        return "sice"
    groups = _low_high_groups(root, _HIGH_DIRS["lol"])
    if groups:
        lol_names = {"our485", "eval15", "train", "test", "real_captured", "synthetic"}
        for group, _, high in groups:
            names = {part.lower() for part in (root.name, *group.relative_to(root).parts)}
            if high.name.lower() == "normal" or names & lol_names or \
                    any(name.startswith("lol") for name in names):
                return "lol"
        return "lsrw"
    raise DatasetError(f"cannot tell the layout of {root}: no low/high, LLLR or Label folder found "
                       f"within {_MAX_DEPTH} levels (layouts: {', '.join(LAYOUTS)})")


def find_named_pairs(root: str | Path, layout: str = "auto", *, sice_pick: str = "darkest",
                     check_sizes: bool = True) -> list[ImagePair]:
    """Every (dark, reference) pair under ``root`` in ``layout``, with unique names.

    See the module docstring for each layout. Raises :class:`DatasetError` on a missing
    counterpart, a size mismatch (``check_sizes``; reads only the file headers) or when no
    pair is found.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data-set root {root} is not a folder")
    if layout == "auto":
        layout = detect_layout(root)
    if layout in ("lol", "lsrw"):
        found = _pairs_low_high(root, layout)
    elif layout == "sice":
        found = _pairs_sice(root, sice_pick)
    elif layout == "rellisur":
        found = _pairs_rellisur(root)
    else:
        raise DatasetError(f"unknown layout {layout!r}; expected one of: auto, {', '.join(LAYOUTS)}")
    if not found:
        raise DatasetError(f"no image pairs found under {root} with layout {layout!r}")
    if check_sizes:
        for _, _, low, high in found:
            low_size, high_size = _image_size(low), _image_size(high)
            if low_size != high_size:
                raise DatasetError(f"size mismatch: {low} is {low_size[0]}x{low_size[1]} but its ground "
                                   f"truth {high} is {high_size[0]}x{high_size[1]}")
    counts: dict[str, int] = defaultdict(int)
    for _, key, _, _ in found:
        counts[key] += 1
    pairs = []
    for group, key, low, high in found:
        name = key
        if counts[key] > 1:
            prefix = "_".join(group.relative_to(root).parts) or group.name
            name = f"{prefix}_{key}"
        pairs.append(ImagePair(low, high, safe_name(name)))
    if len({p.name for p in pairs}) != len(pairs):
        raise DatasetError(f"pair names under {root} are not unique; pass a narrower root")
    return pairs


def find_pairs(root: str | Path, layout: str = "auto", **options) -> list[tuple[Path, Path]]:
    """(dark, reference) file pairs under ``root``; see :func:`find_named_pairs`."""
    return [(pair.low, pair.high) for pair in find_named_pairs(root, layout, **options)]


def safe_name(name: str) -> str:
    """``name`` with every run of characters outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "image"


# ----------------------------------------------------------------------------- data sets

def random_paired_crop(images: Sequence[np.ndarray], crop_size: int, rng: np.random.Generator,
                       rot90: bool = False) -> list[np.ndarray]:
    """The same random ``crop_size`` square crop and horizontal / vertical flips of each image,
    and with ``rot90`` the same random multiple of 90 degrees (drawn after the flips)."""
    height, width = images[0].shape[:2]
    top = int(rng.integers(0, height - crop_size + 1))
    left = int(rng.integers(0, width - crop_size + 1))
    flip_h, flip_v = rng.random() < 0.5, rng.random() < 0.5
    turns = int(rng.integers(0, 4)) if rot90 else 0
    out = []
    for image in images:
        crop = image[top:top + crop_size, left:left + crop_size]
        if flip_h:
            crop = crop[:, ::-1]
        if flip_v:
            crop = crop[::-1]
        if turns:
            crop = np.rot90(crop, turns)
        out.append(np.ascontiguousarray(crop))
    return out


def parse_pairs_spec(spec: str | Path) -> tuple[Path, str]:
    """``"ROOT"`` or ``"ROOT:LAYOUT"`` (layout one of :data:`LAYOUTS` or ``auto``) -> (root, layout)."""
    text = str(spec)
    root, sep, layout = text.rpartition(":")
    if sep and layout in (*LAYOUTS, "auto"):
        return Path(root), layout
    return Path(text), "auto"


def collect_pairs(specs: Sequence[str | Path], exclude: Sequence[str] = (), *,
                  sice_pick: str = "darkest") -> list[ImagePair]:
    """The pairs of several roots (``"ROOT"`` or ``"ROOT:LAYOUT"``), minus the names in ``exclude``.

    ``exclude`` holds pair names as :func:`find_named_pairs` gives them (LOL: the file stem,
    e.g. ``"648"``) and applies to every root. Names repeated across roots are prefixed with
    the root's folder name (``our485_2``) so that every name stays unique.
    """
    excluded = set(map(str, exclude))
    per_root = []
    for spec in specs:
        root, layout = parse_pairs_spec(spec)
        per_root.append((root, [p for p in find_named_pairs(root, layout, sice_pick=sice_pick)
                                if p.name not in excluded]))
    counts: dict[str, int] = defaultdict(int)
    for _, pairs in per_root:
        for pair in pairs:
            counts[pair.name] += 1
    out = [ImagePair(p.low, p.high, safe_name(f"{root.name}_{p.name}") if counts[p.name] > 1 else p.name)
           for root, pairs in per_root for p in pairs]
    if len({p.name for p in out}) != len(out):
        raise DatasetError(f"pair names of {', '.join(map(str, specs))} are not unique")
    if not out:
        raise DatasetError(f"no image pairs left under {', '.join(map(str, specs))} after excluding "
                           f"{sorted(excluded)}")
    return out


def holdout_names(pairs: Sequence[ImagePair], count: int, seed: int, exclude: Sequence[str] = ()) -> list[str]:
    """``count`` pair names drawn without replacement by ``numpy.random.default_rng(seed)`` from
    the names of ``pairs`` (natural order, ``exclude`` removed first), returned in natural order.

    ``configs/splits/lol_our485_val.txt`` is ``holdout_names(find_named_pairs("lol/our485"),
    35, seed=485, exclude=["648"])``.
    """
    names = sorted((p.name for p in pairs if p.name not in set(exclude)), key=_natural_key)
    if not 0 < count <= len(names):
        raise ValueError(f"cannot hold out {count} of {len(names)} pairs")
    chosen = np.random.default_rng(seed).choice(len(names), size=count, replace=False)
    return sorted((names[i] for i in chosen), key=_natural_key)


def read_name_list(path: str | Path) -> list[str]:
    """Pair names of a split file: one per line; blank lines and ``#`` comments are skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    names = [line.split("#", 1)[0].strip() for line in lines]
    return [name for name in names if name]


def _draw_quality(quality: int | tuple[int, int] | None, rng: np.random.Generator) -> int | None:
    if quality is None or isinstance(quality, (int, np.integer)):
        return None if quality is None else int(quality)
    low, high = quality
    return int(rng.integers(int(low), int(high) + 1))


def _is_quality(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 1 <= value <= 100


def _check_quality(quality) -> None:
    """``quality`` must be None, a QF in 1..100 or an increasing (low, high) pair of QFs."""
    if quality is None or _is_quality(quality):
        return
    if isinstance(quality, (tuple, list)) and len(quality) == 2 and all(map(_is_quality, quality)) \
            and quality[0] <= quality[1]:
        return
    raise ValueError(f"quality must be None, an int in 1..100 or a (low, high) range, got {quality!r}")


class PairedFolder(Dataset):
    """Real (dark, normal-light) pairs from folders, the dark image JPEG-compressed at ``quality``.

    Items: ``{"low": (3, H, W), "high": (3, H, W)}`` float32 tensors in [0, 1] and ``"name"``.
    With a ``crop_size`` the item is the same random square crop of both images with random
    flips (and 90-degree turns with ``rot90``), and the dark crop is then JPEG-compressed with
    its 8x8 grid at the crop's top-left corner, as :mod:`mlsm.data.synthetic` does; without
    one the whole dark image is compressed (the paper's setting, IV-B; grid of the full photo).

    Follows the training loop's :class:`~mlsm.train.loop.SeededDataset` protocol:
    ``get_item(index, rng)`` draws every crop, flip, turn and QF from ``rng``;
    ``dataset[index]`` is ``get_item(index, numpy.random.default_rng([seed, index]))``.

    Args:
        root: a data-set root read by :func:`find_named_pairs` with ``layout`` and ``sice_pick``,
            or a list of :class:`ImagePair` (e.g. from :func:`collect_pairs`).
        quality: ``None`` keeps the dark pixels as stored; an int compresses at that QF; a
            ``(low, high)`` range draws the QF per item.
        crop_size: ``None`` returns whole images (the batch size must then be 1 unless all
            pairs share a size).
        seed: seed of ``dataset[index]``.
        length: items per epoch (default: one per pair); item ``i`` is pair ``i % len(pairs)``,
            so a longer epoch gives each pair several different crops.
        subsampling: JPEG chroma subsampling, "4:2:0" (camera default) or "4:4:4".
        max_pixels: passed to :func:`mlsm.io.read_image`.
        exclude: pair names left out (e.g. LOL's shifted pair ``"648"``, a validation split).
        rot90: also turn crops by a random multiple of 90 degrees.
        cache: decode every pair once, now, and keep it in memory as 8-bit pixels (exact for
            8-bit files; ~0.7 GB for LOL's 485 pairs instead of 2.8 GB as float32).
    """

    def __init__(self, root: str | Path | Sequence[ImagePair], layout: str = "auto", *,
                 quality: int | tuple[int, int] | None = None, crop_size: int | None = None, seed: int = 0,
                 length: int | None = None, subsampling: str = "4:2:0", sice_pick: str = "darkest",
                 max_pixels: int | None = None, exclude: Sequence[str] = (), rot90: bool = False,
                 cache: bool = False):
        _check_quality(quality)
        if crop_size is not None and crop_size < 1:
            raise ValueError(f"crop_size must be positive, got {crop_size}")
        pairs = list(root) if isinstance(root, (list, tuple)) else find_named_pairs(root, layout, sice_pick=sice_pick)
        self.pairs = [p for p in pairs if p.name not in set(exclude)]
        if not self.pairs:
            raise DatasetError("no image pairs left after excluding " + ", ".join(sorted(exclude)))
        self.quality = quality
        self.crop_size = crop_size
        self.seed = seed
        self.length = len(self.pairs) if length is None else int(length)
        self.subsampling = subsampling
        self.max_pixels = max_pixels
        self.rot90 = rot90
        self._cache: list[tuple[np.ndarray, np.ndarray]] | None = None
        if cache:
            self._cache = [tuple(to_uint8(image) for image in self.load(pair)) for pair in self.pairs]

    def __len__(self) -> int:
        return self.length

    def load(self, pair: ImagePair) -> tuple[np.ndarray, np.ndarray]:
        """(dark, reference) float32 arrays of one pair, as stored; raises on a size mismatch."""
        low, _ = read_image(pair.low, max_pixels=self.max_pixels)
        high, _ = read_image(pair.high, max_pixels=self.max_pixels)
        if low.shape != high.shape:
            raise DatasetError(f"size mismatch: {pair.low} is {low.shape[1]}x{low.shape[0]} but "
                               f"{pair.high} is {high.shape[1]}x{high.shape[0]}")
        return low, high

    def get_item(self, index: int, rng: np.random.Generator) -> dict:
        """Pair ``index % len(pairs)``, cropped, turned and compressed with draws from ``rng``."""
        position = int(index) % len(self.pairs)
        pair = self.pairs[position]
        if self._cache is not None:
            low, high = self._cache[position]
        else:
            low, high = self.load(pair)
        if self.crop_size is not None:
            if min(low.shape[:2]) < self.crop_size:
                raise DatasetError(f"{pair.low} ({low.shape[1]}x{low.shape[0]}) is smaller than "
                                   f"crop_size {self.crop_size}")
            low, high = random_paired_crop([low, high], self.crop_size, rng, rot90=self.rot90)
        low, high = to_float32(low), to_float32(high)
        quality = _draw_quality(self.quality, rng)
        if quality is not None:
            low = compress(low, quality, self.subsampling)[0]
        return {"low": to_tensor(low, batch=False).contiguous(), "high": to_tensor(high, batch=False).contiguous(),
                "name": pair.name}

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        return self.get_item(index, np.random.default_rng([self.seed, int(index)]))


