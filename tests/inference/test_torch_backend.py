"""EnhancementModel: a torch network behind the shared InferenceModel API."""
from __future__ import annotations

import numpy as np
import torch

from mlsm.inference.base import SHIFT, InferenceModel
from mlsm.inference.torch_backend import EnhancementModel
from mlsm.models.zoo import load_network
from mlsm.tiling import run_padded


def test_whole_image_equals_the_padded_network(tiny_weights):
    network, metadata = load_network(tiny_weights)
    model = EnhancementModel(network, metadata, shift_ensemble=False, monotone_gain=False,
                              colour_balance=False)  # the network's own
    assert isinstance(model, InferenceModel)
    assert model.size_multiple == network.size_multiple and model.name == "mlsm"
    image = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(0))
    run = lambda x: run_padded(lambda t: network(t)["image"].clamp(0, 1), x, network.size_multiple)  # noqa: E731
    with torch.no_grad():
        reference = run(image)
        # an image under SHIFT pixels a side is edge-replicated (larger ones are mirrored)
        shifted = run(torch.nn.functional.pad(image, (SHIFT, 0, SHIFT, 0), mode="replicate"))[..., SHIFT:, SHIFT:]
    assert torch.equal(model.enhance_tensor(image), reference.clamp(0, 1))
    # the default shift ensemble: the mean of the pass on the image and the pass shifted by SHIFT pixels
    torch.testing.assert_close(EnhancementModel(network, metadata, monotone_gain=False,
                                               colour_balance=False).enhance_tensor(image),
                               (reference + shifted) / 2,
                               atol=1e-6, rtol=0)


def test_network_is_put_in_eval_mode_on_the_device(tiny_weights):
    network, _ = load_network(tiny_weights)
    network.train()
    model = EnhancementModel(network, device="cpu", tile=64, overlap=16)
    assert not model.network.training and model.options.tile == 64
    out = model.enhance(np.zeros((70, 80, 3), np.uint8))
    assert out.shape == (70, 80, 3) and out.dtype == np.uint8
