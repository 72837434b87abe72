"""Clean training photos gathered from several licensed sources into one folder + manifest.

``mlsm data photos`` (see :mod:`mlsm.data.cli`) calls :func:`find_sources` then
:func:`gather_photos`::

    sources (shared CBSD68/McMaster, Debian wallpaper packages, photos bundled in Python packages)
      -> read (mlsm.io.read_image: EXIF orientation applied, one-line errors)
      -> JPEG or larger than max_side: Lanczos downscale, >= 2x for JPEG, long side <= max_side
      -> OUT/<source>/<name>.png (atomic) + OUT/manifest.json + OUT/SOURCES.md

Downscaling a JPEG by at least 2x with an antialiasing filter averages every output pixel
over at least 2x2 input pixels and moves the source's 8x8 block grid to a 4x4 (or finer)
pattern that the filter smooths away, so the training ground truth carries no compression
blocks of its own. Lossless sources (PNG) no larger than ``max_side`` are kept pixel for pixel.

Kodak24 is the validation set: a folder called ``kodak*`` or a file whose bytes equal a
Kodak24 image is refused (:class:`PhotoSourceError`), never written to the training set.

Rerunning is idempotent: an output whose manifest record (source sha256, settings) still
holds and whose file still has the recorded sha256 is skipped.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["PhotoSourceError", "PhotoSource", "MissingSource", "PhotoRecord", "GatherResult",
           "SOURCE_GROUPS", "PLASMA_PHOTOS", "APT_PACKAGES", "default_shared_photos", "find_sources",
           "folder_source", "gather_photos", "install_command", "markdown_table"]

DEFAULT_MAX_SIDE = 1024
MIN_JPEG_FACTOR = 2.0
MANIFEST = "manifest.json"
TABLE = "SOURCES.md"

APT_PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers")
SOURCE_GROUPS = ("shared", "mate", "plasma", "skimage", "sklearn", "matplotlib")

MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")
MATE_COPYRIGHT = Path("/usr/share/doc/mate-backgrounds/copyright")
PLASMA_ROOT = Path("/usr/share/wallpapers")
PLASMA_PHOTOS = ("ColdRipple", "ColorfulCups", "DarkestHour", "FallenLeaf", "Kite", "OneStandsOut", "Path")
"""Plasma wallpapers known to be camera photographs; others are kept only with EXIF Make/Model."""

_SHARED_LICENCES = {
    "cbsd68": "research test set (Berkeley Segmentation Dataset, colour; as distributed with FFDNet)",
    "mcmaster": "research test set (McMaster colour demosaicking set; as distributed with FFDNet)",
}
# (function or file name, file under skimage/data, licence as stated in skimage.data's docstrings)
_SKIMAGE_PHOTOS = (
    ("astronaut", "astronaut.png", "public domain (NASA Great Images database)"),
    ("chelsea", "chelsea.png", "CC0 (photographer Stefan van der Walt)"),
    ("coffee", "coffee.png", "CC0 (photographer Rachel Michetti)"),
    ("rocket", "rocket.jpg", "public domain (SpaceX photos)"),
    ("motorcycle_left", "motorcycle_left.png",
     "Middlebury 2014 stereo benchmark (Scharstein et al., GCPR 2014), via scikit-image; no separate licence stated"),
    ("motorcycle_right", "motorcycle_right.png",
     "Middlebury 2014 stereo benchmark (Scharstein et al., GCPR 2014), via scikit-image; no separate licence stated"),
)
_SKLEARN_PHOTOS = (
    ("china", "china.jpg", "CC BY 2.0 (danielbuechele, Flickr)"),
    ("flower", "flower.jpg", "CC BY 2.0 (vultilion, Flickr)"),
)
_GRACE_HOPPER_LICENCE = "public domain (U.S. Navy official photograph)"


class PhotoSourceError(ValueError):
    """A training source is not allowed (Kodak24) or not usable; ``str`` is one line."""


@dataclass(frozen=True)
class PhotoSource:
    """One group of clean photos: ``files`` maps an output stem to its source file."""
    name: str
    licence: str
    files: tuple[tuple[str, Path, str], ...]  # (output stem, source file, licence of that file)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MissingSource:
    """A source group that is not installed here, and how to get it."""
    name: str
    reason: str
    how: str


@dataclass
class PhotoRecord:
    """One manifest entry (``path`` relative to the output folder)."""
    path: str
    source: str
    licence: str
    width: int
    height: int
    pixels: int
    sha256: str
    downscaled: bool
    source_file: str
    source_sha256: str
    source_width: int
    source_height: int
    source_format: str


@dataclass
class GatherResult:
    records: list[PhotoRecord] = field(default_factory=list)
    written: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    manifest: Path | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_shared_photos() -> Path:
    """``shared/data/photos`` next to the repository (``<repo>/../shared/data/photos``)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "photos"


