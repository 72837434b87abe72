"""Rebuild an ``mlsm eval run`` folder's resume state from a published ``results.json``.

A rerun of the published command then computes only what is new (another mlsm weight file, a
new peer) and rewrites the full table: e.g. the 28 rivals of the Kodak24 table took hours on a
2-core CPU, one new model takes a minute::

    python scripts/seed_run_from_results.py docs/results/kodak24_24/results.json runs/kodak24-eval-24
    mlsm eval run --standard --methods mlsm:NEW.safetensors --sets kodak24=data/kodak24_synth \
        --out runs/kodak24-eval-24 --peers-dir ../shared/peers

Only sets whose manifest on disk has the sha256 recorded in ``results.json`` are seeded, so a
seeded cell always belongs to the same input images; mlsm cells carry their weights' hash and
are recomputed by the runner when the file behind a spec changed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.eval.runner import cell_path  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("out", type=Path, help="run folder to seed (cells that exist are kept)")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    seeded = set()
    for entry in results["sets"]:
        manifest = Path(entry["root"]) / "manifest.json"
        if not manifest.is_file():
            manifest = Path(entry["spec"].partition("=")[2] or entry["root"]) / "manifest.json"
        if not manifest.is_file() or hashlib.sha256(manifest.read_bytes()).hexdigest() != entry["manifest_sha256"]:
            print(f"seed: set {entry['name']}: {manifest} missing or different from the published one; "
                  f"recreate it with: {entry['manifest_command']}", file=sys.stderr)
            continue
        fingerprint = args.out / "cells" / entry["name"] / "set.json"
        fingerprint.parent.mkdir(parents=True, exist_ok=True)
        fingerprint.write_text(json.dumps({"set": entry["name"], "root": str(manifest.parent.resolve()),
                                           "manifest_sha256": entry["manifest_sha256"]}, indent=1) + "\n")
        seeded.add(entry["name"])
    cells = defaultdict(list)
    for record in results["records"]:
        if record["set"] in seeded and "error" not in record:
            cells[cell_path(args.out, record["set"], record["method"], record["quality"])].append(record)
    for path, records in cells.items():
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    print(f"seeded {sum(map(len, cells.values()))} records in {len(cells)} cells of {sorted(seeded)} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
