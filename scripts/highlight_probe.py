"""Where the default washes out what the camera exposed well (issue 14: DICM 41's sky), and which
stage does it.

For each real dark photo: the input's mean luma, the network's alone (``run_network``, before
the exposure head and every post-processing step), the whole default inference's, the exposure
head's log gain (its prediction plus the brightness floor's lift), and the share of the input's
well-exposed pixels (luma 0.35-0.9) that end at luma 0.95 or above in the output. The photos are
listed by that share, the most washed first. With ``--guard B`` it also replays a global clip
guard: before the detail transfer the output is scaled down in linear light (at most to x0.5)
until at most a share ``B`` of those pixels reaches 0.95, and it prints the guarded mean luma.

    python scripts/highlight_probe.py --top 12 --guard 0.05
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mlsm.inference.base as base  # noqa: E402
from mlsm.colour import srgb_to_linear  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.inference.maps import luma  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_tensor  # noqa: E402
from mlsm.models.exposure import scale_brightness  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real-dark"
WELL_EXPOSED = (0.35, 0.9)
WASHED = 0.95
MAX_SAMPLES = 1 << 18


def washed_share(image: torch.Tensor, out: torch.Tensor) -> float:
    """Share of ``image``'s well-exposed pixels whose luma in ``out`` is :data:`WASHED` or more."""
    y_in, y_out = luma(image), luma(out)
    well = (y_in >= WELL_EXPOSED[0]) & (y_in <= WELL_EXPOSED[1])
    count = int(well.sum())
    return float(((y_out >= WASHED) & well).sum()) / count if count else 0.0


def guard_scale(image: torch.Tensor, out: torch.Tensor, budget: float) -> float:
    """The linear-light scale in [0.5, 1] that leaves at most ``budget`` of the well-exposed
    pixels at :data:`WASHED` or above (1 when already so)."""
    if washed_share(image, out) <= budget:
        return 1.0
    y_in = luma(image)
    well = (y_in >= WELL_EXPOSED[0]) & (y_in <= WELL_EXPOSED[1])
    values = luma(srgb_to_linear(out))[well]
    if values.numel() > MAX_SAMPLES:
        values = values[torch.randperm(values.numel(), generator=torch.Generator().manual_seed(0))[:MAX_SAMPLES]]
    level = torch.quantile(values, 1.0 - budget).clamp_min(1e-6)
    return float(min(max(float(srgb_to_linear(torch.tensor(WASHED))) / float(level), 0.5), 1.0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mlsm_small.real_exposure")
    parser.add_argument("--real", nargs="*", default=[str(REAL / "dicm"), str(REAL / "lime")])
    parser.add_argument("--top", type=int, default=12, help="photos listed")
    parser.add_argument("--guard", type=float, help="replay the clip guard with this budget")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    head = model.exposure_head
    paths = sorted(p for folder in args.real for p in Path(folder).iterdir()
                   if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})
    rows, guarded = [], []
    original = base.transfer_detail
    for path in paths:
        image = to_tensor(read_image(path)[0])
        network = model.run_network(image)
        log_gain = sum(float(part[0]) for part in head.log_gain_parts(image, network)) if head is not None else 0.0
        out = model.enhance_tensor(image)
        rows.append((washed_share(image, out), path, float(luma(image).mean()), float(luma(network).mean()),
                     float(luma(out).mean()), log_gain))
        if args.guard is not None:
            def guarded_detail(x, y, strength):
                scale = guard_scale(x, y, args.guard)
                return original(x, scale_brightness(y, scale) if scale < 1.0 else y, strength)
            base.transfer_detail = guarded_detail
            try:
                guarded.append(float(luma(model.enhance_tensor(image)).mean()))
            finally:
                base.transfer_detail = original
    rows.sort(key=lambda row: -row[0])
    print(f"{args.model}: {len(rows)} photos; share of the well-exposed input pixels (luma {WELL_EXPOSED[0]}-"
          f"{WELL_EXPOSED[1]}) at luma >= {WASHED} in the output")
    print("| photo | washed share | input Y | network Y | default Y | head log gain |")
    print("|---|---:|---:|---:|---:|---:|")
    for share, path, y_in, y_net, y_out, log_gain in rows[:args.top]:
        print(f"| {path.parent.name}/{path.name} | {share:.3f} | {y_in:.3f} | {y_net:.3f} | {y_out:.3f} | {log_gain:+.3f} |")
    print(f"photos with more than 10 % washed: {sum(row[0] > 0.1 for row in rows)} of {len(rows)}; "
          f"mean Y (this measure, all photos): default {statistics.fmean(row[4] for row in rows):.3f}")
    if guarded:
        print(f"with the clip guard (budget {args.guard}): mean Y {statistics.fmean(guarded):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
