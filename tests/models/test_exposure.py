"""The global exposure head: features, calibration, fitting, storage and every backend."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from mlsm.cli import main
from mlsm.colour import linear_to_srgb, srgb_to_linear
from mlsm.colour import srgb_to_linear as np_srgb_to_linear
from mlsm.data.degrade import DegradationRanges, degrade, sample_params
from mlsm.io import read_image, write_image
from mlsm.models.exposure import ExposureHead
from mlsm.models.weights import read_metadata
from mlsm.inference import load_model
from mlsm.models.zoo import load_network
from mlsm.train.exposure import ExposureOptions, attach_exposure_head, fit_exposure_head

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def constant_head(log_mean: float, **options) -> ExposureHead:
    """A head that predicts ``log_mean`` for every image (only the constant weight set)."""
    head = ExposureHead(**options)
    head.weight[-1] = log_mean
    return head


def linear_mean(image: torch.Tensor) -> float:
    return float(srgb_to_linear(image).mean())


def scene(seed: int, size: int = 64) -> np.ndarray:
    """A clean 'photo': textured background of random brightness and a white object."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.15, 0.6)
    image = np.clip(level + 0.1 * rng.standard_normal((size, size, 3)), 0, 1).astype(np.float32)
    top, left = rng.integers(0, size - 12, 2)
    image[top:top + 12, left:left + 12] = 1.0
    return image


def test_transfer_functions_match_the_numpy_ones():
    x = torch.linspace(0, 1, 101)
    assert torch.allclose(srgb_to_linear(x), torch.from_numpy(np_srgb_to_linear(x.numpy())), atol=1e-6)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)


def test_features_are_the_log_mean_and_log_percentiles_of_the_grid():
    head = ExposureHead(grid_cells=64)
    image = torch.rand(2, 3, 40, 24, generator=torch.Generator().manual_seed(0))
    features = head.features(image)
    assert features.shape == (2, head.num_features)
    cells = head.grid(image)
    assert cells.shape[1] == pytest.approx(64, abs=8)
    assert torch.allclose(features[:, 0], torch.log(srgb_to_linear(image).mean((1, 2, 3)).double() + 1e-5), atol=1e-4)
    assert torch.allclose(features[:, -2], torch.log(cells.max(1).values.double() + 1e-5))
    assert torch.equal(features[:, -1], torch.ones(2, dtype=torch.float64))
    assert torch.all(features[:, 1:-2].diff(dim=1) >= 0)  # percentiles ascend


def test_features_barely_depend_on_the_image_size():
    """The grid makes a photo and its 3x enlargement look alike (same exposure, same say)."""
    head = ExposureHead(grid_cells=256)
    small = torch.from_numpy(scene(3)).permute(2, 0, 1)[None]
    large = torch.nn.functional.interpolate(small, scale_factor=3, mode="nearest")
    assert torch.allclose(head.features(small), head.features(large), atol=0.05)


def test_calibration_sets_the_linear_mean_to_the_prediction():
    dark = torch.full((1, 3, 32, 32), 0.2)                  # linear mean ~0.033
    output = torch.full((1, 3, 32, 32), 0.3)
    head = constant_head(math.log(0.2))                      # implied exposure 0.166: in range
    calibrated = head.calibrate(dark, output)
    assert linear_mean(calibrated) == pytest.approx(0.2, rel=1e-3)
    assert linear_mean(head.calibrate(dark, output, brightness=1.5)) == pytest.approx(0.3, rel=1e-3)


