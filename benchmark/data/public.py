"""The papers' public datasets: shipped cards, plus loaders where a card cannot describe the layout.

=========================  =====================================================  =======  ==========================
dataset (registered name)  how it is read                                         classes  not scored (-> 255)
=========================  =====================================================  =======  ==========================
ade20k                     card ``cards/ade20k.yaml``                             150      value 0 ('other')
deepglobe_landcover        card ``cards/deepglobe_landcover.yaml`` (RGB masks)    6        colour (0, 0, 0) unknown
synthia_rand_cityscapes    card ``cards/synthia_rand_cityscapes.yaml``            16       ids 0, 13, 14, 16, 18, 20, 22
mapillary_v1_2             card ``cards/mapillary_v1_2.yaml``, config checked     65       index 65, void--unlabeled
mapillary_v2_0             card ``cards/mapillary_v2_0.yaml``, config checked     123      index 123, void--unlabeled
(any name, per root)       :func:`register_mapillary`: the dataset's own config   config   labels with evaluate: false
apolloscape                :func:`apolloscape_spec` (nested Record/Camera dirs)   22       trainId 255 of its table
supervisely_person         :func:`supervisely_person_spec` (JSON annotations)     2        none
=========================  =====================================================  =======  ==========================

Split names are the suite's ``train`` / ``val`` whatever the dataset calls its folders.
"""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
from PIL import Image, ImageDraw

from benchmark.data.cards import (CardClass, CardLabelDecoder, DatasetCard, LabelMapSegmentation, Record,
                                  card_from_dict, read_card, register_spec, spec_from_card)
from benchmark.data.cityscapes import Transform
from benchmark.data.spec import DatasetSpec
from benchmark.errors import DsbenchError

CARDS_DIR = Path(__file__).resolve().parent / "cards"


def shipped_card_paths() -> List[Path]:
    """The cards packaged with the suite (``benchmark/data/cards/*.yaml``), sorted."""
    return sorted(CARDS_DIR.glob("*.yaml"))


# ----------------------------------------------------------------------------- Mapillary Vistas
#: Config file names per version, in the order they are looked for: the v2.0 download carries both
#: configs, the v1.2 download a plain ``config.json``.
MAPILLARY_CONFIGS = {"v1.2": ("config_v1.2.json", "config.json"), "v2.0": ("config_v2.0.json",)}


def _mapillary_config(root: Path, version: str) -> Path:
    if version not in MAPILLARY_CONFIGS:
        raise DsbenchError(f"Mapillary Vistas version {version!r} unknown; use one of {', '.join(MAPILLARY_CONFIGS)}")
    for name in MAPILLARY_CONFIGS[version]:
        if (root / name).is_file():
            return root / name
    raise DsbenchError(f"{root}: no {' or '.join(MAPILLARY_CONFIGS[version])} found; unzip the Mapillary Vistas "
                       f"download (www.mapillary.com/dataset/vistas) so --root holds the config and training/, "
                       f"validation/ folders")


def mapillary_labels(config_path: Path) -> List[tuple]:
    """(name, colour, scored) of every label of a Mapillary config, in index order (= pixel value)."""
    try:
        labels = json.loads(config_path.read_text(encoding="utf-8"))["labels"]
        return [(str(label["name"]), [int(c) for c in label["color"]], bool(label.get("evaluate", True)))
                for label in labels]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DsbenchError(f"{config_path}: not a Mapillary config ({type(error).__name__}: {error}); it needs "
                           f"labels: [{{name, color, evaluate}}, ...]; re-download it") from error


def mapillary_card(root: Union[str, os.PathLike], version: str = "v1.2", name: Optional[str] = None) -> DatasetCard:
    """A card built from the dataset's own config: label index = pixel value, ``evaluate: false`` ignored.

    Labels are the palette PNGs ``{training,validation}/{version}/labels/{id}.png`` whose pixel value is the
    index of the label in ``config["labels"]`` (entries ``name``, ``color``, ``evaluate``); images are
    ``{training,validation}/images/{id}.jpg``. Instances are not read (zeros).
    """
    root = Path(root)
    config_path = _mapillary_config(root, version)
    entries = mapillary_labels(config_path)
    card = {
        "name": name or f"mapillary_{version.replace('.', '_')}",
        "root": str(root),
        "download": "download Mapillary Vistas from www.mapillary.com/dataset/vistas and unzip it into --root",
        "splits": {split: {"images": f"{folder}/images/*.jpg", "labels": f"{folder}/{version}/labels/{{stem}}.png"}
                   for split, folder in (("train", "training"), ("val", "validation"))},
        "label_format": "ids",
        "classes": [{"name": n, "value": i, "color": c} for i, (n, c, scored) in enumerate(entries) if scored],
        "ignore_values": [i for i, (_, _, scored) in enumerate(entries) if not scored],
    }
    return card_from_dict(card, str(config_path))


