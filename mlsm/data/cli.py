"""``mlsm data``: build and inspect fixed evaluation sets (see :mod:`mlsm.data.evalset`).

    mlsm data synth SRC... DST [--qf 90 80 70 60] [--seed S] [--exposure-range 0.03 0.3]
                               [--exposure X] [--subsampling 4:2:0|4:4:4] [--max-images N] [--overwrite]
    mlsm data pairs ROOT DST [--layout auto|lol|lsrw|sice|rellisur] [--qf ...] [--subsampling ...]
                             [--sice-pick darkest|first] [--max-images N] [--overwrite]
    mlsm data info DST
    mlsm data photos [--out data/photos_v2] [--sources shared mate plasma skimage sklearn matplotlib]
                     [--max-side 1024] [--folder NAME DIR LICENCE]... [--install]

Exit codes: 0 done, 1 the inputs could not be read or written, 2 bad arguments. Errors are
one line on stderr, ``mlsm: error: ...``.
"""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from mlsm.cli import add_command_group, jpeg_quality, positive_float, positive_int, print_error as _error

__all__ = ["register"]

_LAYOUT_CHOICES = ("auto", "lol", "lsrw", "sice", "rellisur")


def _run(action, args: argparse.Namespace) -> int:
    """Call ``action(args)``; expected failures become one line on stderr and exit code 1."""
    from mlsm.data.evalset import EvalSetError
    from mlsm.data.folders import DatasetError
    from mlsm.io import ImageError

    try:
        return action(args)
    except (EvalSetError, DatasetError, ImageError, OSError, ValueError) as exc:
        return _error(exc)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--qf", type=jpeg_quality, nargs="+", default=[90, 80, 70, 60], metavar="QF",
                        help="JPEG quality factors, one dark JPEG per image at each (default: 90 80 70 60)")
    parser.add_argument("--subsampling", choices=("4:2:0", "4:4:4"), default="4:2:0",
                        help="JPEG chroma subsampling (default: 4:2:0, as cameras store)")
    parser.add_argument("--max-images", type=positive_int, default=None, metavar="N",
                        help="use only the first N images (sorted order)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an evaluation set already in DST")


def _synth(args: argparse.Namespace) -> int:
    from mlsm.data.degrade import DegradationRanges
    from mlsm.data.evalset import load_evalset, synthesize_evalset

    if len(args.paths) < 2:
        return _error("synth needs at least one SRC and a DST (the last path)", 2)
    *sources, dst = args.paths
    for source in sources:
        if not Path(source).exists():
            return _error(f"source {source} does not exist", 2)
    ranges = DegradationRanges()
    if args.exposure_range is not None:
        low, high = args.exposure_range
        if low > high:
            return _error(f"--exposure-range MIN must not exceed MAX, got {low} {high}", 2)
        ranges = DegradationRanges(exposure=(low, high))
    command = ["mlsm", "data", "synth", *sources, dst, "--qf", *map(str, args.qf), "--seed", str(args.seed),
               "--exposure-range", *map(str, ranges.exposure), "--subsampling", args.subsampling]
    if args.exposure is not None:
        command += ["--exposure", str(args.exposure)]
    if args.max_images is not None:
        command += ["--max-images", str(args.max_images)]
    manifest = synthesize_evalset(sources, dst, qualities=args.qf, seed=args.seed, ranges=ranges,
                                  exposure=args.exposure, subsampling=args.subsampling,
                                  overwrite=args.overwrite, max_images=args.max_images,
                                  command=shlex.join(command))
    evalset = load_evalset(manifest.parent)
    print(f"wrote {len(evalset)} images x QF {', '.join(map(str, evalset.qualities))} "
          f"(seed {args.seed}) to {manifest}")
    return 0


