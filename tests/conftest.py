"""Fixtures shared across the test tree."""
import pytest
import torch

from mlsm.models import Enhancer, ModelConfig, VAEConfig
from mlsm.models.weights import save_weights


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors: thread start-up costs more than it saves on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> str:
    """A real Enhancer of widths 4/6/8 with random weights (seed 0) saved as safetensors."""
    torch.manual_seed(0)
    config = ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_weights(path, Enhancer(config), "enhancer", config, card={"note": "random init, tests"}))