def load_mapillary_spec(root: Union[str, os.PathLike], version: str = "v1.2",
                        name: Optional[str] = None) -> DatasetSpec:
    """The spec of the Mapillary Vistas ``version`` under ``root``: its classes come from its config."""
    return spec_from_card(mapillary_card(root, version, name))


def register_mapillary(root: Union[str, os.PathLike], version: str = "v1.2",
                       name: Optional[str] = None) -> DatasetSpec:
    """Register Mapillary Vistas under ``root`` (default name ``mapillary_v1_2`` / ``mapillary_v2_0``).

    ``mapillary_v1_2`` and ``mapillary_v2_0`` are also shipped cards: a config with the card's labels returns that spec
    (the same dataset); any other config under that name is refused by :func:`register_spec`."""
    spec = load_mapillary_spec(Path(root).resolve(), version, name)
    from benchmark.registry import DATASETS

    shipped = DATASETS.get(spec.name) if spec.name in DATASETS else None
    if shipped is not None and shipped.source == str(CARDS_DIR / f"{spec.name}.yaml") and \
            (shipped.class_names, shipped.label_ids) == (spec.class_names, spec.label_ids):
        return shipped
    return register_spec(spec)


#: The shipped card of each Mapillary version.
MAPILLARY_SHIPPED_CARDS = {"mapillary_v1_2": "v1.2", "mapillary_v2_0": "v2.0"}


def check_mapillary_config(root: Path, card: DatasetCard, version: str) -> None:
    """Where ``root`` holds the download's config, its labels must be the card's (index = pixel value)."""
    path = next((root / n for n in MAPILLARY_CONFIGS[version] if (root / n).is_file()), None)
    if path is None:
        return  # the labels alone suffice; the config only guards against another version's files
    scored = {i: n for i, (n, _, flag) in enumerate(mapillary_labels(path)) if flag}
    expected = {c.values[0]: c.name for c in card.classes}
    if scored != expected:
        wrong = sorted(set(scored.items()) ^ set(expected.items()))[0]
        raise DsbenchError(f"{path}: its scored labels differ from the {card.name} card's ({card.source}), first at "
                           f"index {wrong[0]}; point --root at a Mapillary Vistas {version} download, or register "
                           f"this config under its own name with register_mapillary(root, version, name=...)")


def mapillary_spec(card: DatasetCard) -> DatasetSpec:
    """The shipped card's spec; each split first checks the root's config against the card."""
    plain = spec_from_card(card)
    version = MAPILLARY_SHIPPED_CARDS[card.name]

    def build(root: Union[str, os.PathLike], split: str, *, transform: Optional[Transform] = None):
        check_mapillary_config(Path(root), card, version)
        return plain.builder(root, split, transform=transform)

    return dataclasses.replace(plain, builder=build)


# ----------------------------------------------------------------------------- ApolloScape
#: ApolloScape scene parsing label table (its labels_apollo.py): (name, label ids, colour) per training
#: id; several ids (the *_group variants) share a class. Ids 0 others, 1 rover, 98 bridge, 99 tunnel,
#: 100 overpass and 255 unlabeled have trainId 255 there and are not scored here.
APOLLOSCAPE_CLASSES = (
    ("sky", (17,), (70, 130, 180)), ("car", (33, 161), (0, 0, 142)), ("motorbicycle", (34, 162), (0, 0, 230)),
    ("bicycle", (35, 163), (119, 11, 32)), ("person", (36, 164), (0, 128, 192)), ("rider", (37, 165), (128, 64, 128)),
    ("truck", (38, 166), (128, 0, 192)), ("bus", (39, 167), (192, 0, 64)), ("tricycle", (40, 168), (128, 128, 192)),
    ("road", (49,), (192, 128, 192)), ("sidewalk", (50,), (192, 128, 64)), ("traffic_cone", (65,), (0, 0, 64)),
    ("road_pile", (66,), (0, 0, 192)), ("fence", (67,), (64, 64, 128)), ("traffic_light", (81,), (192, 64, 128)),
    ("pole", (82,), (192, 128, 128)), ("traffic_sign", (83,), (0, 64, 64)), ("wall", (84,), (192, 192, 128)),
    ("dustbin", (85,), (64, 0, 192)), ("billboard", (86,), (192, 0, 192)), ("building", (97,), (192, 0, 128)),
    ("vegetation", (113,), (128, 128, 64)),
)
APOLLOSCAPE_IGNORED = (0, 1, 98, 99, 100, 255)
APOLLOSCAPE_HINT = ("download the ApolloScape scene parsing archives (apolloscape.auto) and unpack them under "
                    "{root} as road*/ColorImage/Record*/Camera */<id>.jpg with road*/Label/Record*/Camera */"
                    "<id>_bin.png; list a split's images (paths relative to {root}, one per line) in "
                    "{root}/<split>.txt, or use split 'all'")


