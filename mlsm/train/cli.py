"""``mlsm train vae|map|direct``: the two training stages of the paper and the ablation.

::

    mlsm train vae    --config configs/mlsm_small.yaml --out runs/vae          # stage 1 (eq. 12-13)
    mlsm train map    --config configs/mlsm_small.yaml --vae runs/vae/vaes.safetensors --out runs/map
    mlsm train map    --config configs/mlsm_small.yaml --init runs/map/model.safetensors \
                      --set mapping.tune_decoder=true --out runs/tune              # fine-tune D_N too
    mlsm train direct --config configs/mlsm_small.yaml --out runs/direct       # IV-F ablation
    mlsm train exposure --config configs/mlsm_small.yaml --init runs/tune/model.safetensors \
                      --out runs/final      # fit the global exposure head, attach it
    mlsm train keep-gate --config configs/keep_gate.yaml --init runs/final/model.safetensors \
                      --out runs/keep     # fit the do-no-harm keep gate onto that head
    torchrun --nproc_per_node 4 -m mlsm train vae ...                           # DDP (NCCL / gloo)

``--resume`` continues an interrupted run from ``OUT/last.pt`` on the same schedule (a changed
learning-rate schedule is refused unless ``--force``).
Each stage ends by writing safetensors weights with their metadata record into ``OUT``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mlsm.atomic import write_text_atomic
from mlsm.config import ConfigError, dump_config, load_config

STAGES = ("vae", "map", "direct", "exposure", "keep-gate")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a stage (vae, map), the direct ablation or the exposure head",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--config", type=Path, help="experiment YAML (defaults: the mlsm_small config)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.steps=2000 (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, logs, weights)")
    parser.add_argument("--vae", type=Path, help="stage-1 weights (vaes.safetensors) for `map`")
    parser.add_argument("--init", type=Path, help="start from a trained model.safetensors (every tensor, "
                                                  "strict; replaces --vae) or from a run's last.pt "
                                                  "(its networks; `map` then also needs --vae)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--force", action="store_true",
                        help="with --resume: continue even though the learning-rate schedule changed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlsm.train.experiment import Experiment
    try:
        experiment = load_config(Experiment, args.config, args.overrides)
    except (ConfigError, OSError) as exc:
        print(f"mlsm train: error: {exc}", file=sys.stderr)
        return 2
    init_is_weights = args.init is not None and args.init.suffix == ".safetensors"
    if args.stage in ("exposure", "keep-gate"):
        if not init_is_weights:
            print(f"mlsm train: error: `{args.stage}` needs --init MODEL.safetensors (the network to calibrate)",
                  file=sys.stderr)
            return 2
        try:
            (fit_exposure if args.stage == "exposure" else fit_keep_gate_stage)(experiment, args.init, args.out)
        except (FileNotFoundError, ValueError, OSError) as exc:
            print(f"mlsm train: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 1
        return 0
    if args.stage == "map" and args.vae is None and not init_is_weights:
        print("mlsm train: error: `map` needs --vae PATH (the stage-1 vaes.safetensors) or --init PATH",
              file=sys.stderr)
        return 2
    try:
        result = train(args.stage, experiment, args.out, vae_weights=args.vae, resume=args.resume,
                       init_weights=args.init, force=args.force)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"mlsm train: error: {exc}", file=sys.stderr)
        return 1
    stopped = experiment.train.stop_after is not None and result.step >= experiment.train.stop_after
    return 0 if result.finished or result.interrupted or stopped else 1


def train(stage_name: str, experiment, out_dir: Path, vae_weights: Path | None = None, resume: bool = False,
          init_weights: Path | None = None, force: bool = False):
    """Build the stage for ``stage_name`` and run it; returns the loop's ``TrainResult``.

    ``init_weights`` loads every tensor of a trained weight file first (strict), e.g. to
    fine-tune a finished mapping stage with ``mapping.tune_decoder``.
    """
    from mlsm.models.enhancer import DirectEnhancer, Enhancer
    from mlsm.models.weights import load_vae_weights, save_weights
    from mlsm.train.checkpoint import load_init
    from mlsm.train.experiment import build_training_data, build_validation
    from mlsm.train.loop import Trainer
    from mlsm.train.stages import DirectStage, MappingStage, VAEStage

    import torch

    validation = build_validation(experiment.data)
    dataset = build_training_data(experiment.data, experiment.train.seed)
    # fresh networks (a VAE, the mappers, the discriminator) start from train.seed, so that two
    # runs of one config agree whatever ran before in the process
    torch.manual_seed(experiment.train.seed)
    card = {"stage": stage_name, "config": dump_config(experiment),
            # inference runs the network in windows of its training crop (InferenceOptions.context)
            "context": experiment.data.crop_size,
            "trained": time.strftime("%Y-%m-%d"), "paper": "Zeng et al., Multiple Latent Space Mapping "
            "for Compressed Dark Image Enhancement"}
    if stage_name == "direct":
        model = DirectEnhancer(experiment.model)
        load_init(model, init_weights, card, {"network": model.network})
        stage = DirectStage(model, experiment.loss, validation)
        arch, weights_name = "direct", "model.safetensors"
    else:
        model = Enhancer(experiment.model)
        if stage_name == "map" and (init_weights is None or init_weights.suffix == ".pt"):
            load_vae_weights(model, vae_weights, card)
        load_init(model, init_weights, card, {"vae_c": model.vae_c, "vae_n": model.vae_n,
                                              "mapping": model.mapping, "decoder": model.vae_n.decoders,
                                              "encoder": model.vae_c.encoders})
        if stage_name == "vae":
            stage = VAEStage(model, experiment.loss, validation)
            weights_name = "vaes.safetensors"
        else:
            stage = MappingStage(model, experiment.loss, validation, experiment.mapping.tune_decoder,
                                 experiment.mapping.tune_encoder)
            weights_name = "model.safetensors"
        arch = "enhancer"

    def on_finish(out: Path) -> None:
        card["steps"] = experiment.train.steps
        save_weights(Path(out) / weights_name, model.cpu(), arch, experiment.model, card)

    def on_best(out: Path, step: int, value: float) -> None:
        best_card = {**card, "steps": experiment.train.steps,
                     "best": {"step": step, experiment.train.keep_best: value}}
        save_weights(Path(out) / "best.safetensors", model, arch, experiment.model, best_card)

    if hasattr(stage, "context"):  # validate as inference runs: in windows of the training crop
        stage.context = experiment.data.crop_size
    stage.on_finish = on_finish
    stage.on_best = on_best
    trainer = Trainer(stage, dataset, experiment.train, out_dir, config=dump_config(experiment))
    return trainer.run(resume=resume, force=force)


def fit_exposure(experiment, weights: Path, out_dir: Path) -> Path:
    """Fit the exposure head on the experiment's photos and ranges; write OUT/model.safetensors."""
    import json

    from mlsm.data.synthetic import load_photos
    from mlsm.train.exposure import attach_exposure_head, fit_exposure_head

    if experiment.train.num_threads:
        import torch

        torch.set_num_threads(experiment.train.num_threads)
    photos = load_photos([Path(p) for p in experiment.data.photos])
    pairs = exposure_pairs(experiment.data) if experiment.exposure.pair_draws else []
    enhance = None
    if experiment.exposure.output_feature:  # the network's own output, up to the head (no detail transfer)
        from mlsm.inference import load_model

        enhance = load_model(weights, calibrate_exposure=False, detail=0.0).enhance
    head, fit = fit_exposure_head(photos, experiment.data.ranges(), experiment.exposure, experiment.train.seed,
                                  pairs=pairs, enhance=enhance)
    fit["photos_from"] = list(experiment.data.photos)
    fit["pairs_from"] = list(experiment.data.pairs)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = attach_exposure_head(weights, head, out_dir / "model.safetensors", fit)
    write_text_atomic(out_dir / "exposure_fit.json", json.dumps(fit, indent=2) + "\n")
    print(f"exposure head: {fit['samples']} samples, train RMSE of the log mean {fit['train_rmse_log_mean']}"
          f" -> {path}")
    return path


