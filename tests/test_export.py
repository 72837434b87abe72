"""ONNX export (``mlsm export-onnx``) and the onnxruntime backend (``--backend onnx``)."""
from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from mlsm.cli import main  # noqa: E402
from mlsm.inference.onnx_backend import OnnxEnhancer, load_onnx_model  # noqa: E402
from mlsm.inference.onnx_graph import OnnxUnavailableError, PaddedEnhancerGraph, export_onnx_bytes  # noqa: E402
from mlsm.io import read_image  # noqa: E402
from mlsm.models import Enhancer, ModelConfig, VAEConfig  # noqa: E402
from mlsm.inference import load_model  # noqa: E402
from mlsm.tiling import run_padded  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tiny_weights):
    return tiny_weights


@pytest.fixture(scope="module")
def onnx_path(weights, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert main(["export-onnx", "--model", weights, "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def torch_model(weights):
    return load_model(weights)


def _random_image(shape, seed=0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_export_prints_the_verification(weights, tmp_path, capsys):
    path = tmp_path / "m.onnx"
    assert main(["export-onnx", "--model", weights, "-o", str(path), "--opset", "17"]) == 0
    out = capsys.readouterr().out
    assert "max abs diff" in out and str(path) in out
    difference = float(out.split("max abs diff ")[1].split()[0])
    assert difference <= 1e-3
    assert path.is_file() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("shape", [(1, 3, 64, 96), (1, 3, 50, 70), (2, 3, 33, 41), (1, 3, 1, 1), (1, 3, 5, 3),
                                   (1, 3, 2, 90)])
def test_graph_matches_pytorch_on_any_size(onnx_path, torch_model, shape):
    """The graph pads inside (reflect, replicate when tiny), so any H, W and batch work."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["enhanced"]
    image = _random_image(shape)
    result = session.run(["enhanced"], {"image": image.numpy()})[0]
    network = torch_model.network
    with torch.no_grad():
        reference = run_padded(lambda x: network(x)["image"], image, network.size_multiple).clamp(0, 1)
    assert result.shape == shape
    assert np.abs(result - reference.numpy()).max() <= 1e-3


def test_metadata_travels_with_the_graph(onnx_path):
    model = load_onnx_model(onnx_path)
    assert isinstance(model, OnnxEnhancer)
    assert model.size_multiple == 32
    assert model.metadata["arch"] == "enhancer"
    assert model.metadata["card"]["note"] == "random init, tests"


def test_context_windows_travel_with_the_graph(weights, tmp_path):
    """A weight file's training crop (card["context"]) sets the ONNX backend's windows too."""
    from mlsm.models.weights import save_weights
    from mlsm.models.zoo import load_network
    network, metadata = load_network(weights)
    windowed = tmp_path / "windowed.safetensors"
    save_weights(windowed, network, metadata["arch"], metadata["config"], {**metadata["card"], "context": 64})
    path = tmp_path / "windowed.onnx"
    assert main(["export-onnx", "--model", str(windowed), "-o", str(path)]) == 0
    onnx_model, torch_model = load_onnx_model(path), load_model(windowed)
    assert onnx_model.context == torch_model.context == 64
    image = _random_image((100, 150, 3), seed=3).numpy()
    assert np.abs(onnx_model.enhance(image) - torch_model.enhance(image)).max() <= 1e-3
    assert np.abs(torch_model.enhance(image) - load_model(windowed, context=0).enhance(image)).max() > 1e-3


@pytest.mark.parametrize("size", [(64, 96), (50, 70)])
def test_onnx_backend_matches_torch_backend(onnx_path, torch_model, size):
    image = _random_image((*size, 3), seed=1).numpy()
    onnx_model = load_onnx_model(onnx_path)
    assert np.abs(onnx_model.enhance(image) - torch_model.enhance(image)).max() <= 1e-3


def test_onnx_backend_tiles_like_torch(onnx_path, weights):
    image = _random_image((100, 130, 3), seed=2).numpy()
    onnx_model = load_onnx_model(onnx_path, tile=64, overlap=16)
    torch_model = load_model(weights, tile=64, overlap=16)
    assert np.abs(onnx_model.enhance(image) - torch_model.enhance(image)).max() <= 1e-3


def test_onnx_backend_api_types(onnx_path):
    model = load_onnx_model(onnx_path)
    pixels = np.random.default_rng(0).integers(0, 256, (21, 34, 3), dtype=np.uint8)
    out = model.enhance(pixels)
    assert out.dtype == np.uint8 and out.shape == pixels.shape
    picture = model.enhance(Image.fromarray(pixels))
    assert isinstance(picture, Image.Image) and picture.size == (34, 21)
    tensor = model.enhance(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (3, 21, 34)


def test_enhance_cli_onnx_backend_equals_torch_backend(onnx_path, weights, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 80, (50, 70, 3), dtype=np.uint8)).save(folder / "a.png")
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 80, (64, 96, 3), dtype=np.uint8)).save(buffer, format="JPEG", quality=70)
    (folder / "b.jpg").write_bytes(buffer.getvalue())
    runs = {"torch": ["--model", weights], "onnx": ["--model", str(onnx_path), "--backend", "onnx"],
            "onnx_in_memory": ["--model", weights, "--backend", "onnx"]}
    for name, options in runs.items():
        assert main(["enhance", str(folder), "-o", str(tmp_path / name), *options]) == 0, name
    assert "Traceback" not in capsys.readouterr().err
    for file_name in ("a.png", "b.png"):
        reference = read_image(tmp_path / "torch" / file_name)[0]
        for name in ("onnx", "onnx_in_memory"):
            other = read_image(tmp_path / name / file_name)[0]
            assert other.shape == reference.shape
            assert np.abs(other - reference).max() <= 1.0 / 255 + 1e-6


def test_export_keeps_the_network_mode_and_device(weights):
    torch.manual_seed(0)
    config = ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))
    network = Enhancer(config).train()
    export_onnx_bytes(network)
    assert network.training  # the exporter's eval switch must not leak
    network.eval()
    export_onnx_bytes(network)
    assert not network.training


def test_padded_graph_equals_run_padded_in_pytorch():
    torch.manual_seed(0)
    network = Enhancer(ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))).eval()
    graph = PaddedEnhancerGraph(network)
    for shape in [(1, 3, 13, 21), (1, 3, 1, 40), (2, 3, 32, 64)]:
        image = _random_image(shape)
        with torch.no_grad():
            expected = run_padded(lambda x: network(x)["image"], image, 32).clamp(0, 1)
            torch.testing.assert_close(graph(image), expected, atol=1e-6, rtol=0)


def test_existing_output_needs_overwrite(weights, onnx_path, tmp_path, capsys):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"keep me")
    assert main(["export-onnx", "--model", weights, "-o", str(path)]) == 2
    assert path.read_bytes() == b"keep me"
    assert "exists" in capsys.readouterr().err
    assert main(["export-onnx", "--model", weights, "-o", str(path), "--overwrite"]) == 0
    assert load_onnx_model(path).size_multiple == 32


@pytest.mark.parametrize("options", [["--opset", "5"], ["--opset", "x"], ["-o", "model.txt"],
                                     ["--model", "no_such.model"]])
def test_export_usage_errors(weights, tmp_path, capsys, options):
    argv = ["export-onnx", "--model", weights, "-o", str(tmp_path / "m.onnx"), *options]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "m.onnx").exists()


def test_missing_extra_is_named(weights, onnx_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(OnnxUnavailableError, match=r"mlsm\[onnx\]"):
        load_onnx_model(onnx_path)
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    assert main(["enhance", str(image), "-o", str(tmp_path / "out"), "--model", str(onnx_path)]) == 2
    err = capsys.readouterr().err
    assert "mlsm[onnx]" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export-onnx", "--model", weights, "-o", str(tmp_path / "m.onnx")]) == 2
    assert "mlsm[onnx]" in capsys.readouterr().err


def test_not_an_onnx_file_is_a_usage_error(tmp_path, capsys):
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"definitely not protobuf")
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    assert main(["enhance", str(image), "-o", str(tmp_path / "out"), "--model", str(fake)]) == 2
    err = capsys.readouterr().err
    assert "fake.onnx" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
