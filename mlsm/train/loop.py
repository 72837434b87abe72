"""Step-based training loop shared by the VAE and mapping stages (paper Sec. IV-A).

Paper recipe: Adam, initial learning rate 2e-4 with linear decay, batch 16 of 64x64 crops.
The loop is generic; a *stage* supplies the networks and the losses::

    dataset ──StepBatchSampler(seed, step)──► batch ──► stage.training_step ──► Adam(G) ─┐
                                                   └──► stage.discriminator_step ─► Adam(D)
    every log_every: metrics.jsonl + TensorBoard     every val_every: validate / sample_images
    every checkpoint_minutes / checkpoint_every_steps / SIGTERM / stop_after: out_dir/last.pt

Stage protocol (:class:`TrainStage`), required:

* ``trainable_modules() -> dict[str, nn.Module]``: the networks optimised by the generator
  Adam, by name (the names key the checkpoint; no dots).
* ``training_step(batch, step) -> dict[str, Tensor]``: forward + losses for the 0-based
  ``step``; the dict must hold a scalar ``"loss"`` (the loop calls ``backward``); every other
  scalar entry is logged.

DDP: the loop puts each optimiser's modules in one container module whose ``forward`` runs
the stage hook, and wraps *that* in ``DistributedDataParallel``. The stage may therefore call
its networks any way it likes (``encode``, ``decode``, sub-modules); the parameters' gradient
hooks are what DDP averages. The generator container is used for ``training_step`` and the
discriminator container for ``discriminator_step``, so a discriminator evaluated inside
``training_step`` (generator's adversarial term) is not synchronised there (its gradients
from that step are discarded). Every trainable parameter must get a gradient in each step,
or set ``find_unused_parameters``.

Optional hooks:

* ``discriminator_modules() -> dict[str, nn.Module]`` and
  ``discriminator_step(batch, step) -> dict[str, Tensor] | None``: a second Adam, stepped
  after the generator's (LSGAN terms). Its ``"loss"`` is logged as ``d_loss``, other keys as
  they are (``d_``-prefixed if they clash with a generator key). ``None`` skips the update
  for that step; an empty ``discriminator_modules()`` means no discriminator at all.
* ``setup(device)``: called first; move frozen networks and buffers to ``device``.
  (Trainable and discriminator modules are moved by the loop.)
* ``validate() -> dict[str, float]`` and ``sample_images() -> dict[str, Tensor]``
  (``(N, 3, H, W)`` in [0, 1]): every ``val_every`` steps on the main rank, under
  ``torch.no_grad()`` with the trainable and discriminator modules in ``eval()`` mode
  (each sub-module's mode is restored afterwards). The loop never calls ``train()`` itself.
* ``extra_state() -> dict`` / ``load_extra_state(dict)``: stage state saved in checkpoints
  (tensors and primitive containers only).
* ``collate(items) -> batch``: replaces ``default_collate``.
* ``on_finish(out_dir)``: main rank, after the last step (e.g. export safetensors weights).
* ``on_best(out_dir, step, value)``: main rank, after a validation that improved
  ``keep_best`` (a key of ``validate()``, higher is better), e.g. export ``best.safetensors``.

Data (:class:`SeededDataset`): ``len(dataset)`` plus, for random augmentation,
``get_item(index, rng)`` where ``rng`` is :func:`~mlsm.train.distributed.item_generator`
``(seed, step, index)``; all random crops, flips and JPEG qualities must be drawn from it.
Datasets without ``get_item`` are read with ``dataset[index]`` and must be deterministic.

Exact resume. The batch of step ``s`` is a function of ``(seed, s)`` only
(:class:`~mlsm.train.distributed.StepBatchSampler`), and before each step the loop reseeds
python ``random``, numpy's global RNG and torch (CPU + CUDA) from ``(seed, step, rank)``, so
the stage's own random ops (VAE sampling, noise) are reproduced too, on every rank and
whatever the number of data-loader workers. The checkpoint stores the networks (plain state dicts),
both optimisers and schedulers, the RNG states, the step and the data-order parameters;
after ``kill -9`` a run with ``resume=True`` ends with the same parameters as an
uninterrupted one (bit-identical on CPU with a fixed thread count).

Adam betas default to (0.9, 0.999), PyTorch's and Kingma & Ba's defaults, because the paper
names Adam without settings; the learning rate decays linearly from ``lr_decay_start`` to 0
at ``steps`` (``lr_decay_start=0``: over the whole run, our reading of "linear decay").
"""
from __future__ import annotations