_KODAK_NAME = re.compile(r"kodak(24)?", re.I)


def _is_kodak(path: Path) -> bool:
    """True when a folder on ``path`` is called ``kodak`` or ``kodak24`` (any case)."""
    return any(_KODAK_NAME.fullmatch(part) for part in Path(path).resolve().parts)


def _image_files(folder: Path) -> list[Path]:
    from mlsm.io import iter_image_files

    return iter_image_files(folder, recursive=True)


def folder_source(name: str, folder: Path, licence: str) -> PhotoSource:
    """Every image under ``folder`` (recursively) as one source; a Kodak folder is refused."""
    folder = Path(folder)
    if _is_kodak(folder):
        raise PhotoSourceError(f"{folder}: Kodak24 is the validation set and is never a training source")
    if not folder.is_dir():
        raise PhotoSourceError(f"{folder}: not a folder")
    files = tuple((path.relative_to(folder).with_suffix("").as_posix(), path, licence) for path in _image_files(folder))
    return PhotoSource(name, licence, files)


def _exif_camera(path: Path) -> str | None:
    """``"Make Model"`` from the EXIF of ``path``, or None (no EXIF, unreadable)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            exif = image.getexif()
    except Exception:
        return None
    parts = [str(exif.get(tag, "")).split("\x00")[0].strip() for tag in (271, 272)]
    return " ".join(p for p in parts if p) or None


def _largest(images: Sequence[Path]) -> Path:
    def area(path: Path) -> int:
        match = re.match(r"(\d+)x(\d+)$", path.stem)
        return int(match[1]) * int(match[2]) if match else 0
    return max(images, key=lambda p: (area(p), p.stat().st_size))


def _plasma_licence(folder: Path) -> str:
    for name in ("metadata.json", "metadata.desktop"):
        meta = folder / name
        if not meta.is_file():
            continue
        text = meta.read_text(encoding="utf-8", errors="replace")
        if name.endswith(".json"):
            try:
                plugin = json.loads(text).get("KPlugin", {})
            except json.JSONDecodeError:
                continue
            licence, authors = plugin.get("License"), [a.get("Name", "") for a in plugin.get("Authors", [])]
        else:
            found = re.search(r"^X-KDE-PluginInfo-License=(.*)$", text, re.M)
            licence = found[1].strip() if found else None
            authors = re.findall(r"^X-KDE-PluginInfo-Author=(.*)$", text, re.M)
        if licence:
            return f"{licence} ({', '.join(a for a in authors if a) or 'author not stated'}; KDE metadata)"
    return "GPL-2+ (Debian copyright of plasma-workspace-wallpapers)"


def _plasma_source(root: Path) -> PhotoSource | MissingSource:
    how = "apt-get install plasma-workspace-wallpapers (or pass --install)"
    if not root.is_dir():
        return MissingSource("plasma", f"{root} not found", how)
    files, notes = [], []
    for folder in sorted(p for p in root.iterdir() if (p / "contents" / "images").is_dir()):
        images = _image_files(folder / "contents" / "images")
        if not images:
            continue
        largest = _largest(images)
        camera = _exif_camera(largest)
        if folder.name in PLASMA_PHOTOS or camera:
            licence = _plasma_licence(folder)
            files.append((folder.name, largest, licence))
            why = "listed photograph" if folder.name in PLASMA_PHOTOS else "EXIF camera"
            notes.append(f"{folder.name}: kept ({why}; camera {camera or 'none'}; {largest.name})")
        else:
            notes.append(f"{folder.name}: skipped (no camera Make/Model in EXIF: not confirmed as a photograph)")
    if not files:
        return MissingSource("plasma", f"no wallpapers under {root}", how)
    return PhotoSource("plasma", "LGPL-3.0 (KDE metadata; Debian copyright: GPL-2+)", tuple(files), tuple(notes))


def _mate_licence(copyright_file: Path) -> str:
    if copyright_file.is_file():
        text = copyright_file.read_text(encoding="utf-8", errors="replace")
        found = re.search(r"^Files:[^\n]*nature/.*?^License:\s*(\S+)", text, re.M | re.S)
        if found:
            return f"{found[1]} (Debian copyright of mate-backgrounds)"
    return "GPL-2+ (mate-backgrounds; copyright file not found)"


def _mate_source(folder: Path, copyright_file: Path) -> PhotoSource | MissingSource:
    if not folder.is_dir() or not _image_files(folder):
        return MissingSource("mate", f"{folder} not found", "apt-get install mate-backgrounds (or pass --install)")
    source = folder_source("mate", folder, _mate_licence(copyright_file))
    notes = tuple(f"{stem}: camera {_exif_camera(path) or 'not in EXIF'}" for stem, path, _ in source.files)
    return PhotoSource(source.name, source.licence, source.files, notes)


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _skimage_source() -> PhotoSource | MissingSource:
    """The photos of ``skimage.data`` that ship in the wheel (no pooch download)."""
    data = _package_dir("skimage.data") if importlib.util.find_spec("skimage") else None
    if data is None:
        return MissingSource("skimage", "scikit-image not installed", "pip install scikit-image")
    present = [(stem, data / name, licence) for stem, name, licence in _SKIMAGE_PHOTOS if (data / name).is_file()]
    absent = [stem for stem, name, _ in _SKIMAGE_PHOTOS if not (data / name).is_file()]
    notes = tuple(f"{stem}: not bundled in this wheel (needs the pooch cache), skipped" for stem in absent)
    if not present:
        return MissingSource("skimage", "no photo bundled in skimage/data", "skimage.data.download_all()")
    short = {stem: licence.split(" (")[0] for stem, _, licence in present}
    summary = "; ".join(f"{name}: {', '.join(s for s in short if short[s] == name)}" for name in dict.fromkeys(short.values()))
    return PhotoSource("skimage", summary, tuple(present), notes)


def _sklearn_source() -> PhotoSource | MissingSource:
    how = 'pip install scikit-learn (or pip install -e ".[data]", or pass --install)'
    images = _package_dir("sklearn.datasets") if importlib.util.find_spec("sklearn") else None
    if images is None or not (images / "images").is_dir():
        return MissingSource("sklearn", "scikit-learn not installed", how)
    present = tuple((stem, images / "images" / name, lic) for stem, name, lic in _SKLEARN_PHOTOS
                    if (images / "images" / name).is_file())
    return PhotoSource("sklearn", "CC BY 2.0", present) if present else MissingSource("sklearn", "no sample images", how)


def _matplotlib_source() -> PhotoSource | MissingSource:
    if importlib.util.find_spec("matplotlib") is None:
        return MissingSource("matplotlib", "matplotlib not installed", "pip install matplotlib")
    from matplotlib import cbook

    try:
        path = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except (OSError, ValueError) as exc:
        return MissingSource("matplotlib", f"grace_hopper.jpg not found ({exc})", "pip install --force-reinstall matplotlib")
    return PhotoSource("matplotlib", _GRACE_HOPPER_LICENCE, (("grace_hopper", path, _GRACE_HOPPER_LICENCE),))


def _shared_sources(root: Path) -> list[PhotoSource | MissingSource]:
    found: list[PhotoSource | MissingSource] = []
    for name, licence in _SHARED_LICENCES.items():
        folder = root / name
        if folder.is_dir():
            found.append(folder_source(name, folder, licence))
        else:
            found.append(MissingSource(name, f"{folder} not found", "pass --shared-photos DIR (the shared data's photos/)"))
    return found


def find_sources(groups: Sequence[str] = SOURCE_GROUPS, shared_photos: Path | None = None,
                 mate_dir: Path = MATE_NATURE, wallpapers_dir: Path = PLASMA_ROOT,
                 mate_copyright: Path = MATE_COPYRIGHT) -> list[PhotoSource | MissingSource]:
    """Locate each requested source group; absent ones come back as :class:`MissingSource`."""
    unknown = sorted(set(groups) - set(SOURCE_GROUPS))
    if unknown:
        raise PhotoSourceError(f"unknown source group(s) {', '.join(unknown)} (known: {', '.join(SOURCE_GROUPS)})")
    found: list[PhotoSource | MissingSource] = []
    for group in groups:
        if group == "shared":
            found += _shared_sources(Path(shared_photos) if shared_photos else default_shared_photos())
        elif group == "mate":
            found.append(_mate_source(Path(mate_dir), Path(mate_copyright)))
        elif group == "plasma":
            found.append(_plasma_source(Path(wallpapers_dir)))
        else:
            found.append({"skimage": _skimage_source, "sklearn": _sklearn_source,
                          "matplotlib": _matplotlib_source}[group]())
    return found


def install_command(missing: Sequence[MissingSource]) -> list[list[str]]:
    """The commands ``--install`` runs for the missing groups (apt for Debian, pip for sklearn)."""
    import sys

    names = {m.name for m in missing}
    commands = []
    packages = [pkg for group, pkg in zip(("mate", "plasma"), APT_PACKAGES) if group in names]
    if packages:
        commands.append(["apt-get", "install", "-y", *packages])
    if "sklearn" in names:
        commands.append([sys.executable, "-m", "pip", "install", "scikit-learn"])
    return commands


# --------------------------------------------------------------------------- gathering


def _target_size(width: int, height: int, is_jpeg: bool, max_side: int) -> tuple[int, int] | None:
    """Output size, or None to keep the pixels as they are."""
    factor = max(width, height) / max_side
    if is_jpeg:
        factor = max(factor, MIN_JPEG_FACTOR)
    if factor <= 1.0:
        return None
    return max(1, int(width / factor)), max(1, int(height / factor))


def _convert(source_file: Path, target: Path, max_side: int) -> tuple[int, int, bool, int, int, str]:
    """Read, downscale if needed, write ``target`` as PNG atomically; returns the sizes and format."""
    import numpy as np
    from PIL import Image

    from mlsm.io import read_image, to_uint8, write_image

    pixels, info = read_image(source_file)
    source_format = (info.format or source_file.suffix.lstrip(".")).upper()
    source_height, source_width = pixels.shape[:2]
    size = _target_size(source_width, source_height, source_format in ("JPEG", "MPO"), max_side)
    image = to_uint8(pixels)
    if size is not None:
        resized = Image.fromarray(image, "RGB").resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        image = np.asarray(resized)
    write_image(target, image, overwrite=True, icc_profile=info.icc_profile)
    return image.shape[1], image.shape[0], size is not None, source_width, source_height, source_format


def _kodak_hashes(shared_photos: Path | None) -> set[str]:
    kodak = (Path(shared_photos) if shared_photos else default_shared_photos()) / "kodak24"
    return {sha256_of(p) for p in _image_files(kodak)} if kodak.is_dir() else set()


def _load_manifest(out_dir: Path) -> dict:
    path = out_dir / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def gather_photos(sources: Sequence[PhotoSource], out_dir: Path, max_side: int = DEFAULT_MAX_SIDE,
                  shared_photos: Path | None = None, command: str = "",
                  log: Callable[[str], None] = lambda line: None) -> GatherResult:
    """Convert every file of ``sources`` into ``out_dir``; one bad file is an error line, not a stop.

    Returns the records written or kept, the counts and the per-file errors (``"<file>: cause"``).
    """
    from mlsm.atomic import write_text_atomic
    from mlsm.io import ImageError

    if max_side < 16:
        raise PhotoSourceError(f"max_side must be at least 16, got {max_side}")
    out_dir = Path(out_dir)
    if _is_kodak(out_dir):
        raise PhotoSourceError(f"{out_dir}: refusing to write training photos into a Kodak folder")
    kodak = _kodak_hashes(shared_photos)
    previous = _load_manifest(out_dir)
    old = {r["path"]: r for r in previous.get("photos", [])} if previous.get("max_side") == max_side else {}
    result = GatherResult()
    for source in sources:
        for stem, source_file, licence in source.files:
            if _is_kodak(source_file):
                raise PhotoSourceError(f"{source_file}: Kodak24 is the validation set and is never a training source")
            relative = f"{source.name}/{stem}.png"
            target = out_dir / relative
            try:
                source_sha = sha256_of(source_file)
                if source_sha in kodak:
                    raise PhotoSourceError(f"{source_file}: same bytes as a Kodak24 validation image, refused")
                record = old.get(relative)
                if (record and record.get("source_sha256") == source_sha and target.is_file()
                        and sha256_of(target) == record.get("sha256")):
                    result.records.append(PhotoRecord(**{**record, "source": source.name, "licence": licence}))
                    result.skipped += 1
                    continue
                width, height, downscaled, src_w, src_h, src_format = _convert(source_file, target, max_side)
            except PhotoSourceError:
                raise
            except (ImageError, OSError, ValueError) as exc:
                message = str(exc) if str(source_file) in str(exc) else f"{source_file}: {exc}"
                result.errors.append(" ".join(message.split()))
                log(f"mlsm: warning: skipped {result.errors[-1]}")
                continue
            result.records.append(PhotoRecord(relative, source.name, licence, width, height, width * height,
                                              sha256_of(target), downscaled, str(source_file), source_sha,
                                              src_w, src_h, src_format))
            result.written += 1
    manifest = {
        "description": "clean training photos for mlsm synthetic pairs (Kodak24 excluded: validation)",
        "command": command,
        "max_side": max_side,
        "min_jpeg_downscale": MIN_JPEG_FACTOR,
        "resampling": "Pillow LANCZOS, reducing_gap=3.0",
        "sources": [{"name": s.name, "licence": s.licence, "notes": list(s.notes)} for s in sources],
        "photos": [asdict(r) for r in result.records],
        "errors": result.errors,
    }
    result.manifest = out_dir / MANIFEST
    write_text_atomic(result.manifest, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(out_dir / TABLE, markdown_table(result.records, sources))
    return result


def markdown_table(records: Sequence[PhotoRecord], sources: Sequence[PhotoSource] = ()) -> str:
    """``| source | count | licence | megapixels |`` plus a total row."""
    licences = {s.name: s.licence for s in sources}
    lines = ["# Clean training photos", "", "| source | count | licence | megapixels |", "| --- | --- | --- | --- |"]
    names = list(dict.fromkeys(r.source for r in records))
    for name in names:
        chosen = [r for r in records if r.source == name]
        licence = licences.get(name) or "; ".join(sorted({r.licence for r in chosen}))
        lines.append(f"| {name} | {len(chosen)} | {licence} | {sum(r.pixels for r in chosen) / 1e6:.2f} |")
    lines.append(f"| **total** | {len(records)} | | {sum(r.pixels for r in records) / 1e6:.2f} |")
    return "\n".join(lines) + "\n"
