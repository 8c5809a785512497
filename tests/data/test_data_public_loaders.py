"""The public datasets on tiny fixtures in their real on-disk layouts, loaded through build_dataset."""
from __future__ import annotations

import base64
import io
import json
import struct
import tomllib
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import DATASETS, PUBLIC_DATASETS, build_dataset
from benchmark.data.public import (APOLLOSCAPE_CLASSES, load_mapillary_spec, register_mapillary,
                                   shipped_card_paths)
from benchmark.errors import DsbenchError

H, W = 8, 12
REPO = Path(__file__).resolve().parents[2]


def _save(path: Path, array: np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **options)
    return path


def _photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _png16_rgb(path: Path, rgb: np.ndarray) -> None:
    """A 16-bit RGB PNG written by hand (PIL cannot), so the fixture does not lean on the reader's library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[row].astype(">u2").tobytes() for row in range(height))  # filter 0 per row
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def test_public_specs_are_registered_with_their_own_classes() -> None:
    expected = {"ade20k": 150, "deepglobe_landcover": 6, "synthia_rand_cityscapes": 16, "apolloscape": 22,
                "supervisely_person": 2, "mapillary_v1_2": 65, "mapillary_v2_0": 123}
    assert {spec.name: spec.num_classes for spec in PUBLIC_DATASETS} == expected
    for name, count in expected.items():
        spec = DATASETS.get(name)
        assert len(spec.class_names) == len(set(spec.class_names)) == count == len(spec.colors)
        assert spec.evaluated_train_ids == tuple(range(count)) and spec.ignore_index == 255
        assert len(spec.train_id_to_label_id) == count and spec.instance_label_to_train == {t + 1: t for t in range(count)}
    # the Cityscapes specs keep their official tables
    assert DATASETS.get("cityscapes").num_classes == 19 and DATASETS.get("cityscapes").instance_label_to_train is None


def test_cards_are_package_data() -> None:
    names = sorted(path.name for path in shipped_card_paths())
    assert names == ["ade20k.yaml", "deepglobe_landcover.yaml", "mapillary_v1_2.yaml", "mapillary_v2_0.yaml",
                     "synthia_rand_cityscapes.yaml"]
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "cards/*.yaml" in package_data["benchmark.data"]


def test_ade20k(tmp_path: Path) -> None:
    spec = DATASETS.get("ade20k")
    names = spec.class_names
    # spot checks against objectInfo150 (value = row index): 1 wall, 3 sky, 13 person, 21 car, 150 flag
    assert (names[0], names[2], names[12], names[20], names[149]) == ("wall", "sky", "person", "car", "flag")
    assert spec.train_id_to_label_id == tuple(range(1, 151))
    root = tmp_path / "ADEChallengeData2016"
    annotation = np.zeros((H, W), np.uint8)  # 0 = other objects: ignored
    annotation[:, 3:6] = 1
    annotation[:, 6:9] = 13
    annotation[:, 9:] = 150
    for folder, stem in (("training", "ADE_train_00000001"), ("validation", "ADE_val_00000001")):
        _save(root / "images" / folder / f"{stem}.jpg", _photo(1), quality=95)
        _save(root / "annotations" / folder / f"{stem}.png", annotation)
    for split in ("train", "val"):
        dataset = build_dataset("ade20k", root, split)
        sample = dataset[0]
        assert len(dataset) == 1 and sample["image"].shape == (3, H, W)
        labels = sample["labels"].numpy()
        assert set(np.unique(labels[:, :3])) == {255} and set(np.unique(labels[:, 3:6])) == {0}
        assert set(np.unique(labels[:, 6:9])) == {12} and set(np.unique(labels[:, 9:])) == {149}
    assert build_dataset("ade20k", root, "val")[0]["id"] == "ADE_val_00000001"


def write_deepglobe(root: Path, folder: str, stem: str, mask: np.ndarray) -> Path:
    """One DeepGlobe Land Cover tile in its layout: ``{folder}/{stem}_sat.jpg`` + ``_mask.png`` (RGB)."""
    _save(root / folder / f"{stem}_sat.jpg", _photo(2))
    _save(root / folder / f"{stem}_mask.png", mask)
    return root


def test_deepglobe_landcover(tmp_path: Path) -> None:
    root = tmp_path / "deepglobe"
    mask = np.zeros((H, W, 3), np.uint8)  # unknown (black) everywhere else
    mask[:2] = (0, 255, 255)
    mask[2:4] = (254, 253, 1)     # agriculture, saved slightly off: thresholded at 128
    mask[4:6] = (255, 255, 255)
    mask[6, :6] = (0, 0, 255)
    write_deepglobe(root, "train", "119", mask)
    dataset = build_dataset("deepglobe_landcover", root, "train")
    assert DATASETS.get("deepglobe_landcover").class_names == ("urban", "agriculture", "rangeland", "forest",
                                                                 "water", "barren")
    assert dataset.ids == ["119"]
    labels = dataset[0]["labels"].numpy()
    assert (labels[:2] == 0).all() and (labels[2:4] == 1).all() and (labels[4:6] == 5).all()
    assert (labels[6, :6] == 4).all() and (labels[6, 6:] == 255).all() and (labels[7] == 255).all()
    with pytest.raises(DsbenchError, match="val/\\*_sat.jpg"):
        build_dataset("deepglobe_landcover", root, "val")  # no val/ folder yet: says where to put it


def test_synthia_rand_cityscapes_reads_the_first_16_bit_channel(tmp_path: Path) -> None:
    root = tmp_path / "RAND_CITYSCAPES"
    gt = np.zeros((H, W, 3), np.uint16)
    gt[..., 0] = 3                  # road
    gt[:, 4:8, 0] = 10              # pedestrian -> person
    gt[:, 8:, 0] = 16               # terrain: not one of the 16 classes
    gt[0, 0, 0] = 21                # wall
    gt[..., 1] = 300 + np.arange(W)  # instance ids > 255 in the second channel: must not leak into labels
    _save(root / "RGB" / "0000000.png", _photo(3))
    _png16_rgb(root / "GT" / "LABELS" / "0000000.png", gt)
    spec = DATASETS.get("synthia_rand_cityscapes")
    assert spec.class_names[:3] == ("road", "sidewalk", "building") and "terrain" not in spec.class_names
    labels = build_dataset("synthia_rand_cityscapes", root, "train")[0]["labels"].numpy()
    person = spec.class_names.index("person")
    assert labels[0, 0] == spec.class_names.index("wall")
    assert (labels[1:, :4] == 0).all() and (labels[:, 4:8] == person).all() and (labels[:, 8:] == 255).all()
    gt[2, 2, 0] = 23  # a value the card does not list
    _png16_rgb(root / "GT" / "LABELS" / "0000000.png", gt)
    with pytest.raises(DsbenchError, match="label value 23 .*ignore_values"):
        build_dataset("synthia_rand_cityscapes", root, "train")[0]


def _mapillary_root(tmp_path: Path) -> Path:
    root = tmp_path / "vistas"
    v12 = [{"name": "animal--bird", "readable": "Bird", "color": [165, 42, 42], "instances": True, "evaluate": True},
           {"name": "construction--flat--road", "readable": "Road", "color": [128, 64, 128], "instances": False,
            "evaluate": True},
           {"name": "void--unlabeled", "readable": "Unlabeled", "color": [0, 0, 0], "instances": False,
            "evaluate": False},
           {"name": "object--vehicle--car", "readable": "Car", "color": [0, 0, 142], "instances": True,
            "evaluate": True}]
    v20 = v12[:2] + [{"name": "nature--sky", "readable": "Sky", "color": [70, 130, 180], "instances": False,
                      "evaluate": True}]
    root.mkdir()
    (root / "config_v1.2.json").write_text(json.dumps({"labels": v12, "version": "1.2"}))
    (root / "config_v2.0.json").write_text(json.dumps({"labels": v20, "version": "2.0"}))
    index = np.zeros((H, W), np.uint8)
    index[:, 3:6], index[:, 6:9], index[:, 9:] = 1, 2, 3
    palette = [0] * 768
    for version, labels in (("v1.2", v12), ("v2.0", v20)):
        for folder in ("training", "validation"):
            _save(root / folder / "images" / "key_a.jpg", _photo(4))
            image = Image.fromarray(np.minimum(index, len(labels) - 1), mode="L").convert("P")
            for i, label in enumerate(labels):
                palette[3 * i: 3 * i + 3] = label["color"]
            image.putpalette(palette)
            (root / folder / version / "labels").mkdir(parents=True, exist_ok=True)
            image.save(root / folder / version / "labels" / "key_a.png")
    return root


def test_mapillary_reads_the_datasets_config(tmp_path: Path) -> None:
    root = _mapillary_root(tmp_path)
    with Image.open(root / "training" / "v1.2" / "labels" / "key_a.png") as stored:
        assert stored.mode == "P"  # the real files are palette PNGs whose index is the label
    spec = register_mapillary(root, "v1.2", name="mapillary_fixture_v1")
    assert spec.class_names == ("animal--bird", "construction--flat--road", "object--vehicle--car")
    assert spec.colors[2] == (0, 0, 142) and spec.train_id_to_label_id == (0, 1, 3)
    labels = build_dataset("mapillary_fixture_v1", root, "val")[0]["labels"].numpy()
    assert (labels[:, :3] == 0).all() and (labels[:, 3:6] == 1).all()
    assert (labels[:, 6:9] == 255).all() and (labels[:, 9:] == 2).all()  # unlabeled ignored, car shifts to 2
    v20 = load_mapillary_spec(root, "v2.0", name="mapillary_fixture_v2")
    assert v20.num_classes == 3 and v20.class_names[2] == "nature--sky"
    labels = v20.build(root, "train")[0]["labels"].numpy()
    assert (labels[:, 6:] == 2).all()  # read from training/v2.0/labels
    with pytest.raises(DsbenchError, match="no config_v2.0.json found"):
        load_mapillary_spec(tmp_path, "v2.0")
    with pytest.raises(DsbenchError, match="version 'v3' unknown"):
        load_mapillary_spec(root, "v3")


#: Per version: the shipped card and the (road, car, unlabeled) label values of the fixture's stripes.
MAPILLARY_FIXTURE = {"v1.2": ("mapillary_v1_2.yaml", (13, 55, 65)), "v2.0": ("mapillary_v2_0.yaml", (21, 108, 123))}


def write_mapillary(root: Path, version: str = "v1.2", index: np.ndarray = None) -> Path:
    """Mapillary Vistas ``version`` in its layout: config_v*.json with the shipped card's labels plus
    void--unlabeled (index = pixel value) and palette PNGs under {training,validation}/{version}/labels.
    Default labels: road, then car from column 4, unlabeled from column 8."""
    from benchmark.data.cards import read_card

    card_name, (road, car, unlabeled) = MAPILLARY_FIXTURE[version]
    card = read_card(REPO / "benchmark" / "data" / "cards" / card_name)
    labels = [{"name": c.name, "color": list(c.color), "evaluate": True} for c in card.classes]
    labels.append({"name": "void--unlabeled", "color": [0, 0, 0], "evaluate": False})
    root.mkdir(parents=True, exist_ok=True)
    (root / f"config_{version}.json").write_text(json.dumps({"labels": labels, "version": version[1:]}))
    if index is None:
        index = np.full((H, W), road, np.uint8)
        index[:, 4:8], index[:, 8:] = car, unlabeled
    palette = [value for label in labels for value in label["color"]]
    for folder, stem in (("training", "tr_key"), ("validation", "va_key")):
        _save(root / folder / "images" / f"{stem}.jpg", _photo(6))
        image = Image.fromarray(index, mode="L").convert("P")
        image.putpalette(palette + [0] * (768 - len(palette)))
        (root / folder / version / "labels").mkdir(parents=True, exist_ok=True)
        image.save(root / folder / version / "labels" / f"{stem}.png")
    return root


def test_mapillary_v1_2_is_registered_by_name_and_checks_the_downloads_config(tmp_path: Path) -> None:
    root = write_mapillary(tmp_path / "vistas")
    spec = DATASETS.get("mapillary_v1_2")
    assert spec.class_names[13] == "construction--flat--road" and spec.colors[55] == (0, 0, 142)
    labels = build_dataset("mapillary_v1_2", root, "val")[0]["labels"].numpy()
    assert (labels[:, :4] == 13).all() and (labels[:, 4:8] == 55).all() and (labels[:, 8:] == 255).all()
    assert len(build_dataset("mapillary_v1_2", root, "train")) == 1
    # the config's own reading agrees, so registering it by the default name is the same dataset
    assert register_mapillary(root, "v1.2") is spec
    config = json.loads((root / "config_v1.2.json").read_text())
    config["labels"][13], config["labels"][14] = config["labels"][14], config["labels"][13]
    (root / "config_v1.2.json").write_text(json.dumps(config))
    with pytest.raises(DsbenchError, match=r"config_v1\.2\.json: its scored labels differ from the mapillary_v1_2 "
                                           r"card's .*first at index 13; point --root at a Mapillary Vistas v1\.2"):
        build_dataset("mapillary_v1_2", root, "val")
    with pytest.raises(DsbenchError, match="'mapillary_v1_2' of .*config_v1.2.json is already registered"):
        register_mapillary(root, "v1.2")


def test_mapillary_v2_0_is_registered_by_name_and_checks_the_downloads_config(tmp_path: Path) -> None:
    spec = DATASETS.get("mapillary_v2_0")
    # The v2.0 table keeps v1.2's names and colours where v1.2 has the label (v2.0 splits some of them).
    v12 = DATASETS.get("mapillary_v1_2")
    shared = set(spec.class_names) & set(v12.class_names)
    assert len(shared) >= 50
    assert all(spec.colors[spec.class_names.index(n)] == v12.colors[v12.class_names.index(n)] for n in shared)
    assert spec.class_names[21] == "construction--flat--road" and spec.class_names[108] == "object--vehicle--car"
    root = write_mapillary(tmp_path / "vistas", "v2.0")
    labels = build_dataset("mapillary_v2_0", root, "val")[0]["labels"].numpy()
    assert (labels[:, :4] == 21).all() and (labels[:, 4:8] == 108).all() and (labels[:, 8:] == 255).all()
    assert register_mapillary(root, "v2.0") is spec
    config = json.loads((root / "config_v2.0.json").read_text())
    config["labels"][50]["evaluate"] = False  # a config that scores other labels than the card
    (root / "config_v2.0.json").write_text(json.dumps(config))
    with pytest.raises(DsbenchError, match=r"config_v2\.0\.json: its scored labels differ from the mapillary_v2_0 "
                                           r"card's .*first at index 50; point --root at a Mapillary Vistas v2\.0"):
        build_dataset("mapillary_v2_0", root, "val")


def test_mapillary_v1_2_by_name_from_the_cli(tmp_path: Path, capsys) -> None:
    from benchmark.cli import main

    root = write_mapillary(tmp_path / "vistas")
    assert main(["intrinsic", "--dataset", "mapillary_v1_2", "--root", str(root), "--split", "val",
                 "--method", "uniform", "--resolution", f"{H // 2}x{W // 2}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    (root / "config_v1.2.json").write_text("{}")  # a damaged config: one line naming it, exit 2
    assert main(["intrinsic", "--dataset", "mapillary_v1_2", "--root", str(root), "--split", "val",
                 "--method", "uniform", "--resolution", f"{H // 2}x{W // 2}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config_v1.2.json: not a Mapillary config" in err and "Traceback" not in err


APOLLO_CAMERA = Path("road01_ins") / "ColorImage" / "Record001" / "Camera 5"
APOLLO_LABELS = Path("road01_ins") / "Label" / "Record001" / "Camera 5"


def write_apolloscape(root: Path, stems, ids: np.ndarray, splits=None) -> Path:
    """ApolloScape scene parsing in its layout (road*/ColorImage|Label/Record*/Camera */), with the
    split lists ``{split}.txt`` of ``splits`` (split -> stems) in the archives' two-column form."""
    for stem in stems:
        _save(root / APOLLO_CAMERA / f"{stem}.jpg", _photo(5))
        _save(root / APOLLO_LABELS / f"{stem}_bin.png", ids)
    for split, members in (splits or {}).items():
        (root / f"{split}.txt").write_text("".join(f"{(APOLLO_CAMERA / (stem + '.jpg')).as_posix()}\t"
                                                   f"{(APOLLO_LABELS / (stem + '_bin.png')).as_posix()}\n"
                                                   for stem in members))
    return root


