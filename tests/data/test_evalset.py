"""Tests for mlsm.data.evalset and the ``mlsm data`` command."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlsm.cli import main
from mlsm.data.degrade import DegradationRanges, darken, sample_params
from mlsm.data.evalset import (
    FORMAT,
    EvalSetError,
    load_evalset,
    paired_folder_evalset,
    synthesize_evalset,
)
from mlsm.io import encode_jpeg, read_image, to_uint8

QUALITIES = (90, 60)
CLEAN_RANGES = DegradationRanges(colour_cast=0.0, photons_at_white=None, read_noise_std=(0.0, 0.0))


def photo(seed: int, height: int = 48, width: int = 64) -> np.ndarray:
    """A photo-like uint8 image: smooth shading, a bright block and texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / width
    base = 0.55 + 0.25 * np.sin(2 * np.pi * (xx * (1 + seed) + 0.6 * yy))[..., None] * np.array([1.0, 0.8, 0.6])
    base[height // 4: height // 2, width // 4: width // 2] += 0.25
    base = base + rng.normal(0, 0.06, (height, width, 3))
    return (np.clip(base, 0, 1) * 255).round().astype(np.uint8)


def make_photos(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(photo(index), "RGB").save(folder / f"img{index}.png")
    return folder


def decode(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((image - reference) ** 2)))


def set_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def photos(tmp_path) -> Path:
    return make_photos(tmp_path / "photos")


# ----------------------------------------------------------------------------- synthesize_evalset

def test_synthesized_set_has_a_valid_manifest_and_real_jpegs(photos, tmp_path):
    manifest_path = synthesize_evalset([photos], tmp_path / "set", qualities=QUALITIES, seed=0)
    assert manifest_path == tmp_path / "set" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format"] == FORMAT and manifest["kind"] == "synthetic"
    assert manifest["qualities"] == [90, 60] and manifest["seed"] == 0
    assert manifest["ranges"]["exposure"] == [0.03, 0.3]
    assert manifest["mlsm_version"] and manifest["command"].startswith("synthesize_evalset(")
    evalset = load_evalset(tmp_path / "set")
    assert len(evalset) == 3 and evalset.qualities == (90, 60)
    assert [item.name for item in evalset] == ["img0", "img1", "img2"]
    for item in evalset:
        assert item.gt == tmp_path / "set" / "gt" / f"{item.name}.png"
        assert set(item.params) == {"exposure", "colour_gains", "photons_at_white", "read_noise_std"}
        assert 0.03 <= item.params["exposure"] <= 0.3
        gt, _ = read_image(item.gt)
        assert np.array_equal(to_uint8(gt), photo(int(item.name[-1])))  # lossless ground truth
        for quality in QUALITIES:
            path = item.low_path(quality)
            assert path == tmp_path / "set" / f"qf{quality}" / f"{item.name}.jpg"
            assert path.read_bytes()[:2] == b"\xff\xd8"
            dark, info = read_image(path)
            assert info.format == "JPEG" and info.jpeg_quality == quality
            assert info.jpeg_subsampling == "4:2:0"
            assert dark.shape == gt.shape and dark.mean() < 0.7 * gt.mean()  # exposure <= 0.3 is <= 0.61 in sRGB


def test_each_quality_encodes_the_same_seeded_dark_image(photos, tmp_path):
    """Recompute image i with default_rng([seed, i]): the stored JPEGs are its exact bytes."""
    seed = 11
    evalset = load_evalset(synthesize_evalset([photos], tmp_path / "set", qualities=QUALITIES, seed=seed).parent)
    for index, item in enumerate(evalset):
        clean, _ = read_image(photos / f"img{index}.png")
        rng = np.random.default_rng([seed, index])
        params = sample_params(rng, DegradationRanges())
        dark = to_uint8(darken(clean, params, rng))
        assert item.params["exposure"] == params.exposure
        assert item.params["colour_gains"] == list(params.colour_gains)
        for quality in QUALITIES:
            assert item.low_path(quality).read_bytes() == encode_jpeg(dark, quality, "4:2:0")


def test_same_seed_is_byte_identical_and_another_seed_differs(photos, tmp_path):
    first = synthesize_evalset([photos], tmp_path / "a", qualities=QUALITIES, seed=5).parent
    second = synthesize_evalset([photos], tmp_path / "b", qualities=QUALITIES, seed=5).parent
    files_a, files_b = set_files(first), set_files(second)
    manifest_a, manifest_b = (json.loads(files.pop("manifest.json")) for files in (files_a, files_b))
    assert files_a == files_b
    assert {k: v for k, v in manifest_a.items() if k != "command"} == \
        {k: v for k, v in manifest_b.items() if k != "command"}
    # rewriting the same folder reproduces every byte, manifest included
    before = set_files(first)
    synthesize_evalset([photos], first, qualities=QUALITIES, seed=5, overwrite=True)
    assert set_files(first) == before
    other = set_files(synthesize_evalset([photos], tmp_path / "c", qualities=QUALITIES, seed=6).parent)
    assert all(other[name] != files_a[name] for name in files_a if name.startswith("qf"))
    assert all(other[name] == files_a[name] for name in files_a if name.startswith("gt/"))


def test_lower_quality_gives_smaller_files_and_lower_psnr(photos, tmp_path):
    # exposure 1 and no noise: the only difference from the ground truth is the JPEG error
    evalset = load_evalset(synthesize_evalset([photos], tmp_path / "set", qualities=(95, 80, 60), seed=0,
                                              ranges=CLEAN_RANGES, exposure=1.0).parent)
    assert all(item.params["exposure"] == 1.0 for item in evalset)
    for item in evalset:
        gt = decode(item.gt)
        sizes = [item.low_path(q).stat().st_size for q in (95, 80, 60)]
        scores = [psnr(decode(item.low_path(q)), gt) for q in (95, 80, 60)]
        assert sizes[0] > sizes[1] > sizes[2]
        assert scores[0] > scores[1] > scores[2]
    # the default dark degradation also shrinks with QF
    dark = load_evalset(synthesize_evalset([photos], tmp_path / "dark", qualities=QUALITIES).parent)
    for item in dark:
        assert item.low_path(90).stat().st_size > item.low_path(60).stat().st_size


def test_fixed_exposure_subsampling_and_max_images(photos, tmp_path):
    evalset = load_evalset(synthesize_evalset([photos], tmp_path / "set", qualities=(80,), exposure=0.1,
                                              subsampling="4:4:4", max_images=2).parent)
    assert [item.name for item in evalset] == ["img0", "img1"]
    assert all(item.params["exposure"] == 0.1 for item in evalset)
    assert evalset.manifest["exposure"] == 0.1 and evalset.manifest["subsampling"] == "4:4:4"
    assert read_image(evalset.items[0].low_path(80))[1].jpeg_subsampling == "4:4:4"


def test_existing_set_needs_overwrite_and_stale_files_are_removed(photos, tmp_path):
    dst = tmp_path / "set"
    synthesize_evalset([photos], dst, qualities=(90, 60, 30))
    with pytest.raises(EvalSetError, match="not empty; pass overwrite"):
        synthesize_evalset([photos], dst, qualities=QUALITIES)
    synthesize_evalset([photos], dst, qualities=QUALITIES, overwrite=True)
    assert not list((dst / "qf30").glob("*.jpg"))
    assert load_evalset(dst).qualities == QUALITIES


def test_a_set_inside_its_source_folder_is_not_read_back(photos):
    dst = photos / "eval"
    synthesize_evalset([photos], dst, qualities=QUALITIES)
    synthesize_evalset([photos], dst, qualities=QUALITIES, overwrite=True)
    assert len(load_evalset(dst)) == 3


def test_duplicate_stems_in_two_sources_get_distinct_names(tmp_path):
    make_photos(tmp_path / "kodak", 1)
    make_photos(tmp_path / "cbsd", 1)
    evalset = load_evalset(synthesize_evalset([tmp_path / "kodak", tmp_path / "cbsd"], tmp_path / "set",
                                              qualities=(90,)).parent)
    assert sorted(item.name for item in evalset) == ["cbsd_img0", "kodak_img0"]


@pytest.mark.parametrize("qualities, message", [((), "at least one"), ((90, 0), "1..100"), ((90, 90), "distinct")])
def test_bad_qualities_raise(photos, tmp_path, qualities, message):
    with pytest.raises(EvalSetError, match=message):
        synthesize_evalset([photos], tmp_path / "set", qualities=qualities)


def test_missing_source_raises(tmp_path):
    with pytest.raises(EvalSetError, match="nowhere does not exist"):
        synthesize_evalset([tmp_path / "nowhere"], tmp_path / "set")


# ----------------------------------------------------------------------------- load_evalset

def test_load_names_a_missing_file(photos, tmp_path):
    dst = synthesize_evalset([photos], tmp_path / "set", qualities=QUALITIES).parent
    (dst / "qf60" / "img1.jpg").unlink()
    with pytest.raises(EvalSetError, match=r"missing file .*qf60.img1\.jpg"):
        load_evalset(dst)


def test_load_rejects_bad_manifests(photos, tmp_path):
    with pytest.raises(EvalSetError, match="no evaluation-set manifest"):
        load_evalset(tmp_path)
    dst = synthesize_evalset([photos], tmp_path / "set", qualities=QUALITIES).parent
    manifest = json.loads((dst / "manifest.json").read_text())
    (dst / "manifest.json").write_text("{not json")
    with pytest.raises(EvalSetError, match="not valid JSON"):
        load_evalset(dst)
    for broken, message in (({**manifest, "format": "other/2"}, "expected 'mlsm-evalset/1'"),
                            ({**manifest, "images": []}, "non-empty list"),
                            ({**manifest, "qualities": [90, 60, 30]}, "dark JPEG for each QF"),
                            ({**manifest, "images": [{**manifest["images"][0], "gt": "../../x.png"}]},
                             "points outside")):
        (dst / "manifest.json").write_text(json.dumps(broken))
        with pytest.raises(EvalSetError, match=message):
            load_evalset(dst)


# ----------------------------------------------------------------------------- paired folders

def make_lol(root: Path) -> Path:
    for split, names in (("our485", ("2",)), ("eval15", ("1", "22"))):
        for name in names:
            bright = photo(int(name))
            for folder, pixels in (("high", bright), ("low", bright // 5)):
                (root / split / folder).mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels, "RGB").save(root / split / folder / f"{name}.png")
    return root


def test_paired_folder_set_compresses_the_real_dark_image(tmp_path):
    root = make_lol(tmp_path / "LOL")
    evalset = load_evalset(paired_folder_evalset(root / "eval15", "auto", tmp_path / "set", (90, 50)).parent)
    assert evalset.manifest["kind"] == "paired" and evalset.manifest["layout"] == "lol"
    assert [item.name for item in evalset] == ["1", "22"]
    for item in evalset:
        low = photo(int(item.name)) // 5
        assert np.array_equal(to_uint8(read_image(item.gt)[0]), photo(int(item.name)))
        assert item.source == {"low": str(root / "eval15" / "low" / f"{item.name}.png"),
                               "high": str(root / "eval15" / "high" / f"{item.name}.png")}
        for quality in (90, 50):
            assert item.low_path(quality).read_bytes() == encode_jpeg(low, quality, "4:2:0")
        assert item.low_path(90).stat().st_size > item.low_path(50).stat().st_size


# ----------------------------------------------------------------------------- CLI

def test_cli_synth_writes_the_set_and_prints_one_line(photos, tmp_path, capsys):
    extra = make_photos(tmp_path / "more", 1)
    dst = tmp_path / "set"
    code = main(["data", "synth", str(photos), str(extra / "img0.png"), str(dst), "--qf", "90", "60",
                 "--seed", "3", "--exposure-range", "0.05", "0.2"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("\n") == 1 and "4 images" in out and str(dst) in out
    evalset = load_evalset(dst)
    assert len(evalset) == 4 and evalset.seed == 3 and evalset.qualities == (90, 60)
    assert all(0.05 <= item.params["exposure"] <= 0.2 for item in evalset)
    assert evalset.manifest["command"].startswith(f"mlsm data synth {photos} ")
    assert main(["data", "info", str(dst)]) == 0
    assert "4 images" in capsys.readouterr().out


def test_cli_synth_reproduces_the_api(photos, tmp_path):
    assert main(["data", "synth", str(photos), str(tmp_path / "cli"), "--qf", "90", "60", "--seed", "2"]) == 0
    synthesize_evalset([photos], tmp_path / "api", qualities=QUALITIES, seed=2)
    cli, api = set_files(tmp_path / "cli"), set_files(tmp_path / "api")
    cli.pop("manifest.json"), api.pop("manifest.json")
    assert cli == api


def test_cli_bad_source_is_one_line_and_nonzero(tmp_path, capsys):
    code = main(["data", "synth", str(tmp_path / "missing"), str(tmp_path / "set")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("mlsm: error:") and "missing" in err and err.count("\n") == 1
    assert "Traceback" not in err and not (tmp_path / "set").exists()


def test_cli_unreadable_image_and_existing_set_fail_cleanly(photos, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"this is not a png")
    assert main(["data", "synth", str(broken), str(tmp_path / "set")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mlsm: error:") and "bad.png" in err and err.count("\n") == 1
    assert main(["data", "synth", str(photos), str(tmp_path / "ok"), "--qf", "90"]) == 0
    assert main(["data", "synth", str(photos), str(tmp_path / "ok"), "--qf", "90"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["data", "synth", str(photos), str(tmp_path / "ok"), "--qf", "90", "--overwrite"]) == 0


def test_cli_usage_errors_return_2(photos, tmp_path, capsys):
    assert main(["data", "synth", str(photos), str(tmp_path / "s"), "--qf", "0"]) == 2
    assert main(["data", "synth", str(tmp_path / "only-one-path")]) == 2
    assert main(["data", "synth", str(photos), str(tmp_path / "s"), "--exposure-range", "0.3", "0.1"]) == 2
    assert main(["data"]) == 2
    assert main(["data", "info", str(tmp_path)]) == 1
    assert "no evaluation-set manifest" in capsys.readouterr().err


def test_cli_pairs_and_info(tmp_path, capsys):
    root = make_lol(tmp_path / "LOL")
    dst = tmp_path / "lolset"
    assert main(["data", "pairs", str(root), str(dst), "--layout", "lol", "--qf", "90", "80", "70", "60"]) == 0
    assert "3 pairs (lol)" in capsys.readouterr().out
    evalset = load_evalset(dst)
    assert evalset.qualities == (90, 80, 70, 60) and len(evalset) == 3
    assert main(["data", "info", str(dst)]) == 0
    out = capsys.readouterr().out
    assert "paired set, 3 images" in out and "layout lol" in out and "mlsm data pairs" in out
    (root / "eval15" / "high" / "22.png").unlink()
    assert main(["data", "pairs", str(root), str(tmp_path / "x")]) == 1
    assert "no ground truth" in capsys.readouterr().err
