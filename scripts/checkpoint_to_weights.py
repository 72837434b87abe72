"""Write a mapping run's checkpoint (``last.pt``) as a weight file ``mlsm enhance``/``mlsm eval`` load.

    python scripts/checkpoint_to_weights.py runs/map/last.pt --vae runs/vae/vaes.safetensors -o runs/map/step.safetensors
"""
import argparse
from pathlib import Path

import torch

from mlsm.models import Enhancer
from mlsm.models.weights import load_vae_weights, read_metadata, save_weights
from mlsm.train.checkpoint import load_init


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--vae", type=Path, required=True, help="the stage-1 vaes.safetensors")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    config = read_metadata(args.vae)["config"]
    network, card = Enhancer(config), {"stage": "map", "from_checkpoint": str(args.checkpoint)}
    load_vae_weights(network, args.vae, card)
    load_init(network, args.checkpoint, card, {"mapping": network.mapping, "decoder": network.vae_n.decoders,
                                                 "encoder": network.vae_c.encoders})
    card["step"] = int(torch.load(args.checkpoint, map_location="cpu", weights_only=True)["step"])
    save_weights(args.out, network, "enhancer", config, card)
    print(f"wrote {args.out} (step {card['step']})")


if __name__ == "__main__":
    main()