import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, default_collate

from mlsm.config import dump_config
from mlsm.train.logs import METRICS_NAME, MetricsLog, StopSignal
from mlsm.train.checkpoint import (CheckpointError, capture_rng_state, load_checkpoint,
                                   restore_rng_state, save_checkpoint)
from mlsm.train.distributed import (DistInfo, StepBatchSampler, all_reduce_mean, derive_seed,
                                    item_generator, item_torch_generator, setup_distributed,
                                    wrap_ddp)

__all__ = ["TrainOptions", "TrainStage", "SeededDataset", "Trainer", "TrainResult",
           "TrainingError", "StageError", "linear_decay_factor", "seed_step_rng",
           "item_generator", "item_torch_generator", "CHECKPOINT_NAME", "FINAL_NAME",
           "METRICS_NAME"]

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"
FINAL_NAME = "final.pt"
CHECKPOINT_FORMAT = "mlsm.train.checkpoint/1"
FINAL_FORMAT = "mlsm.train.final/1"
_STOP_SYNC_EVERY = 10  # DDP: steps between collective checks of the stop flag
_SEED_STREAM_STEP = 0x5EED_0004


SCHEDULE_OPTIONS = ("steps", "lr", "lr_discriminator", "lr_decay_start", "betas", "weight_decay")
"""``train.*`` options that shape the learning-rate schedule or the optimiser: fixed for a run."""


class TrainingError(RuntimeError):
    """Training cannot go on: non-finite loss, occupied output directory, bad checkpoint."""


class StageError(TypeError):
    """A stage does not follow the :class:`TrainStage` protocol."""


