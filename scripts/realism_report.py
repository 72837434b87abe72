"""Realism report: synthetic v1 and v2 inputs beside the real dark photos.

    python scripts/realism_report.py --out docs/realism.png

degrades ``--samples`` (150) whole training photos (CBSD68 + McMaster, photo i % N with
``default_rng([seed, i])``) with ``DegradationRanges.v1()`` and ``.v2()``, measures every input
and the real dark photos (real-dark/dicm + lime) with :mod:`mlsm.data.realism`, draws the
figure at ``--out`` and writes the summary next to it (same name, ``.md``, with the numbers
as JSON at the end): per statistic, whether the real median lies in each synthetic set's
5-95 % range.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


def _read_folder(folder: Path) -> list[np.ndarray]:
    from mlsm.io import iter_image_files, read_image
    if not folder.is_dir():
        return []
    return [read_image(path)[0] for path in sorted(iter_image_files([folder], recursive=True))]


def _figure(path: Path, tables: dict, nps: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mlsm.data.realism import NPS_BINS, PERCENTILES
    colours = {"real": "black", "v1": "tab:blue", "v2": "tab:orange"}
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    for ax, prefix in ((axes[0, 0], "Y"), (axes[0, 1], "maxRGB")):
        for offset, (name, table) in zip((-0.25, 0.0, 0.25), tables.items()):
            data = [table[f"{prefix} p{p:g}"] for p in PERCENTILES]
            parts = ax.boxplot(data, positions=np.arange(len(PERCENTILES)) + offset, widths=0.22,
                               patch_artist=True, whis=(5, 95), showfliers=False)
            for box in parts["boxes"]:
                box.set_facecolor(colours[name])
                box.set_alpha(0.5)
        ax.set_xticks(range(len(PERCENTILES)), [f"p{p:g}" for p in PERCENTILES])
        ax.set_title(f"{prefix} percentiles per image (box 25-75 %, whiskers 5-95 %)")
        ax.set_ylim(0, 1.02)
    frequencies = (np.arange(NPS_BINS) + 0.5) * 0.5 / NPS_BINS
    ax = axes[0, 2]
    for name, curves in nps.items():
        curves = np.asarray(curves)
        ax.plot(frequencies, np.median(curves, axis=0), color=colours[name], label=f"{name} (median)")
        ax.fill_between(frequencies, *np.percentile(curves, (25, 75), axis=0), color=colours[name], alpha=0.2)
    ax.set_title("NPS of flat dark patches (high-pass Y, normalised)")
    ax.set_xlabel("cycles / pixel")
    ax.legend()
    for ax, key, title in ((axes[1, 0], "block-edge ratio", "block-edge ratio (1 = no 8x8 grid)"),
                           (axes[1, 1], "noise std (8-bit)", "noise std in flat dark patches (8-bit)"),
                           (axes[1, 2], "NPS centroid (cyc/px)", "NPS centroid (cycles / pixel)")):
        values = [t[key][np.isfinite(t[key])] for t in tables.values()]
        high = np.percentile(np.concatenate(values), 99)
        bins = np.linspace(np.min(np.concatenate(values)), high, 30)
        for name, v in zip(tables, values):
            ax.hist(np.clip(v, None, high), bins=bins, density=True, histtype="step", lw=2,
                    color=colours[name], label=name)
        ax.set_title(title)
        ax.legend()
    fig.suptitle("Synthetic inputs (v1, v2; CBSD68 + McMaster) vs real dark photos (DICM + LIME)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _markdown(summary: dict, command: str) -> str:
    lines = ["# Realism of the synthetic dark inputs", "",
             f"Made by `{command}` (mlsm.data.realism). Real: {summary['counts']['real']} dark photos "
             f"(real-dark/dicm + lime); synthetic: {summary['counts']['v1']} whole-photo inputs each of "
             "DegradationRanges.v1() and .v2() from CBSD68 + McMaster (seed "
             f"{summary['seed']}). A statistic is covered when the real median lies in the synthetic "
             "5-95 % range.", "",
             "| statistic | real median | v1 median [5 %, 95 %] | v1 covers | v2 median [5 %, 95 %] | v2 covers |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, row in summary["v2"].items():
        one = summary["v1"][name]
        lines.append(f"| {name} | {row['real_median']:.3f} | {one['synthetic_median']:.3f} "
                     f"[{one['synthetic_low']:.3f}, {one['synthetic_high']:.3f}] | {'yes' if one['covered'] else 'no'} "
                     f"| {row['synthetic_median']:.3f} [{row['synthetic_low']:.3f}, {row['synthetic_high']:.3f}] "
                     f"| {'yes' if row['covered'] else 'no'} |")
    for version in ("v1", "v2"):
        covered = sum(row["covered"] for row in summary[version].values())
        lines.append("")
        lines.append(f"**{version}** covers {covered} of {len(summary[version])} statistics"
                     + ("." if covered < len(summary[version]) else ": the synthetic set covers the real one."))
    edges = []
    for name, row in summary["v2"].items():
        width = row["synthetic_high"] - row["synthetic_low"]
        position = (row["real_median"] - row["synthetic_low"]) / width if width > 0 else 0.5
        saturated = row["synthetic_median"] >= row["real_median"] >= row["synthetic_high"] - 1e-6  # all at white
        if row["covered"] and not saturated and not 0.1 <= position <= 0.9:
            edges.append(f"{name} ({position:.0%} of the way up v2's 5-95 % range)")
    if edges:
        lines += ["", "Close calls (real median in the outer tenth of v2's range; statistics where v2's median "
                  "and the real one sit at white are left out): " + "; ".join(edges) + "."]
    lines += ["", f"Real photos with max(R,G,B) p99.5 >= 0.98 (white in their top 0.5 %): "
              f"{summary['white_fraction']['real']:.0%}; v1 inputs: {summary['white_fraction']['v1']:.0%}; "
              f"v2 inputs: {summary['white_fraction']['v2']:.0%}.", "",
              "![statistics](realism.png)", "", "```json", json.dumps(summary, indent=1), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "realism.png", help="figure path (.png)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from mlsm.data.degrade import DegradationRanges
    from mlsm.data.realism import coverage, image_stats, stat_table, synthetic_inputs

    photos = [p for sub in ("cbsd68", "mcmaster") for p in _read_folder(args.data / "photos" / sub)]
    real_images = [p for sub in ("dicm", "lime") for p in _read_folder(args.data / "real-dark" / sub)]
    if not photos or not real_images:
        print(f"no photos under {args.data}", file=sys.stderr)
        return 2
    stats = {"real": [image_stats(image) for image in real_images]}
    for version, ranges in (("v1", DegradationRanges.v1()), ("v2", DegradationRanges.v2())):
        stats[version] = [image_stats(image) for image in synthetic_inputs(photos, ranges, args.samples, args.seed)]
    tables = {name: stat_table(values) for name, values in stats.items()}
    nps = {name: [s.nps for s in values if s.nps is not None] for name, values in stats.items()}
    command = "python scripts/realism_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    summary = {"command": command.strip(), "seed": args.seed,
               "counts": {name: len(values) for name, values in stats.items()},
               "v1": coverage(stats["real"], stats["v1"]), "v2": coverage(stats["real"], stats["v2"]),
               "white_fraction": {name: float(np.mean(t["maxRGB p99.5"] >= 0.98)) for name, t in tables.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _figure(args.out, tables, nps)
    args.out.with_suffix(".md").write_text(_markdown(summary, summary["command"]))
    for version in ("v1", "v2"):
        covered = [name for name, row in summary[version].items() if row["covered"]]
        print(f"{version}: covers {len(covered)}/{len(summary[version])}; not covered: "
              f"{[name for name in summary[version] if name not in covered]}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as a script only: never leaks into a caller's process
    sys.exit(main())
