"""``mlsm train vae|map|direct``: the two training stages of the paper and the ablation.

::

    mlsm train vae    --config configs/mlsm_small.yaml --out runs/vae          # stage 1 (eq. 12-13)
    mlsm train map    --config configs/mlsm_small.yaml --vae runs/vae/vaes.safetensors --out runs/map
    mlsm train direct --config configs/mlsm_small.yaml --out runs/direct       # IV-F ablation
    torchrun --nproc_per_node 4 -m mlsm train vae ...                           # DDP (NCCL / gloo)

``--resume`` continues an interrupted run from ``OUT/last.pt`` on the same schedule.
Each stage ends by writing safetensors weights with their metadata record into ``OUT``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mlsm.config import ConfigError, dump_config, load_config

STAGES = ("vae", "map", "direct")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a stage (vae, map) or the direct ablation",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--config", type=Path, help="experiment YAML (defaults: the mlsm_small config)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.steps=2000 (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, logs, weights)")
    parser.add_argument("--vae", type=Path, help="stage-1 weights (vaes.safetensors) for `map`")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlsm.train.experiment import Experiment
    try:
        experiment = load_config(Experiment, args.config, args.overrides)
    except (ConfigError, OSError) as exc:
        print(f"mlsm train: error: {exc}", file=sys.stderr)
        return 2
    if args.stage == "map" and args.vae is None:
        print("mlsm train: error: `map` needs --vae PATH (the stage-1 vaes.safetensors)", file=sys.stderr)
        return 2
    try:
        result = train(args.stage, experiment, args.out, vae_weights=args.vae, resume=args.resume)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"mlsm train: error: {exc}", file=sys.stderr)
        return 1
    return 0 if result.finished or result.interrupted else 1


def train(stage_name: str, experiment, out_dir: Path, vae_weights: Path | None = None, resume: bool = False):
    """Build the stage for ``stage_name`` and run it; returns the loop's ``TrainResult``."""
    from mlsm.models.enhancer import DirectEnhancer, Enhancer
    from mlsm.models.weights import load_weights, save_weights
    from mlsm.train.experiment import build_training_data, build_validation
    from mlsm.train.loop import Trainer
    from mlsm.train.stages import DirectStage, MappingStage, VAEStage

    validation = build_validation(experiment.data)
    dataset = build_training_data(experiment.data, experiment.train.seed)
    card = {"stage": stage_name, "config": dump_config(experiment),
            "trained": time.strftime("%Y-%m-%d"), "paper": "Zeng et al., Multiple Latent Space Mapping "
            "for Compressed Dark Image Enhancement"}
    if stage_name == "direct":
        model = DirectEnhancer(experiment.model)
        stage = DirectStage(model, experiment.loss, validation)
        arch, weights_name = "direct", "model.safetensors"
    else:
        model = Enhancer(experiment.model)
        if stage_name == "vae":
            stage = VAEStage(model, experiment.loss, validation)
            weights_name = "vaes.safetensors"
        else:
            metadata, tensors = load_weights(vae_weights)
            vae_tensors = {k: v for k, v in tensors.items() if k.startswith(("vae_c.", "vae_n."))}
            missing = model.load_state_dict(vae_tensors, strict=False).missing_keys
            if any(not k.startswith("mapping.") for k in missing):
                raise ValueError(f"{vae_weights}: lacks VAE tensors {missing[:3]}...")
            card["vae_weights"] = str(vae_weights)
            card["vae_card"] = metadata["card"]
            stage = MappingStage(model, experiment.loss, validation, experiment.mapping.tune_decoder)
            weights_name = "model.safetensors"
        arch = "enhancer"

    def on_finish(out: Path) -> None:
        card["steps"] = experiment.train.steps
        save_weights(Path(out) / weights_name, model.cpu(), arch, experiment.model, card)

    stage.on_finish = on_finish
    trainer = Trainer(stage, dataset, experiment.train, out_dir, config=dump_config(experiment))
    return trainer.run(resume=resume)
