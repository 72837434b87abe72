"""ONNX export of an mlsm network: the graph, its metadata, the onnxruntime check.

The exported graph (:class:`PaddedEnhancerGraph`)::

    image (N, 3, H, W) ─reflect-pad to a multiple of size_multiple─> network ─crop (H, W)─> clamp [0, 1] ─> enhanced

* Input ``image`` and output ``enhanced`` are float32 RGB in [0, 1] with dynamic batch,
  height and width; **any** H and W are accepted: the padding of
  :func:`mlsm.tiling.pad_to_multiple` (reflect, or replicate when the image is smaller than
  the padding) is built into the graph from ``Shape``/``Range``/``Where``/``Gather``
  nodes, because ``F.pad(mode="reflect")`` traced with a symbolic pad amount would freeze
  the amount of the example input.
* The graph is traced with PyTorch's TorchScript exporter (``dynamo=False``): the
  ``torch.export`` exporter needs ``onnxscript``, which is not a dependency.
* ``metadata_props`` carry ``mlsm.size_multiple``, ``mlsm.arch``, ``mlsm.config`` and
  ``mlsm.card`` (JSON), so :func:`mlsm.inference.onnx_backend.load_onnx_model` tiles exactly
  like the PyTorch backend.
* After export the file is checked with onnxruntime against PyTorch on a random image of an
  odd size (max abs difference must be <= 1e-3) before it is moved into place.

onnx and onnxruntime come with the optional extra ``mlsm[onnx]``; they are imported only
when needed, and their absence raises :class:`OnnxUnavailableError` naming the extra.
The command ``mlsm export-onnx`` is :mod:`mlsm.export_cli`.
"""
from __future__ import annotations

import dataclasses
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlsm.atomic import write_bytes_atomic
from mlsm.inference.options import DEFAULT_OPSET
from mlsm.models.exposure import ExposureHead
from mlsm.tiling import run_padded

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "DEFAULT_OPSET", "VERIFY_TOLERANCE", "VERIFY_SIZE", "OnnxUnavailableError",
           "OnnxExportError", "import_onnx", "import_onnxruntime", "PaddedEnhancerGraph", "export_onnx_bytes",
           "onnx_session", "onnx_max_abs_diff", "weights_metadata", "exposure_from_properties", "export_onnx"]

INPUT_NAME = "image"
OUTPUT_NAME = "enhanced"
VERIFY_TOLERANCE = 1e-3
VERIFY_SIZE = (67, 93)  # odd on purpose: exercises the in-graph padding


class OnnxUnavailableError(ImportError):
    """onnx / onnxruntime are not installed (they come with ``pip install 'mlsm[onnx]'``)."""


class OnnxExportError(RuntimeError):
    """Export failed, or onnxruntime disagrees with PyTorch beyond the tolerance."""


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailableError(
            f"the ONNX backend needs onnxruntime, from the optional extra: pip install 'mlsm[onnx]' ({exc})"
        ) from None
    return onnxruntime


def import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise OnnxUnavailableError(
            f"ONNX export needs onnx, from the optional extra: pip install 'mlsm[onnx]' ({exc})"
        ) from None
    return onnx


# --------------------------------------------------------------------------- the graph


def _padding_indices(length: torch.Tensor, multiple: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad amount and the source index of every padded row/column (reflect, replicate).

    ``length`` is a 0-d int64 tensor, so the indices stay symbolic when traced.
    """
    padded = (length + multiple - 1) // multiple * multiple
    index = torch.arange(padded, device=length.device)
    last = length - 1
    reflect = torch.where(index <= last, index, 2 * last - index)
    replicate = torch.minimum(index, last)
    return padded - length, reflect, replicate


class PaddedEnhancerGraph(nn.Module):
    """What is exported: any-size image -> in-graph padding -> network -> crop -> clamp.

    Equals ``run_padded(network, image, network.size_multiple).clamp(0, 1)``; the padding
    rule is that of :func:`mlsm.tiling.pad_to_multiple` (bottom/right; reflect when both pad
    amounts are smaller than the sides, else replicate), written as index gathers.
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.multiple = int(network.size_multiple)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        size = torch._shape_as_tensor(image)  # traced as an ONNX Shape node
        height, width = size[2], size[3]
        pad_h, rows_reflect, rows_replicate = _padding_indices(height, self.multiple)
        pad_w, cols_reflect, cols_replicate = _padding_indices(width, self.multiple)
        use_reflect = (pad_h < height) & (pad_w < width)
        rows = torch.where(use_reflect, rows_reflect, rows_replicate)
        cols = torch.where(use_reflect, cols_reflect, cols_replicate)
        padded = image.index_select(2, rows).index_select(3, cols)
        out = self.network(padded)["image"]
        return out[:, :, :height, :width].clamp(0.0, 1.0)


def export_onnx_bytes(network: nn.Module, opset: int = DEFAULT_OPSET, metadata: dict | None = None) -> bytes:
    """Serialized ONNX model of :class:`PaddedEnhancerGraph` (``network`` on CPU, eval mode).

    ``metadata`` (str -> str) is added to ``metadata_props`` next to ``mlsm.size_multiple``.
    The network's own train/eval mode and device are left as they were.

    Raises:
        OnnxUnavailableError: onnx is not installed.
        OnnxExportError: the exporter failed (e.g. an unsupported ``opset``).
    """
    onnx = import_onnx()
    was_training = network.training
    device = next(network.parameters()).device
    graph = PaddedEnhancerGraph(network.cpu()).eval()
    multiple = graph.multiple
    example = torch.rand(1, 3, VERIFY_SIZE[0], VERIFY_SIZE[1], generator=torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarning (shape checks frozen), exporter deprecation
            torch.onnx.export(
                graph, (example,), buffer, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                              OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}},
                opset_version=int(opset), do_constant_folding=True, dynamo=False,
            )
    except Exception as exc:
        raise OnnxExportError(f"ONNX export failed at opset {opset}: {type(exc).__name__}: "
                              f"{' '.join(str(exc).split())}") from exc
    finally:
        network.train(was_training).to(device)
    model = onnx.load_from_string(buffer.getvalue())
    properties = {"mlsm.size_multiple": str(multiple), **(metadata or {})}
    for key, value in properties.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    return model.SerializeToString()


