"""Tests for mlsm.eval.runner and the ``mlsm eval`` command line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mlsm.eval.runner as runner
from mlsm.baselines.classical import CLAHE, GammaCorrection
from mlsm.baselines.registry import build_method
from mlsm.cli import main
from mlsm.data.evalset import load_evalset, synthesize_evalset
from mlsm.eval.runner import (
    EvalConfigError,
    MethodBuildError,
    cell_path,
    method_folder_name,
    output_image_path,
    run_eval,
)
from mlsm.io import read_image
from mlsm.metrics import compute_metrics, psnr

METHODS = ["identity", "gamma", "clahe"]
QUALITIES = (90, 60)
IMAGES = 3  # make_sources() default
SIZE = (64, 48)  # width, height of make_sources() photos (tests/eval/conftest.py)


@pytest.fixture(scope="module")
def evalset_dir(tmp_path_factory, make_sources) -> Path:
    root = tmp_path_factory.mktemp("evalset")
    synthesize_evalset(make_sources(root / "src"), root / "tiny", qualities=QUALITIES, seed=3)
    return root / "tiny"


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def metrics_of(records) -> dict:
    return {(r["method"], r["set"], r["quality"], r["image"]): tuple(r[k] for k in runner.METRIC_KEYS)
            for r in records}


class CountingMethod:
    """Wraps a real method and counts its calls on full-size images (not the warm-up)."""

    calls = 0

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name

    def __call__(self, image):
        if image.shape[:2] == (SIZE[1], SIZE[0]):
            CountingMethod.calls += 1
        return self.inner(image)


class FlakyMethod:
    """Gamma, but raises on the second full-size image it sees (once per instance)."""

    def __init__(self):
        self.inner = build_method("gamma")
        self.name = "gamma"
        self.seen = 0

    def __call__(self, image):
        if image.shape[:2] == (SIZE[1], SIZE[0]):
            self.seen += 1
            if self.seen == 2:
                raise RuntimeError("boom on purpose")
        return self.inner(image)


@pytest.fixture()
def counting(monkeypatch):
    CountingMethod.calls = 0
    monkeypatch.setattr(runner, "build_method",
                        lambda name, peers_dir=None, device="cpu": CountingMethod(build_method(name)))
    return CountingMethod


# ----------------------------------------------------------------------------- results

def test_results_counts_means_and_provenance(evalset_dir, tmp_path):
    path = run_eval(METHODS, [evalset_dir], tmp_path / "run", progress=False)
    results = load(path)
    assert path == tmp_path / "run" / "results.json"
    assert len(results["records"]) == len(METHODS) * len(QUALITIES) * IMAGES
    assert len(results["means"]) == len(METHODS) * len(QUALITIES)
    assert results["failures"] == [] and results["skipped"] == []
    for entry in results["means"]:
        cell = [r for r in results["records"] if (r["method"], r["set"], r["quality"])
                == (entry["method"], entry["set"], entry["quality"])]
        assert entry["n"] == IMAGES and entry["n_failed"] == 0
        for key in (*runner.METRIC_KEYS, "seconds"):
            assert entry[key] == pytest.approx(np.mean([r[key] for r in cell]), rel=1e-12)
    assert {"mlsm", "torch", "numpy", "pillow"} <= set(results["versions"])
    assert isinstance(results["command"], list) and results["threads"] >= 1 and results["platform"]
    (set_entry,) = results["sets"]
    assert set_entry["seed"] == 3 and set_entry["images"] == IMAGES and set_entry["qualities"] == list(QUALITIES)
    assert set_entry["source"] and set_entry["manifest_sha256"]
    assert set(results["records"][0]) >= {"method", "set", "quality", "image", *runner.METRIC_KEYS, "seconds"}


def test_identity_psnr_is_the_input_psnr(evalset_dir, tmp_path):
    results = load(run_eval(["identity"], [evalset_dir], tmp_path / "run", progress=False))
    evalset = load_evalset(evalset_dir)
    checked = 0
    for item in evalset.items:
        gt, _ = read_image(item.gt)
        for quality in QUALITIES:
            low, _ = read_image(item.low_path(quality))
            (record,) = [r for r in results["records"] if r["image"] == item.name and r["quality"] == quality]
            assert record["psnr"] == pytest.approx(psnr(low, gt), abs=1e-9)
            assert record["ssim"] == pytest.approx(compute_metrics(low, gt)["ssim"], abs=1e-9)
            checked += 1
    assert checked == IMAGES * len(QUALITIES)


def test_qualities_and_max_images_limit_the_run(evalset_dir, tmp_path):
    results = load(run_eval(["gamma"], [evalset_dir], tmp_path / "run", qualities=[60], max_images=2,
                            progress=False))
    assert {r["quality"] for r in results["records"]} == {60}
    assert len(results["records"]) == 2
    with pytest.raises(EvalConfigError, match="no QF 70"):
        run_eval(["gamma"], [evalset_dir], tmp_path / "run2", qualities=[70], progress=False)


def test_saved_images_are_the_measured_pixels(evalset_dir, tmp_path):
    results = load(run_eval(["clahe"], [evalset_dir], tmp_path / "run", qualities=[60], save_images=True,
                            progress=False))
    evalset = load_evalset(evalset_dir)
    for record in results["records"]:
        saved = output_image_path(tmp_path / "run", record["set"], "clahe", 60, record["image"])
        output, _ = read_image(saved)
        gt, _ = read_image(next(i for i in evalset.items if i.name == record["image"]).gt)
        assert compute_metrics(output, gt)["psnr"] == pytest.approx(record["psnr"], abs=1e-9)


def test_pipelines_reuse_shared_steps_with_identical_results(evalset_dir, tmp_path, monkeypatch):
    alone = load(run_eval(["gamma+clahe", "clahe+identity"], [evalset_dir], tmp_path / "alone", progress=False))
    calls = {"gamma": 0, "clahe": 0}
    for cls, key in ((GammaCorrection, "gamma"), (CLAHE, "clahe")):
        original = cls.__call__

        def counted(self, image, original=original, key=key):
            if image.shape[:2] == (SIZE[1], SIZE[0]):
                calls[key] += 1
            return original(self, image)

        monkeypatch.setattr(cls, "__call__", counted)
    methods = ["gamma", "gamma+clahe", "clahe+gamma", "clahe+identity"]
    shared = load(run_eval(methods, [evalset_dir], tmp_path / "shared", progress=False))
    inputs = IMAGES * len(QUALITIES)
    assert calls == {"gamma": 2 * inputs, "clahe": 2 * inputs}  # without sharing: 3x each
    both = {k: v for k, v in metrics_of(shared["records"]).items() if k[0] in ("gamma+clahe", "clahe+identity")}
    assert both == metrics_of(alone["records"])
    by_key = {(r["method"], r["quality"], r["image"]): r["seconds"] for r in shared["records"]}
    for (method, quality, image), seconds in by_key.items():
        if method == "gamma+clahe":  # a pipeline's time includes its cached first step
            assert seconds >= by_key[("gamma", quality, image)]


# ----------------------------------------------------------------------------- resume

def test_resume_gives_identical_numbers_without_recomputing(evalset_dir, tmp_path, counting):
    fresh = load(run_eval(METHODS, [evalset_dir], tmp_path / "fresh", progress=False))
    counting.calls = 0
    run_eval(METHODS, [evalset_dir], tmp_path / "resumed", max_images=1, progress=False)
    assert counting.calls == len(METHODS) * len(QUALITIES) * 1
    counting.calls = 0
    resumed = load(run_eval(METHODS, [evalset_dir], tmp_path / "resumed", progress=False))
    assert counting.calls == len(METHODS) * len(QUALITIES) * (IMAGES - 1)
    assert metrics_of(resumed["records"]) == metrics_of(fresh["records"])
    counting.calls = 0
    again = load(run_eval(METHODS, [evalset_dir], tmp_path / "resumed", progress=False))
    assert counting.calls == 0
    assert again["records"] == resumed["records"] and again["means"] == resumed["means"]


def test_resume_recomputes_an_mlsm_model_whose_weights_changed(evalset_dir, tmp_path, one_torch_thread):
    """Cells are named after the method spec; replacing the weight file behind the same spec
    must not reuse the old model's numbers."""
    import shutil

    import torch

    from mlsm.models import Enhancer, ModelConfig, VAEConfig
    from mlsm.models.weights import save_weights

    config = ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))
    weights = tmp_path / "model.safetensors"
    torch.manual_seed(0)
    save_weights(tmp_path / "a.safetensors", Enhancer(config), "enhancer", config)
    torch.manual_seed(1)
    save_weights(tmp_path / "b.safetensors", Enhancer(config), "enhancer", config)
    method = f"mlsm:{weights}"
    notices = []
    shutil.copy(tmp_path / "a.safetensors", weights)
    first = load(run_eval([method, "identity"], [evalset_dir], tmp_path / "run", progress=False, log=notices.append))
    shutil.copy(tmp_path / "b.safetensors", weights)
    second = load(run_eval([method, "identity"], [evalset_dir], tmp_path / "run", progress=False, log=notices.append))
    fresh = load(run_eval([method], [evalset_dir], tmp_path / "fresh", progress=False))

    def mlsm_metrics(results):
        return metrics_of([r for r in results["records"] if r["method"] == method])

    assert mlsm_metrics(second) == mlsm_metrics(fresh) != mlsm_metrics(first)
    assert len({r["weights"] for r in first["records"] if r["method"] == method}) == 1
    assert [n for n in notices if "weights changed" in n] == [
        f"mlsm eval: {method}: its weights changed since {len(QUALITIES) * IMAGES} stored result(s) on "
        f"{second['sets'][0]['name']} were computed; recomputing them"]


