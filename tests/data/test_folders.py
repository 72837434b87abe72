"""Tests for mlsm.data.folders: LOL / LSRW / SICE / RELLISUR layouts and the folder data sets."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from mlsm.data.degrade import compress
from mlsm.data.folders import (
    DatasetError,
    PairedFolder,
    detect_layout,
    find_named_pairs,
    find_pairs,
)

HEIGHT, WIDTH = 32, 40


def pattern(seed: int, height: int = HEIGHT, width: int = WIDTH, scale: float = 1.0) -> np.ndarray:
    """A textured uint8 RGB image whose values are multiples of 4 (so value / 4 is exact)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = 120 + 60 * np.sin(2 * np.pi * (xx * (1 + seed % 3) + yy))[..., None] + rng.normal(0, 25, (height, width, 3))
    return (np.clip(base * scale, 0, 252).astype(np.uint8) // 4) * 4


def save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels, "RGB")
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=95)
    else:
        image.save(path, format="PNG")
    return path


def save_pair(low: Path, high: Path, seed: int, **size) -> None:
    bright = pattern(seed, **size)
    save(high, bright)
    save(low, bright // 4)


def make_lol(root: Path) -> Path:
    for split, names in (("our485", ("2", "3", "10")), ("eval15", ("1", "22"))):
        for number, name in enumerate(names):
            save_pair(root / split / "low" / f"{name}.png", root / split / "high" / f"{name}.png", int(name) + number)
    return root


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


# ----------------------------------------------------------------------------- LOL

def test_lol_pairs_both_splits_by_name(tmp_path):
    root = make_lol(tmp_path / "LOL")
    pairs = find_named_pairs(root, "lol")
    assert [p.name for p in pairs] == ["1", "22", "2", "3", "10"]  # eval15 then our485, natural order
    for pair in pairs:
        assert pair.low.parent.name == "low" and pair.high.parent.name == "high"
        assert pair.low.name == pair.high.name
        assert pair.low.parent.parent == pair.high.parent.parent
    assert find_pairs(root, "lol") == [(p.low, p.high) for p in pairs]
    assert detect_layout(root) == "lol"


def test_lol_root_may_be_one_split(tmp_path):
    root = make_lol(tmp_path / "LOL")
    pairs = find_pairs(root / "eval15", "lol")
    assert [(low.name, high.parent.name) for low, high in pairs] == [("1.png", "high"), ("22.png", "high")]
    assert find_pairs(root / "our485") == find_pairs(root / "our485", "lol")


def test_lol_v2_low_normal_prefixes_are_matched(tmp_path):
    root = tmp_path / "LOL-v2" / "Real_captured"
    for split, numbers in (("Train", (1, 2)), ("Test", (690,))):
        for n in numbers:
            save_pair(root / split / "Low" / f"low{n:05d}.png", root / split / "Normal" / f"normal{n:05d}.png", n)
    pairs = find_named_pairs(tmp_path / "LOL-v2", "auto")
    assert sorted(p.name for p in pairs) == ["00001", "00002", "00690"]
    for pair in pairs:
        assert pair.low.name.replace("low", "normal") == pair.high.name
    assert detect_layout(tmp_path / "LOL-v2") == "lol"


def test_same_stem_in_two_folders_gets_the_folder_prefix(tmp_path):
    root = tmp_path / "LOL"
    for split in ("our485", "eval15"):
        save_pair(root / split / "low" / "1.png", root / split / "high" / "1.png", 5)
    assert sorted(p.name for p in find_named_pairs(root, "lol")) == ["eval15_1", "our485_1"]


def test_missing_ground_truth_is_named(tmp_path):
    root = make_lol(tmp_path / "LOL")
    (root / "our485" / "high" / "3.png").unlink()
    with pytest.raises(DatasetError, match=r"no ground truth .*3\.png"):
        find_pairs(root, "lol")


def test_missing_dark_image_is_named(tmp_path):
    root = make_lol(tmp_path / "LOL")
    (root / "eval15" / "low" / "22.png").unlink()
    with pytest.raises(DatasetError, match=r"no dark image .*22\.png"):
        find_pairs(root, "lol")


def test_size_mismatch_names_both_files(tmp_path):
    root = make_lol(tmp_path / "LOL")
    save(root / "eval15" / "high" / "1.png", pattern(1, height=HEIGHT + 8))
    with pytest.raises(DatasetError, match=r"size mismatch: .*low.1\.png is 40x32 .*high.1\.png is 40x40"):
        find_pairs(root, "lol")


def test_two_files_with_one_stem_raise(tmp_path):
    root = make_lol(tmp_path / "LOL")
    save(root / "eval15" / "low" / "1.jpg", pattern(0))
    with pytest.raises(DatasetError, match="share the name '1'"):
        find_pairs(root, "lol")


def test_empty_result_names_root_and_layout(tmp_path):
    root = tmp_path / "empty"
    (root / "low").mkdir(parents=True)
    (root / "high").mkdir()
    with pytest.raises(DatasetError, match=rf"no image pairs found under {root} with layout 'lsrw'"):
        find_pairs(root, "lsrw")


def test_unknown_layout_and_missing_root_raise(tmp_path):
    root = make_lol(tmp_path / "LOL")
    with pytest.raises(DatasetError, match="unknown layout 'lolv3'"):
        find_pairs(root, "lolv3")
    with pytest.raises(DatasetError, match="is not a folder"):
        find_pairs(tmp_path / "nope", "lol")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DatasetError, match="cannot tell the layout"):
        find_pairs(tmp_path / "plain")


