"""Model zoo: one table from a weight name (``arch.tag``) to its file, hash and card.

Weight files live in the package (``mlsm/weights/``), so nothing is fetched at run time.
A user's own checkpoint is loaded by path (``.safetensors`` written by ``mlsm train``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mlsm.models.enhancer import DirectEnhancer, Enhancer
from mlsm.models.exposure import ExposureHead, scale_brightness
from mlsm.models.weights import load_weights, split_exposure_head
from mlsm.tiling import run_tiled

__all__ = ["WeightSpec", "ZOO", "DEFAULT_MODEL", "list_models", "resolve_weights", "load_network",
           "EnhancementModel", "load_model", "mlsm_spec_target", "build_mlsm_method"]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class WeightSpec:
    """A released weight set: file name inside ``mlsm/weights`` and its sha256."""

    name: str
    file: str
    sha256: str | None
    description: str


ZOO: dict[str, WeightSpec] = {
    "mlsm_small.synth_dark_jpeg": WeightSpec(
        name="mlsm_small.synth_dark_jpeg",
        file="mlsm_small.synth_dark_jpeg.safetensors",
        sha256="78480b6d2df3d37c9c4a25c75f5329b40919d613a2d0055bc464fb8b473259b1",
        description="mlsm_small trained on synthetic dark JPEG pairs from CBSD68 + McMaster "
                    "(exposure x0.03-0.3, QF 60-95); see MODEL_CARD.md",
    ),
    "mlsm_small.real_v2": WeightSpec(
        name="mlsm_small.real_v2",
        file="mlsm_small.real_v2.safetensors",
        sha256="520a1604af5dc8f7d9ae7b33ba50a522cef54590236dceb691fae091679e1219",
        description="mlsm_small.synth_dark_jpeg fine-tuned for real dark photos: LOL-v1 pairs + "
                    "degradation-v2 synthetic pairs, texture terms, output refinement, exposure head v2 "
                    "(configs/mlsm_small_v2.yaml); see MODEL_CARD.md",
    ),
}
DEFAULT_MODEL = "mlsm_small.synth_dark_jpeg"

ARCHS = {"enhancer": Enhancer, "direct": DirectEnhancer}


def list_models() -> list[str]:
    """Names of the weight sets shipped with the package."""
    return sorted(ZOO)


def resolve_weights(name_or_path: str | Path) -> tuple[Path, str | None]:
    """Weight file and expected sha256 for a zoo name or a file path."""
    text = str(name_or_path)
    if text in ZOO:
        spec = ZOO[text]
        path = WEIGHTS_DIR / spec.file
        if not path.is_file():
            raise FileNotFoundError(f"{path}: weights of {text!r} are missing from this installation; "
                                    "reinstall mlsm or pass a .safetensors path with --model")
        return path, spec.sha256
    path = Path(text).expanduser()
    if path.is_file():
        return path, None
    known = ", ".join(list_models()) or "none installed"
    raise FileNotFoundError(f"{text}: no such model name or weight file (known models: {known})")


def load_network(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the network from the stored config and load its weights (strict).

    The metadata record gets ``exposure_head``: the file's
    :class:`~mlsm.models.exposure.ExposureHead`, or None when it has none.
    """
    path, sha = resolve_weights(name_or_path)
    metadata, tensors = load_weights(path, expected_sha256=sha)
    if metadata["arch"] not in ARCHS:
        raise ValueError(f"{path}: unknown architecture {metadata['arch']!r}; known: {sorted(ARCHS)}")
    network = ARCHS[metadata["arch"]](metadata["config"])
    tensors, head_tensors = split_exposure_head(tensors)
    network.load_state_dict(tensors, strict=True)
    metadata["exposure_head"] = None
    if "exposure" in metadata:
        if set(head_tensors) != {"weight"}:
            raise ValueError(f"{path}: exposure head tensors {sorted(head_tensors)} do not match its spec")
        metadata["exposure_head"] = ExposureHead.from_spec(metadata["exposure"], head_tensors["weight"])
    elif head_tensors:
        raise ValueError(f"{path}: exposure head tensors without an 'exposure' spec in the metadata")
    return network.eval().to(device), metadata