def apolloscape_card() -> DatasetCard:
    classes = tuple(CardClass(name, values, color) for name, values, color in APOLLOSCAPE_CLASSES)
    return DatasetCard(name="apolloscape", source="ApolloScape label table (benchmark/data/public.py)", root=None,
                       splits={}, label_format="ids", classes=classes, ignore_values=APOLLOSCAPE_IGNORED,
                       download=APOLLOSCAPE_HINT, image_size=(2710, 3384))


def apolloscape_label_path(root: Path, image: Path) -> Path:
    """``.../ColorImage/.../<id>.jpg`` -> ``.../Label/.../<id>_bin.png`` (the documented pairing)."""
    parts = list(image.relative_to(root).parts)
    if "ColorImage" not in parts:
        raise DsbenchError(f"{image}: ApolloScape image path has no ColorImage folder; {APOLLOSCAPE_HINT.format(root=root)}")
    parts[parts.index("ColorImage")] = "Label"
    parts[-1] = f"{Path(parts[-1]).stem}_bin.png"
    return root.joinpath(*parts)


def apolloscape_records(root: Union[str, os.PathLike], split: str) -> List[Record]:
    root = Path(root)
    hint = APOLLOSCAPE_HINT.format(root=root)
    if not root.is_dir():
        raise DsbenchError(f"dataset root {root} does not exist; {hint}")
    listing = root / f"{split}.txt"
    if listing.is_file():
        # First column only: list files that pair image and label paths (tab separated) work as they are.
        lines = [line.split("\t")[0].strip() for line in listing.read_text(encoding="utf-8").splitlines()]
        images = [root / line for line in lines if line]
        for image in images:
            if not image.is_file():
                raise DsbenchError(f"{listing}: listed image {image} does not exist; fix the list or the layout")
    elif split == "all":
        images = sorted(path for path in root.glob("**/ColorImage/**/*.jpg") if path.is_file())
    else:
        raise DsbenchError(f"{listing}: no list for split {split!r}; {hint}")
    if not images:
        raise DsbenchError(f"{root}: no ApolloScape images for split {split!r}; {hint}")
    records = []
    for image in images:
        label = apolloscape_label_path(root, image)
        if not label.is_file():
            raise DsbenchError(f"{label}: missing label file for image {image}; {hint}")
        records.append(Record(image.stem, image, label))
    return records


def apolloscape_spec() -> DatasetSpec:
    card = apolloscape_card()
    decoder = CardLabelDecoder(card)

    def build(root: Union[str, os.PathLike], split: str, *, transform: Optional[Transform] = None):
        return LabelMapSegmentation(apolloscape_records(root, split), decoder, transform=transform,
                                    root=Path(root), split=split)

    spec = spec_from_card(card, builder=build)
    return dataclasses.replace(spec, setup_hint=APOLLOSCAPE_HINT)


# ----------------------------------------------------------------------------- Supervisely Person
SUPERVISELY_HINT = ("download the Supervisely Person dataset (supervise.ly) and unpack it so {root} holds its "
                    "ds*/img/<name> images and ds*/ann/<name>.json annotations")
#: One image in this many goes to ``val`` (by a CRC of its path): the dataset defines no split.
SUPERVISELY_VAL_EVERY = 10


