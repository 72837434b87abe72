"""Data-parallel plumbing (mlsm.train.distributed): torchrun env, step sampler, 2-rank gloo run.

Also runnable under torchrun (``... test_ddp.py child OUT``) as the per-rank training script.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mlsm.train.distributed import (DistributedError, StepBatchSampler, all_reduce_mean,
                                    cleanup_distributed, item_generator, item_torch_generator,
                                    setup_distributed, unwrap_module, wrap_ddp)

REPO = Path(__file__).resolve().parents[2]


def _load_toy():
    """The toy stage and dataset live in test_loop.py (tests have no package)."""
    spec = importlib.util.spec_from_file_location("_toy_training", Path(__file__).with_name("test_loop.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


toy = _load_toy()


def test_sampler_is_a_function_of_seed_and_step():
    a = StepBatchSampler(10, 4, seed=5)
    b = StepBatchSampler(10, 4, seed=5)
    assert [a.global_indices(s) for s in (7, 0, 3)] == [b.global_indices(s) for s in (7, 0, 3)]
    assert StepBatchSampler(10, 4, seed=6).global_indices(0) != a.global_indices(0) or \
        StepBatchSampler(10, 4, seed=6).global_indices(1) != a.global_indices(1)
    # steps 0..4 cover positions 0..19 = two whole epochs: every index exactly twice
    stream = [i for s in range(5) for i in a.global_indices(s)]
    assert sorted(stream) == sorted(list(range(10)) * 2)
    assert sorted(stream[:10]) == list(range(10)) and stream[:10] != stream[10:]
    # resuming iteration at a step gives the same batches
    assert list(StepBatchSampler(10, 4, seed=5, start_step=3, stop_step=5)) == \
        [[(s, i) for i in a.global_indices(s)] for s in (3, 4)]


def test_sampler_shards_the_global_batch_over_ranks():
    single = StepBatchSampler(13, 6, seed=1)
    ranks = [StepBatchSampler(13, 6, seed=1, rank=r, world_size=3) for r in range(3)]
    for step in range(8):
        shards = [sampler.rank_indices(step) for sampler in ranks]
        assert all(len(shard) == 2 for shard in shards)
        assert sum(shards, []) == single.global_indices(step)
    assert len(StepBatchSampler(13, 6, seed=1, start_step=2, stop_step=9)) == 7
    with pytest.raises(ValueError, match="not divisible"):
        StepBatchSampler(13, 6, seed=1, rank=0, world_size=4)
    with pytest.raises(TypeError):
        len(single)


def test_item_generators_depend_on_seed_step_index():
    assert item_generator(1, 2, 3).random() == item_generator(1, 2, 3).random()
    values = {item_generator(*key).random() for key in [(1, 2, 3), (1, 2, 4), (1, 3, 3), (2, 2, 3)]}
    assert len(values) == 4
    assert torch.equal(torch.rand(3, generator=item_torch_generator(1, 2, 3)),
                       torch.rand(3, generator=item_torch_generator(1, 2, 3)))


def test_single_process_setup_and_helpers(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    info = setup_distributed("cpu")
    assert (info.rank, info.world_size, info.is_main, info.device) == (0, 1, True, torch.device("cpu"))
    net = nn.Linear(2, 2)
    assert wrap_ddp(net, info) is net and unwrap_module(net) is net
    assert all_reduce_mean(2.5) == 2.5
    tensor = torch.tensor([1.0, 3.0])
    assert torch.equal(all_reduce_mean(tensor), tensor)
    cleanup_distributed()  # no-op without a group


@pytest.mark.parametrize("env, pattern", [
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not an integer"),
    ({"WORLD_SIZE": "2"}, "RANK is required"),
    ({"WORLD_SIZE": "2", "RANK": "2"}, "outside"),
])
def test_bad_torchrun_environment(monkeypatch, env, pattern):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DistributedError, match=pattern):
        setup_distributed("cpu")


def test_cuda_request_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(DistributedError, match="CUDA is not available"):
        setup_distributed("cuda")


def _ddp_options():
    # noise 0: the two ranks then compute exactly the single-process update (up to rounding)
    return toy.toy_options(steps=6, log_every=3, checkpoint_every_steps=3)


def test_two_gloo_ranks_keep_identical_replicas(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(Path(__file__).resolve()), "child", str(tmp_path / "ddp")]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(tmp_path / "ddp" / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "ddp" / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # only rank 0 writes the logs and checkpoints
    lines = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [3, 6]
    assert torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)["step"] == 6
    # same samples, averaged gradients: close to the single-process run on the global batch
    stage = toy.ToyGANStage(noise_std=0.0)
    toy.Trainer(stage, toy.ToyDataset(), _ddp_options(), tmp_path / "single").run()
    single = {f"net.{k}": v for k, v in stage.net.state_dict().items()}
    single.update({f"critic.{k}": v for k, v in stage.critic.state_dict().items()})
    for key, value in single.items():
        torch.testing.assert_close(rank0[key], value, rtol=0, atol=1e-4)


def _child_main(out_dir: str) -> int:
    info = setup_distributed("cpu")
    assert info.world_size == 2 and torch.distributed.get_backend() == "gloo"
    stage = toy.ToyGANStage(noise_std=0.0)
    if info.rank == 1:  # different initial weights: DDP must broadcast rank 0's
        with torch.no_grad():
            for param in stage.net.parameters():
                param.add_(1.0)
    result = toy.Trainer(stage, toy.ToyDataset(), _ddp_options(), out_dir, dist_info=info).run()
    assert result.finished and result.step == 6
    assert not isinstance(stage.net, torch.nn.parallel.DistributedDataParallel)  # stage untouched
    state = {f"net.{k}": v for k, v in stage.net.state_dict().items()}
    state.update({f"critic.{k}": v for k, v in stage.critic.state_dict().items()})
    torch.save(state, Path(out_dir) / f"rank{info.rank}.pt")
    assert all_reduce_mean(float(info.rank)) == 0.5
    cleanup_distributed()
    return 0


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "child":
    sys.exit(_child_main(sys.argv[2]))
