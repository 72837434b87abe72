"""Lay out mlsm's LOL validation split as its own LOL-layout folder (symlinks, nothing copied).

    python scripts/lol_val_folder.py                  # -> data/lol_val/our485/{low,high}/N.jpg
    mlsm eval run --standard --sets lol_val=lol:data/lol_val --qf 90 80 70 60 --out runs/lol-val-eval \
        --peers-dir ../shared/peers

The split is configs/splits/lol_our485_val.txt (35 our485 pairs held out from training; 648 is
excluded everywhere, see the file's header).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlsm.data.folders import read_name_list  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lol", default=str(ROOT.parent / "shared/data/lol/our485"), help="LOL our485 folder")
    parser.add_argument("--split", default=str(ROOT / "configs/splits/lol_our485_val.txt"))
    parser.add_argument("--out", default=str(ROOT / "data/lol_val/our485"))
    args = parser.parse_args(argv)
    source, out = Path(args.lol).resolve(), Path(args.out)
    names = read_name_list(args.split)
    for part in ("low", "high"):
        (out / part).mkdir(parents=True, exist_ok=True)
        for name in names:
            target = source / part / f"{name}.jpg"
            if not target.is_file():
                print(f"lol_val_folder: error: {target}: missing (is ../shared/data/lol there?)", file=sys.stderr)
                return 1
            link = out / part / f"{name}.jpg"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(target)
    print(f"{len(names)} pairs -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