def test_resume_after_a_half_written_line(evalset_dir, tmp_path, counting):
    first = load(run_eval(METHODS, [evalset_dir], tmp_path / "run", progress=False))
    name = next(iter(first["sets"]))["name"]
    cell = cell_path(tmp_path / "run", name, "clahe", 60)
    lines = cell.read_text().splitlines()
    assert len(lines) == IMAGES
    cell.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # killed mid-write
    counting.calls = 0
    second = load(run_eval(METHODS, [evalset_dir], tmp_path / "run", progress=False))
    assert counting.calls == 1
    assert metrics_of(second["records"]) == metrics_of(first["records"])
    assert all(json.loads(line) for line in cell.read_text().splitlines())


def test_changed_set_is_not_mixed_with_old_cells(tmp_path, make_sources):
    source = make_sources(tmp_path / "src", 2)
    synthesize_evalset(source, tmp_path / "set", qualities=(80,), seed=1)
    run_eval(["gamma"], [tmp_path / "set"], tmp_path / "run", progress=False)
    synthesize_evalset(source, tmp_path / "set", qualities=(80,), seed=2, overwrite=True)
    with pytest.raises(EvalConfigError, match="different version"):
        run_eval(["gamma"], [tmp_path / "set"], tmp_path / "run", progress=False)