def fit_keep_gate_stage(experiment, weights: Path, out_dir: Path) -> Path:
    """Fit the keep gate (do no harm), the brightness floor and its colour share on the experiment's photos and
    pairs and attach them to the exposure head of ``weights`` (its regression unchanged); write
    OUT/model.safetensors."""
    import json

    from mlsm.data.synthetic import load_photos
    from mlsm.models.exposure import ExposureHead
    from mlsm.models.zoo import load_network
    from mlsm.train.exposure import attach_exposure_head, fit_keep_gate

    if experiment.train.num_threads:
        import torch

        torch.set_num_threads(experiment.train.num_threads)
    metadata = load_network(weights)[1]
    head = metadata["exposure_head"]
    if head is None:
        raise ValueError(f"{weights}: no exposure head to attach a keep gate to (run `mlsm train exposure` first)")
    photos = load_photos([Path(p) for p in experiment.data.photos])
    pairs = exposure_pairs(experiment.data) if experiment.data.pairs else []
    gate, fit = fit_keep_gate(head, photos, experiment.exposure, experiment.train.seed, pairs=pairs)
    spec = {key: value for key, value in head.spec().items()
            if key not in ("keep_input", "floor_log_mean", "floor_chroma")}
    floor = {key: fit[key] for key in ("floor_log_mean", "floor_chroma") if key in fit}
    gated = ExposureHead.from_spec({**spec, "keep_gate": gate, **floor}, head.weight)
    fit["photos_from"] = list(experiment.data.photos)
    fit["pairs_from"] = list(experiment.data.pairs)
    out_dir.mkdir(parents=True, exist_ok=True)
    card_fit = {**(metadata["card"].get("exposure_head") or {}), "keep_gate": fit}
    path = attach_exposure_head(weights, gated, out_dir / "model.safetensors", card_fit)
    write_text_atomic(out_dir / "keep_gate_fit.json", json.dumps(fit, indent=2) + "\n")
    print(f"keep gate: {fit['samples']} samples, kept fraction by group {fit['kept_fraction_by_group']} -> {path}")
    return path


def exposure_pairs(data) -> list:
    """Whole (low, high) images of the training pairs (:meth:`DataConfig.training_pairs`) for
    the exposure fit: the head is a whole-image statistic."""
    from mlsm.io import read_image

    return [(read_image(pair.low)[0], read_image(pair.high)[0]) for pair in data.training_pairs()]
