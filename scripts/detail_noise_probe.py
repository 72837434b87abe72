"""How the input detail transfer judges noise: its noise floor against real-photo NIQE.

The detail transfer (``mlsm/inference/detail.py``) adds back the input's left-out detail where
its local energy stands above a noise floor. This probe runs the default model once per real
dark photo up to the detail step (the network and every step before it), then replays the
detail transfer and the neutral shadows after it with each floor setting and prints, per
setting, the scorecard's measures (NIQE, mean Y, block-edge ratio) over all photos and the
grain of each photo's darkest tenth (input local luma): the RMS, in 8-bit code values, of the
output's luma less its Gaussian blur (2 px), where speckle shows first (DICM 29's curtain).

    python scripts/detail_noise_probe.py --settings global 0.1,1.0 0.1,1.0,nocodes 0.5,1.0,nocodes amp,1.5

A setting ``Q,K`` is :data:`~mlsm.inference.detail.NOISE_QUANTILE` and
:data:`~mlsm.inference.detail.WIENER_K` (shipped: 0.1,1.0), ``Q,K,nocodes`` the same without
fading the pixel-scale detail where the input holds few code values; ``global`` is revision
7's rule (one Immerkaer noise figure per photo, K 1.5); ``amp,K`` the input's own noise level
function (Immerkaer's sigma per tone) times the lift's local amplification, tried and left.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mlsm.inference.base as base  # noqa: E402
import mlsm.inference.detail as detail  # noqa: E402
from mlsm.eval.scorecard import score_image  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.inference.maps import gaussian_blur, interp, luma, relight  # noqa: E402
from mlsm.inference.shadows import local_luma, neutral_shadows  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_tensor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real-dark"
REVISION_7_K = 1.5


def global_rule(image: torch.Tensor, enhanced: torch.Tensor, strength: float) -> torch.Tensor:
    """Revision 7's transfer: one Immerkaer noise sigma of the lifted input's luma per photo."""
    lifted = relight(image, enhanced)
    noise = float(detail.noise_sigma(luma(lifted))[0])
    left_out = lifted - enhanced
    energy = gaussian_blur(luma(left_out) ** 2, detail.ENERGY_SIGMA).clamp_min(1e-12)
    weight = (1.0 - (REVISION_7_K * noise) ** 2 / energy).clamp(0.0, 1.0)
    return (enhanced + strength * weight * left_out).clamp(0.0, 1.0)


def amplified_rule(image: torch.Tensor, enhanced: torch.Tensor, strength: float, k: float) -> torch.Tensor:
    """The input's own noise level function (Immerkaer's sigma of its luma in equal-count bins of
    its local luma) times the local amplification of the lift, as the noise floor."""
    level = local_luma(image)
    responses = detail._noise_responses(luma(image)).flatten()
    levels, order = level[..., 1:-1, 1:-1].flatten().sort()
    parts = responses[order].tensor_split(detail.NOISE_LEVELS)
    centres = torch.stack([part.mean() for part in levels.tensor_split(detail.NOISE_LEVELS)])
    floors = torch.stack([detail._sigma_from_responses(part) for part in parts])
    lifted = relight(image, enhanced)
    amplification = gaussian_blur(luma(lifted), detail.ENERGY_SIGMA) / level.clamp_min(0.5 / 255)
    sigma = interp(level, centres, floors) * amplification
    left_out = lifted - enhanced
    energy = gaussian_blur(luma(left_out) ** 2, detail.ENERGY_SIGMA).clamp_min(1e-12)
    weight = (1.0 - (k * sigma) ** 2 / energy).clamp(0.0, 1.0)
    return (enhanced + strength * weight * left_out).clamp(0.0, 1.0)


def to_8bit(image: torch.Tensor):
    return (image[0].permute(1, 2, 0).clamp(0, 1).mul(255).round() / 255).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mlsm_small.real_exposure")
    parser.add_argument("--real", nargs="*", default=[str(REAL / "dicm"), str(REAL / "lime")])
    parser.add_argument("--settings", nargs="+", default=["global", "0.1,1.0"])
    parser.add_argument("--count", type=int, help="first photos only")
    parser.add_argument("--json", help="write every photo's scores per setting here")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    paths = sorted(p for folder in args.real for p in Path(folder).iterdir()
                   if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})[:args.count]
    cached = []
    original = base.transfer_detail
    base.transfer_detail = lambda x, y, strength: cached.append((x, y, strength)) or y
    try:
        for path in paths:
            model.enhance_tensor(to_tensor(read_image(path)[0]))
    finally:
        base.transfer_detail = original
    print(f"{args.model}: {len(paths)} photos; the detail step replayed with each noise floor")
    print("| setting | NIQE | mean Y | block-edge ratio | darkest-tenth grain |")
    print("|---|---:|---:|---:|---:|")
    coded_detail, quantile, k = detail._coded_detail, detail.NOISE_QUANTILE, detail.WIENER_K
    per_photo = {}
    for setting in args.settings:
        if setting.startswith("amp"):
            amp_k = float(setting.split(",")[1])
        elif setting != "global":
            fields = setting.split(",")
            detail.NOISE_QUANTILE, detail.WIENER_K = float(fields[0]), float(fields[1])
            detail._coded_detail = (lambda image, left_out: left_out) if "nocodes" in fields else coded_detail
        scores, touched = [], []
        for x, y, strength in cached:
            s = strength[0] if isinstance(strength, list) else strength
            if setting == "global":
                out = global_rule(x, y, s)
            elif setting.startswith("amp"):
                out = amplified_rule(x, y, s, amp_k)
            else:
                out = original(x, y, strength)
            out = neutral_shadows(x, out)
            scores.append(score_image(to_8bit(out)))
            level = local_luma(x)
            dark = level <= level.flatten().quantile(0.1)
            fine = luma(out) - gaussian_blur(luma(out), 2.0)
            touched.append(255.0 * float(fine[dark].square().mean().sqrt()))
        per_photo[setting] = {f"{p.parent.name}/{p.name}": score for p, score in zip(paths, scores)}
        means = {key: statistics.fmean(s[key] for s in scores if s[key] is not None)
                 for key in ("niqe", "mean_y", "block_edge_ratio")}
        print(f"| {setting} | {means['niqe']:.3f} | {means['mean_y']:.3f} | {means['block_edge_ratio']:.3f} | "
              f"{statistics.fmean(touched):.2f} |")
    detail._coded_detail, detail.NOISE_QUANTILE, detail.WIENER_K = coded_detail, quantile, k
    if args.json:
        import json
        Path(args.json).write_text(json.dumps(per_photo, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