# ----------------------------------------------------------------------------- failures

def test_failing_image_is_recorded_and_the_run_goes_on(evalset_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "build_method", lambda name, peers_dir=None, device="cpu":
                        FlakyMethod() if name == "gamma" else build_method(name))
    messages = []
    results = load(run_eval(["gamma", "identity"], [evalset_dir], tmp_path / "run", progress=False,
                            log=messages.append))
    (failure,) = results["failures"]
    assert failure["method"] == "gamma" and "RuntimeError: boom on purpose" in failure["error"]
    assert any("boom on purpose" in m for m in messages)
    assert len(results["records"]) == 2 * len(QUALITIES) * IMAGES
    failed_cell = next(m for m in results["means"] if m["method"] == "gamma" and m["quality"] == failure["quality"])
    assert failed_cell["n"] == IMAGES - 1 and failed_cell["n_failed"] == 1
    assert all(m["n"] == IMAGES for m in results["means"] if m["method"] == "identity")
    # the failed cell is retried on the next run (a new FlakyMethod fails on its 2nd image,
    # which is now the only one left, so it succeeds)
    retried = load(run_eval(["gamma", "identity"], [evalset_dir], tmp_path / "run", progress=False,
                            log=messages.append))
    assert retried["failures"] == []
    assert len(retried["records"]) == 2 * len(QUALITIES) * IMAGES


def test_unbuildable_method_is_skipped_with_its_reason(evalset_dir, tmp_path):
    messages = []
    results = load(run_eval(["zero_dce", "gamma"], [evalset_dir], tmp_path / "run", qualities=[90],
                            peers_dir=tmp_path / "no-peers", progress=False, log=messages.append))
    (skipped,) = results["skipped"]
    assert skipped["method"] == "zero_dce" and "Epoch99.pth" in skipped["reason"]
    assert len([m for m in messages if "zero_dce" in m]) == 1
    assert {r["method"] for r in results["records"]} == {"gamma"}
    with pytest.raises(MethodBuildError, match="zero_dce"):
        run_eval(["zero_dce"], [evalset_dir], tmp_path / "strict", peers_dir=tmp_path / "no-peers",
                 progress=False, strict=True)