@dataclass
class TrainOptions:
    """The ``train:`` section of an experiment config (all counts are optimisation steps)."""

    steps: int = 100_000
    batch_size: int = 16              # global batch (split over DDP ranks), paper IV-A
    lr: float = 2e-4                  # paper IV-A
    lr_discriminator: float | None = None   # None: same as lr
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    lr_decay_start: int = 0           # linear decay from here to 0 at `steps`
    grad_clip: float | None = None    # max global L2 norm, per optimiser
    seed: int = 0
    num_workers: int = 0
    log_every: int = 50
    val_every: int | None = None
    keep_best: str | None = None      # a validate() key (higher is better): stage.on_best on improvement
    checkpoint_minutes: float = 5.0
    checkpoint_every_steps: int | None = None
    stop_after: int | None = None     # stop (with a checkpoint) once this many steps are done
    deterministic: bool = False       # torch.use_deterministic_algorithms during the run
    num_threads: int | None = None    # torch.set_num_threads during the run
    tensorboard: bool = True
    device: str = "auto"              # auto | cpu | cuda
    find_unused_parameters: bool = False  # DDP option

    def __post_init__(self) -> None:
        positive = {"steps": self.steps, "batch_size": self.batch_size, "log_every": self.log_every}
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"train.{name} must be >= 1, got {value}")
        for name in ("val_every", "checkpoint_every_steps", "stop_after", "num_threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"train.{name} must be >= 1 or null, got {value}")
        if not 0 <= self.lr_decay_start < self.steps:
            raise ValueError(f"train.lr_decay_start must be in [0, steps), got {self.lr_decay_start}")
        if self.lr <= 0 or (self.lr_discriminator is not None and self.lr_discriminator <= 0):
            raise ValueError("train.lr and train.lr_discriminator must be > 0")
        if self.seed < 0 or self.num_workers < 0:
            raise ValueError("train.seed and train.num_workers must be >= 0")
        if self.checkpoint_minutes <= 0:
            raise ValueError(f"train.checkpoint_minutes must be > 0, got {self.checkpoint_minutes}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"train.device must be auto, cpu or cuda, got {self.device!r}")


@runtime_checkable
class TrainStage(Protocol):
    """What the loop needs from a training stage; see the module docstring for optional hooks."""

    def trainable_modules(self) -> dict[str, nn.Module]: ...

    def training_step(self, batch: Any, step: int) -> dict[str, Tensor]: ...


@runtime_checkable
class SeededDataset(Protocol):
    """A dataset whose random augmentation is drawn from the generator the loop passes."""

    def __len__(self) -> int: ...

    def get_item(self, index: int, rng: np.random.Generator) -> Any: ...


@dataclass(frozen=True)
class TrainResult:
    """How :meth:`Trainer.run` ended: ``finished`` (all steps) or ``interrupted`` (signal)."""

    step: int
    finished: bool
    interrupted: bool
    checkpoint: Path | None


def linear_decay_factor(step: int, steps: int, decay_start: int) -> float:
    """Learning-rate factor of (0-based) ``step``: 1 until ``decay_start``, then linear to 0 at ``steps``."""
    if step < decay_start:
        return 1.0
    return max(0.0, (steps - step) / (steps - decay_start))


def seed_step_rng(seed: int, step: int, rank: int = 0) -> None:
    """Reseed python ``random``, numpy's global RNG and torch (CPU + CUDA) for one step."""
    value = derive_seed(_SEED_STREAM_STEP, seed, step, rank)
    random.seed(value)
    np.random.seed([value & 0xFFFF_FFFF, value >> 32])
    torch.manual_seed(value)


class _SeededItems(Dataset):
    """Maps the sampler's ``(step, index)`` keys to ``dataset.get_item(index, item_generator)``."""

    def __init__(self, dataset: Any, seed: int):
        self.dataset = dataset
        self.seed = seed
        self.seeded = callable(getattr(dataset, "get_item", None))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        step, index = key
        if self.seeded:
            return self.dataset.get_item(index, item_generator(self.seed, step, index))
        return self.dataset[index]


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, Mapping):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(value, device) for value in batch)
    return batch


def _named_modules(stage: Any, hook: str, required: bool) -> dict[str, nn.Module]:
    method = getattr(stage, hook, None)
    if method is None:
        return {}
    modules = method()
    if not isinstance(modules, dict) or (required and not modules):
        raise StageError(f"{type(stage).__name__}.{hook}() must return a non-empty dict of modules")
    for name, module in modules.items():
        if not isinstance(module, nn.Module):
            raise StageError(f"{type(stage).__name__}.{hook}()[{name!r}] is a "
                             f"{type(module).__name__}, not an nn.Module")
        if not isinstance(name, str) or not name or "." in name:
            raise StageError(f"{type(stage).__name__}.{hook}(): module name {name!r} must be a "
                             "non-empty string without dots")
    return modules


class _StepModule(nn.Module):
    """One optimiser's networks as a single module whose ``forward`` runs a stage hook, so that
    DDP sees every parameter however the stage calls its networks."""

    def __init__(self, modules: dict[str, nn.Module], step_fn: Callable[[Any, int], Any]):
        super().__init__()
        self.parts = nn.ModuleDict(modules)
        self.step_fn = step_fn

    def forward(self, batch: Any, step: int) -> Any:
        return self.step_fn(batch, step)


def _unique_params(modules: dict[str, nn.Module]) -> list[nn.Parameter]:
    seen: set[int] = set()
    params = []
    for module in modules.values():
        for param in module.parameters():
            if param.requires_grad and id(param) not in seen:
                seen.add(id(param))
                params.append(param)
    return params


def _loss_of(outputs: Any, hook: str) -> Tensor:
    if not isinstance(outputs, dict) or "loss" not in outputs:
        raise StageError(f"{hook}() must return a dict with a 'loss' entry, got {type(outputs).__name__}")
    loss = outputs["loss"]
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise StageError(f"{hook}()['loss'] must be a scalar tensor")
    return loss


