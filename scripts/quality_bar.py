"""Check the default model's quality bar from ``mlsm eval`` results: does METHOD beat every
other method, at every QF, in each metric? Prints the closest rival and the margin per cell
and exits 1 when any margin is not positive.

    python scripts/quality_bar.py docs/results/kodak24_24/results.json --method mlsm \
        --ignore mlsm:runs/ablation/mlsm_no_head.safetensors mlsm:runs/ablation/stage2.safetensors

``--ignore`` leaves out rows that are parts of METHOD itself (e.g. the shipped network
without its exposure head), not rivals. The numbers are the means stored by ``mlsm eval``.
"""
import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="results.json files (later ones override earlier)")
    parser.add_argument("--method", default="mlsm")
    parser.add_argument("--ignore", nargs="*", default=[], help="methods that are not rivals")
    parser.add_argument("--metrics", nargs="+", default=["psnr", "psnr_b"])
    parser.add_argument("--set", default="kodak24")
    args = parser.parse_args()
    means = {}
    for path in args.results:
        with open(path) as handle:
            for entry in json.load(handle)["means"]:
                if entry["set"] == args.set and entry.get("psnr") is not None:
                    means[entry["method"], entry["quality"]] = entry
    qualities = sorted({q for m, q in means if m == args.method}, reverse=True)
    if not qualities:
        print(f"{args.method}: no results for set {args.set!r}", file=sys.stderr)
        return 2
    rivals = sorted({m for m, _ in means if m != args.method and m not in args.ignore})
    print(f"{args.method} vs {len(rivals)} methods on {args.set}")
    met = True
    for quality in qualities:
        ours = means[args.method, quality]
        for metric in args.metrics:
            scored = [(means[m, quality][metric], m) for m in rivals if (m, quality) in means]
            best, name = max(scored)
            margin = ours[metric] - best
            met &= margin > 0
            print(f"QF {quality} {metric}: {ours[metric]:.2f} vs best rival {name} {best:.2f} "
                  f"(margin {margin:+.2f})")
    print("bar met" if met else "bar NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