def test_gain_is_clipped_and_out_of_range_exposures_keep_the_network_output():
    dark = torch.full((1, 3, 16, 16), 0.2)                   # linear mean ~0.033
    output = torch.full((1, 3, 16, 16), 0.02)                # linear mean ~0.0015
    clipped = constant_head(math.log(0.5), max_gain=2.0).calibrate(dark, output)
    assert linear_mean(clipped) == pytest.approx(2 * linear_mean(output), rel=1e-3)
    # the prediction implies exposure 0.033 / 0.04 = 0.83, two stops above the fitted 0.3
    kept = constant_head(math.log(0.04)).calibrate(dark, output)
    assert torch.allclose(kept, output, atol=1e-6)
    # half a stop above the range: half the say
    implied_high = 0.3 * 2 ** 0.5
    predicted = linear_mean(dark) / implied_high
    half = constant_head(math.log(predicted)).calibrate(dark, torch.full((1, 3, 16, 16), 0.5))
    expected = math.sqrt(predicted / linear_mean(torch.full((1, 3, 16, 16), 0.5)))  # gain^(1/2)
    assert linear_mean(half) / linear_mean(torch.full((1, 3, 16, 16), 0.5)) == pytest.approx(expected, rel=1e-3)


def test_bad_head_arguments():
    with pytest.raises(ValueError, match="grid_cells"):
        ExposureHead(grid_cells=0)
    with pytest.raises(ValueError, match="percentiles"):
        ExposureHead(percentiles=[1.5])
    with pytest.raises(ValueError, match="max_gain"):
        ExposureHead(max_gain=0.5)
    with pytest.raises(ValueError, match="exposure_range"):
        ExposureHead(exposure_range=(0.3, 0.03))
    with pytest.raises(ValueError, match="brightness"):
        ExposureHead().calibrate(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), brightness=0)
    with pytest.raises(ValueError, match="12 features"):
        ExposureHead.from_spec(ExposureHead().spec(), [0.0] * 3)


def test_fitted_head_predicts_unseen_photos_better_than_a_constant():
    ranges = DegradationRanges(quality=(60, 95))
    head, fit = fit_exposure_head([scene(i) for i in range(24)], ranges, ExposureOptions(draws=6, grid_cells=1024))
    assert fit["samples"] == 24 * 6 and fit["train_rmse_log_mean"] < 0.3
    rng = np.random.default_rng(99)
    errors, targets = [], []
    for seed in range(100, 120):
        clean = scene(seed)
        target = math.log(float(np_srgb_to_linear(clean).mean()))
        dark = torch.from_numpy(degrade(clean, sample_params(rng, ranges), rng)).permute(2, 0, 1)[None]
        errors.append(float(head(dark)) - target)
        targets.append(target)
    rmse = float(np.sqrt(np.mean(np.square(errors))))
    assert rmse < 0.5 * float(np.std(targets))   # the constant predictor's error is std(targets)


@pytest.fixture(scope="module")
def calibrated_weights(tiny_weights, tmp_path_factory):
    head = constant_head(math.log(0.15), max_gain=1000.0)  # the random network's output may be dim
    path = tmp_path_factory.mktemp("calibrated") / "model.safetensors"
    return str(attach_exposure_head(tiny_weights, head, path, {"note": "constant head, tests"}))


def test_weights_round_trip_the_head(calibrated_weights, tiny_weights):
    metadata = read_metadata(calibrated_weights)
    assert metadata["exposure"]["exposure_range"] == [0.03, 0.3]
    assert metadata["card"]["exposure_head"] == {"note": "constant head, tests"}
    network, loaded = load_network(calibrated_weights)
    plain, _ = load_network(tiny_weights)
    assert all(torch.equal(a, b) for a, b in zip(network.state_dict().values(), plain.state_dict().values()))
    assert torch.equal(loaded["exposure_head"].weight, constant_head(math.log(0.15)).weight)
    assert loaded["exposure_head"].max_gain == 1000.0
    assert load_network(tiny_weights)[1]["exposure_head"] is None


def test_a_head_tensor_without_its_spec_is_refused(tiny_weights, tmp_path):
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    tensors = load_file(tiny_weights)
    tensors["exposure_head.weight"] = torch.zeros(12)
    with safe_open(tiny_weights, framework="pt") as handle:
        metadata = handle.metadata()
    broken = tmp_path / "broken.safetensors"
    save_file(tensors, str(broken), metadata=metadata)
    with pytest.raises(ValueError, match="without an 'exposure' spec"):
        load_network(broken)