def onnx_session(model: bytes | str | Path, device: str = "cpu", threads: int | None = None):
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=providers)


def onnx_max_abs_diff(model: bytes | str | Path, network: nn.Module, size: tuple[int, int] = VERIFY_SIZE,
                      seed: int = 0) -> float:
    """Max |onnxruntime - PyTorch| on a random (1, 3, *size) image in [0, 1]."""
    session = onnx_session(model)
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(seed))
    was_training = network.training
    device = next(network.parameters()).device
    network.eval()
    try:
        with torch.no_grad():
            reference = run_padded(lambda x: network(x.to(device))["image"].cpu(), image,
                                   network.size_multiple).clamp(0.0, 1.0)
    finally:
        network.train(was_training)
    result = session.run([OUTPUT_NAME], {INPUT_NAME: image.numpy()})[0]
    if result.shape != tuple(reference.shape):
        raise OnnxExportError(f"onnxruntime output shape {result.shape} != PyTorch {tuple(reference.shape)}")
    return float(np.abs(result - reference.numpy()).max())


def weights_metadata(metadata: dict | None) -> dict[str, str]:
    if not metadata:
        return {}
    out = {}
    if "arch" in metadata:
        out["mlsm.arch"] = str(metadata["arch"])
    if "config" in metadata:
        config = metadata["config"]
        out["mlsm.config"] = json.dumps(dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config,
                                        sort_keys=True)
    if "card" in metadata:
        out["mlsm.card"] = json.dumps(metadata["card"], sort_keys=True)
    if metadata.get("exposure_head") is not None:  # the head runs outside the graph, in the onnxruntime backend
        head = metadata["exposure_head"]
        out["mlsm.exposure"] = json.dumps({"spec": head.spec(), "weight": head.weight.tolist()}, sort_keys=True)
    return out


def exposure_from_properties(path: Path, properties: dict) -> ExposureHead | None:
    if "mlsm.exposure" not in properties:
        return None
    try:
        record = json.loads(properties["mlsm.exposure"])
        return ExposureHead.from_spec(record["spec"], record["weight"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: unreadable mlsm.exposure metadata ({exc})") from None


def export_onnx(network: nn.Module, path: str | Path, *, opset: int = DEFAULT_OPSET, metadata: dict | None = None,
                overwrite: bool = False, tolerance: float = VERIFY_TOLERANCE) -> float:
    """Export ``network`` to ``path``, verify it with onnxruntime, then move it into place.

    ``metadata`` is the weight file's record (``arch``, ``config``, ``card``) to embed.
    Returns the max abs difference onnxruntime vs PyTorch on a random odd-size image.

    Raises:
        OnnxUnavailableError, OnnxExportError (also when the difference exceeds ``tolerance``),
        FileExistsError (``path`` exists and not ``overwrite``), OSError (cannot write).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: file exists (pass --overwrite to replace it)")
    model = export_onnx_bytes(network, opset, weights_metadata(metadata))
    difference = onnx_max_abs_diff(model, network)
    if not difference <= tolerance:
        raise OnnxExportError(f"onnxruntime differs from PyTorch by {difference:.3g} (> {tolerance:g}); "
                              "file not written")
    write_bytes_atomic(path, model)
    return difference