class EnhancementModel:
    """A loaded enhancer with a friendly ``enhance`` for arrays, PIL images and tensors.

    Large images are processed in overlapping tiles blended with a raised-cosine window,
    so memory stays bounded; images up to ``tile`` pixels a side run whole. When the
    weights carry an exposure head (``metadata["exposure_head"]``) and
    ``calibrate_exposure`` is on, the output's brightness is then set from whole-image
    statistics (:mod:`mlsm.models.exposure`); ``brightness`` then scales it in linear light
    (with or without a head).
    """

    def __init__(self, network: torch.nn.Module, metadata: dict | None = None, device: str = "cpu",
                 tile: int = 1024, overlap: int = 128, calibrate_exposure: bool = True, brightness: float = 1.0):
        self.network = network.eval().to(device)
        self.metadata = metadata or {}
        self.device = torch.device(device)
        self.tile = tile
        self.overlap = overlap
        self.name = "mlsm"
        self._set_exposure(calibrate_exposure, brightness)

    def _set_exposure(self, calibrate_exposure: bool, brightness: float) -> None:
        if not brightness > 0:
            raise ValueError(f"brightness must be > 0, got {brightness}")
        head = self.metadata.get("exposure_head")
        self.exposure_head = head.to(self.device) if (head is not None and calibrate_exposure) else None
        self.brightness = float(brightness)

    def _run_network(self, image: torch.Tensor) -> torch.Tensor:
        # each tile is clamped before blending, as the exported ONNX graph does (mlsm.export)
        return run_tiled(lambda x: self.network(x)["image"].clamp(0.0, 1.0), image, tile=self.tile,
                         overlap=self.overlap, multiple=self.network.size_multiple)

    @torch.no_grad()
    def enhance_tensor(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> enhanced, same shape, clamped to [0, 1]."""
        image = image.to(self.device, torch.float32)
        out = self._run_network(image).clamp(0.0, 1.0)
        if self.exposure_head is not None:
            out = self.exposure_head.calibrate(image, out, self.brightness)
        elif self.brightness != 1.0:
            out = scale_brightness(out, self.brightness)
        return out

    def enhance(self, image):
        """Enhance a (H, W, 3) numpy array (float in [0, 1] or uint8), a PIL image or a tensor.

        Returns the same type (uint8 in -> uint8 out; PIL in -> RGB PIL out).
        """
        if isinstance(image, torch.Tensor):
            return self.enhance_tensor(image if image.ndim == 4 else image[None])[0 if image.ndim == 3 else slice(None)]
        if isinstance(image, Image.Image):
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
            out = self._enhance_array(array)
            return Image.fromarray(np.round(out * 255.0).astype(np.uint8), "RGB")
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB array, got shape {array.shape}")
        if array.dtype == np.uint8:
            out = self._enhance_array(array.astype(np.float32) / 255.0)
            return np.round(out * 255.0).astype(np.uint8)
        return self._enhance_array(array.astype(np.float32)).astype(array.dtype, copy=False)

    def _enhance_array(self, array: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)[None]
        return self.enhance_tensor(x)[0].permute(1, 2, 0).cpu().numpy()

    __call__ = _enhance_array  # the baselines' Method protocol: float (H, W, 3) -> float


def load_model(name_or_path: str | Path = DEFAULT_MODEL, device: str = "cpu", **options) -> EnhancementModel:
    """Load a shipped model by name (see :func:`list_models`) or a ``.safetensors`` path."""
    network, metadata = load_network(name_or_path, device)
    return EnhancementModel(network, metadata, device=device, **options)


def mlsm_spec_target(spec: str) -> str:
    """The zoo name or weight path an mlsm method spec names ("mlsm" -> the default model)."""
    return spec.partition(":")[2] or DEFAULT_MODEL


def build_mlsm_method(spec: str, device: str = "cpu") -> EnhancementModel:
    """Registry hook: "mlsm" (default model) or "mlsm:NAME_OR_PATH" -> a Method."""
    model = load_model(mlsm_spec_target(spec), device=device)
    model.name = spec
    return model