def test_model_calibrates_whole_and_tiled_alike(calibrated_weights):
    image = np.clip(np.random.default_rng(1).random((90, 70, 3)) * 0.15, 0, 1).astype(np.float32)
    # the head sets the linear channel mean; the colour balance after it keeps luminance instead
    plain = {"colour_balance": False}
    model = load_model(calibrated_weights, **plain)
    whole = model.enhance(image)
    assert float(np_srgb_to_linear(whole).mean()) == pytest.approx(0.15, rel=0.02)
    tiled = load_model(calibrated_weights, tile=48, overlap=16, **plain).enhance(image)
    raw_whole = load_model(calibrated_weights, calibrate_exposure=False, **plain).enhance(image)
    raw_tiled = load_model(calibrated_weights, calibrate_exposure=False, tile=48, overlap=16, **plain).enhance(image)
    # the gain is one number from the whole image, so tiling changes only the network part
    gain_whole = np_srgb_to_linear(whole).mean() / np_srgb_to_linear(raw_whole).mean()
    gain_tiled = np_srgb_to_linear(tiled).mean() / np_srgb_to_linear(raw_tiled).mean()
    assert gain_tiled == pytest.approx(gain_whole, rel=0.02)
    assert not np.allclose(whole, raw_whole, atol=1e-3)


def test_onnx_backend_applies_the_same_head(calibrated_weights, tmp_path):
    pytest.importorskip("onnxruntime")
    from mlsm.export import load_onnx_model

    image = np.clip(np.random.default_rng(2).random((40, 52, 3)) * 0.2, 0, 1).astype(np.float32)
    expected = load_model(calibrated_weights).enhance(image)
    assert np.abs(load_onnx_model(calibrated_weights).enhance(image) - expected).max() <= 1e-3
    path = tmp_path / "calibrated.onnx"
    assert main(["export-onnx", "--model", calibrated_weights, "-o", str(path)]) == 0
    from_file = load_onnx_model(path)
    assert from_file.exposure_head is not None
    assert np.abs(from_file.enhance(image) - expected).max() <= 1e-3
    assert load_onnx_model(path, calibrate_exposure=False).exposure_head is None


