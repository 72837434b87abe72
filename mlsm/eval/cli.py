"""``mlsm eval``: run the benchmark, redraw its tables and plots, make contact sheets.

    mlsm eval run [--standard] [--methods NAME...] --sets SET... --out RUN
                  [--qf 90 80 70 60] [--peers-dir DIR] [--max-images N] [--save-images]
                  [--grid IMAGE [--grid-set NAME] [--grid-qf Q] [--crop X Y W H]]
                  [--device cpu|cuda] [--threads N] [--strict] [--no-progress]
    mlsm eval report RUN                      # tables and plots again, from RUN/results.json
    mlsm eval sheet IMAGE... --methods NAME... --out SHEET.png [--peers-dir DIR] [--max-side 384]
    mlsm eval scorecard SET... --methods NAME... --out DIR [--max-side N] [--max-images N]
                  [--sheet N] [--peers-dir DIR] [--device cpu|cuda] [--threads N] [--no-progress]

SET is an evaluation-set folder (``mlsm data synth`` / ``mlsm data pairs``) or
``[NAME=]layout:ROOT`` (``lol:/data/LOL``; see :mod:`mlsm.eval.runner`). ``run`` writes
RUN/results.json, table.md, table.csv, per_image.csv and RUN/plots/*.png (and the zoom grid
with ``--grid``), then prints table.md. An existing RUN is resumed. ``scorecard`` scores
photos without references (NIQE, mean luma, block-edge ratio, colourfulness; the set
``kodak24_q90`` adds PSNR and the brightness shift; see :mod:`mlsm.eval.scorecard`).

Exit codes: 0 done (methods that could not be built are skipped and listed), 1 some image
failed or an input could not be read, 2 usage errors (unknown method, bad set, bad QF).
Errors are one line on stderr, ``mlsm: error: ...``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from mlsm.cli import add_command_group, jpeg_quality, non_negative_int, positive_int, print_error as _error

__all__ = ["register", "standard_methods"]


def standard_methods() -> list[str]:
    """:func:`~mlsm.baselines.registry.standard_comparison` plus ``mlsm`` when a default model is installed."""
    from mlsm.baselines.registry import standard_comparison
    from mlsm.models.zoo import DEFAULT_MODEL, list_models

    methods = standard_comparison()
    if DEFAULT_MODEL in list_models():
        methods.append("mlsm")
    return methods


def _guarded(action, args: argparse.Namespace) -> int:
    """Run ``action``; expected failures become one line on stderr (2 usage, 1 otherwise)."""
    from mlsm.data.evalset import EvalSetError
    from mlsm.data.folders import DatasetError
    from mlsm.eval.figures import FigureError
    from mlsm.eval.report import ReportError
    from mlsm.eval.runner import EvalConfigError, MethodBuildError
    from mlsm.io import ImageError

    try:
        return action(args)
    except (EvalConfigError, FigureError) as error:
        return _error(error, 2)
    except (EvalSetError, DatasetError, ImageError, ReportError, MethodBuildError, OSError, ValueError) as error:
        return _error(error, 1)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _draw(results_path, run_dir: Path) -> None:
    from mlsm.eval.figures import plot_metric_vs_qf
    from mlsm.eval.report import write_tables

    write_tables(results_path, run_dir)
    plot_metric_vs_qf(results_path, run_dir / "plots")


def _run(args: argparse.Namespace) -> int:
    from mlsm.eval.figures import zoom_grid
    from mlsm.eval.report import load_results
    from mlsm.eval.runner import EvalConfigError, run_eval, validate_methods

    methods = (standard_methods() if args.standard else []) + list(args.methods or [])
    if not methods:
        return _error("no methods: pass --methods NAME... or --standard", 2)
    validate_methods(methods)
    if (args.crop or args.grid_qf or args.grid_set) and not args.grid:
        return _error("--crop, --grid-qf and --grid-set need --grid IMAGE_NAME", 2)
    _set_threads(args.threads)
    run_dir = Path(args.out)
    results_path = run_eval(methods, args.sets, run_dir, qualities=args.qf, peers_dir=args.peers_dir,
                            device=args.device, max_images=args.max_images, save_images=args.save_images,
                            progress=not args.no_progress, strict=args.strict)
    _draw(results_path, run_dir)
    results = load_results(results_path)
    if args.grid:
        set_name = args.grid_set or results["sets"][0]["name"]
        entry = next((s for s in results["sets"] if s["name"] == set_name), None)
        if entry is None:
            raise EvalConfigError(f"--grid-set {set_name}: no such set in this run")
        quality = args.grid_qf or min(entry["qualities"])
        out = run_dir / f"grid_{set_name}_qf{quality}_{args.grid}.png"
        zoom_grid(results_path, set_name, quality, args.grid, out, crop=args.crop, peers_dir=args.peers_dir,
                  device=args.device)
        print(f"zoom grid: {out}", file=sys.stderr)
    print((run_dir / "table.md").read_text(encoding="utf-8"))
    if results["failures"]:
        print(f"mlsm eval: {len(results['failures'])} image(s) failed; see {run_dir / 'per_image.csv'}",
              file=sys.stderr)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    from mlsm.eval.report import load_results
    from mlsm.eval.runner import RESULTS_NAME

    path = Path(args.run)
    results_path = path / RESULTS_NAME if path.is_dir() else path
    results = load_results(results_path)
    run_dir = Path(args.out) if args.out else results_path.parent
    if args.methods:  # a subset of the rows, e.g. for a README
        unknown = sorted(set(args.methods) - set(results["methods"]))
        if unknown:
            return _error(f"{results_path}: no results for {', '.join(unknown)}", 2)
        keep = set(args.methods)
        results = {**results, "methods": [m for m in results["methods"] if m in keep],
                   "means": [m for m in results["means"] if m["method"] in keep],
                   "records": [r for r in results["records"] if r["method"] in keep]}
        _draw(results, run_dir)
    else:
        _draw(results_path, run_dir)
    print((run_dir / "table.md").read_text(encoding="utf-8"))
    return 0


def _sheet(args: argparse.Namespace) -> int:
    from mlsm.eval.figures import contact_sheet

    _set_threads(args.threads)
    out = contact_sheet(args.images, args.methods, args.out, peers_dir=args.peers_dir, device=args.device,
                        max_side=args.max_side, zoom_size=args.zoom_size)
    print(f"wrote {out}")
    return 0


def _scorecard(args: argparse.Namespace) -> int:
    from mlsm.eval.figures import contact_sheet
    from mlsm.eval.scorecard import INPUT, load_scorecard, plot_niqe_vs_mean_y, run_scorecard, write_table

    _set_threads(args.threads)
    out_dir = Path(args.out)
    path = run_scorecard(args.methods, args.sets, out_dir, peers_dir=args.peers_dir, device=args.device,
                         max_side=args.max_side, max_images=args.max_images, progress=not args.no_progress)
    table = write_table(path, out_dir)
    plot_niqe_vs_mean_y(path, out_dir / "niqe_vs_mean_y.png")
    results = load_scorecard(path)
    if args.sheet:
        files = [r["source"] for r in results["records"] if r["method"] == INPUT and not r.get("error")]
        methods = [m for m in results["methods"] if m != INPUT]
        if methods and files:
            sheet = contact_sheet(files[:args.sheet], methods, out_dir / "contact_sheet.png",
                                  peers_dir=args.peers_dir, device=args.device)
            print(f"contact sheet: {sheet}", file=sys.stderr)
    print(table.read_text(encoding="utf-8"))
    if results["failures"]:
        print(f"mlsm eval scorecard: {len(results['failures'])} image(s) failed; see {path}", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``mlsm eval`` and its subcommands ``run``, ``report``, ``sheet`` and ``scorecard``."""
    evaluate, commands = add_command_group(
        subparsers, "eval", help="benchmark methods on evaluation sets; tables, plots, zoom grids, contact sheets",
        description="Benchmark enhancement methods on compressed dark evaluation sets (the paper's "
                    "Tables III-IV) and draw figures from the results.")

    run = commands.add_parser(
        "run", help="evaluate methods x sets x QFs (resumable) and write tables and plots",
        description="Evaluate every method on every image of every set at every QF; write RUN/results.json, "
                    "table.md, table.csv, per_image.csv and plots. An existing RUN folder is resumed.")
    run.add_argument("--methods", nargs="+", metavar="NAME",
                     help="registry names, e.g. identity clahe zero_dce zero_dce+dncnn3 dncnn3+zero_dce "
                          "mlsm:RUN/model.safetensors (with --standard: added to it)")
    run.add_argument("--standard", action="store_true",
                     help="the paper's comparison: classical, every peer enhancer E, E+dncnn3, dncnn3+E "
                          "(and mlsm when its default model is installed)")
    run.add_argument("--sets", nargs="+", required=True, metavar="SET",
                     help="evaluation-set folders or [NAME=]layout:ROOT (lol, lsrw, sice, rellisur, auto)")
    run.add_argument("--out", required=True, metavar="RUN", help="run folder (created; resumed if it exists)")
    run.add_argument("--qf", type=jpeg_quality, nargs="+", default=None, metavar="QF",
                     help="JPEG qualities to evaluate (default: all of each set)")
    run.add_argument("--peers-dir", default=None, metavar="DIR",
                     help="folder of the peers' official weights (default: $MLSM_PEERS_DIR)")
    run.add_argument("--max-images", type=positive_int, default=None, metavar="N",
                     help="only the first N images of each set")
    run.add_argument("--save-images", action="store_true", help="save every output under RUN/images/")
    run.add_argument("--grid", default=None, metavar="IMAGE_NAME",
                     help="also draw a zoom-in grid of this image (name as in the set's manifest)")
    run.add_argument("--grid-set", default=None, metavar="NAME", help="set of the grid image (default: the first)")
    run.add_argument("--grid-qf", type=jpeg_quality, default=None, metavar="Q", help="QF of the grid (default: the lowest)")
    run.add_argument("--crop", type=non_negative_int, nargs=4, default=None, metavar=("X", "Y", "W", "H"),
                     help="zoom region of the grid (default: where the brightened input is most blocky)")
    run.add_argument("--device", default="cpu", help="torch device for CNN methods (default: cpu)")
    run.add_argument("--threads", type=positive_int, default=None, metavar="N", help="torch CPU threads")
    run.add_argument("--strict", action="store_true",
                     help="stop when a method cannot be built instead of skipping it")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=lambda args: _guarded(_run, args))

    report = commands.add_parser(
        "report", help="redraw tables and plots from RUN/results.json",
        description="Write table.md, table.csv, per_image.csv and plots/ again from a run's results.json.")
    report.add_argument("run", metavar="RUN", help="run folder or its results.json")
    report.add_argument("--out", default=None, metavar="DIR", help="where to write (default: the run folder)")
    report.add_argument("--methods", nargs="+", default=None, metavar="NAME",
                        help="only these methods' rows (default: all)")
    report.set_defaults(func=lambda args: _guarded(_report, args))

    sheet = commands.add_parser(
        "sheet", help="contact sheet of methods on real dark JPEGs (no ground truth)",
        description="Run every method on real dark photos and tile input + outputs, with a zoom on the "
                    "darkest textured region of each photo.")
    sheet.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG files or folders")
    sheet.add_argument("--methods", nargs="+", required=True, metavar="NAME", help="registry names")
    sheet.add_argument("--out", required=True, metavar="SHEET.png", help="output PNG")
    sheet.add_argument("--peers-dir", default=None, metavar="DIR",
                       help="folder of the peers' official weights (default: $MLSM_PEERS_DIR)")
    sheet.add_argument("--device", default="cpu", help="torch device for CNN methods (default: cpu)")
    sheet.add_argument("--max-side", type=positive_int, default=384, help="thumbnail size (default 384)")
    sheet.add_argument("--zoom-size", type=positive_int, default=96, help="zoom side in pixels (default 96)")
    sheet.add_argument("--threads", type=positive_int, default=None, metavar="N", help="torch CPU threads")
    sheet.set_defaults(func=lambda args: _guarded(_sheet, args))

    card = commands.add_parser(
        "scorecard", help="no-reference scorecard (NIQE, brightness, blocking, colourfulness) on real photos",
        description="Score the inputs and each method's outputs on photos without references: NIQE, mean "
                    "luma Y, block-edge ratio and colourfulness per image (OUT/scorecard.json, resumable), "
                    "OUT/table.md (means sorted by NIQE) and OUT/niqe_vs_mean_y.png. The set kodak24_q90 "
                    "(clean Kodak24 at JPEG QF 90, not darkened) also reports PSNR and |mean Y out - in|.")
    card.add_argument("sets", nargs="+", metavar="SET",
                      help="[NAME=]PATH[,PATH...] (files, folders, globs) or kodak24_q90[:ROOT]")
    card.add_argument("--methods", nargs="+", default=[], metavar="NAME",
                      help="registry names as for 'mlsm eval run' (the input is always scored as 'input')")
    card.add_argument("--out", required=True, metavar="DIR", help="output folder (resumed if it exists)")
    card.add_argument("--max-side", type=positive_int, default=None, metavar="N",
                      help="downscale photos whose longer side exceeds N px before enhancing (default: never)")
    card.add_argument("--max-images", type=positive_int, default=None, metavar="N", help="only the first N of each set")
    card.add_argument("--sheet", type=positive_int, default=None, metavar="N",
                      help="also draw OUT/contact_sheet.png of the first N photos")
    card.add_argument("--peers-dir", default=None, metavar="DIR",
                      help="folder of the peers' official weights (default: $MLSM_PEERS_DIR)")
    card.add_argument("--device", default="cpu", help="torch device for CNN methods (default: cpu)")
    card.add_argument("--threads", type=positive_int, default=None, metavar="N", help="torch CPU threads")
    card.add_argument("--no-progress", action="store_true", help="no progress bar")
    card.set_defaults(func=lambda args: _guarded(_scorecard, args))
    return evaluate
