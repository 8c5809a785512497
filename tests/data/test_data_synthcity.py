"""synthcity generator: determinism, layout, classes, Cityscapes encodings."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
from scipy import ndimage
from cityscapesscripts.evaluation.instances2dict import instances2dict
from cityscapesscripts.helpers.csHelpers import getCsFileInfo
from cityscapesscripts.helpers.labels import id2label, name2label
from PIL import Image

from benchmark.data.synthcity import (MARKER_NAME, SYNTHCITY_CLASSES, SYNTHCITY_TRAIN_IDS, image_id, image_rng,
                                      make_synthcity, render_scene)
from benchmark.errors import DsbenchError


def _file_bytes(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


@pytest.fixture(scope="module")
def half_cityscapes_sample():
    """Four scenes at 512x1024, half the Cityscapes resolution (about 1 s)."""
    return [render_scene(image_rng(0, "train", index), (512, 1024)) for index in range(4)]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    make_synthcity(tmp_path / "a", {"train": 2}, size=(64, 128), seed=11)
    make_synthcity(tmp_path / "b", {"train": 2}, size=(64, 128), seed=11)
    first, second = _file_bytes(tmp_path / "a"), _file_bytes(tmp_path / "b")
    pngs = [name for name in first if name.endswith(".png")]
    assert len(pngs) == 2 * 4
    for name in pngs:
        assert first[name] == second[name], name
    marker_a = json.loads(first[MARKER_NAME])
    marker_b = json.loads(second[MARKER_NAME])
    assert marker_a["params"] == marker_b["params"]
    assert marker_a["stats"]["pixel_counts"] == marker_b["stats"]["pixel_counts"]


def test_different_seeds_and_images_differ() -> None:
    rgb_a, labels_a, _ = render_scene(image_rng(0, "train", 0), (64, 128))
    rgb_b, labels_b, _ = render_scene(image_rng(1, "train", 0), (64, 128))
    rgb_c, _, _ = render_scene(image_rng(0, "val", 0), (64, 128))
    rgb_d, _, _ = render_scene(image_rng(0, "train", 1), (64, 128))
    assert not np.array_equal(labels_a, labels_b)
    for other in (rgb_b, rgb_c, rgb_d):
        assert not np.array_equal(rgb_a, other)


def test_render_scene_shapes_and_dtypes() -> None:
    rgb, label_ids, instance_ids = render_scene(image_rng(0, "train", 0), (48, 96))
    assert rgb.shape == (48, 96, 3) and rgb.dtype == np.uint8
    assert label_ids.shape == (48, 96) and label_ids.dtype == np.uint8
    assert instance_ids.shape == (48, 96) and instance_ids.dtype == np.int32


def test_layout_ids_and_marker(synth_root: Path) -> None:
    images = sorted((synth_root / "leftImg8bit" / "train").glob("*/*_leftImg8bit.png"))
    assert [p.name for p in images] == [f"{image_id('train', i)}_leftImg8bit.png" for i in range(3)]
    for image_path in images:
        info = getCsFileInfo(str(image_path))  # the official filename parser accepts our ids
        assert info.city == "synthtrain" and info.frameNb == "000019"
        gt = synth_root / "gtFine" / "train" / info.city
        stem = image_path.name[: -len("_leftImg8bit.png")]
        for kind in ("labelIds", "labelTrainIds", "instanceIds"):
            assert (gt / f"{stem}_gtFine_{kind}.png").is_file()
    marker = json.loads((synth_root / MARKER_NAME).read_text())
    assert marker["params"]["split_sizes"] == {"train": 3, "val": 2}
    assert not list(synth_root.rglob("*.tmp"))  # atomic writes leave no temp files


def test_second_call_is_cached_and_overwrite_regenerates(tmp_path: Path) -> None:
    stats = make_synthcity(tmp_path, {"val": 1}, size=(32, 64), seed=0)
    image = next(tmp_path.rglob("*_leftImg8bit.png"))
    before = image.stat().st_mtime_ns
    cached = make_synthcity(tmp_path, {"val": 1}, size=(32, 64), seed=0)
    assert cached["cached"] is True and stats["cached"] is False
    assert cached["pixel_counts"] == stats["pixel_counts"]
    assert image.stat().st_mtime_ns == before
    again = make_synthcity(tmp_path, {"val": 1}, size=(32, 64), seed=0, overwrite=True)
    assert again["cached"] is False


def test_smaller_rerun_removes_stale_files(tmp_path: Path) -> None:
    make_synthcity(tmp_path, {"train": 3}, size=(32, 64), seed=0)
    make_synthcity(tmp_path, {"train": 1}, size=(32, 64), seed=0)
    assert len(list((tmp_path / "leftImg8bit").rglob("*.png"))) == 1
    assert len(list((tmp_path / "gtFine").rglob("*.png"))) == 3


def test_classes_imbalance_and_ignore_at_half_cityscapes_size(half_cityscapes_sample) -> None:
    official = {name2label[name].trainId for name in SYNTHCITY_CLASSES}
    assert set(SYNTHCITY_TRAIN_IDS) == official
    counts = np.zeros(256, np.int64)
    for _, label_ids, _ in half_cityscapes_sample:
        train_ids = np.vectorize(lambda i: id2label[int(i)].trainId)(label_ids)
        counts += np.bincount(train_ids.ravel(), minlength=256)
        # ego-vehicle bonnet: the bottom-centre pixel is ignored in every image
        assert id2label[int(label_ids[-1, label_ids.shape[1] // 2])].name == "ego vehicle"
    present = {int(t) for t in np.flatnonzero(counts)}
    assert present - {255} <= official
    assert len(present - {255}) >= 8
    assert counts[255] > 0
    frequencies = counts[sorted(present - {255})]
    assert frequencies.max() / frequencies.min() > 50


def test_distant_objects_are_small(half_cityscapes_sample) -> None:
    heights = []
    for _, _, instance_ids in half_cityscapes_sample:
        for code in np.unique(instance_ids[instance_ids >= 1000]):
            rows = np.flatnonzero((instance_ids == code).any(axis=1))
            heights.append(rows.max() - rows.min() + 1)
    assert len(heights) >= 8
    assert max(heights) / min(heights) > 5


def test_poles_are_thin(half_cityscapes_sample) -> None:
    pole = name2label["pole"].id
    widths = []
    for _, label_ids, _ in half_cityscapes_sample:
        components, count = ndimage.label(label_ids == pole)
        for index in range(1, count + 1):
            row_widths = (components == index).sum(axis=1)
            widths.append(float(np.median(row_widths[row_widths > 0])))
    assert len(widths) >= 4
    assert min(widths) <= 2  # distant poles are one or two pixels wide


def test_label_ids_and_train_ids_agree_via_official_mapping(synth_root: Path) -> None:
    for path in sorted((synth_root / "gtFine").rglob("*_gtFine_labelIds.png")):
        label_ids = _png(path)
        train_ids = _png(Path(str(path).replace("_labelIds.png", "_labelTrainIds.png")))
        assert label_ids.dtype == np.uint8 and train_ids.dtype == np.uint8
        for value in np.unique(label_ids):
            label = id2label[int(value)]  # KeyError if not an official labelId
            assert np.all(train_ids[label_ids == value] == label.trainId), label.name


def test_instance_ids_follow_cityscapes_encoding(synth_root: Path) -> None:
    instance_classes = {label.id for label in id2label.values() if label.hasInstances}
    checked = 0
    for path in sorted((synth_root / "gtFine").rglob("*_gtFine_instanceIds.png")):
        instance_ids = _png(path).astype(np.int64)
        label_ids = _png(Path(str(path).replace("_instanceIds.png", "_labelIds.png"))).astype(np.int64)
        coded = instance_ids >= 1000
        assert np.all(instance_ids[coded] // 1000 == label_ids[coded])
        assert np.all(instance_ids[~coded] == label_ids[~coded])
        assert np.all(np.isin(label_ids[coded], list(instance_classes)))
        assert not np.isin(label_ids[~coded], list(instance_classes)).any()
        # the official reader finds one instance per code, with our pixel counts
        found = instances2dict([str(path)])[str(path.resolve())]
        for name in ("car", "person"):
            codes, pixels = np.unique(instance_ids[label_ids == name2label[name].id], return_counts=True)
            assert sorted(i["instID"] for i in found[name]) == codes.tolist()
            assert sum(i["pixelCount"] for i in found[name]) == pixels.sum()
            checked += len(codes)
    assert checked > 0


@pytest.mark.parametrize("kwargs", [
    {"split_sizes": {"Train!": 1}},
    {"split_sizes": {"train": -1}},
    {"split_sizes": {}},
    {"size": (0, 10)},
    {"size": (8, 8)},
    {"seed": -3},
])
def test_bad_parameters_raise_dsbench_error(tmp_path: Path, kwargs) -> None:
    with pytest.raises(DsbenchError):
        make_synthcity(tmp_path, **kwargs)
