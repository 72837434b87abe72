"""Training speed of each stage of the default config on this machine (steps per second).

Runs the real stages of ``mlsm.train.stages`` with Adam on synthetic pairs from the
configured photos: stage 1 (both VAEs), stage 2 (mappers, VAEs frozen), stage 2b (mappers +
D_N on 128x128 crops, batch 8) and the direct ablation; batches are made before timing (the
data pipeline is excluded); a few warm-up steps, then the median
step time over ``--steps`` steps, for each thread count. Writes Markdown and JSON.

    python benchmarks/train_speed.py --threads 1 2 --steps 20 --out benchmarks/results/train_speed.md
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mlsm.models import DirectEnhancer, Enhancer
from mlsm.train.experiment import Experiment, build_training_data
from mlsm.train.stages import DirectStage, MappingStage, VAEStage

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "mlsm_small.yaml"


def make_stage(name: str, experiment: Experiment):
    if name == "direct":
        return DirectStage(DirectEnhancer(experiment.model), experiment.loss)
    model = Enhancer(experiment.model)
    if name == "vae":
        return VAEStage(model, experiment.loss)
    return MappingStage(model, experiment.loss, tune_decoder=name == "map+decoder")


STAGES = {"vae": (64, 16), "map": (64, 16), "map+decoder": (128, 8), "direct": (64, 16)}


def time_stage(name: str, threads: int, steps: int, warmup: int = 3) -> dict:
    from mlsm.config import load_config

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    experiment = load_config(Experiment, CONFIG)
    crop, batch_size = STAGES[name]
    experiment.data.crop_size = crop
    data = build_training_data(experiment.data, 0)
    stage = make_stage(name, experiment)
    params = [p for m in stage.trainable_modules().values() for p in m.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=1e-4)
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(warmup + steps):
        items = [data.get_item(0, rng) for _ in range(batch_size)]
        batches.append({k: torch.stack([item[k] for item in items]) for k in ("low", "high")})
    times = []
    for index, batch in enumerate(batches):
        start = time.perf_counter()
        loss = stage.training_step(batch, index)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if index >= warmup:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"stage": name, "threads": threads, "crop": crop, "batch": batch_size,
            "median_step_s": median, "steps_per_s": 1.0 / median, "images_per_s": batch_size / median}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_speed.md"))
    args = parser.parse_args(argv)
    rows = [time_stage(stage, threads, args.steps) for stage in args.stages for threads in args.threads]
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    lines = ["# Training speed (configs/mlsm_small.yaml)", "",
             f"- command: `{command}`", f"- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"torch {torch.__version__}; {platform.processor() or platform.machine()}; "
             f"median of {args.steps} steps after 3 warm-up steps; Adam; synthetic pairs made before timing", "",
             "| stage | crop x batch | threads | s/step | steps/s | images/s |", "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['stage']} | {row['crop']}² x {row['batch']} | {row['threads']} | "
                     f"{row['median_step_s']:.3f} | {row['steps_per_s']:.2f} | {row['images_per_s']:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
