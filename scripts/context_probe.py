"""Probe behind MODEL_CARD's stage 2b: does a model trained on 64x64 crops lose quality when
it sees a whole photo instead of crop-sized contexts?

Scores a model on the first QF-90 images of an eval set, whole and in overlapping tiles of
64, 128 and 256 px (tiles blended by mlsm.tiling.run_tiled), with PSNR against ground truth.

    python scripts/context_probe.py MODEL.safetensors data/kodak24_synth
    python scripts/context_probe.py runs/map/last.pt data/kodak24_synth --vae runs/vae/vaes.safetensors
"""
import argparse

import numpy as np
import torch

from mlsm.data.evalset import load_evalset
from mlsm.io import read_image
from mlsm.io.convert import quantize_8bit, to_array, to_tensor
from mlsm.metrics import psnr
from mlsm.models.zoo import load_network
from mlsm.tiling import run_tiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("evalset")
    parser.add_argument("--images", nargs="+", default=["kodim01", "kodim05", "kodim13", "kodim20"])
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--vae", help="stage-1 weights, when MODEL is a mapping run's last.pt")
    args = parser.parse_args()
    if args.model.endswith(".pt"):
        from mlsm.models import Enhancer
        from mlsm.models.weights import load_vae_weights, read_metadata
        from mlsm.train.checkpoint import load_init

        network = Enhancer(read_metadata(args.vae)["config"])
        load_vae_weights(network, args.vae, {})
        load_init(network, __import__("pathlib").Path(args.model), {},
                  {"mapping": network.mapping, "decoder": network.vae_n.decoders})
        network.eval()
    else:
        network, _ = load_network(args.model)
    items = [item for item in load_evalset(args.evalset).items if item.name in args.images]

    def score(run) -> float:
        values = []
        for item in items:
            low, _ = read_image(item.low[args.quality])
            gt, _ = read_image(item.gt)
            with torch.no_grad():
                out = to_array(run(to_tensor(low)).clamp(0, 1))
            values.append(psnr(quantize_8bit(out), gt))
        return float(np.mean(values))

    print(f"whole image: {score(lambda x: network(x)['image']):.2f} dB")
    for tile in (64, 128, 256):
        run = lambda x, t=tile: run_tiled(lambda p: network(p)["image"], x, tile=t, overlap=t // 2,  # noqa: E731
                                         multiple=network.size_multiple)
        print(f"tiles of {tile}: {score(run):.2f} dB")


if __name__ == "__main__":
    main()
