"""``mlsm train vae|map|direct``: the two training stages of the paper and the ablation.

::

    mlsm train vae    --config configs/mlsm_small.yaml --out runs/vae          # stage 1 (eq. 12-13)
    mlsm train map    --config configs/mlsm_small.yaml --vae runs/vae/vaes.safetensors --out runs/map
    mlsm train map    --config configs/mlsm_small.yaml --init runs/map/model.safetensors \
                      --set mapping.tune_decoder=true --out runs/tune              # fine-tune D_N too
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
    parser.add_argument("--init", type=Path, help="start from every tensor of a trained model.safetensors "
                                                  "(strict; for `map` it replaces --vae)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlsm.train.experiment import Experiment
    try:
        experiment = load_config(Experiment, args.config, args.overrides)
    except (ConfigError, OSError) as exc:
        print(f"mlsm train: error: {exc}", file=sys.stderr)
        return 2
    if args.stage == "map" and args.vae is None and args.init is None:
        print("mlsm train: error: `map` needs --vae PATH (the stage-1 vaes.safetensors) or --init PATH",
              file=sys.stderr)
        return 2
    try:
        result = train(args.stage, experiment, args.out, vae_weights=args.vae, resume=args.resume,
                       init_weights=args.init)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"mlsm train: error: {exc}", file=sys.stderr)
        return 1
    return 0 if result.finished or result.interrupted else 1


def train(stage_name: str, experiment, out_dir: Path, vae_weights: Path | None = None, resume: bool = False,
          init_weights: Path | None = None):
    """Build the stage for ``stage_name`` and run it; returns the loop's ``TrainResult``.

    ``init_weights`` loads every tensor of a trained weight file first (strict), e.g. to
    fine-tune a finished mapping stage with ``mapping.tune_decoder``.
    """
    from mlsm.models.enhancer import DirectEnhancer, Enhancer
    from mlsm.models.weights import save_weights
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
        _load_init(model, init_weights, card)
        stage = DirectStage(model, experiment.loss, validation)
        arch, weights_name = "direct", "model.safetensors"
    else:
        model = Enhancer(experiment.model)
        _load_init(model, init_weights, card)
        if stage_name == "vae":
            stage = VAEStage(model, experiment.loss, validation)
            weights_name = "vaes.safetensors"
        else:
            if init_weights is None:
                _load_vaes(model, vae_weights, card)
            stage = MappingStage(model, experiment.loss, validation, experiment.mapping.tune_decoder)
            weights_name = "model.safetensors"
        arch = "enhancer"

    def on_finish(out: Path) -> None:
        card["steps"] = experiment.train.steps
        save_weights(Path(out) / weights_name, model.cpu(), arch, experiment.model, card)

    stage.on_finish = on_finish
    trainer = Trainer(stage, dataset, experiment.train, out_dir, config=dump_config(experiment))
    return trainer.run(resume=resume)


def _load_init(model, init_weights: Path | None, card: dict) -> None:
    from mlsm.models.weights import load_weights

    if init_weights is None:
        return
    metadata, tensors = load_weights(init_weights)
    if metadata["config"] != model.config:
        raise ValueError(f"{init_weights}: its model config differs from the experiment's model section")
    model.load_state_dict(tensors, strict=True)
    card["init_weights"] = str(init_weights)
    card["init_card"] = metadata["card"]


def _load_vaes(model, vae_weights: Path, card: dict) -> None:
    """Stage-1 VAE tensors into ``model``; the mappers keep their fresh initialisation."""
    from mlsm.models.weights import load_weights

    metadata, tensors = load_weights(vae_weights)
    vae_tensors = {k: v for k, v in tensors.items() if k.startswith(("vae_c.", "vae_n."))}
    missing = model.load_state_dict(vae_tensors, strict=False).missing_keys
    if any(not k.startswith("mapping.") for k in missing):
        raise ValueError(f"{vae_weights}: lacks VAE tensors {missing[:3]}...")
    card["vae_weights"] = str(vae_weights)
    card["vae_card"] = metadata["card"]