class Trainer:
    """Runs a :class:`TrainStage` on a dataset for ``options.steps`` steps, writing to ``out_dir``.

    ``config`` (a plain dict, e.g. ``dump_config(experiment)``) is stored in checkpoints.
    ``dist_info`` defaults to :func:`setup_distributed` (``options.device``); the caller owns
    :func:`~mlsm.train.distributed.cleanup_distributed`. Under DDP every rank runs the same
    ``Trainer``; only rank 0 writes files, and ``out_dir`` must be shared by all ranks.
    """

    def __init__(self, stage: Any, dataset: Any, options: TrainOptions, out_dir: str | os.PathLike,
                 config: dict | None = None, dist_info: DistInfo | None = None):
        if not isinstance(stage, TrainStage):
            raise StageError(f"{type(stage).__name__} lacks trainable_modules()/training_step()")
        if not hasattr(dataset, "__len__") or len(dataset) < 1:
            raise StageError("dataset must be a non-empty sized dataset")
        has_d_step = callable(getattr(stage, "discriminator_step", None))
        if has_d_step != callable(getattr(stage, "discriminator_modules", None)):
            raise StageError(f"{type(stage).__name__}: discriminator_step and "
                             "discriminator_modules come together")
        self.stage = stage
        self.dataset = dataset
        self.options = options
        self.out_dir = Path(out_dir)
        self.config = config or {}
        self.dist_info = dist_info
        self.step = 0
        self.best_value: float | None = None
        self.force = False  # set by run(force=...)

    # -- paths --------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    @property
    def final_path(self) -> Path:
        return self.out_dir / FINAL_NAME

    # -- public entry point ---------------------------------------------------------------
    def run(self, resume: bool = False, force: bool = False) -> TrainResult:
        """Train to ``options.steps`` (or ``stop_after``); ``resume`` continues from ``last.pt``.

        With ``resume=False`` an existing ``last.pt`` is an error (never silently overwritten);
        with ``resume=True`` and no checkpoint, training starts at step 0. Resuming with options
        that change the learning-rate schedule (:data:`SCHEDULE_OPTIONS`: ``steps``, ``lr``...)
        is an error unless ``force`` (then a warning): the schedule would jump mid-run.
        """
        self.force = force
        opts = self.options
        info = self.dist_info or setup_distributed(opts.device)
        self.info = info
        if not resume and self.checkpoint_path.exists():
            raise TrainingError(f"{self.checkpoint_path} exists: resume it or choose another out_dir")
        if info.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        saved_threads = torch.get_num_threads()
        saved_deterministic = torch.are_deterministic_algorithms_enabled()
        saved_benchmark = torch.backends.cudnn.benchmark
        try:
            if opts.num_threads:
                torch.set_num_threads(opts.num_threads)
            if opts.deterministic:
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
                torch.use_deterministic_algorithms(True)
                torch.backends.cudnn.benchmark = False
            return self._run(resume)
        finally:
            torch.set_num_threads(saved_threads)
            torch.use_deterministic_algorithms(saved_deterministic)
            torch.backends.cudnn.benchmark = saved_benchmark

    # -- set-up ----------------------------------------------------------------------------
    def _build(self, checkpoint: dict | None) -> None:
        opts, info, stage = self.options, self.info, self.stage
        if callable(getattr(stage, "setup", None)):
            stage.setup(info.device)
        self.g_modules = _named_modules(stage, "trainable_modules", required=True)
        self.d_modules = _named_modules(stage, "discriminator_modules", required=False)
        clash = set(self.g_modules) & set(self.d_modules)
        if clash:
            raise StageError(f"module names used by both optimisers: {sorted(clash)}")
        self.modules = {**self.g_modules, **self.d_modules}
        for module in self.modules.values():
            module.to(info.device)
        g_params, d_params = _unique_params(self.g_modules), _unique_params(self.d_modules)
        if not g_params:
            raise StageError("trainable_modules() have no parameter with requires_grad")
        if {id(p) for p in g_params} & {id(p) for p in d_params}:
            raise StageError("generator and discriminator modules share parameters")
        if checkpoint is not None:
            self._load_modules(checkpoint)
        factor = lambda step: linear_decay_factor(step, opts.steps, opts.lr_decay_start)  # noqa: E731
        self.g_optimizer = torch.optim.Adam(g_params, lr=opts.lr, betas=opts.betas,
                                            weight_decay=opts.weight_decay)
        self.g_scheduler = torch.optim.lr_scheduler.LambdaLR(self.g_optimizer, factor)
        self.d_optimizer = self.d_scheduler = None
        if d_params:
            self.d_optimizer = torch.optim.Adam(d_params, lr=opts.lr_discriminator or opts.lr,
                                                betas=opts.betas, weight_decay=opts.weight_decay)
            self.d_scheduler = torch.optim.lr_scheduler.LambdaLR(self.d_optimizer, factor)
        if checkpoint is not None:
            self._load_training_state(checkpoint)
        self.g_runner = wrap_ddp(_StepModule(self.g_modules, stage.training_step), info,
                                 opts.find_unused_parameters)
        self.d_runner = None
        if d_params:
            self.d_runner = wrap_ddp(_StepModule(self.d_modules, stage.discriminator_step), info,
                                     opts.find_unused_parameters)

    def _loader(self, start: int, stop: int) -> DataLoader:
        opts, info = self.options, self.info
        sampler = StepBatchSampler(len(self.dataset), opts.batch_size, opts.seed, info.rank,
                                   info.world_size, start_step=start, stop_step=stop)
        collate = getattr(self.stage, "collate", None)
        return DataLoader(_SeededItems(self.dataset, opts.seed), batch_sampler=sampler,
                          num_workers=opts.num_workers,
                          collate_fn=collate if callable(collate) else default_collate,
                          pin_memory=info.device.type == "cuda")

    # -- checkpoints -----------------------------------------------------------------------
    def _load_modules(self, checkpoint: dict) -> None:
        if checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{self.checkpoint_path}: format {checkpoint.get('format')!r}, "
                                  f"expected {CHECKPOINT_FORMAT!r}")
        stored = checkpoint["modules"]
        if set(stored) != set(self.modules):
            raise CheckpointError(f"{self.checkpoint_path}: modules {sorted(stored)} do not match "
                                  f"the stage's {sorted(self.modules)}")
        for name, module in self.modules.items():
            module.load_state_dict(stored[name])

    def _check_schedule(self, checkpoint: dict) -> None:
        stored = checkpoint.get("options") or {}
        now = dump_config(self.options)
        changed = [f"train.{key} {stored[key]!r} -> {now[key]!r}" for key in SCHEDULE_OPTIONS
                   if key in stored and stored[key] != now[key]]
        if not changed:
            return
        what = f"{self.checkpoint_path} was saved under another learning-rate schedule ({', '.join(changed)})"
        if not self.force:
            raise TrainingError(f"{what}: resuming would change it mid-run; pass --force (run(force=True)) "
                                "to resume anyway, or start a new run from these weights with --init")
        if self.info.is_main:
            logger.warning("%s: resuming anyway (force)", what)

    def _load_training_state(self, checkpoint: dict) -> None:
        self._check_schedule(checkpoint)
        self.g_optimizer.load_state_dict(checkpoint["optimizers"]["generator"])
        self.g_scheduler.load_state_dict(checkpoint["schedulers"]["generator"])
        if self.d_optimizer is not None:
            self.d_optimizer.load_state_dict(checkpoint["optimizers"]["discriminator"])
            self.d_scheduler.load_state_dict(checkpoint["schedulers"]["discriminator"])
        restore_rng_state(checkpoint["rng"])
        if callable(getattr(self.stage, "load_extra_state", None)):
            self.stage.load_extra_state(checkpoint.get("extra", {}))
        data = checkpoint.get("data", {})
        current = {"seed": self.options.seed, "batch_size": self.options.batch_size,
                   "dataset_len": len(self.dataset)}
        changed = {k: (data.get(k), v) for k, v in current.items() if data.get(k) != v}
        if changed and self.info.is_main:
            logger.warning("resuming with a different data order (checkpoint vs now): %s", changed)
        self.step = int(checkpoint["step"])
        self.best_value = checkpoint.get("best_value")

    def _state(self) -> dict[str, Any]:
        optimizers = {"generator": self.g_optimizer.state_dict()}
        schedulers = {"generator": self.g_scheduler.state_dict()}
        if self.d_optimizer is not None:
            optimizers["discriminator"] = self.d_optimizer.state_dict()
            schedulers["discriminator"] = self.d_scheduler.state_dict()
        extra = self.stage.extra_state() if callable(getattr(self.stage, "extra_state", None)) else {}
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "modules": {name: module.state_dict() for name, module in self.modules.items()},
            "optimizers": optimizers,
            "schedulers": schedulers,
            "rng": capture_rng_state(),
            "data": {"seed": self.options.seed, "batch_size": self.options.batch_size,
                     "dataset_len": len(self.dataset), "order": "StepBatchSampler/1"},
            "options": dump_config(self.options),
            "config": self.config,
            "extra": extra,
            "best_value": self.best_value,
        }

    def save(self) -> Path | None:
        """Write ``last.pt`` (main rank only; returns its path there, ``None`` elsewhere)."""
        if not self.info.is_main:
            return None
        self._last_save = time.monotonic()
        return save_checkpoint(self.checkpoint_path, self._state())

    def _save_final(self) -> None:
        save_checkpoint(self.final_path, {
            "format": FINAL_FORMAT, "step": self.step,
            "modules": {name: module.state_dict() for name, module in self.modules.items()},
            "options": dump_config(self.options), "config": self.config})
        if callable(getattr(self.stage, "on_finish", None)):
            self.stage.on_finish(self.out_dir)

    # -- one optimisation step -------------------------------------------------------------
    def _optimise(self, batch: Any, step: int) -> dict[str, Tensor]:
        clip = self.options.grad_clip
        self.g_optimizer.zero_grad(set_to_none=True)
        outputs = self.g_runner(batch, step)
        _loss_of(outputs, "training_step").backward()
        if clip:
            nn.utils.clip_grad_norm_(self.g_optimizer.param_groups[0]["params"], clip)
        self.g_optimizer.step()
        logged = dict(outputs)
        if self.d_optimizer is not None:
            self.d_optimizer.zero_grad(set_to_none=True)
            d_outputs = self.d_runner(batch, step)
            if d_outputs is not None:
                _loss_of(d_outputs, "discriminator_step").backward()
                if clip:
                    nn.utils.clip_grad_norm_(self.d_optimizer.param_groups[0]["params"], clip)
                self.d_optimizer.step()
                for key, value in d_outputs.items():
                    name = "d_loss" if key == "loss" else (f"d_{key}" if key in outputs else key)
                    logged[name] = value
            self.d_scheduler.step()
        self.g_scheduler.step()
        return logged

    def _validate(self, metrics: MetricsLog) -> None:
        stage = self.stage
        has_val = callable(getattr(stage, "validate", None))
        has_images = callable(getattr(stage, "sample_images", None)) and metrics.writer is not None
        if not (has_val or has_images):
            return
        modes = [(sub, sub.training) for module in self.modules.values() for sub in module.modules()]
        for module in self.modules.values():
            module.eval()
        try:
            with torch.no_grad():
                if has_val:
                    values = {key: float(value) for key, value in stage.validate().items()}
                    metrics.scalars("val", self.step, values)
                    self._keep_best(values)
                if has_images:
                    metrics.images(self.step, stage.sample_images())
        finally:
            for sub, training in modes:
                sub.training = training

    def _keep_best(self, values: dict[str, float]) -> None:
        key = self.options.keep_best
        if key is None:
            return
        if key not in values:
            raise StageError(f"train.keep_best={key!r} is not a validation value (have {sorted(values)})")
        if self.best_value is None or values[key] > self.best_value:
            self.best_value = values[key]
            if callable(getattr(self.stage, "on_best", None)):
                self.stage.on_best(self.out_dir, self.step, values[key])

    def _stop_requested(self, stop: StopSignal) -> bool:
        if not self.info.is_distributed:
            return stop.requested
        if self.step % _STOP_SYNC_EVERY:
            return False
        flag = torch.tensor([1.0 if stop.requested else 0.0])
        return all_reduce_mean(flag).item() > 0

    # -- the loop ------------------------------------------------------------------------------
    def _run(self, resume: bool) -> TrainResult:
        opts, info = self.options, self.info
        checkpoint = None
        if resume and self.checkpoint_path.exists():
            checkpoint = load_checkpoint(self.checkpoint_path, map_location=info.device)
        elif resume and info.is_main:
            logger.warning("no checkpoint at %s: starting from step 0", self.checkpoint_path)
        self.step = 0
        self.best_value = None
        self._build(checkpoint)
        start = self.step
        end = min(opts.steps, opts.stop_after) if opts.stop_after else opts.steps
        metrics = MetricsLog(self.out_dir, info.is_main, opts.tensorboard,
                              start if checkpoint is not None else None)
        interrupted = False
        self._last_save = time.monotonic()
        sums: dict[str, Tensor] = {}
        window_steps, window_start, run_start = 0, time.perf_counter(), time.perf_counter()
        from tqdm.auto import tqdm
        progress = tqdm(total=opts.steps, initial=start, dynamic_ncols=True, unit="it",
                        disable=not (info.is_main and sys.stderr.isatty()))
        try:
            with StopSignal() as stop:
                for batch in (self._loader(start, end) if start < end else ()):
                    seed_step_rng(opts.seed, self.step, info.rank)
                    outputs = self._optimise(_to_device(batch, info.device), self.step)
                    lr = opts.lr * linear_decay_factor(self.step, opts.steps, opts.lr_decay_start)
                    self.step += 1
                    window_steps += 1
                    progress.update(1)
                    for key, value in outputs.items():
                        if not isinstance(value, (Tensor, int, float)) or \
                                (isinstance(value, Tensor) and value.numel() != 1):
                            continue  # images etc. are not logged as scalars
                        value = torch.as_tensor(value).detach().float().reshape(())
                        sums[key] = sums[key] + value if key in sums else value
                    if self.step % opts.log_every == 0 or self.step == end:
                        now = time.perf_counter()
                        values = self._reduce(sums, window_steps)
                        values.update(lr=lr, it_per_s=window_steps / max(now - window_start, 1e-9),
                                      elapsed_s=now - run_start)
                        metrics.scalars("train", self.step, values)
                        progress.set_postfix(loss=f"{values.get('loss', float('nan')):.4g}")
                        sums, window_steps, window_start = {}, 0, now
                    if opts.val_every and self.step % opts.val_every == 0 and info.is_main:
                        self._validate(metrics)
                    if self._stop_requested(stop):
                        interrupted = True
                        break
                    due = (opts.checkpoint_every_steps and self.step % opts.checkpoint_every_steps == 0) \
                        or time.monotonic() - self._last_save >= opts.checkpoint_minutes * 60
                    if due and self.step < end and info.is_main:
                        self.save()
            path = self.save()
            finished = self.step >= opts.steps
            if finished and info.is_main:
                self._save_final()
        finally:
            progress.close()
            metrics.close()
        if info.is_distributed:
            dist.barrier()
        return TrainResult(step=self.step, finished=finished, interrupted=interrupted,
                           checkpoint=path)

    def _reduce(self, sums: dict[str, Tensor], count: int) -> dict[str, float]:
        if not sums:
            return {}
        keys = sorted(sums)
        stacked = torch.stack([sums[key] for key in keys]) / max(count, 1)
        means = all_reduce_mean(stacked).tolist()
        values = dict(zip(keys, means))
        bad = {key: value for key, value in values.items() if not math.isfinite(value)}
        if bad:
            raise TrainingError(f"non-finite training values at step {self.step}: {bad}")
        return values