def test_unknown_method_and_bad_set_are_usage_errors(evalset_dir, tmp_path):
    with pytest.raises(EvalConfigError, match="clahe"):
        run_eval(["nonexistent"], [evalset_dir], tmp_path / "run", progress=False)
    with pytest.raises(EvalConfigError, match="nonexistent"):
        run_eval(["gamma+nonexistent"], [evalset_dir], tmp_path / "run", progress=False)
    with pytest.raises(EvalConfigError, match="not an evaluation set"):
        run_eval(["gamma"], [tmp_path], tmp_path / "run", progress=False)


def test_paired_folder_source_is_converted_once(tmp_path, make_sources):
    root = tmp_path / "LOL" / "eval15"
    for index, photo in enumerate(sorted(make_sources(tmp_path / "src", 2).iterdir())):
        with Image.open(photo) as image:
            high = np.asarray(image)
        (root / "high").mkdir(parents=True, exist_ok=True)
        (root / "low").mkdir(parents=True, exist_ok=True)
        Image.fromarray(high).save(root / "high" / f"{index}.png")
        Image.fromarray((high * 0.2).astype(np.uint8)).save(root / "low" / f"{index}.png")
    spec = f"lol:{tmp_path / 'LOL'}"
    results = load(run_eval(["identity"], [spec], tmp_path / "run", qualities=[80], progress=False))
    assert results["sets"][0]["name"] == "LOL" and results["sets"][0]["kind"] == "paired"
    assert (tmp_path / "run" / "sets" / "LOL" / "manifest.json").is_file()
    named = load(run_eval(["identity"], [f"mine={spec}"], tmp_path / "run2", qualities=[80], progress=False))
    assert named["sets"][0]["name"] == "mine" and len(named["records"]) == 2


def test_method_folder_names_are_safe_and_distinct():
    assert method_folder_name("dncnn3+zero_dce") == "dncnn3+zero_dce"
    first, second = method_folder_name("mlsm:a/b.safetensors"), method_folder_name("mlsm:a_b.safetensors")
    assert first != second and "/" not in first and ":" not in first


# ----------------------------------------------------------------------------- CLI

def test_cli_run_writes_tables_and_prints_them(evalset_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    name = load_evalset(evalset_dir).items[0].name
    code = main(["eval", "run", "--methods", "identity", "gamma", "--sets", str(evalset_dir), "--out",
                 str(run_dir), "--no-progress", "--grid", name, "--threads", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| Method |" in out and "**" in out
    for file in ("results.json", "table.md", "table.csv", "per_image.csv"):
        assert (run_dir / file).is_file()
    assert list((run_dir / "plots").glob("*.png"))
    assert (run_dir / f"grid_tiny_qf60_{name}.png").is_file()
    (run_dir / "table.md").unlink()
    assert main(["eval", "report", str(run_dir)]) == 0
    assert (run_dir / "table.md").is_file()


def test_cli_unknown_method_exits_2_listing_known_names(evalset_dir, tmp_path, capsys):
    code = main(["eval", "run", "--methods", "nonexistent", "--sets", str(evalset_dir), "--out",
                 str(tmp_path / "run"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nonexistent" in err and "clahe" in err and "zero_dce" in err
    assert "Traceback" not in err
    assert main(["eval", "run", "--methods", "gamma", "--sets", str(tmp_path / "missing"), "--out",
                 str(tmp_path / "run"), "--no-progress"]) == 2
    assert main(["eval"]) == 2


def test_cli_exits_1_when_an_image_failed(evalset_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "build_method", lambda name, peers_dir=None, device="cpu": FlakyMethod())
    code = main(["eval", "run", "--methods", "gamma", "--sets", str(evalset_dir), "--out", str(tmp_path / "run"),
                 "--qf", "90", "--no-progress"])
    assert code == 1
    assert "failed" in capsys.readouterr().err


def test_fingerprint_carries_the_inference_revision(tmp_path, monkeypatch):
    """A cell computed by an older default inference (another revision) is not reused."""
    import mlsm.inference.options as options
    from mlsm.eval.runner import weights_fingerprint
    from mlsm.models import Enhancer, ModelConfig, VAEConfig
    from mlsm.models.weights import save_weights

    config = ModelConfig(vae=VAEConfig(widths=[4, 6, 8]))
    save_weights(tmp_path / "m.safetensors", Enhancer(config), "enhancer", config)
    method = f"mlsm:{tmp_path / 'm.safetensors'}"
    now = weights_fingerprint(method)
    assert now.endswith(f"@{options.INFERENCE_REVISION}") and len(now.split("@")[0]) == 16
    monkeypatch.setattr(options, "INFERENCE_REVISION", options.INFERENCE_REVISION + 1)
    assert weights_fingerprint(method) != now
    assert weights_fingerprint("zero_dce") is None
