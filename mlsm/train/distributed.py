"""Data-parallel plumbing: torchrun environment, DDP wrapping, metric averaging, and a
deterministic step-indexed batch sampler shared by single-process and DDP training.

Launch with ``torchrun --nproc_per_node N -m ...`` (or ``python -m torch.distributed.run``):
:func:`setup_distributed` reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``, picks NCCL when
CUDA is available (one GPU per local rank) and gloo otherwise. Without ``WORLD_SIZE`` it is a
no-op that describes a single process.

Data order (:class:`StepBatchSampler`): the *global* batch of step ``s`` holds the dataset
positions ``[s * B, (s + 1) * B)`` of an endless stream made of one seeded permutation per
epoch, ``permutation(seed, epoch)``. Rank ``r`` of ``W`` takes the contiguous slice
``[r * B / W, (r + 1) * B / W)`` of it. The batch of a step therefore depends only on
``(seed, step)``: resuming at any step needs no sampler state, and the samples seen are the
same for every world size (DDP averages the gradients of the slices, so with a loss that is
a mean over the batch the update matches the single-process one up to float rounding).
Per-sample randomness (crops, flips, JPEG quality) comes from :func:`item_generator`, seeded
by ``(seed, step, index)``, for the same reason.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistInfo", "DistributedError", "setup_distributed", "cleanup_distributed",
           "wrap_ddp", "unwrap_module", "all_reduce_mean", "StepBatchSampler",
           "item_generator", "item_torch_generator", "derive_seed"]


class DistributedError(RuntimeError):
    """The torchrun environment is inconsistent, or a requested device is unavailable."""


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job: ``rank`` of ``world_size``, its GPU/CPU ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    is_main: bool

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        if default is None:
            raise DistributedError(f"environment variable {name} is required when WORLD_SIZE is set "
                                   "(launch with torchrun)")
        return default
    try:
        return int(raw)
    except ValueError:
        raise DistributedError(f"environment variable {name}={raw!r} is not an integer") from None


def _want_cuda(device: str) -> bool:
    if device not in ("auto", "cpu", "cuda"):
        raise DistributedError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise DistributedError("device='cuda' requested but CUDA is not available")
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def setup_distributed(device: str = "auto", timeout_minutes: float = 30.0) -> DistInfo:
    """Join the torchrun process group if there is one; describe the single process otherwise.

    ``device``: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``. Calling it again
    after the group is initialised returns the same description.
    """
    use_cuda = _want_cuda(device)
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size < 1:
        raise DistributedError(f"WORLD_SIZE must be >= 1, got {world_size}")
    local_rank = _env_int("LOCAL_RANK", 0)
    if world_size == 1:
        dev = torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1)) if use_cuda \
            else torch.device("cpu")
        if use_cuda:
            torch.cuda.set_device(dev)
        return DistInfo(rank=0, world_size=1, local_rank=local_rank, device=dev, is_main=True)
    rank = _env_int("RANK")
    if not 0 <= rank < world_size:
        raise DistributedError(f"RANK={rank} is outside [0, WORLD_SIZE={world_size})")
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} "
                                   "CUDA devices are visible")
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", rank=rank,
                                world_size=world_size,
                                timeout=datetime.timedelta(minutes=timeout_minutes))
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=dev,
                    is_main=rank == 0)


def cleanup_distributed() -> None:
    """Leave the process group (no-op when none was initialised).

    All ranks meet at a barrier first: a rank that tears gloo down while its peer still
    talks to it can make the peer abort in C++ (``terminate called without an active
    exception``, seen once in a CI try of tests/train/test_ddp.py).
    """
    if dist.is_available() and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def wrap_ddp(module: nn.Module, info: DistInfo, find_unused_parameters: bool = False) -> nn.Module:
    """``DistributedDataParallel(module)`` on ``info.device``; the module itself when not distributed
    or when it has no trainable parameter (DDP refuses those)."""
    if not info.is_distributed or not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids,
                                               find_unused_parameters=find_unused_parameters)


def unwrap_module(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (the argument itself otherwise)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_mean(value: torch.Tensor | float) -> torch.Tensor | float:
    """Mean of ``value`` over all ranks (for logging); returned unchanged in a single process.

    A float comes back as a float, a tensor as a detached tensor on its original device. Every
    rank must call it (it is a collective).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    if isinstance(value, torch.Tensor):
        original = value.detach()
        dtype = original.dtype if original.is_floating_point() else torch.float64
        work = original.to(device=_comm_device(), dtype=dtype, copy=True)
        dist.all_reduce(work, op=dist.ReduceOp.SUM)
        return (work / dist.get_world_size()).to(original.device)
    work = torch.tensor(float(value), dtype=torch.float64, device=_comm_device())
    dist.all_reduce(work, op=dist.ReduceOp.SUM)
    return float(work.item()) / dist.get_world_size()


