"""Pool a scorecard's sets: per method, the mean of every image of every set (e.g. all 73 real
dark photos = DICM's 64 + LIME's 9), sorted by NIQE, and the issue-14 bars for one method.

    python scripts/scorecard_pooled.py docs/results/scorecard_real73/scorecard.json --method mlsm

Bars: the method's NIQE is the lowest of every method (the input excluded), its mean Y is no
lower than the median of the other methods' means (the input and other mlsm models excluded),
its block-edge ratio is at most 1.01.
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict

MEASURES = ("niqe", "mean_y", "block_edge_ratio", "colourfulness")


def pooled(records: list[dict]) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seen = set()
    for record in records:
        key = (record["method"], record["set"], record["image"])
        if key in seen or record.get("error"):
            continue
        seen.add(key)
        for measure in MEASURES:
            if record.get(measure) is not None:
                values[record["method"]][measure].append(record[measure])
    return {method: {m: statistics.fmean(v) for m, v in measures.items()} | {"n": len(measures["mean_y"])}
            for method, measures in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scorecard")
    parser.add_argument("--method", default="mlsm")
    args = parser.parse_args()
    table = pooled(json.load(open(args.scorecard))["records"])
    print("| method | n | NIQE ↓ | mean Y | block-edge ratio | colourfulness |\n|---|---:|---:|---:|---:|---:|")
    for method, row in sorted(table.items(), key=lambda item: item[1].get("niqe", 99)):
        print(f"| {method} | {row['n']} | {row.get('niqe', float('nan')):.3f} | {row['mean_y']:.3f} | "
              f"{row['block_edge_ratio']:.3f} | {row['colourfulness']:.1f} |")
    ours = table[args.method]
    others = {m: r for m, r in table.items() if m != args.method and m != "input"}
    peers = {m: r for m, r in others.items() if not m.startswith("mlsm")}
    best = min(others.items(), key=lambda item: item[1]["niqe"])
    median_y = statistics.median(r["mean_y"] for r in peers.values())
    print(f"\n{args.method}: NIQE {ours['niqe']:.3f} vs lowest other {best[0]} {best[1]['niqe']:.3f}: "
          f"{'met' if ours['niqe'] < best[1]['niqe'] else 'missed'}; mean Y {ours['mean_y']:.3f} vs peers' median "
          f"{median_y:.3f} ({len(peers)} peers): {'met' if ours['mean_y'] >= median_y else 'missed'}; block-edge "
          f"ratio {ours['block_edge_ratio']:.3f}: {'met' if ours['block_edge_ratio'] <= 1.01 else 'missed'}")


if __name__ == "__main__":
    main()
