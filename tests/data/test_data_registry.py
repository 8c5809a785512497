"""Dataset specs in DATASETS, build_dataset, normalize."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cityscapesscripts.helpers.labels import labels as cs_labels

from benchmark.data import DatasetSpec, build_dataset, normalize
from benchmark.data.synthcity import SYNTHCITY_CLASSES
from benchmark.errors import DsbenchError
from benchmark.registry import DATASETS


def test_specs_are_registered_with_official_classes() -> None:
    train = sorted((l for l in cs_labels if 0 <= l.trainId < 255), key=lambda l: l.trainId)
    for name in ("synthcity", "cityscapes"):
        spec = DATASETS.get(name)
        assert isinstance(spec, DatasetSpec) and spec.name == name
        assert spec.class_names == tuple(l.name for l in train)
        assert spec.colors == tuple(tuple(l.color) for l in train)
        assert spec.num_classes == 19 and spec.ignore_index == 255
        assert set(spec.evaluated_classes) <= set(spec.class_names)
    assert DATASETS.get("cityscapes").evaluated_classes == DATASETS.get("cityscapes").class_names
    synth = DATASETS.get("synthcity")
    assert synth.evaluated_classes == SYNTHCITY_CLASSES and len(synth.evaluated_train_ids) == 12
    assert synth.has_generator and not DATASETS.get("cityscapes").has_generator
    assert synth.default_root == "data/synthcity"


def test_evaluated_classes_are_the_ones_generated(synth_root: Path) -> None:
    spec = DATASETS.get("synthcity")
    seen = set()
    for split in ("train", "val"):
        dataset = build_dataset("synthcity", synth_root, split)
        for index in range(len(dataset)):
            seen |= set(dataset[index]["labels"].unique().tolist())
    assert seen - {255} <= set(spec.evaluated_train_ids)


def test_build_dataset_and_create(synth_root: Path) -> None:
    assert len(build_dataset("synthcity", synth_root, "val")) == 2
    assert len(DATASETS.create("synthcity", synth_root, "train")) == 3
    with pytest.raises(DsbenchError, match="synthcity"):
        build_dataset("synthcty", synth_root, "val")


def test_make_only_for_generated_datasets(tmp_path: Path) -> None:
    with pytest.raises(DsbenchError, match="cityscapes-dataset.com"):
        DATASETS.get("cityscapes").make(tmp_path)
    stats = DATASETS.get("synthcity").make(tmp_path, split_sizes={"val": 1}, size=(32, 64))
    assert stats["images"] == {"val": 1}


def test_normalize_matches_imagenet_statistics() -> None:
    image = torch.rand(3, 4, 5)
    mean = torch.tensor([0.485, 0.456, 0.406])
    std = torch.tensor([0.229, 0.224, 0.225])
    expected = torch.stack([(image[c] - mean[c]) / std[c] for c in range(3)])
    assert torch.allclose(normalize(image), expected)
    assert torch.allclose(normalize(image[None].repeat(2, 1, 1, 1))[1], expected)
    with pytest.raises(ValueError):
        normalize(torch.rand(4, 4))


def test_train_id_to_label_id_is_official() -> None:
    spec = DATASETS.get("synthcity")
    by_train = {l.trainId: l.id for l in cs_labels if 0 <= l.trainId < 255}
    assert spec.train_id_to_label_id == tuple(by_train[t] for t in range(19))
    assert [spec.class_names[t] for t in spec.evaluated_train_ids] == list(SYNTHCITY_CLASSES)
