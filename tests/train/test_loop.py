"""The step-based trainer (mlsm.train.loop): learning, logging, exact resume, SIGKILL/SIGTERM.

Also runnable as a script (``python tests/train/test_loop.py child OUT STEPS EVERY SLEEP``):
the subprocess tests train the toy stage in a separate process and kill it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mlsm.train.checkpoint import load_checkpoint
from mlsm.train.loop import (StageError, Trainer, TrainingError, TrainOptions,
                             linear_decay_factor)

REPO = Path(__file__).resolve().parents[2]


class ToyDataset:
    """``count`` random 12x12 images; each item is a random 8x8 crop, maybe flipped, drawn
    from the per-item generator; the target is a fixed colour transform of the input."""

    def __init__(self, count: int = 24, size: int = 12, crop: int = 8):
        generator = torch.Generator().manual_seed(1234)
        self.images = torch.rand(count, 3, size, size, generator=generator)
        self.size, self.crop = size, crop

    def __len__(self) -> int:
        return len(self.images)

    def get_item(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        top, left = (int(v) for v in rng.integers(0, self.size - self.crop + 1, size=2))
        image = self.images[index, :, top:top + self.crop, left:left + self.crop]
        if rng.random() < 0.5:
            image = image.flip(-1)
        target = 0.25 + 0.5 * image.flip(0)  # swap R and B, compress the range
        return {"input": image, "target": target}


class ToyStage:
    """A two-layer conv net regressing the target under L1; optional input noise from the
    global torch RNG (restored on resume); counts its calls in its extra state."""

    def __init__(self, noise_std: float = 0.05, sleep: float = 0.0):
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
        self.noise_std = noise_std
        self.sleep = sleep
        self.calls = 0
        self.validation_batch = ToyDataset().images[:4, :, :8, :8]

    def trainable_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def training_step(self, batch, step: int) -> dict[str, torch.Tensor]:
        if self.sleep:
            time.sleep(self.sleep)
        self.calls += 1
        inputs = batch["input"] + self.noise_std * torch.randn_like(batch["input"])
        self.output = inputs
        for layer in self.net:  # layer by layer: DDP must cope with sub-module calls
            self.output = layer(self.output)
        l1 = (self.output - batch["target"]).abs().mean()
        return {"loss": l1, "l1": l1.detach()}

    def validate(self) -> dict[str, float]:
        target = 0.25 + 0.5 * self.validation_batch.flip(1)
        return {"l1": float((self.net(self.validation_batch) - target).abs().mean())}

    def sample_images(self) -> dict[str, torch.Tensor]:
        return {"output": self.net(self.validation_batch)}

    def extra_state(self) -> dict:
        return {"calls": self.calls}

    def load_extra_state(self, state: dict) -> None:
        self.calls = state["calls"]

    def on_finish(self, out_dir: Path) -> None:
        (out_dir / "toy_done.txt").write_text(str(self.calls))


class ToyGANStage(ToyStage):
    """ToyStage plus a small LSGAN critic on the outputs (second optimiser)."""

    def __init__(self, noise_std: float = 0.05, sleep: float = 0.0):
        super().__init__(noise_std, sleep)
        self.critic = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3))

    def training_step(self, batch, step: int) -> dict[str, torch.Tensor]:
        outputs = super().training_step(batch, step)
        adversarial = ((self.critic(self.output) - 1) ** 2).mean()
        outputs["loss"] = outputs["loss"] + 0.01 * adversarial
        outputs["adversarial"] = adversarial.detach()
        return outputs

    def discriminator_modules(self) -> dict[str, nn.Module]:
        return {"critic": self.critic}

    def discriminator_step(self, batch, step: int) -> dict[str, torch.Tensor]:
        real = self.critic(batch["target"])
        fake = self.critic(self.output.detach())
        return {"loss": 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean())}


def toy_options(**changes) -> TrainOptions:
    values = dict(steps=20, batch_size=8, lr=5e-3, seed=3, log_every=1, tensorboard=False,
                  num_threads=1, device="cpu", deterministic=True)
    values.update(changes)
    return TrainOptions(**values)


def parameters(*modules: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for module in modules for p in module.parameters()]


def read_metrics(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def assert_same(reference: list[torch.Tensor], other: list[torch.Tensor]) -> None:
    assert len(reference) == len(other)
    for a, b in zip(reference, other):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def uninterrupted_gan(tmp_path_factory) -> tuple[list[torch.Tensor], list[dict], int]:
    """20 uninterrupted steps of the GAN toy stage: parameters, metrics, call count."""
    out_dir = tmp_path_factory.mktemp("reference")
    stage = ToyGANStage()
    result = Trainer(stage, ToyDataset(), toy_options(), out_dir).run()
    assert result.finished and not result.interrupted and result.step == 20
    return parameters(stage.net, stage.critic), read_metrics(out_dir), stage.calls


def test_linear_decay_factor():
    assert linear_decay_factor(0, 100, 0) == 1.0
    assert linear_decay_factor(50, 100, 0) == 0.5
    assert linear_decay_factor(99, 100, 0) == pytest.approx(0.01)
    assert linear_decay_factor(59, 100, 60) == 1.0
    assert linear_decay_factor(80, 100, 60) == 0.5


def test_loss_decreases_and_outputs_are_written(tmp_path):
    stage = ToyStage(noise_std=0.0)
    options = toy_options(steps=60, log_every=10, val_every=30, tensorboard=True,
                          lr_decay_start=30)
    result = Trainer(stage, ToyDataset(), options, tmp_path, config={"name": "toy"}).run()
    assert result.finished and result.checkpoint == tmp_path / "last.pt"
    train = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert [r["step"] for r in train] == [10, 20, 30, 40, 50, 60]
    assert train[-1]["loss"] < 0.5 * train[0]["loss"]
    assert all(r["it_per_s"] > 0 and "l1" in r for r in train)
    # lr: constant until step 30, then linear to 0 at 60 (logged: lr used by the step)
    assert train[2]["lr"] == pytest.approx(5e-3)
    assert train[4]["lr"] == pytest.approx(5e-3 * (60 - 49) / 30)
    val = [r for r in read_metrics(tmp_path) if r["kind"] == "val"]
    assert [r["step"] for r in val] == [30, 60] and val[1]["l1"] < val[0]["l1"]
    if importlib.util.find_spec("tensorboard") is not None:
        assert any((tmp_path / "tb").iterdir())
    assert (tmp_path / "toy_done.txt").read_text() == "60"
    final = load_checkpoint(tmp_path / "final.pt")
    assert final["step"] == 60 and final["config"] == {"name": "toy"}
    torch.testing.assert_close(final["modules"]["net"]["0.weight"], stage.net[0].weight.detach())
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 60 and last["options"]["steps"] == 60
    assert set(last) >= {"modules", "optimizers", "schedulers", "rng", "data", "extra"}


def test_resume_in_process_matches_uninterrupted_run(tmp_path, uninterrupted_gan):
    reference, reference_metrics, reference_calls = uninterrupted_gan
    first = Trainer(ToyGANStage(), ToyDataset(), toy_options(stop_after=10), tmp_path).run()
    assert first.step == 10 and not first.finished and not (tmp_path / "final.pt").exists()
    stage = ToyGANStage()  # fresh weights: everything must come from the checkpoint
    second = Trainer(stage, ToyDataset(), toy_options(), tmp_path).run(resume=True)
    assert second.finished and second.step == 20
    assert_same(reference, parameters(stage.net, stage.critic))
    assert stage.calls == reference_calls  # extra state restored
    metrics = read_metrics(tmp_path)
    assert [r["step"] for r in metrics] == list(range(1, 21))
    assert [r["loss"] for r in metrics] == pytest.approx([r["loss"] for r in reference_metrics],
                                                         abs=1e-6)
    assert "d_loss" in metrics[-1]


def test_resume_refuses_to_overwrite_and_checks_modules(tmp_path):
    Trainer(ToyStage(), ToyDataset(), toy_options(steps=2), tmp_path).run()
    with pytest.raises(TrainingError, match="last.pt exists"):
        Trainer(ToyStage(), ToyDataset(), toy_options(steps=2), tmp_path).run()
    from mlsm.train.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match="do not match"):
        Trainer(ToyGANStage(), ToyDataset(), toy_options(steps=4), tmp_path).run(resume=True)


def test_data_workers_do_not_change_the_result(tmp_path):
    runs = []
    for workers in (0, 2):
        stage = ToyStage()
        Trainer(stage, ToyDataset(), toy_options(steps=6, num_workers=workers),
                tmp_path / str(workers)).run()
        runs.append(parameters(stage.net))
    assert_same(runs[0], runs[1])


class _NoLossStage(ToyStage):
    def training_step(self, batch, step):
        return {"l1": super().training_step(batch, step)["loss"]}


class _DottedNameStage(ToyStage):
    def trainable_modules(self):
        return {"model.net": self.net}


class _NanStage(ToyStage):
    def training_step(self, batch, step):
        outputs = super().training_step(batch, step)
        outputs["loss"] = outputs["loss"] * float("nan")
        return outputs


@pytest.mark.parametrize("stage_cls, error, pattern", [
    (_NoLossStage, StageError, "'loss'"),
    (_DottedNameStage, StageError, "without dots"),
    (_NanStage, TrainingError, "non-finite"),
])
def test_stage_errors(tmp_path, stage_cls, error, pattern):
    with pytest.raises(error, match=pattern):
        Trainer(stage_cls(), ToyDataset(), toy_options(steps=3), tmp_path).run()
    with pytest.raises(StageError):
        Trainer(object(), ToyDataset(), toy_options(), tmp_path)


class _DisabledCriticStage(ToyStage):
    """A stage whose discriminator is switched off: empty discriminator_modules()."""

    def discriminator_modules(self):
        return {}

    def discriminator_step(self, batch, step):
        raise AssertionError("must not be called without discriminator modules")


def test_empty_discriminator_modules_mean_no_discriminator(tmp_path):
    Trainer(_DisabledCriticStage(), ToyDataset(), toy_options(steps=2), tmp_path).run()
    checkpoint = load_checkpoint(tmp_path / "last.pt")
    assert set(checkpoint["optimizers"]) == {"generator"} and set(checkpoint["modules"]) == {"net"}
    assert "d_loss" not in read_metrics(tmp_path)[-1]


def test_missing_tensorboard_warns_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    Trainer(ToyStage(), ToyDataset(), toy_options(steps=2, tensorboard=True), tmp_path).run()
    warnings = [r for r in caplog.records if "tensorboard" in r.getMessage().lower()]
    assert len(warnings) == 1 and not (tmp_path / "tb").exists()


def _start_child(out_dir: Path, steps: int, every: int, sleep: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "child", str(out_dir),
                             str(steps), str(every), str(sleep)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"child exited early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("child wrote no checkpoint in time")
        time.sleep(0.02)


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, uninterrupted_gan):
    reference, _, _ = uninterrupted_gan
    child = _start_child(tmp_path, steps=20, every=4, sleep=0.15)
    _wait_for(tmp_path / "last.pt", child)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(tmp_path / "last.pt")["step"]
    assert 4 <= killed_at < 20 and killed_at % 4 == 0
    stage = ToyGANStage()
    result = Trainer(stage, ToyDataset(), toy_options(checkpoint_every_steps=4), tmp_path).run(resume=True)
    assert result.finished
    assert_same(reference, parameters(stage.net, stage.critic))
    assert [r["step"] for r in read_metrics(tmp_path)] == list(range(1, 21))


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    child = _start_child(tmp_path, steps=500, every=4, sleep=0.03)
    _wait_for(tmp_path / "last.pt", child)
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["interrupted"] and not result["finished"]
    checkpoint = load_checkpoint(tmp_path / "last.pt")
    assert checkpoint["step"] == result["step"] == read_metrics(tmp_path)[-1]["step"] < 500


def _child_main(out_dir: str, steps: str, every: str, sleep: str) -> int:
    stage = ToyGANStage(sleep=float(sleep))
    options = toy_options(steps=int(steps), checkpoint_every_steps=int(every))
    result = Trainer(stage, ToyDataset(), options, out_dir).run()
    print(json.dumps({"step": result.step, "finished": result.finished,
                      "interrupted": result.interrupted}), flush=True)
    return 0


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "child":
    sys.exit(_child_main(*sys.argv[2:]))


class ScriptedValidationStage(ToyStage):
    """ToyStage whose validation score follows a script; records on_best calls."""

    def __init__(self, scores):
        super().__init__(noise_std=0.0)
        self.scores = list(scores)
        self.best_calls = []

    def validate(self) -> dict[str, float]:
        return {"score": self.scores.pop(0)}

    def on_best(self, out_dir: Path, step: int, value: float) -> None:
        self.best_calls.append((step, value))


def test_keep_best_calls_on_best_only_on_improvement_and_survives_resume(tmp_path):
    stage = ScriptedValidationStage([1.0, 3.0, 2.0, 2.5])
    options = toy_options(steps=40, val_every=10, keep_best="score", stop_after=20)
    Trainer(stage, ToyDataset(), options, tmp_path).run()
    assert stage.best_calls == [(10, 1.0), (20, 3.0)]
    assert load_checkpoint(tmp_path / "last.pt")["best_value"] == 3.0
    resumed = ScriptedValidationStage([2.0, 3.5])
    Trainer(resumed, ToyDataset(), toy_options(steps=40, val_every=10, keep_best="score"), tmp_path).run(resume=True)
    assert resumed.best_calls == [(40, 3.5)]  # 2.0 at step 30 is no better than the stored 3.0


def test_keep_best_names_a_missing_validation_key(tmp_path):
    stage = ScriptedValidationStage([1.0])
    with pytest.raises(StageError, match="keep_best='psnr'"):
        Trainer(stage, ToyDataset(), toy_options(steps=10, val_every=10, keep_best="psnr"), tmp_path).run()


@pytest.mark.parametrize("change", [{"steps": 8}, {"lr": 1e-3}, {"lr_decay_start": 2}])
def test_resume_refuses_a_changed_schedule_unless_forced(tmp_path, change, caplog):
    Trainer(ToyStage(), ToyDataset(), toy_options(steps=6, stop_after=3), tmp_path).run()
    key = next(iter(change))
    options = toy_options(**{"steps": 6, **change})
    with pytest.raises(TrainingError, match=f"train.{key} .* -> .*--force"):
        Trainer(ToyStage(), ToyDataset(), options, tmp_path).run(resume=True)
    with caplog.at_level("WARNING", logger="mlsm.train.loop"):
        result = Trainer(ToyStage(), ToyDataset(), options, tmp_path).run(resume=True, force=True)
    assert result.finished and result.step == options.steps
    assert any("resuming anyway" in record.getMessage() for record in caplog.records)