class SuperviselyMaskDecoder:
    """Supervisely JSON annotation -> 0 background / 1 person (every object is a person)."""

    def decode(self, path: Path) -> np.ndarray:
        try:
            annotation = json.loads(Path(path).read_text(encoding="utf-8"))
            height, width = int(annotation["size"]["height"]), int(annotation["size"]["width"])
            objects = annotation.get("objects", [])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DsbenchError(f"{path}: not a Supervisely annotation ({type(error).__name__}: {error}); it needs "
                               f"size: {{height, width}} and objects: [...]; re-download it") from error
        mask = np.zeros((height, width), np.uint8)
        for index, obj in enumerate(objects):
            kind = obj.get("geometryType")
            if kind == "polygon":
                mask |= self._polygon(obj["points"], height, width)
            elif kind == "bitmap":
                self._paste_bitmap(mask, obj["bitmap"], path)
            else:
                raise DsbenchError(f"{path}: objects[{index}] has geometryType {kind!r}; only polygon and bitmap "
                                   f"are read: convert it with Supervisely's export tools")
        return mask

    @staticmethod
    def _polygon(points: Dict[str, Any], height: int, width: int) -> np.ndarray:
        canvas = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(canvas)
        exterior = [tuple(p) for p in points.get("exterior", [])]
        if len(exterior) >= 3:
            draw.polygon(exterior, fill=1)
        for hole in points.get("interior", []):  # holes cut the object's own area only
            if len(hole) >= 3:
                draw.polygon([tuple(p) for p in hole], fill=0)
        return np.array(canvas, np.uint8)

    @staticmethod
    def _paste_bitmap(mask: np.ndarray, bitmap: Dict[str, Any], path: Path) -> None:
        try:
            png = zlib.decompress(base64.b64decode(bitmap["data"]))
            with Image.open(io.BytesIO(png)) as handle:
                handle.load()
                if handle.mode in ("RGBA", "LA") or "transparency" in handle.info and handle.mode != "P":
                    piece = np.array(handle.convert("RGBA"))[:, :, 3] > 0
                elif handle.mode == "P":
                    piece = np.array(handle) > 0  # palette index 0 is the background
                else:
                    piece = np.array(handle.convert("L")) > 0
            left, top = int(bitmap["origin"][0]), int(bitmap["origin"][1])
        except (ValueError, KeyError, TypeError, OSError, zlib.error) as error:
            raise DsbenchError(f"{path}: unreadable bitmap object ({type(error).__name__}: {error}); "
                               f"re-download the annotation") from error
        bottom, right = min(mask.shape[0], top + piece.shape[0]), min(mask.shape[1], left + piece.shape[1])
        if bottom > top and right > left:
            mask[top:bottom, left:right] |= piece[: bottom - top, : right - left].astype(np.uint8)


def supervisely_records(root: Union[str, os.PathLike], split: str) -> List[Record]:
    root = Path(root)
    hint = SUPERVISELY_HINT.format(root=root)
    if split not in ("train", "val", "all"):
        raise DsbenchError(f"Supervisely Person split {split!r} unknown; use train, val or all")
    if not root.is_dir():
        raise DsbenchError(f"dataset root {root} does not exist; {hint}")
    images = sorted(path for path in root.glob("*/img/*") if path.is_file())
    if not images:
        raise DsbenchError(f"{root}: no images in */img/; {hint}")
    records = []
    for image in images:
        relative = image.relative_to(root).as_posix()
        in_val = zlib.crc32(relative.encode("utf-8")) % SUPERVISELY_VAL_EVERY == 0
        if split != "all" and in_val != (split == "val"):
            continue
        annotation = image.parent.parent / "ann" / f"{image.name}.json"
        if not annotation.is_file():
            raise DsbenchError(f"{annotation}: missing annotation for image {image}; {hint}")
        # The folder keeps ids unique: the ds* folders reuse file names.
        records.append(Record(f"{image.parent.parent.name}_{image.stem}", image, annotation))
    return records


def supervisely_person_spec() -> DatasetSpec:
    card = DatasetCard(name="supervisely_person", source="Supervisely Person (benchmark/data/public.py)", root=None,
                       splits={}, label_format="ids",
                       classes=(CardClass("background", (0,), (0, 0, 0)), CardClass("person", (1,), (220, 20, 60))),
                       ignore_values=(), download=SUPERVISELY_HINT)
    decoder = SuperviselyMaskDecoder()

    def build(root: Union[str, os.PathLike], split: str, *, transform: Optional[Transform] = None):
        return LabelMapSegmentation(supervisely_records(root, split), decoder, transform=transform,
                                    root=Path(root), split=split)

    spec = spec_from_card(card, builder=build)
    return dataclasses.replace(spec, setup_hint=SUPERVISELY_HINT)


# ----------------------------------------------------------------------------- registration
def register_public_datasets() -> List[DatasetSpec]:
    """Register the shipped cards (Mapillary v1.2's checks the root's config), ApolloScape and
    Supervisely Person."""
    cards = [read_card(path) for path in shipped_card_paths()]
    specs = [mapillary_spec(card) if card.name in MAPILLARY_SHIPPED_CARDS else spec_from_card(card) for card in cards]
    specs += [apolloscape_spec(), supervisely_person_spec()]
    return [register_spec(spec) for spec in specs]


__all__ = ["APOLLOSCAPE_CLASSES", "MAPILLARY_CONFIGS", "MAPILLARY_SHIPPED_CARDS", "apolloscape_spec", "load_mapillary_spec", "mapillary_card",
           "register_mapillary", "register_public_datasets", "shipped_card_paths", "supervisely_person_spec"]
