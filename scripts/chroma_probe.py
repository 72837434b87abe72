"""How the chroma denoise (``mlsm/inference/chroma.py``) is set: reference PSNR on real noise, and
what it takes from and leaves to the colour of the real dark photos.

The default model runs once per photo up to the chroma step (the network and every step before
it); the chroma denoise and the neutral shadows after it are then replayed with each setting.
Printed per setting:

- LOL validation as stored (35 pairs of ``configs/splits/lol_our485_val.txt``, the low images
  at their own JPEG quality 98, no extra compression: camera quality, real sensor noise, so the
  step acts at full strength): PSNR against the normal-light reference;
- on the 73 real dark photos (``../shared/data/real-dark``): mean colourfulness
  (Hasler-Suesstrunk, as the scorecard); the chroma of the flat darker half, the RMS in 8-bit
  code values of the output's chroma (RGB less BT.601 luma) band-passed between Gaussian sigma 1
  and 16 px, over the pixels of the darker half of the input's local luma whose output luma
  gradient energy is in the photo's flattest 30 % (the blotches); and the same chroma measure
  over the brighter third (colour detail the step should leave alone). Luma is unchanged by
  construction, so NIQE, mean Y and the block-edge ratio are not printed.

    python scripts/lol_val_folder.py     # data/lol_val/our485
    python scripts/chroma_probe.py --settings off default FLAT_LOW=6,FLAT_HIGH=12 FLAT_LOW=4,FLAT_HIGH=8 \\
        FLAT_RADIUS=16 LIFT_LOW=-60,LIFT_HIGH=-50 FLAT_LOW=1e8,FLAT_HIGH=1e9 RADIUS=8,FLAT_RADIUS=16 \\
        RADIUS=32,FLAT_RADIUS=64 EPS=0.001 --kodak 90 60    # docs/results/chroma_probe.md

A setting is ``off`` (no chroma step), ``default`` (the module's constants) or
``NAME=VALUE,...`` overriding constants of :mod:`mlsm.inference.chroma` (``LIFT_LOW=-60,
LIFT_HIGH=-50``: no lift gate; ``FLAT_LOW=1e8,FLAT_HIGH=1e9``: no colour-flatness gate).
``--kodak QF`` also prints the PSNR with the step forced on (strength 1) on the synthetic Kodak24
inputs at that QF, against the step off: why it is off in the paper's setting. ``--figure PATH``
draws the README's crops (:data:`FIGURE_CROPS`, at 2x nearest: the step off | on) and exits.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mlsm.inference.base as base  # noqa: E402
import mlsm.inference.chroma as chroma  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.inference.maps import gaussian_blur, luma  # noqa: E402
from mlsm.inference.shadows import local_luma, neutral_shadows  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import quantize_8bit, to_array, to_tensor, to_uint8  # noqa: E402
from mlsm.metrics import colourfulness, psnr  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real-dark"
FIGURE_CROPS = (("dicm/29.jpg", (380, 10, 580, 110)), ("lime/1.png", (100, 100, 300, 200)),
                ("dicm/19.jpg", (289, 280, 489, 380)), ("lime/8.png", (85, 314, 285, 414)))
"""(photo under ``--real``'s parent folder, (left, top, right, bottom)): two flat lifted areas where
the step acts (DICM 29's ceiling, LIME 1's wall), two colour structures it must leave (DICM 19's
red lamp, LIME 8's red and blue wool)."""
CONSTANTS = ("RADIUS", "EPS", "LIFT_LOW", "LIFT_HIGH", "FLAT_RADIUS", "FLAT_LOW", "FLAT_HIGH")


def images(folders: list[str]) -> list[Path]:
    return sorted(p for folder in folders for p in Path(folder).iterdir()
                  if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})


def pre_chroma(model, arrays) -> list[tuple[torch.Tensor, torch.Tensor, list[float]]]:
    """(input, output before the chroma step, the step's automatic strength) per image."""
    cached = []
    original = base.denoise_chroma
    base.denoise_chroma = lambda x, y, strength: cached.append((x, y, strength)) or y
    try:
        for array in arrays:
            model.enhance_tensor(to_tensor(array))
    finally:
        base.denoise_chroma = original
    return cached


def chroma_rms(image: torch.Tensor, output: np.ndarray) -> tuple[float, float]:
    """(flat darker half, brighter third): RMS of the band-passed chroma, code values."""
    out = torch.from_numpy(output).permute(2, 0, 1)[None].float()
    level = local_luma(image).flatten()
    colour = out - luma(out)
    band = (gaussian_blur(colour, 1.0) - gaussian_blur(colour, 16.0)).square().sum(1).flatten()
    grey = luma(out)
    gradient = (grey[..., 1:, :-1] - grey[..., :-1, :-1]).square() + (grey[..., :-1, 1:] - grey[..., :-1, :-1]).square()
    gradient = torch.nn.functional.pad(gaussian_blur(gradient, 4.0), (0, 1, 0, 1), mode="replicate").flatten()
    flat_dark = (level <= level.quantile(0.5)) & (gradient <= gradient.quantile(0.3))
    bright = level >= level.quantile(0.7)
    dark_rms = float(band[flat_dark].mean().sqrt()) * 255.0 if bool(flat_dark.any()) else float("nan")
    return dark_rms, float(band[bright].mean().sqrt()) * 255.0


DEFAULTS = {name: getattr(chroma, name) for name in CONSTANTS}
"""The module's own constants, restored before each setting."""


def apply_setting(setting: str) -> None:
    """Set :mod:`mlsm.inference.chroma`'s constants for ``setting`` (after a reset)."""
    for name, value in DEFAULTS.items():
        setattr(chroma, name, value)
    if setting in ("off", "default"):
        return
    for item in setting.split(","):
        name, value = item.split("=")
        if name not in CONSTANTS:
            raise SystemExit(f"unknown constant {name!r}; known: {', '.join(CONSTANTS)}")
        setattr(chroma, name, type(DEFAULTS[name])(float(value)))


def run(setting: str, x: torch.Tensor, y: torch.Tensor, strength) -> np.ndarray:
    out = y if setting == "off" else chroma.denoise_chroma(x, y, strength)
    return quantize_8bit(to_array(neutral_shadows(x, out)))


def figure(model, root: Path, path: Path) -> None:
    """The README's figure: each of :data:`FIGURE_CROPS` without and with the step, side by side."""
    from PIL import Image

    rows = []
    for name, (left, top, right, bottom) in FIGURE_CROPS:
        (x, y, strength), = pre_chroma(model, [read_image(root / name)[0]])
        tiles = [Image.fromarray(to_uint8(run(s, x, y, strength)[top:bottom, left:right]))
                 for s in ("off", "default")]
        rows.append([tile.resize((2 * tile.width, 2 * tile.height), Image.NEAREST) for tile in tiles])
    gap = 8
    width = 2 * rows[0][0].width + gap
    sheet = Image.new("RGB", (width, sum(row[0].height for row in rows) + gap * (len(rows) - 1)), "white")
    top = 0
    for off, on in rows:
        sheet.paste(off, (0, top))
        sheet.paste(on, (off.width + gap, top))
        top += off.height + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    print(f"wrote {path} ({sheet.width} x {sheet.height})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mlsm_small.real_exposure")
    parser.add_argument("--lol", default=str(ROOT / "data/lol_val/our485"))
    parser.add_argument("--real", nargs="*", default=[str(REAL / "dicm"), str(REAL / "lime")])
    parser.add_argument("--settings", nargs="+", default=["off", "default"])
    parser.add_argument("--kodak", type=int, nargs="*", default=[], metavar="QF",
                        help="also force the step on the synthetic Kodak24 inputs at these QFs")
    parser.add_argument("--kodak-root", default=str(ROOT / "data/kodak24_synth"))
    parser.add_argument("--figure", type=Path, help="draw the README's crops (step off | on) here and exit")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    if args.figure:
        figure(model, Path(args.real[0]).parent, args.figure)
        return 0
    lol = Path(args.lol)
    lows = images([str(lol / "low")])
    if not lows:
        raise SystemExit(f"no LOL validation pairs in {lol}: run python scripts/lol_val_folder.py")
    references = [read_image(lol / "high" / p.name)[0] for p in lows]
    lol_cache = pre_chroma(model, (read_image(p)[0] for p in lows))
    real = images(args.real)
    real_cache = pre_chroma(model, (read_image(p)[0] for p in real))
    print(f"{args.model}: {len(lows)} LOL validation pairs as stored, {len(real)} real dark photos")
    print("| setting | LOL PSNR (dB) | real colourfulness | chroma, flat darker half | chroma, brighter third |")
    print("|---|---:|---:|---:|---:|")
    for setting in args.settings:
        apply_setting(setting)
        lol_psnr = statistics.fmean(psnr(run(setting, x, y, s), ref) for (x, y, s), ref in zip(lol_cache, references))
        colour, dark, bright = [], [], []
        for x, y, strength in real_cache:
            output = run(setting, x, y, strength)
            colour.append(colourfulness(output))
            d, b = chroma_rms(x, output)
            dark.append(d)
            bright.append(b)
        print(f"| {setting} | {lol_psnr:.3f} | {statistics.fmean(colour):.2f} | {np.nanmean(dark):.2f} | "
              f"{statistics.fmean(bright):.2f} |", flush=True)
    apply_setting("default")
    for qf in args.kodak:
        folder = Path(args.kodak_root)
        inputs = sorted((folder / f"qf{qf}").iterdir())
        cache = pre_chroma(model, (read_image(p)[0] for p in inputs))
        refs = [read_image(folder / "gt" / f"{p.stem}.png")[0] for p in inputs]
        scores = {s: statistics.fmean(psnr(run(s, x, y, 1.0), ref) for (x, y, _), ref in zip(cache, refs))
                  for s in ("off", "default")}
        print(f"Kodak24 QF {qf} ({len(inputs)}), the step forced on: PSNR {scores['off']:.3f} -> {scores['default']:.3f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
