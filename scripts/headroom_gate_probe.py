"""Which photos the highlight headroom acts on: its gate (:func:`mlsm.inference.highlights.lit_gate`,
from the input's brightest local luma) over folders of inputs, JPEG-compressed at the given QFs
first when ``--qf`` is given (as ``mlsm eval`` does to LOL's low images).

A gate of 0 leaves a photo's output unchanged bit for bit, so a set whose every gate is 0 (the
synthetic Kodak24 inputs, the LOL validation inputs at QF 90-60) scores the same with and
without the step. ::

    python scripts/headroom_gate_probe.py data/kodak24_synth/qf90 data/kodak24_synth/qf60 \\
        ../shared/data/real-dark/dicm ../shared/data/real-dark/lime
    python scripts/headroom_gate_probe.py data/lol_val/our485/low --qf 90 80 70 60
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsm.data.degrade import compress  # noqa: E402
from mlsm.inference.highlights import lit_gate  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_tensor  # noqa: E402

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--qf", nargs="*", type=int, default=[], help="JPEG-compress each input at these QFs first")
    args = parser.parse_args(argv)
    print("| folder | QF | photos | gate > 0 | gate 1 | largest gate |")
    print("|---|---:|---:|---:|---:|---:|")
    for folder in args.folders:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS)
        if not paths:
            print(f"{folder}: no images", file=sys.stderr)
            return 2
        for quality in args.qf or [None]:
            gates = []
            for path in paths:
                array = read_image(path)[0]
                if quality is not None:
                    array = compress(array, quality)[0]
                gates.append(float(lit_gate(to_tensor(array))[0]))
            print(f"| {folder} | {quality or 'as is'} | {len(gates)} | {sum(g > 0 for g in gates)} | {sum(g >= 1 for g in gates)} | {max(gates):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