def test_apolloscape(tmp_path: Path) -> None:
    root = tmp_path / "apollo"
    ids = np.full((H, W), 17, np.uint8)  # sky
    ids[:, 3:6] = 33                      # car
    ids[:, 6:9] = 161                     # car_groups: the same class
    ids[:, 9:] = 255                      # unlabeled
    ids[0, 0] = 113                       # vegetation
    stems = ("170908_061502408_Camera_5", "170908_061502547_Camera_5")
    write_apolloscape(root, stems, ids, {"train": stems[:1]})
    spec = DATASETS.get("apolloscape")
    assert spec.class_names == tuple(name for name, _, _ in APOLLOSCAPE_CLASSES) and spec.num_classes == 22
    everything = build_dataset("apolloscape", root, "all")
    assert everything.ids == list(stems)
    labels = everything[0]["labels"].numpy()
    car = spec.class_names.index("car")
    assert labels[0, 0] == spec.class_names.index("vegetation") and (labels[1:, :3] == 0).all()
    assert (labels[:, 3:9] == car).all() and (labels[:, 9:] == 255).all()
    assert build_dataset("apolloscape", root, "train").ids == [stems[0]]
    with pytest.raises(DsbenchError, match="val.txt: no list for split 'val'"):
        build_dataset("apolloscape", root, "val")


