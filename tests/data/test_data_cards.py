"""Dataset cards: schema errors (one line, key and fix), ids/colors decoding, root and glob rules, registration."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from benchmark.data import DatasetSpec, build_dataset
from benchmark.data.cards import CardSegmentation, load_dataset_card, read_card, register_card
from benchmark.errors import DsbenchError
from benchmark.metrics import ObjectRecallBySize

H, W = 8, 12


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _ids_labels(seed: int) -> np.ndarray:
    labels = np.zeros((H, W), np.uint8)
    labels[:, W // 2:] = 1
    labels[0, :] = 11  # an ignored row
    labels[H - 1, seed % W] = 1
    return labels


BASE_CARD: Dict[str, Any] = {
    "name": "tiny_ids",
    "root": "data",
    "splits": {"train": {"images": "train/*.png", "labels": "trainannot/{stem}.png"},
               "val": {"images": "val/*.png", "labels": "valannot/{stem}.png"}},
    "label_format": "ids",
    "classes": [{"name": "sky", "value": 0}, {"name": "building", "value": 1}],
    "ignore_values": [11],
}


def _write_card(folder: Path, card: Dict[str, Any], name: str = "card.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def ids_root(tmp_path: Path) -> Path:
    """A card folder with data/ beside it: two train and one val image in the SegNet-like layout."""
    root = tmp_path / "data"
    for split, annot, count in (("train", "trainannot", 2), ("val", "valannot", 1)):
        for index in range(count):
            stem = f"0001TP_{index:04d}"
            _save(root / split / f"{stem}.png", _image(index))
            _save(root / annot / f"{stem}.png", _ids_labels(index))
    return root


def test_ids_card_maps_values_and_ignores(ids_root: Path) -> None:
    card_path = _write_card(ids_root.parent, BASE_CARD)
    spec = load_dataset_card(card_path)
    assert isinstance(spec, DatasetSpec)
    assert spec.name == "tiny_ids" and spec.num_classes == 2 and spec.class_names == ("sky", "building")
    assert spec.evaluated_train_ids == (0, 1) and spec.ignore_index == 255
    assert spec.train_id_to_label_id == (0, 1) and len(spec.colors) == 2 and spec.colors[0] != spec.colors[1]
    train = spec.build(None, "train")  # root from the card
    assert isinstance(train, CardSegmentation) and len(train) == 2 and train.ids == ["0001TP_0000", "0001TP_0001"]
    sample = train[1]
    assert set(sample) == {"image", "labels", "instances", "id", "path"}
    assert sample["image"].shape == (3, H, W) and sample["image"].dtype == torch.float32
    raw = _ids_labels(1)
    expected = np.where(raw == 11, 255, raw).astype(np.int64)
    assert torch.equal(sample["labels"], torch.from_numpy(expected))
    assert torch.equal(sample["image"], torch.from_numpy(_image(1)).permute(2, 0, 1).float() / 255)
    assert sample["instances"].dtype == torch.int64 and int(sample["instances"].abs().sum()) == 0
    assert sample["id"] == "0001TP_0001" and sample["path"].endswith("train/0001TP_0001.png")
    assert len(spec.build(None, "val")) == 1


def test_relative_root_is_resolved_against_the_card_folder(ids_root: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    card = dict(BASE_CARD, root="../data")
    card_path = _write_card(tmp_path / "cards", card)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a root resolved against the cwd would not exist
    parsed = read_card(card_path)
    assert parsed.root.resolve() == ids_root.resolve()
    assert len(load_dataset_card(card_path).build(None, "train")) == 2
    absolute = _write_card(tmp_path / "abs", dict(BASE_CARD, root=str(ids_root)))
    assert read_card(absolute).root == ids_root


def test_glob_stem_matching(tmp_path: Path) -> None:
    root = tmp_path / "tiles"
    for stem in ("104_a", "207_b"):
        _save(root / "train" / f"{stem}_sat.png", _image(3))
        _save(root / "train" / f"{stem}_mask.png", _ids_labels(0))
    _save(root / "train" / "notes.png", _image(4))  # matches neither suffix: not an image of the split
    card = dict(BASE_CARD, root=str(root), splits={"train": {"images": "train/*_sat.png",
                                                             "labels": "train/{stem}_mask.png"}})
    dataset = load_dataset_card(_write_card(tmp_path, card)).build(None, "train")
    assert dataset.ids == ["104_a", "207_b"]
    assert dataset[0]["path"].endswith("104_a_sat.png")


def test_colors_card(tmp_path: Path) -> None:
    root = tmp_path / "rgb"
    mask = np.zeros((H, W, 3), np.uint8)
    mask[:, :4] = (0, 255, 255)
    mask[:, 4:8] = (255, 255, 0)
    mask[:, 8:] = (0, 0, 0)
    _save(root / "img" / "a.png", _image(5))
    _save(root / "gt" / "a.png", mask)
    card = {"name": "tiny_rgb", "root": str(root), "splits": {"train": {"images": "img/*.png", "labels": "gt/{stem}.png"}},
            "label_format": "colors",
            "classes": [{"name": "urban", "color": [0, 255, 255]}, {"name": "farm", "color": [255, 255, 0]}],
            "ignore_values": [[0, 0, 0]]}
    spec = load_dataset_card(_write_card(tmp_path, card))
    assert spec.colors == ((0, 255, 255), (255, 255, 0)) and spec.train_id_to_label_id == (0, 1)
    labels = spec.build(None, "train")[0]["labels"].numpy()
    assert (labels[:, :4] == 0).all() and (labels[:, 4:8] == 1).all() and (labels[:, 8:] == 255).all()
    mask[0, 0] = (10, 20, 30)
    _save(root / "gt" / "a.png", mask)
    with pytest.raises(DsbenchError) as error:
        spec.build(None, "train")[0]
    message = str(error.value)
    assert "gt/a.png" in message and "[10, 20, 30]" in message and "classes" in message and "ignore_values" in message


def test_merged_values_and_instances_feed_object_recall(tmp_path: Path) -> None:
    root = tmp_path / "inst"
    labels = np.zeros((H, W), np.uint8)
    labels[:, 6:] = 7  # a second value of class 'car'
    labels[:, 9:] = 5
    objects = np.zeros((H, W), np.uint8)
    objects[:4, :3] = 1   # a 'road' object (training id 0 must carry objects too)
    objects[:, 6:9] = 2   # a 'car' object
    _save(root / "img" / "a.png", _image(6))
    _save(root / "lab" / "a.png", labels)
    _save(root / "obj" / "a.png", objects)
    _save(root / "img" / "b.png", _image(7))
    _save(root / "lab" / "b.png", labels)  # b has no instance file: zeros, no objects
    card = {"name": "tiny_inst", "root": str(root), "label_format": "ids",
            "splits": {"train": {"images": "img/*.png", "labels": "lab/{stem}.png", "instances": "obj/{stem}.png"}},
            "classes": [{"name": "road", "value": 0}, {"name": "car", "value": [5, 7]}]}
    spec = load_dataset_card(_write_card(tmp_path, card))
    assert spec.train_id_to_label_id == (0, 5)
    dataset = spec.build(None, "train")
    first, second = dataset[0], dataset[1]
    assert set(np.unique(first["labels"].numpy())) == {0, 1}
    assert set(np.unique(first["instances"].numpy())) == {0, 1001, 2002}
    assert int(second["instances"].abs().sum()) == 0
    recall = ObjectRecallBySize(spec.num_classes, spec.ignore_index, spec.instance_label_to_train)
    prediction = first["labels"].numpy().copy()
    prediction[:, 6] = 0  # a third of the car object is wrong
    recall.process(prediction[None], first["labels"].numpy()[None], first["instances"].numpy()[None])
    recall.process(second["labels"].numpy()[None], second["labels"].numpy()[None], second["instances"].numpy()[None])
    table = recall.table
    assert sorted(table[:, 0].tolist()) == [0, 1]
    assert {int(c): (int(a), int(k)) for c, a, k in table} == {0: (12, 12), 1: (24, 16)}


def _error(tmp_path: Path, card: Any) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(card if isinstance(card, str) else yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    with pytest.raises(DsbenchError) as error:
        load_dataset_card(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


def _mutated(change) -> Dict[str, Any]:
    card = copy.deepcopy(BASE_CARD)
    change(card)
    return card


SCHEMA_CASES = [
    ("unknown top-level key", lambda c: c.update(colour_map="x"), ["key colour_map is not allowed", "remove"]),
    ("unknown split key", lambda c: c["splits"]["train"].update(masks="m/{stem}.png"),
     ["splits.train.masks is not allowed", "images", "labels", "instances"]),
    ("unknown class key", lambda c: c["classes"][0].update(id=3), ["classes[0].id is not allowed", "value"]),
    ("missing name", lambda c: c.pop("name"), ["key name is missing", "add it", "name: my_data"]),
    ("missing labels", lambda c: c["splits"]["val"].pop("labels"), ["splits.val.labels is missing", "add it"]),
    ("missing classes", lambda c: c.pop("classes"), ["key classes is missing", "classes: ["]),
    ("bad label_format", lambda c: c.update(label_format="palette"), ["key label_format", "ids", "colors"]),
    ("bad name", lambda c: c.update(name="My-Data"), ["key name", "lowercase"]),
    ("bad split name", lambda c: c["splits"].update({"Test": c["splits"]["val"]}), ["'Test'", "rename"]),
    ("value out of range", lambda c: c["classes"][1].update(value=70000), ["classes[1].value", "0..65535"]),
    ("colour not rgb", lambda c: c["classes"][1].update(color=[1, 2]), ["classes[1].color", "[r, g, b]"]),
    ("zero stars", lambda c: c["splits"]["train"].update(images="train/a.png"),
     ["splits.train.images", "0 '*'", "exactly one '*'"]),
    ("two stars", lambda c: c["splits"]["train"].update(images="*/*.png"), ["splits.train.images", "2 '*'"]),
    ("labels without stem", lambda c: c["splits"]["train"].update(labels="trainannot/x.png"),
     ["splits.train.labels", "{stem}"]),
    ("labels with star", lambda c: c["splits"]["train"].update(labels="trainannot/*.png"),
     ["splits.train.labels", "{stem}"]),
    ("duplicate class name", lambda c: c["classes"].append({"name": "sky", "value": 4}),
     ["classes[2].name 'sky'", "unique"]),
    ("duplicate class value", lambda c: c["classes"].append({"name": "road", "value": 1}),
     ["classes[2]", "value 1", "classes[1] (building)"]),
    ("ignored class value", lambda c: c.update(ignore_values=[1]), ["ignore_values[0]", "value 1", "classes[1]"]),
    ("ids class without value", lambda c: c["classes"].append({"name": "road"}), ["classes[2].value is missing"]),
    ("colour ignore for ids", lambda c: c.update(ignore_values=[[0, 0, 0]]), ["ignore_values[0]", "integer"]),
    ("colors class with value", lambda c: c.update(label_format="colors"), ["classes[0].value", "color: [r, g, b]"]),
]


@pytest.mark.parametrize("change, expected", [case[1:] for case in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_schema_errors_name_key_and_fix(tmp_path: Path, change, expected) -> None:
    message = _error(tmp_path, _mutated(change))
    for text in expected:
        assert text in message, message


def test_unreadable_cards(tmp_path: Path) -> None:
    assert "not valid YAML at line" in _error(tmp_path, "name: [unclosed\nsplits: {")
    assert "expected a mapping" in _error(tmp_path, "- just\n- a list\n")
    with pytest.raises(DsbenchError, match="cannot read it"):
        load_dataset_card(tmp_path / "absent.yaml")


def test_dataset_errors_name_files_and_fixes(ids_root: Path, tmp_path: Path) -> None:
    spec = load_dataset_card(_write_card(ids_root.parent, BASE_CARD))
    with pytest.raises(DsbenchError) as missing_root:
        spec.build(tmp_path / "nowhere", "train")
    message = str(missing_root.value)
    assert "nowhere does not exist" in message and "train/*.png" in message and "trainannot/{stem}.png" in message
    with pytest.raises(DsbenchError, match="split 'test' is not defined.*train, val"):
        spec.build(None, "test")
    (ids_root / "valannot" / "0001TP_0000.png").unlink()
    with pytest.raises(DsbenchError) as missing_label:
        spec.build(None, "val")
    assert "missing label file for image" in str(missing_label.value)
    assert str(ids_root / "val" / "0001TP_0000.png") in str(missing_label.value)
    labels = _ids_labels(0)
    labels[2, 3] = 42
    _save(ids_root / "trainannot" / "0001TP_0000.png", labels)
    with pytest.raises(DsbenchError) as unlisted:
        spec.build(None, "train")[0]
    message = str(unlisted.value)
    assert "trainannot/0001TP_0000.png" in message and "label value 42" in message
    assert "classes" in message and "ignore_values" in message
    empty = _write_card(tmp_path / "empty", dict(BASE_CARD, root=str(ids_root),
                                                 splits={"train": {"images": "train/*.jpg", "labels": "x/{stem}.png"}}))
    with pytest.raises(DsbenchError, match=r"splits.train.images 'train/\*.jpg' matches no file"):
        load_dataset_card(empty).build(None, "train")


def test_label_size_and_channel_errors(ids_root: Path) -> None:
    spec = load_dataset_card(_write_card(ids_root.parent, BASE_CARD))
    _save(ids_root / "trainannot" / "0001TP_0000.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(DsbenchError, match="several channels.*label_channel"):
        spec.build(None, "train")[0]
    _save(ids_root / "trainannot" / "0001TP_0000.png", np.zeros((H + 1, W), np.uint8))
    with pytest.raises(DsbenchError, match="labels are 9x12 but image"):
        spec.build(None, "train")[0]


def test_register_card_for_build_dataset(ids_root: Path, tmp_path: Path) -> None:
    card = dict(BASE_CARD, name="tiny_registered")
    path = _write_card(ids_root.parent, card, "registered.yaml")
    spec = register_card(path)
    assert register_card(path) is spec  # the same card again: already there
    assert len(build_dataset("tiny_registered", None, "train")) == 2
    assert len(build_dataset("tiny_registered", ids_root, "val")) == 1
    other = _write_card(tmp_path / "other", dict(card, root=str(ids_root)))
    with pytest.raises(DsbenchError, match="'tiny_registered' .* already registered.*another name"):
        register_card(other)
    with pytest.raises(DsbenchError, match="already registered"):
        register_card(_write_card(tmp_path / "clash", dict(card, name="cityscapes")))
