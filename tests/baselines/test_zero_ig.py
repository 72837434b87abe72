"""Zero-IG (mlsm.baselines.zero_ig): structure, any-size inference, official weights.

How the golden means were derived (once, not by this implementation): the authors'
``model.py`` (repository Doyle59217/ZeroIG, commit 37789c74) was run from a copy under /tmp
with torch 2.13.0 on CPU; its ``loss``/``utils`` imports (training only) were stubbed and its
``torch.load(weights, map_location='cuda:0')`` redirected to the CPU. ``Finetunemodel(file)``
in ``eval()`` mode returns ``(H2, H3)``; the test script saves ``H3`` as ``*_denoise.png``
(the result) and ``H2`` as ``*_enhance.png``. The goldens are the per-channel means of
``H3`` on ``_pattern(h, w)`` as a (1, 3, h, w) tensor, rounded to 5 decimals; mlsm's output
matched theirs to 6e-7 (max |diff|) at 40x56 and at 37x53 (their graph takes any size).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mlsm.baselines.peers import PeerWeightsError, build_peer, load_torch_file
from mlsm.baselines.zero_ig import EPS, ZeroIG

from peer_samples import dim_pattern as _pattern, official_peers_dir as _peers_dir

# Authors' H3 (see the module docstring): {(name, (h, w)): per-channel means}.
AUTHORS_GOLDEN_MEANS = {
    ("zero_ig", (40, 56)): (0.50781, 0.44752, 0.46910),
    ("zero_ig", (37, 53)): (0.52992, 0.41945, 0.46235),
    ("zero_ig_lsrw", (40, 56)): (0.48344, 0.43081, 0.46734),
    ("zero_ig_lsrw", (37, 53)): (0.49856, 0.41244, 0.46529),
}
WEIGHT_FILES = {"zero_ig": "zeroig/LOL.pt", "zero_ig_lsrw": "zeroig/LSRW-Huawei.pt"}
STORED_VALUES = 198_252   # shared/peers/README.md: with BatchNorm statistics, shared block counted 4x


@pytest.fixture(scope="module")
def official(one_torch_thread):
    folder = _peers_dir()
    return {name: build_peer(name, folder) for name in WEIGHT_FILES}


# ---------------------------------------------------------------- always run

def test_enhancer_block_is_one_shared_module():
    model = ZeroIG()
    assert all(block is model.enhance.conv for block in model.enhance.blocks)
    assert len(model.enhance.blocks) == 3
    state = model.state_dict()
    assert {"enhance.conv.0.weight", "enhance.blocks.2.1.running_var"} <= set(state)


@pytest.mark.parametrize("size", [(7, 5), (1, 9), (9, 1), (1, 1), (13, 18)])
def test_any_size_random_weights(size, one_torch_thread):
    torch.manual_seed(0)
    model = ZeroIG().eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, *size) * 0.3)
    assert out.shape == (1, 3, *size)
    assert torch.isfinite(out).all() and out.min() >= EPS and out.max() <= 1


def test_forward_is_the_second_denoiser_output_not_the_plain_enhancement(one_torch_thread):
    torch.manual_seed(0)
    model = ZeroIG().eval()
    image = torch.rand(1, 3, 12, 10) * 0.3
    with torch.no_grad():
        parts = model.stages(image)
        out = model(image)
    assert torch.equal(out, parts["output"])
    assert not torch.allclose(out, parts["enhanced"], atol=1e-3)
    # H is the *input* (not the denoised L) divided by the illumination
    expected = torch.clamp((image + EPS) / parts["illumination"], EPS, 1)
    assert torch.allclose(parts["enhanced"], expected, atol=1e-7)


def test_file_whose_block_copies_differ_is_a_typed_error(tmp_path):
    state = ZeroIG().state_dict()
    state["enhance.blocks.1.0.bias"] = state["enhance.blocks.1.0.bias"] + 1.0
    (tmp_path / "zeroig").mkdir()
    torch.save(state, tmp_path / "zeroig" / "LOL.pt")
    with pytest.raises(PeerWeightsError, match=r"enhance\.blocks\.1\.0\.bias"):
        build_peer("zero_ig", tmp_path)


# ---------------------------------------------------------------- official weights

@pytest.mark.weights
@pytest.mark.parametrize("name", sorted(WEIGHT_FILES))
def test_official_file_loads_strictly(name):
    state = load_torch_file(_peers_dir() / WEIGHT_FILES[name])
    result = ZeroIG().load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked")) == STORED_VALUES
    for index in range(3):  # the stored copies are the shared block
        assert torch.equal(state[f"enhance.blocks.{index}.0.weight"], state["enhance.conv.0.weight"])


@pytest.mark.weights
@pytest.mark.parametrize("name, size", sorted(AUTHORS_GOLDEN_MEANS))
def test_golden_means_from_the_authors_forward_pass(official, name, size):
    out = official[name](_pattern(*size))
    means = out.mean(axis=(0, 1))
    assert np.allclose(means, AUTHORS_GOLDEN_MEANS[(name, size)], atol=2e-5), means.tolist()


@pytest.mark.weights
@pytest.mark.parametrize("size", [(7, 5), (1, 9), (9, 1)])
def test_official_any_size(official, size):
    image = _pattern(64, 64)[: size[0], : size[1]]
    for method in official.values():
        out = method(image)
        assert out.shape == image.shape and np.isfinite(out).all()
        assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.weights
def test_official_denoiser_smooths_noise(official):
    """Zero-IG's point: its output is less noisy than plain Retinex division of the input."""
    rng = np.random.default_rng(0)
    flat = np.full((48, 48, 3), 0.08, dtype=np.float32)
    noisy = np.clip(flat + rng.normal(0, 0.01, flat.shape), 0, 1).astype(np.float32)
    module = official["zero_ig"].module
    with torch.no_grad():
        parts = module.stages(torch.from_numpy(noisy).permute(2, 0, 1)[None])
    assert float(parts["output"].std()) < float(parts["enhanced"].std())
