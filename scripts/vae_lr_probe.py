"""Probe behind MODEL_CARD's choice of lr 1e-3 and a narrow initial posterior for stage 1.

Trains VAE_N of the mlsm_small config for 400 steps (batch 16 of 64x64 clean crops, seed 0)
with three settings and prints the reconstruction PSNR on the 6 validation crops.

    python scripts/vae_lr_probe.py
"""
import numpy as np
import torch

from mlsm.losses import kl_divergence
from mlsm.models import MultiLevelVAE, VAEConfig
from mlsm.train.experiment import Experiment, build_training_data, build_validation


def probe(lr: float, logvar_bias: float, steps: int = 400) -> float:
    torch.manual_seed(0)
    experiment = Experiment()
    data, validation = build_training_data(experiment.data, 0), build_validation(experiment.data)
    vae = MultiLevelVAE(VAEConfig())
    for encoder in vae.encoders:
        torch.nn.init.constant_(encoder.logvar.bias, logvar_bias)
    optimiser = torch.optim.Adam(vae.parameters(), lr)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        clean = torch.stack([data.get_item(0, rng)["high"] for _ in range(16)])
        out = vae(clean)
        loss = (out["image"] - clean).abs().mean() + 1e-4 * sum(
            kl_divergence(m, v) for m, v in zip(out["means"], out["logvars"]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    vae.eval()
    with torch.no_grad():
        scores = [float(10 * torch.log10(1 / (vae(v["high"][None])["image"].clamp(0, 1) - v["high"][None])
                                         .pow(2).mean())) for v in validation]
    return float(np.mean(scores))


if __name__ == "__main__":
    torch.set_num_threads(2)
    for lr, bias in ((2e-4, 0.0), (2e-4, -6.0), (1e-3, -6.0)):
        print(f"lr={lr:g} logvar bias={bias:g}: VAE_N validation PSNR {probe(lr, bias):.2f} dB", flush=True)