def _bitmap(mask: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return base64.b64encode(zlib.compress(buffer.getvalue())).decode("ascii")


SUPERVISELY_IMAGES = (("ds1", "pexels-photo-1.png"), ("ds2", "pexels-photo-1.png"), ("ds2", "pexels-photo-7.jpg"))


def write_supervisely_person(root: Path, images=SUPERVISELY_IMAGES) -> Path:
    """The Supervisely Person layout (ds*/img/<name>, ds*/ann/<name>.json): per image a person
    polygon with a hole and a bitmap piece."""
    for folder, name in images:
        _save(root / folder / "img" / name, _photo(6))
        polygon = {"geometryType": "polygon", "classTitle": "person_poly",
                   "points": {"exterior": [[0, 0], [5, 0], [5, 5], [0, 5]], "interior": [[[2, 2], [3, 2], [3, 3], [2, 3]]]}}
        piece = np.zeros((2, 3), bool)
        piece[0] = True
        bitmap = {"geometryType": "bitmap", "classTitle": "person_bmp", "bitmap": {"data": _bitmap(piece), "origin": [8, 6]}}
        annotation = {"description": "", "tags": [], "size": {"height": H, "width": W}, "objects": [polygon, bitmap]}
        (root / folder / "ann").mkdir(parents=True, exist_ok=True)
        (root / folder / "ann" / f"{name}.json").write_text(json.dumps(annotation))
    return root


def test_supervisely_person(tmp_path: Path) -> None:
    root = write_supervisely_person(tmp_path / "Supervisely Person Dataset")
    everything = build_dataset("supervisely_person", root, "all")
    assert everything.ids == ["ds1_pexels-photo-1", "ds2_pexels-photo-1", "ds2_pexels-photo-7"]
    labels = everything[0]["labels"].numpy()
    expected = np.zeros((H, W), np.int64)
    expected[0:6, 0:6] = 1  # PIL fills polygon outlines inclusively
    expected[2:4, 2:4] = 0  # the hole
    expected[6, 8:11] = 1   # the bitmap's first row at origin x=8, y=6
    assert np.array_equal(labels, expected)
    train, val = (build_dataset("supervisely_person", root, split).ids for split in ("train", "val"))
    assert sorted(train + val) == everything.ids and not set(train) & set(val)
    with pytest.raises(DsbenchError, match="split 'test' unknown"):
        build_dataset("supervisely_person", root, "test")
    (root / "ds1" / "ann" / "pexels-photo-1.png.json").unlink()
    with pytest.raises(DsbenchError, match="missing annotation for image"):
        build_dataset("supervisely_person", root, "all")


def test_card_datasets_cannot_be_generated(tmp_path: Path) -> None:
    with pytest.raises(DsbenchError) as error:
        DATASETS.get("ade20k").make(tmp_path)
    message = str(error.value)
    assert "cannot be generated" in message and f"{tmp_path}/annotations/training/{{stem}}.png" in message


def test_missing_roots_say_what_to_put_where(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    for name, needle in (("ade20k", "images/training/*.jpg"), ("apolloscape", "ColorImage"),
                         ("supervisely_person", "ds*/img"), ("synthia_rand_cityscapes", "GT/LABELS/{stem}.png")):
        with pytest.raises(DsbenchError) as error:
            build_dataset(name, absent, "train")
        message = str(error.value)
        assert "does not exist" in message and needle in message and "\n" not in message
