"""ONNX export of an mlsm network and an onnxruntime backend with the ``EnhancementModel`` API.

    mlsm export-onnx [--model NAME|PATH] -o model.onnx [--opset 17] [--overwrite]

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
  ``mlsm.card`` (JSON), so :func:`load_onnx_model` tiles exactly like the PyTorch backend.
* After export the file is checked with onnxruntime against PyTorch on a random image of an
  odd size (max abs difference must be <= 1e-3) before it is moved into place.

:class:`OnnxEnhancer` runs an exported graph through :func:`mlsm.tiling.run_tiled` (tiles
padded outside the graph too, so tiling and padding match the PyTorch backend; the graph's
own padding is then a no-op). Given a ``.safetensors`` file or a zoo name instead of an
``.onnx`` file, :func:`load_onnx_model` exports the network in memory at start-up (a few
seconds, nothing is cached on disk); run ``mlsm export-onnx`` once to skip that cost.

onnx and onnxruntime come with the optional extra ``mlsm[onnx]``; they are imported only
when needed, and their absence raises :class:`OnnxUnavailableError` naming the extra.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlsm.atomic import write_bytes_atomic
from mlsm.models.exposure import ExposureHead
from mlsm.models.zoo import EnhancementModel
from mlsm.tiling import run_padded, run_tiled
from mlsm.cli import int_in_range, print_error as _error

__all__ = ["OnnxUnavailableError", "OnnxExportError", "PaddedEnhancerGraph", "export_onnx_bytes",
           "onnx_max_abs_diff", "export_onnx", "OnnxEnhancer", "load_onnx_model", "register", "run"]

INPUT_NAME = "image"
OUTPUT_NAME = "enhanced"
DEFAULT_OPSET = 17
VERIFY_TOLERANCE = 1e-3
VERIFY_SIZE = (67, 93)  # odd on purpose: exercises the in-graph padding


class OnnxUnavailableError(ImportError):
    """onnx / onnxruntime are not installed (they come with ``pip install 'mlsm[onnx]'``)."""


class OnnxExportError(RuntimeError):
    """Export failed, or onnxruntime disagrees with PyTorch beyond the tolerance."""


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailableError(
            f"the ONNX backend needs onnxruntime, from the optional extra: pip install 'mlsm[onnx]' ({exc})"
        ) from None
    return onnxruntime


def _import_onnx():
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
    onnx = _import_onnx()
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


def _session(model: bytes | str | Path, device: str = "cpu", threads: int | None = None):
    ort = _import_onnxruntime()
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
    session = _session(model)
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


def _weights_metadata(metadata: dict | None) -> dict[str, str]:
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
    if metadata.get("exposure_head") is not None:  # the head runs outside the graph, in OnnxEnhancer
        head = metadata["exposure_head"]
        out["mlsm.exposure"] = json.dumps({"spec": head.spec(), "weight": head.weight.tolist()}, sort_keys=True)
    return out


def _exposure_from_properties(path: Path, properties: dict) -> ExposureHead | None:
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
    model = export_onnx_bytes(network, opset, _weights_metadata(metadata))
    difference = onnx_max_abs_diff(model, network)
    if not difference <= tolerance:
        raise OnnxExportError(f"onnxruntime differs from PyTorch by {difference:.3g} (> {tolerance:g}); "
                              "file not written")
    write_bytes_atomic(path, model)
    return difference


# --------------------------------------------------------------------------- the backend


class OnnxEnhancer(EnhancementModel):
    """onnxruntime twin of :class:`~mlsm.models.zoo.EnhancementModel` (same ``enhance`` API).

    Tiles go through :func:`mlsm.tiling.run_tiled` with the graph's ``size_multiple``, so
    the tiling matches the PyTorch backend. Tensors come back on the CPU.
    """

    def __init__(self, session, metadata: dict | None = None, size_multiple: int = 1,
                 tile: int = 1024, overlap: int = 128, calibrate_exposure: bool = True, brightness: float = 1.0):
        self.session = session
        self.metadata = metadata or {}
        self.size_multiple = int(size_multiple)
        self.device = torch.device("cpu")
        self.tile = tile
        self.overlap = overlap
        self.name = "mlsm-onnx"
        self._set_exposure(calibrate_exposure, brightness)

    def _run_graph(self, image: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(image.numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: array})[0])

    def _run_network(self, image: torch.Tensor) -> torch.Tensor:
        return run_tiled(self._run_graph, image.detach().cpu(), tile=self.tile, overlap=self.overlap,
                         multiple=self.size_multiple)


def load_onnx_model(name_or_path: str | Path, device: str = "cpu", tile: int = 1024, overlap: int = 128,
                    threads: int | None = None, opset: int = DEFAULT_OPSET, calibrate_exposure: bool = True,
                    brightness: float = 1.0) -> OnnxEnhancer:
    """An :class:`OnnxEnhancer` from an ``.onnx`` file, or from weights exported in memory.

    ``name_or_path`` ending in ``.onnx`` is loaded as is; anything else goes through
    :func:`mlsm.models.zoo.load_network` and :func:`export_onnx_bytes` (verified, no file).
    ``device="cuda"`` uses onnxruntime's CUDA provider when that build is installed.
    """
    _import_onnxruntime()
    text = str(name_or_path)
    if text.lower().endswith(".onnx"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file")
        try:
            session = _session(path, device, threads)
        except Exception as exc:
            raise ValueError(f"{path}: not a loadable ONNX model ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())})") from None
        names_in = [node.name for node in session.get_inputs()]
        names_out = [node.name for node in session.get_outputs()]
        if INPUT_NAME not in names_in or OUTPUT_NAME not in names_out:
            raise ValueError(f"{path}: not an mlsm export (inputs {names_in}, outputs {names_out}; "
                             f"expected {INPUT_NAME!r} -> {OUTPUT_NAME!r})")
        properties = dict(session.get_modelmeta().custom_metadata_map)
        metadata = {key[len("mlsm."):]: value for key, value in properties.items() if key.startswith("mlsm.")}
        metadata["exposure_head"] = _exposure_from_properties(path, properties)
        multiple = int(properties.get("mlsm.size_multiple", 1))
        return OnnxEnhancer(session, metadata, multiple, tile=tile, overlap=overlap,
                            calibrate_exposure=calibrate_exposure, brightness=brightness)
    from mlsm.models.zoo import load_network

    network, metadata = load_network(name_or_path, "cpu")
    model = export_onnx_bytes(network, opset, _weights_metadata(metadata))
    difference = onnx_max_abs_diff(model, network)
    if not difference <= VERIFY_TOLERANCE:
        raise OnnxExportError(f"{text}: in-memory ONNX export differs from PyTorch by {difference:.3g}")
    return OnnxEnhancer(_session(model, device, threads), metadata, network.size_multiple, tile=tile, overlap=overlap,
                        calibrate_exposure=calibrate_exposure, brightness=brightness)


# --------------------------------------------------------------------------- command line


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-onnx", help="export a model to ONNX (dynamic batch/height/width) and verify it",
        description="Export the network to ONNX: input 'image' (N, 3, H, W) in [0, 1], any H and W "
                    "(reflect padding is inside the graph), output 'enhanced'. The file is checked "
                    "with onnxruntime against PyTorch before it is written. Needs mlsm[onnx].")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="zoo name or .safetensors file (default: the bundled default model)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.onnx", help="output file")
    parser.add_argument("--opset", type=int_in_range("opset", 11, 23), default=DEFAULT_OPSET,
                        help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit codes: 0 written, 1 export/verification/write failed, 2 usage (model, extra, path)."""
    from mlsm.enhance_cli import ModelUnavailableError, resolve_network

    if args.output.suffix.lower() != ".onnx":
        return _error(f"{args.output}: output must end in .onnx", 2)
    try:
        _import_onnx()
        _import_onnxruntime()
        network, metadata = resolve_network(args.model)
    except (OnnxUnavailableError, ModelUnavailableError) as exc:
        return _error(exc, 2)
    try:
        difference = export_onnx(network, args.output, opset=args.opset, metadata=metadata,
                                 overwrite=args.overwrite)
    except FileExistsError as exc:
        return _error(exc, 2)
    except (OnnxExportError, OSError) as exc:
        return _error(f"{args.output}: {exc}", 1)
    height, width = VERIFY_SIZE
    print(f"wrote {args.output} (opset {args.opset}, dynamic batch/height/width, any size); "
          f"onnxruntime vs PyTorch max abs diff {difference:.3g} on a random 1x3x{height}x{width} image")
    return 0
