"""Halos around lights: how much darker or brighter the dark surroundings of a lamp come out than
the same tones elsewhere in the photo, with the edge-aware local gain (inference revision 10) and
with the Gaussian one before it (revision 9).

For each photo: the lamps are the pixels whose input luma (Gaussian sigma 1 px) is at least 0.85;
the ring is the dark pixels (input local luma under 0.25) 2-12 px from a lamp; the reference is
the dark pixels more than 24 px from any. The output's expected luma at a ring pixel is the
median output luma of the reference pixels of the same input tone (16 equal-count bins of the
input's local luma, linear between); the halo is the ring's mean output luma less that, in 8-bit
code values (negative: a dark halo, positive: a lit one). Photos with fewer than 200 ring pixels
are skipped. Printed: one row per photo with lamps and the mean of |halo| over them, for both
rules; ``--figure`` also draws crops (input, revision 9, revision 10) of DICM 27 and 12.

    python scripts/halo_probe.py ../shared/data/real-dark/dicm ../shared/data/real-dark/lime --figure docs/halos.png

The revision-9 rule is :func:`gaussian_local_gain` put in place of
:func:`mlsm.inference.maps.local_gain` (the monotone gain and the relight of the detail
transfer both read it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mlsm.inference.maps as maps  # noqa: E402
import mlsm.inference.tone as tone  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.inference.maps import gaussian_blur, interp, luma  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.io.convert import to_array, to_tensor, to_uint8  # noqa: E402

LAMP = 0.85
DARK = 0.25
RING = (2, 12)
CLEAR = 24
MIN_RING = 200
FIGURE = (("dicm/27.jpg", (150, 200, 330, 520)), ("dicm/12.jpg", (40, 100, 220, 420)))
"""Crops of the figure: (photo under the real-dark root, (top, left, bottom, right))."""


def gaussian_local_gain(input_luma: torch.Tensor, output_luma: torch.Tensor, with_level: bool = False):
    """Revision 9's local gain: ``blur(Yy, 4) / blur(Yx, 4)``, and ``log blur(Yx, 4)`` as the level."""
    blurred = gaussian_blur(input_luma, 4.0).clamp_min_(1e-4)
    gain = gaussian_blur(output_luma, 4.0).div_(blurred).clamp_min_(1e-6)
    return (blurred.log(), gain) if with_level else gain


@contextmanager
def revision_9():
    """The Gaussian local gain in place of the edge-aware one, for the duration."""
    saved = maps.local_gain, tone.local_gain
    maps.local_gain = tone.local_gain = gaussian_local_gain
    try:
        yield
    finally:
        maps.local_gain, tone.local_gain = saved


def _distance_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Pixels within ``pixels`` (chessboard distance) of ``mask`` (1, 1, H, W bool)."""
    return F.max_pool2d(mask.float(), 2 * pixels + 1, stride=1, padding=pixels) > 0


def halo(image: torch.Tensor, output: torch.Tensor) -> tuple[float, int] | None:
    """``(mean halo in code values, ring pixels)`` of one photo, or None without enough ring."""
    level = gaussian_blur(luma(image), 1.0)
    out_level = gaussian_blur(luma(output), 1.0)
    lamps = level >= LAMP
    if not bool(lamps.any()):
        return None
    dark = level < DARK
    ring = dark & _distance_mask(lamps, RING[1]) & ~_distance_mask(lamps, RING[0] - 1)
    reference = dark & ~_distance_mask(lamps, CLEAR)
    if int(ring.sum()) < MIN_RING or int(reference.sum()) < 16 * MIN_RING:
        return None
    tones, order = level[reference].sort()
    values = out_level[reference][order]
    centres = torch.stack([part.mean() for part in tones.tensor_split(16)])
    medians = torch.stack([part.median() for part in values.tensor_split(16)])
    expected = interp(level[ring], centres, medians)
    return float((out_level[ring] - expected).mean() * 255.0), int(ring.sum())


def photos(folders: list[Path]) -> list[Path]:
    return sorted(p for folder in folders for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})


def figure(model, root: Path, path: Path) -> None:
    """Crops of :data:`FIGURE`: input, revision 9, revision 10, one photo a row."""
    from PIL import Image

    rows = []
    for name, (top, left, bottom, right) in FIGURE:
        image = to_tensor(read_image(root / name)[0])
        with revision_9():
            old = model.enhance_tensor(image)
        new = model.enhance_tensor(image)
        rows.append(np.concatenate([to_uint8(to_array(t[..., top:bottom, left:right])) for t in (image, old, new)], axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path)
    print(f"wrote {path} (columns: input, revision 9, revision 10)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--model", default="mlsm_small.real_exposure")
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args(argv)
    model = load_model(args.model)
    print("| photo | ring px | halo, revision 9 | halo, revision 10 |")
    print("|---|---:|---:|---:|")
    old_halos, new_halos = [], []
    for path in photos(args.folders):
        image = to_tensor(read_image(path)[0])
        new = model.enhance_tensor(image)
        measured = halo(image, new)
        if measured is None:
            continue
        with revision_9():
            old = halo(image, model.enhance_tensor(image))
        new_halos.append(abs(measured[0]))
        old_halos.append(abs(old[0]) if old is not None else float("nan"))
        print(f"| {path.parent.name}/{path.name} | {measured[1]} | {old[0] if old else float('nan'):+.2f} | {measured[0]:+.2f} |", flush=True)
    if new_halos:
        print(f"mean |halo| over {len(new_halos)} photos with lamps: revision 9 {statistics.fmean(old_halos):.2f}, "
              f"revision 10 {statistics.fmean(new_halos):.2f} code values")
    if args.figure is not None:
        figure(model, args.folders[0].parent, args.figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