def test_train_exposure_cli_attaches_a_fitted_head(tiny_weights, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        write_image(photos / f"{i}.png", scene(i, 48))
    out = tmp_path / "run"
    args = ["train", "exposure", "--init", tiny_weights, "--out", str(out),
            "--set", f"data.photos=[{photos}]", "--set", "exposure.draws=3", "--set", "exposure.grid_cells=256"]
    assert main(args) == 0
    assert "12 samples" in capsys.readouterr().out
    metadata = read_metadata(out / "model.safetensors")
    assert metadata["card"]["exposure_head"]["samples"] == 12
    assert metadata["exposure"]["grid_cells"] == 256
    assert (out / "exposure_fit.json").is_file()
    assert main(["train", "exposure", "--out", str(out)]) == 2
    assert "needs --init" in capsys.readouterr().err
    # v4: the head reads the network's output (the fit runs it) and carries the do-no-harm blend
    assert main([*args, "--set", "exposure.output_feature=true", "--set", "exposure.keep_input=[0.5,0.8]"]) == 0
    metadata = read_metadata(out / "model.safetensors")
    assert metadata["exposure"]["output_feature"] is True and metadata["exposure"]["keep_input"] == [0.5, 0.8]
    model = load_model(out / "model.safetensors")
    assert model.exposure_head.output_feature and model.exposure_head.num_features == 13
    assert model.enhance(scene(9, 48)).shape == (48, 48, 3)


def test_train_keep_gate_cli_attaches_a_gate_to_the_existing_head(calibrated_weights, tiny_weights, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        write_image(photos / f"{i}.png", scene(i, 48))
    out = tmp_path / "run"
    args = ["train", "keep-gate", "--out", str(out), "--set", f"data.photos=[{photos}]",
            "--set", "exposure.keep_gate_draws=1"]
    assert main([*args, "--init", calibrated_weights]) == 0
    assert "keep gate: 24 samples" in capsys.readouterr().out  # 6 x (as is, JPEG, v1, v2)
    before, after = load_network(calibrated_weights)[1], load_network(out / "model.safetensors")[1]
    assert torch.equal(after["exposure_head"].weight, before["exposure_head"].weight)  # regression untouched
    assert after["exposure_head"].keep_gate is not None and before["exposure_head"].keep_gate is None
    assert after["card"]["exposure_head"]["keep_gate"]["samples"] == 24 and (out / "keep_gate_fit.json").is_file()
    model = load_model(out / "model.safetensors")
    assert model.enhance(scene(9, 48)).shape == (48, 48, 3)
    assert main([*args, "--init", tiny_weights]) == 1  # no head to attach to
    assert "no exposure head" in capsys.readouterr().err


def test_enhance_cli_brightness_and_opt_out(calibrated_weights, tmp_path):
    source = tmp_path / "dark.png"
    write_image(source, np.clip(np.random.default_rng(3).random((40, 40, 3)) * 0.15, 0, 1).astype(np.float32))
    means = {}
    for name, extra in {"default": [], "brighter": ["--brightness", "2"],
                        "raw": ["--no-exposure-calibration"],
                        "raw_brighter": ["--no-exposure-calibration", "--brightness", "2"]}.items():
        out = tmp_path / name
        assert main(["enhance", str(source), "-o", str(out), "--model", calibrated_weights, *extra]) == 0
        means[name] = float(np_srgb_to_linear(read_image(out / "dark.png")[0]).mean())
    assert means["default"] == pytest.approx(0.15, rel=0.03)
    assert means["brighter"] == pytest.approx(0.30, rel=0.08)  # less where pixels clip at white
    assert abs(means["raw"] - 0.15) > 0.01
    assert means["raw_brighter"] == pytest.approx(2 * means["raw"], rel=0.1)  # without a head too


def test_v2_fit_with_pairs_and_unchanged_photos_keeps_well_exposed_brightness():
    """Real pairs and x1 photos join the fit; with hinge knots the head keeps a well-exposed
    photo's brightness (do no harm) while still predicting the dark photos' targets."""
    ranges = DegradationRanges(quality=(60, 95))
    photos = [scene(i) for i in range(24)]
    rng = np.random.default_rng(5)
    pairs = [(degrade(clean, sample_params(rng, ranges), rng), clean) for clean in (scene(i) for i in range(30, 36))]
    options = ExposureOptions(draws=4, grid_cells=1024, unchanged_draws=2, pair_draws=2,
                              log_mean_knots=[-5.0, -4.0, -3.0, -2.0], exposure_range=(0.01, 1.0))
    head, fit = fit_exposure_head(photos, ranges, options, pairs=pairs)
    assert fit["samples"] == 24 * 4 + 24 * 2 + 6 * 2 and fit["pairs"] == 6
    assert set(fit["train_rmse_by_group"]) == {"synthetic", "unchanged", "pairs"}
    assert head.num_features == len(head.percentiles) + 4 + 2
    restored = ExposureHead.from_spec(head.spec(), head.weight)
    assert restored.log_mean_knots == (-5.0, -4.0, -3.0, -2.0)
    linear_fit_error = fit_exposure_head(photos, ranges, ExposureOptions(
        draws=4, grid_cells=1024, unchanged_draws=2, exposure_range=(0.01, 1.0)))[1]["train_rmse_by_group"]
    assert fit["train_rmse_by_group"]["unchanged"] < linear_fit_error["unchanged"]
    clean = torch.from_numpy(scene(50)).permute(2, 0, 1)[None]
    target = math.log(float(np_srgb_to_linear(scene(50)).mean()))
    assert abs(float(head(clean)) - target) < 0.35
    with pytest.raises(ValueError, match="unchanged_draws"):
        ExposureOptions(unchanged_draws=3)
    with pytest.raises(ValueError, match="unchanged_weight"):
        ExposureOptions(unchanged_weight=0)
    heavier = fit_exposure_head(photos, ranges, dataclasses.replace(options, unchanged_weight=10.0), pairs=pairs)[1]
    assert heavier["train_rmse_by_group"]["unchanged"] < fit["train_rmse_by_group"]["unchanged"]
    with pytest.raises(ValueError, match="log_mean_knots"):
        ExposureHead(log_mean_knots=[math.nan])


def test_train_exposure_cli_fits_on_real_pairs_minus_held_out_names(tiny_weights, tmp_path, capsys):
    """data.pairs join the fit (whole images), the validation names and 648 stay out."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        write_image(photos / f"{i}.png", scene(i, 48))
    lol = tmp_path / "lol"
    for part in ("low", "high"):
        (lol / part).mkdir(parents=True)
    for i in range(5):
        clean = scene(10 + i, 48)
        write_image(lol / "high" / f"{i}.png", clean)
        write_image(lol / "low" / f"{i}.png", (clean * 0.1).astype(np.float32))
    split = tmp_path / "val.txt"
    split.write_text("# held out\n3\n")
    out = tmp_path / "run"
    args = ["train", "exposure", "--init", tiny_weights, "--out", str(out),
            "--set", f"data.photos=[{photos}]", "--set", f"data.pairs=[{lol}:lol]", "--set", "data.pairs_fraction=0.5",
            "--set", f"data.pairs_validation_list={split}", "--set", "data.pairs_exclude=[\"4\"]",
            "--set", "exposure.draws=2", "--set", "exposure.pair_draws=2", "--set", "exposure.unchanged_draws=1",
            "--set", "exposure.grid_cells=256"]
    assert main(args) == 0
    fit = read_metadata(out / "model.safetensors")["card"]["exposure_head"]
    assert fit["pairs"] == 3 and fit["samples"] == 3 * 2 + 3 * 1 + 3 * 2
    assert set(fit["train_rmse_by_group"]) == {"synthetic", "unchanged", "pairs"}


def test_output_feature_head_reads_the_output_and_needs_it():
    head = ExposureHead(grid_cells=64, output_feature=True)
    image, output = torch.rand(1, 3, 32, 32) * 0.1, torch.full((1, 3, 32, 32), 0.5)
    features = head.features(image, output)
    assert features.shape == (1, head.num_features) == (1, len(head.percentiles) + 3)
    assert float(features[0, -2]) == pytest.approx(math.log(linear_mean(output) + 1e-5), abs=1e-6)
    with pytest.raises(ValueError, match="output="):
        head.features(image)
    # weight 1 on the output's log mean: the prediction is the network's own brightness, kept
    head.weight[-2] = 1.0
    torch.testing.assert_close(head.calibrate(image, output), output, atol=2e-5, rtol=0)
    restored = ExposureHead.from_spec(head.spec(), head.weight)
    assert restored.output_feature and restored.spec() == head.spec()


def test_keep_input_weight_follows_the_implied_exposure():
    image = torch.from_numpy(scene(3)).permute(2, 0, 1)[None]
    output = torch.full_like(image, 0.9)
    own = math.log(linear_mean(image))
    kept = constant_head(own, keep_input=(0.5, 0.8))  # predicts the input's own brightness: e = 1
    assert float(kept.input_weight(image, output)) == 1.0
    assert float(constant_head(own + math.log(10.0), keep_input=(0.5, 0.8)).input_weight(image, output)) == 0.0
    middle = constant_head(own - math.log(math.sqrt(0.5 * 0.8)), keep_input=(0.5, 0.8))  # halfway in log e
    assert float(middle.input_weight(image, output)) == pytest.approx(0.5, abs=1e-3)
    assert float(constant_head(own).input_weight(image, output)) == 0.0  # no keep_input: never
    assert ExposureHead.from_spec(kept.spec(), kept.weight).keep_input == (0.5, 0.8)
    assert "keep_input" not in ExposureHead().spec() and "output_feature" not in ExposureHead().spec()
    with pytest.raises(ValueError, match="keep_input"):
        ExposureHead(keep_input=(0.8, 0.5))


def test_output_feature_fit_runs_the_network_and_learns_to_trust_it(monkeypatch):
    """With a 'network' whose output has the clean photo's brightness, the fit trusts it."""
    import mlsm.train.exposure as exposure_module

    ranges = DegradationRanges(quality=(60, 95))
    photos = [scene(i) for i in range(12)]
    options = ExposureOptions(draws=3, grid_cells=1024, output_feature=True, ridge=1e-3)
    with pytest.raises(ValueError, match="enhance="):
        fit_exposure_head(photos, ranges, options)
    current, calls = [], []
    original = exposure_module.degrade
    monkeypatch.setattr(exposure_module, "degrade",
                        lambda photo, params, rng: current.append(photo) or original(photo, params, rng))

    def oracle(dark: np.ndarray) -> np.ndarray:
        calls.append(dark.shape)
        return current[-1]

    head, fit = fit_exposure_head(photos, ranges, options, enhance=oracle)
    assert len(calls) == 12 * 3 and fit["output_feature"] is True
    assert fit["train_rmse_log_mean"] < 0.02
    assert float(head.weight[-2]) == pytest.approx(1.0, abs=0.05)


def gate_head(bias: float, band=(0.35, 0.65), **options) -> ExposureHead:
    """A head whose keep gate has only a bias: the same logit for every image."""
    percentiles = [0.1, 0.5, 1.0]
    return ExposureHead(grid_cells=64, keep_gate={"percentiles": percentiles, "weight": [0.0] * 4 + [bias],
                                                   "band": list(band)}, **options)


def test_keep_gate_weight_is_a_ramp_in_the_logit_between_the_band():
    image, output = torch.rand(2, 3, 32, 32) * 0.5, torch.full((2, 3, 32, 32), 0.9)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    assert torch.equal(gate_head(logit(0.7)).input_weight(image, output), torch.ones(2, dtype=torch.float64))
    assert torch.equal(gate_head(logit(0.3)).input_weight(image, output), torch.zeros(2, dtype=torch.float64))
    assert float(gate_head(0.0).input_weight(image, output)[0]) == pytest.approx(0.5)  # p = 0.5: halfway
    features = gate_head(0.0).keep_features(image)
    cells = gate_head(0.0).grid(image).double()
    assert features.shape == (2, 5) and torch.equal(features[:, -1], torch.ones(2, dtype=torch.float64))
    assert torch.allclose(features[:, 3], torch.log(cells.max(1).values + 1e-5))
    # stored in the spec (every weight format carries it), restored exactly
    head = gate_head(1.25)
    restored = ExposureHead.from_spec(head.spec(), head.weight)
    assert restored.keep_gate == head.keep_gate and restored.spec() == head.spec()
    assert "keep_gate" not in ExposureHead().spec()


@pytest.mark.parametrize("gate, match", [
    ({"percentiles": [0.5], "weight": [0.0, 0.0], "band": [0.35, 0.65]}, "3 finite weights"),
    ({"percentiles": [0.5], "weight": [0.0] * 3, "band": [0.65, 0.35]}, "band"),
    ({"percentiles": [1.5], "weight": [0.0] * 3, "band": [0.35, 0.65]}, "percentiles"),
    ({"weight": [0.0] * 3, "band": [0.35, 0.65]}, "needs percentiles"),
])
def test_malformed_keep_gates_are_refused(gate, match):
    with pytest.raises(ValueError, match=match):
        ExposureHead(keep_gate=gate)
    with pytest.raises(ValueError, match="not both"):
        gate_head(0.0, keep_input=(0.5, 0.8))


def test_fit_keep_gate_keeps_clean_photos_and_not_their_degradations():
    from mlsm.train.exposure import fit_keep_gate

    photos = [scene(i) for i in range(16)]
    head = ExposureHead(grid_cells=256)
    gate, fit = fit_keep_gate(head, photos, ExposureOptions(keep_gate_draws=2, keep_gate_negatives=["v1"]), seed=0)
    assert fit["samples"] == 16 * (2 + 2) and len(gate["weight"]) == len(gate["percentiles"]) + 2
    gated = ExposureHead.from_spec({**head.spec(), "keep_gate": gate}, head.weight)
    rng = np.random.default_rng(7)  # unseen photos and draws
    for seed in range(20, 24):
        clean = torch.from_numpy(scene(seed)).permute(2, 0, 1)[None]
        dark = torch.from_numpy(degrade(scene(seed), sample_params(rng, DegradationRanges.v1()), rng)).permute(2, 0, 1)[None]
        assert float(gated.input_weight(clean, clean)) == 1.0
        assert float(gated.input_weight(dark, dark)) == 0.0
    with pytest.raises(ValueError, match="keep_gate_negatives"):
        ExposureOptions(keep_gate_negatives=["v3"])


def test_the_brightness_floor_lifts_only_outputs_below_it():
    head = ExposureHead(grid_cells=64, floor_log_mean=math.log(0.2))  # no say (zero weights): only the floor
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4)) * 0.1
    dim, bright = torch.full((1, 3, 32, 32), 0.25), torch.full((1, 3, 32, 32), 0.7)  # linear 0.05, 0.45
    lift = math.log(0.2 / linear_mean(dim))
    assert float(head.floor_log_gain(dim)) == pytest.approx(lift, rel=1e-4)
    assert float(head.floor_log_gain(bright)) == 0.0  # above the floor: untouched
    assert float(head.floor_log_gain(dim, brightness=0.5)) == pytest.approx(lift + math.log(0.5), rel=1e-4)
    assert float(head.floor_log_gain(torch.zeros(1, 3, 8, 8))) == pytest.approx(math.log(4.0))  # max_gain
    assert float(head.log_gain(image, dim)) == 0.0  # photos: the floor comes after the monotone gain
    assert float(head.log_gain(image, dim, floor=True)) == pytest.approx(lift, rel=1e-4)  # video
    assert float(ExposureHead().floor_log_gain(dim)) == 0.0
    restored = ExposureHead.from_spec(head.spec(), head.weight)
    assert restored.floor_log_mean == head.floor_log_mean and "floor_log_mean" not in ExposureHead().spec()
    with pytest.raises(ValueError, match="floor_log_mean"):
        ExposureHead(floor_log_mean=math.inf)