# ----------------------------------------------------------------------------- LSRW

def test_lsrw_pairs_per_camera_folder(tmp_path):
    root = tmp_path / "LSRW"
    for part, camera, names in (("Training data", "Huawei", ("2", "5")), ("Training data", "Nikon", ("2",)),
                                ("Eval", "Huawei", ("7",))):
        for name in names:
            save_pair(root / part / camera / "low" / f"{name}.jpg", root / part / camera / "high" / f"{name}.jpg",
                      int(name))
    assert detect_layout(root) == "lsrw"
    pairs = find_named_pairs(root, "auto")
    assert sorted(p.name for p in pairs) == ["5", "7", "Training_data_Huawei_2", "Training_data_Nikon_2"]
    for pair in pairs:
        assert pair.low.parent.parent == pair.high.parent.parent and pair.low.name == pair.high.name


# ----------------------------------------------------------------------------- SICE

def make_sice(root: Path) -> Path:
    # sequence 1: the darkest frame is the *second* file; sequence 2: the first file is darkest
    for sequence, scales in (("1", (0.6, 0.2, 1.0)), ("2", (0.1, 0.5, 0.9))):
        for frame, scale in enumerate(scales, start=1):
            save(root / sequence / f"{frame}.JPG", pattern(int(sequence), scale=scale))
        save(root / "Label" / f"{sequence}.JPG", pattern(int(sequence), scale=0.8))
    return root


def test_sice_takes_the_darkest_exposure(tmp_path):
    root = make_sice(tmp_path / "Dataset_Part1")
    assert detect_layout(root) == "sice"
    pairs = find_named_pairs(root, "sice")
    assert [(p.name, p.low.relative_to(root).as_posix(), p.high.name) for p in pairs] == [
        ("1", "1/2.JPG", "1.JPG"), ("2", "2/1.JPG", "2.JPG")]


def test_sice_first_file_convention(tmp_path):
    root = make_sice(tmp_path / "SICE")
    pairs = find_named_pairs(root, "sice", sice_pick="first")
    assert [p.low.relative_to(root).as_posix() for p in pairs] == ["1/1.JPG", "2/1.JPG"]


def test_sice_sequence_without_label_raises(tmp_path):
    root = make_sice(tmp_path / "SICE")
    save(root / "3" / "1.JPG", pattern(3))
    with pytest.raises(DatasetError, match=r"no ground truth .*Label"):
        find_pairs(root, "sice")


# ----------------------------------------------------------------------------- RELLISUR

