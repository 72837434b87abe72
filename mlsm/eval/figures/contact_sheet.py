"""Real dark JPEGs without ground truth (e.g. DICM): the input and every method's output per
image, plus a zoom on the image's darkest textured region
(:func:`mlsm.eval.crops.darkest_region`), to see how much each method amplifies blocks,
noise and colour casts."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from mlsm.eval.crops import darkest_region
from mlsm.eval.figures.canvas import FigureError
from mlsm.eval.figures.panels import display_uint8, draw_panels, error_text
from mlsm.eval.runner import validate_methods

__all__ = ["contact_sheet"]


def contact_sheet(image_paths: Sequence[str | Path], methods: Sequence[str], out_path: str | Path,
                  peers_dir=None, device: str = "cpu", max_side: int = 384, zoom_size: int = 96) -> Path:
    """Run every method on real dark photos (no ground truth) and tile input + outputs.

    Each image gets one row of whole images (thumbnails of at most ``max_side`` px) and a row
    of zooms on its :func:`~mlsm.eval.crops.darkest_region` (``zoom_size`` px, full
    resolution, nearest neighbour): where enhancement amplifies JPEG blocks, noise and colour
    casts the most. Methods run on the full-resolution decoded JPEG. A method that cannot be
    built or fails on an image gets a grey panel with the message; unknown names raise
    :class:`mlsm.eval.runner.EvalConfigError`.

    Args:
        image_paths: files or folders of JPEGs (folders: their images, sorted).
        methods: registry names.
        out_path: the PNG to write.
        peers_dir, device: for the CNN peers.
        max_side: longest side of the whole-image thumbnails.
        zoom_size: side of the zoomed region in pixels of the original.
    """
    from mlsm.baselines.cache import MethodCache
    from mlsm.io import iter_image_files, read_image

    methods = validate_methods(methods)
    files = iter_image_files([str(p) for p in image_paths])
    if not files:
        raise FigureError(f"no images found in {', '.join(map(str, image_paths))}")
    built = MethodCache(peers_dir, device)
    reasons: dict[str, str] = {}
    for name in methods:
        try:
            built.get(name)
        except Exception as error:
            reasons[name] = error_text(error, 160)

    panels, crops = [], []
    for path in files:
        image, _ = read_image(path)
        region = darkest_region(image, zoom_size)
        row = [{"title": f"{path.name} (input)", "image": image}]
        for name in methods:
            panel = {"title": name}
            if name in reasons:
                panel["error"] = f"not built:\n{reasons[name]}"
            else:
                try:
                    panel["image"] = display_uint8(np.clip(built.get(name)(image), 0, 1))
                except Exception as error:
                    panel["error"] = f"failed:\n{error_text(error)}"
            row.append(panel)
        panels.extend(row)
        crops.extend([region] * len(row))
    for panel, region in zip(panels, crops):
        panel["crop"] = region
    title = f"{len(files)} dark photo(s) x {len(methods)} method(s); zoom: darkest textured region"
    return draw_panels(panels, lambda panel: panel["crop"], Path(out_path), title, 1 + len(methods),
                       max_side, zoom_side=max_side)