_SEED_STREAM_PERMUTATION = 0x5EED_0001
_SEED_STREAM_ITEM = 0x5EED_0002
_SEED_STREAM_ITEM_TORCH = 0x5EED_0003


def derive_seed(*words: int) -> int:
    """A well-mixed 63-bit seed from non-negative ints (numpy ``SeedSequence``)."""
    if any(int(w) < 0 for w in words):
        raise ValueError(f"seed words must be non-negative, got {words}")
    low, high = np.random.SeedSequence([int(w) for w in words]).generate_state(2, np.uint32)
    return (int(high) << 32 | int(low)) & ((1 << 63) - 1)


def item_generator(seed: int, step: int, index: int) -> np.random.Generator:
    """The numpy generator a dataset must draw sample ``index``'s randomness from at ``step``.

    Seeded by ``(seed, step, index)`` only, so crops/flips/quality factors are reproduced
    exactly on resume and do not depend on the rank or the number of data-loader workers.
    """
    return np.random.default_rng([_SEED_STREAM_ITEM, int(seed), int(step), int(index)])


def item_torch_generator(seed: int, step: int, index: int) -> torch.Generator:
    """Like :func:`item_generator` but a CPU ``torch.Generator`` (an independent stream)."""
    return torch.Generator().manual_seed(derive_seed(_SEED_STREAM_ITEM_TORCH, seed, step, index))


class StepBatchSampler:
    """Endless shuffled batches indexed by step, sharded over ranks; a DataLoader ``batch_sampler``.

    Iterating yields, for each step in ``[start_step, stop_step)``, this rank's list of
    ``(step, index)`` pairs (the step travels with the index so that the dataset wrapper can
    seed :func:`item_generator`). ``global_indices(step)`` / ``rank_indices(step)`` give the
    plain dataset indices. See the module docstring for the order.
    """

    def __init__(self, dataset_len: int, global_batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1, start_step: int = 0, stop_step: int | None = None):
        if dataset_len < 1:
            raise ValueError(f"dataset_len must be >= 1, got {dataset_len}")
        if global_batch_size < 1:
            raise ValueError(f"global_batch_size must be >= 1, got {global_batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        if global_batch_size % world_size:
            raise ValueError(f"global batch size {global_batch_size} is not divisible by the "
                             f"world size {world_size}")
        if seed < 0 or start_step < 0:
            raise ValueError(f"seed and start_step must be non-negative, got {seed}, {start_step}")
        self.dataset_len = int(dataset_len)
        self.global_batch_size = int(global_batch_size)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.start_step = int(start_step)
        self.stop_step = stop_step
        self._cache: dict[int, torch.Tensor] = {}

    @property
    def local_batch_size(self) -> int:
        return self.global_batch_size // self.world_size

    def permutation(self, epoch: int) -> torch.Tensor:
        """The dataset order of ``epoch`` (int64 tensor); the last two are cached."""
        perm = self._cache.get(epoch)
        if perm is None:
            generator = torch.Generator().manual_seed(
                derive_seed(_SEED_STREAM_PERMUTATION, self.seed, epoch))
            perm = torch.randperm(self.dataset_len, generator=generator)
            self._cache = {e: p for e, p in self._cache.items() if e == epoch - 1}
            self._cache[epoch] = perm
        return perm

    def global_indices(self, step: int) -> list[int]:
        """All ranks' indices of ``step`` (the single-process batch)."""
        return self._positions(step * self.global_batch_size, self.global_batch_size)

    def rank_indices(self, step: int) -> list[int]:
        """This rank's slice of ``global_indices(step)``."""
        local = self.local_batch_size
        return self._positions(step * self.global_batch_size + self.rank * local, local)

    def _positions(self, start: int, count: int) -> list[int]:
        out: list[int] = []
        position = start
        while len(out) < count:
            epoch, offset = divmod(position, self.dataset_len)
            take = min(count - len(out), self.dataset_len - offset)
            out.extend(self.permutation(epoch)[offset:offset + take].tolist())
            position += take
        return out

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while self.stop_step is None or step < self.stop_step:
            yield [(step, index) for index in self.rank_indices(step)]
            step += 1

    def __len__(self) -> int:
        if self.stop_step is None:
            raise TypeError("an endless StepBatchSampler has no length (give stop_step)")
        return max(0, self.stop_step - self.start_step)
