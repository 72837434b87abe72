"""Compact "method x QF" table (PSNR / SSIM / PSNR-B) for the README from ``mlsm eval`` results.

    python scripts/readme_table.py docs/results/kodak24_24/results.json runs/other/results.json \
        --rows identity gamma zero_dce ... mlsm --labels "input" "gamma" ...

Later files override earlier ones for the same method; the numbers are the means stored by
``mlsm eval`` (never recomputed).
"""
import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="+")
    parser.add_argument("--rows", nargs="+", required=True, help="method names in row order")
    parser.add_argument("--labels", nargs="+", help="row labels (default: the method names)")
    parser.add_argument("--set", default="kodak24")
    args = parser.parse_args()
    labels = args.labels or args.rows
    if len(labels) != len(args.rows):
        parser.error("--labels needs one label per --rows entry")
    means, qualities = {}, set()
    for path in args.results:
        for entry in json.load(open(path))["means"]:
            if entry["set"] == args.set:
                means[entry["method"], entry["quality"]] = entry
                qualities.add(entry["quality"])
    qualities = sorted(qualities, reverse=True)
    print("| method | " + " | ".join(f"QF {q}" for q in qualities) + " |")
    print("|---|" + "---|" * len(qualities))
    for method, label in zip(args.rows, labels):
        cells = []
        for quality in qualities:
            entry = means.get((method, quality))
            cells.append("-" if entry is None else
                         f"{entry['psnr']:.2f} / {entry['ssim']:.3f} / {entry['psnr_b']:.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
