"""CityscapesSegmentation on synthcity: samples, labelIds conversion, one-line errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import id2label
from PIL import Image

from benchmark.data import build_dataset
from benchmark.data.cityscapes import CityscapesSegmentation
from benchmark.errors import DsbenchError


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


@pytest.fixture
def copy_root(synth_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(synth_root, root)
    return root


def _first_label(root: Path, kind: str = "labelTrainIds", split: str = "train") -> Path:
    return sorted((root / "gtFine" / split).rglob(f"*_gtFine_{kind}.png"))[0]


def test_sample_contents(synth_root: Path) -> None:
    dataset = CityscapesSegmentation(synth_root, "train")
    assert len(dataset) == 3
    sample = dataset[0]
    assert set(sample) == {"image", "labels", "instances", "id", "path"}
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (3, 64, 128)
    assert 0.0 <= float(sample["image"].min()) and float(sample["image"].max()) <= 1.0
    assert sample["labels"].dtype == torch.int64 and sample["labels"].shape == (64, 128)
    assert sample["instances"].dtype == torch.int64 and sample["instances"].shape == (64, 128)
    assert sample["id"] == "synthtrain_000000_000019" and sample["path"].endswith("_leftImg8bit.png")
    raw = _png(Path(sample["path"]))
    assert torch.equal(sample["image"], torch.from_numpy(raw).permute(2, 0, 1).float() / 255)
    expected = _png(_first_label(synth_root))
    assert torch.equal(sample["labels"], torch.from_numpy(expected.astype(np.int64)))
    assert dataset[-1]["id"] == "synthtrain_000002_000019"
    with pytest.raises(IndexError):
        dataset[3]


def test_labelids_conversion_equals_trainids(synth_root: Path, copy_root: Path) -> None:
    reference = CityscapesSegmentation(synth_root, "val")
    for path in copy_root.rglob("*_gtFine_labelTrainIds.png"):
        path.unlink()
    converted = CityscapesSegmentation(copy_root, "val")
    forced = CityscapesSegmentation(synth_root, "val", label_source="labelIds")
    assert len(converted) == len(reference) == 2
    for index in range(len(reference)):
        expected = reference[index]["labels"]
        assert torch.equal(converted[index]["labels"], expected)
        assert torch.equal(forced[index]["labels"], expected)
    # independent reference: the official table applied pixel by pixel
    label_ids = _png(_first_label(copy_root, "labelIds", "val"))
    official = np.vectorize(lambda i: id2label[int(i)].trainId)(label_ids)
    official[(official < 0) | (official > 18)] = 255
    assert np.array_equal(converted[0]["labels"].numpy(), official)
    with pytest.raises(DsbenchError, match="labelTrainIds"):
        CityscapesSegmentation(copy_root, "val", label_source="trainIds")


def test_missing_instances_give_zeros(copy_root: Path) -> None:
    for path in copy_root.rglob("*_gtFine_instanceIds.png"):
        path.unlink()
    sample = CityscapesSegmentation(copy_root, "train")[1]
    assert sample["instances"].shape == sample["labels"].shape and not sample["instances"].any()


def test_transform_is_applied(synth_root: Path) -> None:
    dataset = CityscapesSegmentation(synth_root, "train", transform=lambda s: dict(s, id="changed"))
    assert dataset[0]["id"] == "changed"


def test_missing_root_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DsbenchError, match="dsbench make-data --dataset synthcity") as info:
        build_dataset("synthcity", missing, "train")
    assert str(missing) in str(info.value)
    with pytest.raises(DsbenchError, match="cityscapes-dataset.com") as info:
        build_dataset("cityscapes", missing, "train")
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_wrong_layout_and_empty_split(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(DsbenchError, match="leftImg8bit") as info:
        CityscapesSegmentation(tmp_path, "train")
    assert str(tmp_path) in str(info.value)
    (tmp_path / "leftImg8bit" / "train" / "city").mkdir(parents=True)
    (tmp_path / "gtFine" / "train").mkdir(parents=True)
    with pytest.raises(DsbenchError, match="no images") as info:
        CityscapesSegmentation(tmp_path, "train")
    assert str(tmp_path / "leftImg8bit" / "train") in str(info.value)


def test_missing_label_file(copy_root: Path) -> None:
    label = _first_label(copy_root)
    label.unlink()
    Path(str(label).replace("labelTrainIds", "labelIds")).unlink()
    with pytest.raises(DsbenchError) as info:
        CityscapesSegmentation(copy_root, "train")
    assert label.name in str(info.value)


def test_corrupt_png(copy_root: Path) -> None:
    image = sorted((copy_root / "leftImg8bit" / "train").rglob("*.png"))[0]
    image.write_bytes(image.read_bytes()[:100])
    dataset = CityscapesSegmentation(copy_root, "train")
    with pytest.raises(DsbenchError, match="corrupt") as info:
        dataset[0]
    assert str(image) in str(info.value)


@pytest.mark.parametrize("kind,value", [("labelTrainIds", 19), ("labelTrainIds", 254), ("labelIds", 34),
                                        ("labelIds", 200)])
def test_label_values_outside_classes(copy_root: Path, kind: str, value: int) -> None:
    label = _first_label(copy_root, kind)
    array = _png(label)
    array[0, 0] = value
    Image.fromarray(array).save(label)
    dataset = CityscapesSegmentation(copy_root, "train", label_source="trainIds" if kind == "labelTrainIds" else "labelIds")
    with pytest.raises(DsbenchError, match=str(value)) as info:
        dataset[0]
    assert str(label) in str(info.value)


def test_size_mismatch_and_rgb_label(copy_root: Path) -> None:
    label = _first_label(copy_root)
    Image.fromarray(np.zeros((32, 128), np.uint8)).save(label)
    dataset = CityscapesSegmentation(copy_root, "train")
    with pytest.raises(DsbenchError, match="must match") as info:
        dataset[0]
    assert str(label) in str(info.value)
    Image.fromarray(np.zeros((64, 128, 3), np.uint8)).save(label)
    with pytest.raises(DsbenchError, match="one channel"):
        dataset[0]


def test_instance_size_mismatch(copy_root: Path) -> None:
    path = sorted((copy_root / "gtFine" / "train").rglob("*_gtFine_instanceIds.png"))[0]
    Image.fromarray(np.zeros((64, 64), np.uint16)).save(path)
    with pytest.raises(DsbenchError) as info:
        CityscapesSegmentation(copy_root, "train")[0]
    assert str(path) in str(info.value)


def test_unknown_label_source(synth_root: Path) -> None:
    with pytest.raises(DsbenchError, match="label_source"):
        CityscapesSegmentation(synth_root, "train", label_source="colors")