def make_rellisur(root: Path, duplicates: bool) -> Path:
    for split, ids in (("Train", ("00001", "00002")), ("Test", ("00085",))):
        for number, image_id in enumerate(ids):
            bright = pattern(number)
            if duplicates:
                for ev in ("2.5", "3.5"):
                    save(root / split / "NLHR-Duplicates" / "X1" / f"{image_id}-{ev}.png", bright)
                    save(root / split / "NLHR-Duplicates" / "X2" / f"{image_id}-{ev}.png",
                         pattern(number, HEIGHT * 2, WIDTH * 2))
            else:
                save(root / split / "NLHR" / "X1" / f"{image_id}.png", bright)
                save(root / split / "NLHR" / "X4" / f"{image_id}.png", pattern(number, HEIGHT * 4, WIDTH * 4))
            for ev, factor in (("2.5", 4), ("3.5", 8)):
                save(root / split / "LLLR" / f"{image_id}-{ev}.png", bright // factor)
    return root


@pytest.mark.parametrize("duplicates", [True, False])
def test_rellisur_uses_same_size_x1_references(tmp_path, duplicates):
    root = make_rellisur(tmp_path / "RELLISUR-Dataset", duplicates)
    assert detect_layout(root) == "rellisur"
    pairs = find_named_pairs(root, "rellisur")
    assert [p.name for p in pairs] == ["00085-2.5", "00085-3.5", "00001-2.5", "00001-3.5", "00002-2.5", "00002-3.5"]
    for pair in pairs:
        assert pair.high.parent.name == "X1" and pair.low.parent.name == "LLLR"
        expected = pair.low.name if duplicates else pair.low.name.split("-")[0] + ".png"
        assert pair.high.name == expected


def test_rellisur_without_x1_reference_raises(tmp_path):
    root = tmp_path / "RELLISUR"
    save(root / "Train" / "LLLR" / "00001-2.5.png", pattern(0))
    save(root / "Train" / "NLHR" / "X2" / "00001.png", pattern(0, HEIGHT * 2, WIDTH * 2))
    with pytest.raises(DatasetError, match="x1"):
        find_pairs(root, "rellisur")


def test_rellisur_missing_reference_is_named(tmp_path):
    root = make_rellisur(tmp_path / "R", duplicates=False)
    (root / "Train" / "NLHR" / "X1" / "00002.png").unlink()
    with pytest.raises(DatasetError, match=r"no ground truth .*00002-2\.5\.png"):
        find_pairs(root, "rellisur")


# ----------------------------------------------------------------------------- PairedFolder

def test_paired_folder_full_images_as_stored(tmp_path):
    root = make_lol(tmp_path / "LOL")
    dataset = PairedFolder(root, "lol")
    assert len(dataset) == 5
    item = dataset[0]
    assert item["name"] == "1"
    assert item["low"].shape == item["high"].shape == (3, HEIGHT, WIDTH)
    assert item["low"].dtype == torch.float32
    stored = read(root / "eval15" / "low" / "1.png")
    assert torch.equal(item["low"], torch.from_numpy(stored).permute(2, 0, 1))


def test_paired_folder_compresses_the_dark_image_at_the_quality(tmp_path):
    root = make_lol(tmp_path / "LOL")
    stored = read(root / "eval15" / "low" / "1.png")
    errors = []
    for quality in (95, 60, 20):
        low = PairedFolder(root, "lol", quality=quality)[0]["low"].permute(1, 2, 0).numpy()
        assert np.array_equal(low, compress(stored, quality)[0])
        errors.append(float(np.mean((low - stored) ** 2)))
    assert 0 < errors[0] < errors[1] < errors[2]
    sizes = [compress(stored, quality)[1] for quality in (95, 60, 20)]
    assert sizes[0] > sizes[1] > sizes[2]


def test_paired_folder_crops_are_aligned_seeded_and_flipped(tmp_path):
    root = make_lol(tmp_path / "LOL")
    dataset = PairedFolder(root, "lol", crop_size=16, seed=3, length=40)
    assert len(dataset) == 40
    items = [dataset[i] for i in range(40)]
    for index, item in enumerate(items):
        assert item["low"].shape == item["high"].shape == (3, 16, 16)
        assert torch.allclose(item["low"] * 4, item["high"], atol=1e-6)  # same crop and flips for both
        assert item["name"] == dataset.pairs[index % 5].name
    again = PairedFolder(root, "lol", crop_size=16, seed=3, length=40)
    assert all(torch.equal(again[i]["high"], items[i]["high"]) for i in (0, 7, 39))
    other_seed = PairedFolder(root, "lol", crop_size=16, seed=4, length=40)
    assert any(not torch.equal(other_seed[i]["high"], items[i]["high"]) for i in range(5))
    # index 0 and 5 are the same pair, cropped differently
    assert not torch.equal(items[0]["high"], items[5]["high"])


def test_paired_folder_batches_with_a_dataloader(tmp_path):
    dataset = PairedFolder(make_lol(tmp_path / "LOL"), quality=(60, 90), crop_size=16)
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    assert batch["low"].shape == (2, 3, 16, 16) and batch["name"] == ["1", "22"]


def test_paired_folder_rejects_bad_options(tmp_path):
    root = make_lol(tmp_path / "LOL")
    for quality in (0, 101, (90, 60), (10, 20, 30), 90.5):
        with pytest.raises(ValueError, match="quality"):
            PairedFolder(root, quality=quality)
    with pytest.raises(DatasetError, match="smaller than crop_size 64"):
        PairedFolder(root, crop_size=64)[0]
    with pytest.raises(IndexError):
        PairedFolder(root)[5]
