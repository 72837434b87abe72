"""One test image at one QF, in the style of Zeng et al.'s Figs. 1 and 7: the input, each
method's output and the ground truth, each shown whole (small, with the crop outlined) and
as the zoomed crop, labelled with PSNR/SSIM from the results.

Outputs are read from ``RUN/images/...`` (written by ``run_eval(save_images=True)``); a
missing one is recomputed with the method (methods are deterministic, so it is the image
that was measured; the metrics shown still come from ``results.json``) and saved there.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from mlsm.eval.crops import blocking_crop
from mlsm.eval.figures.canvas import FigureError, results_and_dir
from mlsm.eval.figures.panels import check_crop, display_uint8, draw_panels, error_text
from mlsm.eval.report import order_methods
from mlsm.eval.runner import output_image_path

__all__ = ["zoom_grid"]


def _record(results: Mapping, method: str, set_name: str, quality: int, image: str) -> Mapping | None:
    for record in results["records"]:
        if (record["method"] == method and record["set"] == set_name and int(record["quality"]) == quality
                and record["image"] == image):
            return record
    return None


def _metric_label(record: Mapping | None) -> str:
    if not record or record.get("error") or record.get("psnr") is None:
        return ""
    return f"{record['psnr']:.2f} dB / {record['ssim']:.4f}"


def zoom_grid(results_or_path, set_name: str, quality: int, image_name: str, out_path: str | Path,
              crop: tuple[int, int, int, int] | None = None, methods: Sequence[str] | None = None,
              peers_dir=None, device: str = "cpu", run_dir: str | Path | None = None,
              crop_size: int = 96, columns: int = 6, thumb_side: int = 256) -> Path:
    """Input, each method and the ground truth for one image, whole and zoomed (Figs. 1, 7).

    Args:
        results_or_path: ``results.json``, its run folder, or the loaded dict (then pass
            ``run_dir`` for the saved outputs).
        set_name, quality, image_name: which image (the set's name in the results).
        out_path: the PNG to write.
        crop: (x, y, w, h) in pixels of the full image; default
            :func:`~mlsm.eval.crops.blocking_crop` of the input.
        methods: which methods (default: every method with a successful record for the image,
            except ``identity``, which is the input panel).
        peers_dir, device: used only to recompute outputs missing from ``RUN/images``.
        crop_size: side of the automatic crop.
        columns: panels per row.
        thumb_side: longest side of the whole-image thumbnails.

    Labels: ``PSNR dB / SSIM`` of each output from the results (the input's from the
    ``identity`` record when it was evaluated).
    """
    from mlsm.baselines.cache import MethodCache
    from mlsm.data.evalset import load_evalset
    from mlsm.io import read_image, write_image

    results, run_dir = results_and_dir(results_or_path, run_dir)
    quality = int(quality)
    entry = next((s for s in results["sets"] if s["name"] == set_name), None)
    if entry is None:
        raise FigureError(f"no set {set_name!r} in the results (sets: {', '.join(s['name'] for s in results['sets'])})")
    if quality not in entry.get("qualities", []):
        raise FigureError(f"set {set_name!r} was evaluated at QF {entry.get('qualities')}, not {quality}")
    evalset = load_evalset(entry["root"])
    item = next((i for i in evalset.items if i.name == image_name), None)
    if item is None:
        names = [i.name for i in evalset.items]
        raise FigureError(f"no image {image_name!r} in set {set_name!r} (e.g. {', '.join(names[:8])})")
    low, _ = read_image(item.low_path(quality))
    gt, _ = read_image(item.gt)
    height, width = low.shape[:2]
    crop = check_crop(crop, width, height) if crop is not None else blocking_crop(low, crop_size)
    if methods is None:
        methods = [m for m in results["methods"] if m != "identity"
                   and (r := _record(results, m, set_name, quality, image_name)) and not r.get("error")]
    methods = order_methods(methods)

    built = MethodCache(peers_dir, device)
    panels = [{"title": f"input (QF {quality})", "image": low,
               "label": _metric_label(_record(results, "identity", set_name, quality, image_name))}]
    for method_name in methods:
        record = _record(results, method_name, set_name, quality, image_name)
        panel = {"title": method_name, "label": _metric_label(record)}
        saved = output_image_path(run_dir, set_name, method_name, quality, image_name) if run_dir else None
        try:
            if saved is not None and saved.is_file():
                panel["image"], _ = read_image(saved)
            else:
                output = display_uint8(np.clip(built.get(method_name)(low), 0, 1))
                if saved is not None:
                    write_image(saved, output, overwrite=True)
                panel["image"] = output
        except Exception as error:  # show the failure in its panel, keep the others
            panel["error"] = f"{method_name}:\n{error_text(error)}"
        panels.append(panel)
    panels.append({"title": "ground truth", "image": gt, "label": ""})
    title = f"{set_name} / {image_name} / QF {quality} - crop x={crop[0]} y={crop[1]} {crop[2]}x{crop[3]}"
    return draw_panels(panels, lambda panel: crop, Path(out_path), title, columns, thumb_side,
                       zoom_side=thumb_side)