def _pairs(args: argparse.Namespace) -> int:
    from mlsm.data.evalset import load_evalset, paired_folder_evalset

    if not Path(args.root).is_dir():
        return _error(f"data-set root {args.root} is not a folder", 2)
    command = ["mlsm", "data", "pairs", args.root, args.dst, "--layout", args.layout,
               "--qf", *map(str, args.qf), "--subsampling", args.subsampling, "--sice-pick", args.sice_pick]
    if args.max_images is not None:
        command += ["--max-images", str(args.max_images)]
    manifest = paired_folder_evalset(args.root, args.layout, args.dst, qualities=args.qf,
                                     subsampling=args.subsampling, overwrite=args.overwrite,
                                     max_images=args.max_images, sice_pick=args.sice_pick,
                                     command=shlex.join(command))
    evalset = load_evalset(manifest.parent)
    print(f"wrote {len(evalset)} pairs ({evalset.manifest['layout']}) x QF "
          f"{', '.join(map(str, evalset.qualities))} to {manifest}")
    return 0


def _photos(args: argparse.Namespace) -> int:
    import subprocess
    import sys

    from mlsm.data.photos import (MissingSource, PhotoSource, PhotoSourceError, find_sources, folder_source,
                                  gather_photos, install_command, markdown_table)

    extra = []
    for name, folder, licence in args.folder or []:
        try:
            extra.append(folder_source(name, Path(folder), licence))
        except PhotoSourceError as exc:
            return _error(exc, 2)

    def locate():
        found = find_sources(args.sources, shared_photos=args.shared_photos, mate_dir=args.mate_dir,
                             wallpapers_dir=args.wallpapers_dir, mate_copyright=args.mate_copyright)
        return [s for s in found if isinstance(s, PhotoSource)], [s for s in found if isinstance(s, MissingSource)]

    sources, missing = locate()
    if missing and args.install:
        for command in install_command(missing):
            print(f"running: {shlex.join(command)}", flush=True)
            if subprocess.run(command).returncode != 0:
                return _error(f"{shlex.join(command)} failed (apt-get needs root and, on a fresh machine, "
                              "apt-get update first)")
        sources, missing = locate()
    for item in missing:
        print(f"mlsm: note: source {item.name} is missing ({item.reason}); get it with: {item.how}", file=sys.stderr)
    sources += extra
    if not sources:
        return _error("no photo source is available (see the notes above)")
    for source in sources:
        for note in source.notes:
            print(f"{source.name}: {note}")
    command = ["mlsm", "data", "photos", "--out", str(args.out), "--max-side", str(args.max_side),
               "--sources", *args.sources]
    for name, folder, licence in args.folder or []:
        command += ["--folder", name, folder, licence]
    result = gather_photos(sources, Path(args.out), max_side=args.max_side, shared_photos=args.shared_photos,
                           command=shlex.join(command), log=lambda line: print(line, file=sys.stderr))
    print(markdown_table(result.records, sources), end="")
    print(f"{result.written} written, {result.skipped} unchanged, {len(result.errors)} failed; "
          f"manifest {result.manifest}")
    return 1 if result.errors else 0