def test_the_floor_is_a_quantile_of_the_real_references():
    from mlsm.train.exposure import fit_keep_gate

    photos = [scene(i) for i in range(8)]
    pairs = [(0.1 * scene(i + 40), scene(i + 40)) for i in range(8)]
    options = ExposureOptions(keep_gate_draws=1, keep_gate_negatives=["v1"], floor_quantile=0.25)
    _, fit = fit_keep_gate(ExposureHead(grid_cells=256), photos, options, pairs=pairs)
    references = [math.log(float(np_srgb_to_linear(high).mean())) for _, high in pairs]
    assert fit["floor_log_mean"] == pytest.approx(float(np.quantile(references, 0.25)), abs=1e-6)
    assert fit["floor_from"] == "pairs" and fit["samples"] == 8 * 3 + 8
    _, fit = fit_keep_gate(ExposureHead(grid_cells=256), photos, dataclasses.replace(options, floor_quantile=None))
    assert "floor_log_mean" not in fit
    with pytest.raises(ValueError, match="floor_quantile"):
        ExposureOptions(floor_quantile=1.5)


def test_the_floor_colour_share_is_the_slope_of_the_references_cast_on_the_lows():
    from mlsm.train.exposure import fit_keep_gate

    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(8):
        cast = rng.normal(0.0, 0.3, 3)
        texture = 0.5 + rng.random((48, 48, 1))
        low = linear_to_srgb((0.02 * texture * np.exp(cast)).astype(np.float32))
        high = linear_to_srgb((0.3 * texture * np.exp(0.5 * cast)).astype(np.float32))
        pairs.append((low, high))
    photos = [scene(i) for i in range(4)]
    options = ExposureOptions(keep_gate_draws=1, keep_gate_negatives=["v1"], pair_quality=(95, 95))
    _, fit = fit_keep_gate(ExposureHead(grid_cells=64), photos, options, pairs=pairs)
    assert fit["floor_chroma"] == pytest.approx(0.5, abs=0.05)
    assert fit["floor_chroma_residual"] < fit["floor_chroma_residual_at_1"]
    _, fit = fit_keep_gate(ExposureHead(grid_cells=64), photos, dataclasses.replace(options, floor_chroma=False),
                           pairs=pairs)
    assert "floor_chroma" not in fit and "floor_log_mean" in fit