def _info(args: argparse.Namespace) -> int:
    from mlsm.data.evalset import load_evalset

    print(load_evalset(args.dst).summary())
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``mlsm data`` and its subcommands ``synth``, ``pairs``, ``photos`` and ``info``."""
    data, commands = add_command_group(
        subparsers, "data", help="build and inspect evaluation sets of compressed dark images",
        description="Build fixed evaluation sets (ground truth + dark JPEGs at several QFs) and inspect them.")

    synth = commands.add_parser(
        "synth", help="synthesise compressed dark inputs from clean photos",
        description="Darken clean photos with the mlsm degradation model (exposure, colour cast, shot and "
                    "read noise) and store each dark image as a JPEG at every --qf.")
    synth.add_argument("paths", nargs="+", metavar="PATH",
                       help="SRC... DST: clean photos or folders (recursive), then the output folder")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--exposure-range", type=positive_float, nargs=2, metavar=("MIN", "MAX"),
                       help="range of the exposure fraction, drawn log-uniformly (default: 0.03 0.3)")
    synth.add_argument("--exposure", type=positive_float, default=None,
                       help="a fixed exposure fraction for every image (overrides --exposure-range)")
    _add_common(synth)
    synth.set_defaults(func=lambda args: _run(_synth, args))

    pairs = commands.add_parser(
        "pairs", help="build an evaluation set from a real paired data set (LOL, LSRW, SICE, RELLISUR)",
        description="Use a paired folder's reference images as ground truth and store its dark images as "
                    "JPEGs at every --qf (the paper's setting).")
    pairs.add_argument("root", metavar="ROOT", help="root folder of the paired data set")
    pairs.add_argument("dst", metavar="DST", help="output folder")
    pairs.add_argument("--layout", choices=_LAYOUT_CHOICES, default="auto",
                       help="folder layout (default: auto-detect)")
    pairs.add_argument("--sice-pick", choices=("darkest", "first"), default="darkest",
                       help="SICE: which exposure of a sequence is the dark input (default: darkest)")
    _add_common(pairs)
    pairs.set_defaults(func=lambda args: _run(_pairs, args))

    from mlsm.data.photos import DEFAULT_MAX_SIDE, MATE_COPYRIGHT, MATE_NATURE, PLASMA_ROOT, SOURCE_GROUPS

    photos = commands.add_parser(
        "photos", help="gather clean training photos (shared sets, wallpaper packages, Python packages)",
        description="Collect clean, licensed photos for synthetic training pairs into one folder of PNGs with "
                    "manifest.json (path, source, licence, size, sha256, downscaled) and SOURCES.md. JPEG sources "
                    "are downscaled (Lanczos, at least 2x, long side <= --max-side) so their own 8x8 blocks "
                    "vanish. Kodak24 is the validation set and is refused. Missing sources are reported with "
                    "the command that installs them; nothing is installed without --install. Reruns skip "
                    "outputs whose sha256 still match the manifest. Train with data.photos: [OUT].")
    photos.add_argument("--out", type=Path, default=Path("data/photos_v2"), help="output folder (default data/photos_v2)")
    photos.add_argument("--sources", nargs="+", choices=SOURCE_GROUPS, default=list(SOURCE_GROUPS), metavar="GROUP",
                        help=f"source groups to use (default: all of {' '.join(SOURCE_GROUPS)})")
    photos.add_argument("--max-side", type=positive_int, default=DEFAULT_MAX_SIDE, metavar="N",
                        help=f"longest side of a downscaled photo (default {DEFAULT_MAX_SIDE})")
    photos.add_argument("--folder", nargs=3, action="append", metavar=("NAME", "DIR", "LICENCE"),
                        help="also take every image under DIR as source NAME with LICENCE (repeatable)")
    photos.add_argument("--install", action="store_true",
                        help="install missing sources: apt-get install -y mate-backgrounds "
                             "plasma-workspace-wallpapers, pip install scikit-learn")
    photos.add_argument("--shared-photos", type=Path, default=None, metavar="DIR",
                        help="the shared data's photos/ folder (default: ../shared/data/photos next to the repo)")
    photos.add_argument("--mate-dir", type=Path, default=MATE_NATURE, metavar="DIR",
                        help=f"mate-backgrounds nature photos (default {MATE_NATURE})")
    photos.add_argument("--mate-copyright", type=Path, default=MATE_COPYRIGHT, metavar="FILE",
                        help=f"Debian copyright file of mate-backgrounds (default {MATE_COPYRIGHT})")
    photos.add_argument("--wallpapers-dir", type=Path, default=PLASMA_ROOT, metavar="DIR",
                        help=f"Plasma wallpapers (default {PLASMA_ROOT})")
    photos.set_defaults(func=lambda args: _run(_photos, args))

    info = commands.add_parser("info", help="summarise an evaluation set",
                               description="Print the summary of an evaluation set's manifest.")
    info.add_argument("dst", metavar="DST", help="evaluation-set folder (holding manifest.json)")
    info.set_defaults(func=lambda args: _run(_info, args))
    return data
