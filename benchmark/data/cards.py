"""Dataset cards: a YAML file that describes a segmentation dataset's layout and classes.

A card::

    name: mydata
    root: /data/mydata            # optional; absolute, or relative to the card file
    splits:                       # each: a glob with ONE '*' for images; labels use {stem}
      train: {images: "train/*.png", labels: "trainannot/{stem}.png"}
      val:   {images: "val/*.png",   labels: "valannot/{stem}.png", instances: "valinst/{stem}.png"}
    label_format: ids             # ids: a PNG of integer values; colors: an RGB mask
    classes:                      # in training-id order
      - {name: sky, value: 0}                 # ids: value (or a list of values merged into one class)
      - {name: building, value: 1, color: [70, 70, 70]}   # colour optional for ids (display palette)
    ignore_values: [11]           # values (ids) or [r, g, b] colours (colors) that are not scored

Optional keys: ``download`` (how to get the data, shown in errors), ``image_size`` ([H, W], the
full resolution for cost reports), ``label_channel`` (ids stored in one channel of a multi-channel
PNG, 0 = the first / red channel; read at full bit depth, e.g. Synthia's 16-bit labels) and
``color_threshold`` (colors: every channel becomes 0 or 255 at this threshold before matching, for
masks whose colours are not exact, e.g. DeepGlobe's).

The card is validated against :data:`CARD_SCHEMA` (no unknown key at any level) and then for what a
schema cannot say (one '*' per image glob, unique class names and values, values per format); each
error is one line naming the card, the key and the fix.

Samples are dicts like :class:`~benchmark.data.cityscapes.CityscapesSegmentation`'s: ``image``
(3, H, W) float in [0, 1], ``labels`` (H, W) int64 training ids with ``IGNORE_INDEX`` (255) for
ignored values, ``instances`` (H, W) int64, ``id`` (the text the '*' matched), ``path``.

Instances: a card without an ``instances`` pattern (or an image whose instance file is missing)
gives all-zero maps, which the object-recall metric reads as "no object" (it only counts codes
>= 1000), so such datasets report no per-object rows rather than wrong ones. An instance file is a
one-channel PNG of per-image object numbers (0 = none, 1..999); the loader encodes each object
pixel as ``(training id + 1) * 1000 + number``, the Cityscapes ``labelId * 1000 + k`` layout with
"training id + 1" as the label code (so training id 0 can carry objects too). The spec's
``instance_label_to_train`` is the matching ``label_to_train`` table for the metric suite.
"""
from __future__ import annotations

import colorsys
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import yaml
from PIL import Image
from torch.utils.data import Dataset

from benchmark.data.cityscapes import Transform
from benchmark.data.labels import IGNORE_INDEX
from benchmark.data.spec import DatasetSpec
from benchmark.errors import DsbenchError

INSTANCE_OFFSET = 1000  # the metric suite's instance code layout: class code * 1000 + object number
MAX_LABEL_VALUE = 65535  # 16-bit PNGs
DEFAULT_IMAGE_SIZE = DatasetSpec.__dataclass_fields__["default_image_size"].default

_NAME_PATTERN = "^[a-z][a-z0-9_]*$"
_RGB = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}, "minItems": 3, "maxItems": 3,
        "x-fix": "write a colour as [r, g, b] with integers 0..255"}
_VALUE = {"type": "integer", "minimum": 0, "maximum": MAX_LABEL_VALUE,
          "x-fix": f"write a label value as an integer 0..{MAX_LABEL_VALUE}"}
_PATTERN = {"type": "string", "minLength": 1}

#: JSON schema of a card. ``x-fix`` (ignored by jsonschema) is the fix quoted in error messages.
CARD_SCHEMA: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "splits", "label_format", "classes"],
    "properties": {
        "name": {"type": "string", "pattern": _NAME_PATTERN,
                 "x-fix": "use lowercase letters, digits and '_', starting with a letter, e.g. my_data"},
        "root": {"type": "string", "minLength": 1,
                 "x-fix": "give the dataset folder, absolute or relative to the card file"},
        "download": {"type": "string", "x-fix": "say in words where to download the data"},
        "image_size": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2,
                       "x-fix": "give the full image size as [height, width]"},
        "splits": {
            "type": "object", "minProperties": 1,
            "propertyNames": {"pattern": _NAME_PATTERN},
            "x-fix": "give each split as NAME: {images: 'dir/*.png', labels: 'dir/{stem}.png'}",
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["images", "labels"],
                "x-fix": "give images (a glob with one '*') and labels (a path with {stem}); instances is optional",
                "properties": {"images": _PATTERN, "labels": _PATTERN, "instances": _PATTERN},
            },
        },
        "label_format": {"enum": ["ids", "colors"],
                         "x-fix": "use ids (a PNG of integer values) or colors (an RGB mask)"},
        "label_channel": {"type": "integer", "minimum": 0, "maximum": 3,
                          "x-fix": "give the channel holding the id: 0 (red/first) .. 3 (alpha)"},
        "color_threshold": {"type": "integer", "minimum": 1, "maximum": 255,
                            "x-fix": "give the channel threshold 1..255 (e.g. 128)"},
        "classes": {
            "type": "array", "minItems": 1, "maxItems": IGNORE_INDEX,
            "x-fix": f"list 1..{IGNORE_INDEX} classes in training-id order, each {{name: ..., value: ...}}",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["name"],
                "x-fix": "give each class a name and a value (ids) or a color (colors)",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "x-fix": "give the class a non-empty name"},
                    "value": {"oneOf": [_VALUE, {"type": "array", "items": _VALUE, "minItems": 1}],
                              "x-fix": f"write an integer 0..{MAX_LABEL_VALUE} or a list of them"},
                    "color": _RGB,
                },
            },
        },
        "ignore_values": {"type": "array",
                          "items": {"oneOf": [_VALUE, _RGB],
                                    "x-fix": "write integers (ids) or [r, g, b] colours (colors)"},
                          "x-fix": "list the values or colours that are not scored, e.g. [0]"},
    },
}

_EXAMPLES = {
    "name": "name: my_data",
    "splits": "splits: {train: {images: 'train/*.png', labels: 'trainannot/{stem}.png'}}",
    "label_format": "label_format: ids",
    "classes": "classes: [{name: sky, value: 0}]",
    "images": "images: 'train/*.png'",
    "labels": "labels: 'trainannot/{stem}.png'",
}


@dataclass(frozen=True)
class SplitLayout:
    images: str
    labels: str
    instances: Optional[str] = None


@dataclass(frozen=True)
class CardClass:
    name: str
    values: Tuple[int, ...]  # ids format; empty for colors
    color: Optional[Tuple[int, int, int]]


@dataclass(frozen=True)
class DatasetCard:
    """A validated card. ``source`` names it in messages (the file, or what produced it)."""

    name: str
    source: str
    root: Optional[Path]
    splits: Mapping[str, SplitLayout]
    label_format: str
    classes: Tuple[CardClass, ...]
    ignore_values: Tuple[Any, ...]  # ints (ids) or (r, g, b) tuples (colors)
    label_channel: Optional[int] = None
    color_threshold: Optional[int] = None
    download: str = ""
    image_size: Tuple[int, int] = DEFAULT_IMAGE_SIZE

    @property
    def class_names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def hint(self, root: Path, split: Optional[str] = None) -> str:
        """What to put where, for error messages."""
        shown = [split] if split in self.splits else list(self.splits)
        places = "; ".join(f"{name}: images {root / self.splits[name].images}, labels "
                           f"{root / self.splits[name].labels}" for name in shown)
        get = f"{self.download.rstrip('.')}; " if self.download else ""
        return f"{get}lay it out as {places} (card {self.source})"


# ----------------------------------------------------------------------------- reading cards
def _key_path(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _schema_message(error: Any, source: str) -> str:
    """One line for the jsonschema ``error``: the card, the key, what is wrong, the fix."""
    key = _key_path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    fix = schema.get("x-fix", "see CARD_SCHEMA in benchmark/data/cards.py")
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = f"{key}.{extra[0]}" if error.absolute_path else str(extra[0])
        return (f"card {source}: key {where} is not allowed; remove or rename it "
                f"(allowed here: {', '.join(allowed)})")
    if kind == "required":
        missing = [k for k in schema.get("required", []) if k not in error.instance]
        name = missing[0] if missing else error.message.split("'")[1]
        where = f"{key}.{name}" if error.absolute_path else name
        example = _EXAMPLES.get(name, fix)
        return f"card {source}: key {where} is missing; add it, e.g. {example}"
    if "propertyNames" in error.schema_path:
        return (f"card {source}: split name {error.instance!r} under {key} is not lowercase snake_case; "
                f"rename it, e.g. train or val")
    if kind == "enum":
        return f"card {source}: key {key} is {error.instance!r}; {fix}"
    return f"card {source}: key {key} = {error.instance!r} is invalid ({error.message}); {fix}"


def _check_glob(pattern: str, key: str, source: str) -> None:
    stars = pattern.count("*")
    if stars != 1:
        raise DsbenchError(f"card {source}: key {key} = {pattern!r} has {stars} '*'; use exactly one '*' "
                           f"standing for the image stem, e.g. 'train/*.png'")
    if any(ch in pattern for ch in "?[]{}"):
        raise DsbenchError(f"card {source}: key {key} = {pattern!r} uses '?', '[', ']' or braces; only one '*' "
                           f"is supported, e.g. 'train/*.png'")
    if Path(pattern).is_absolute() or pattern.startswith(".."):
        raise DsbenchError(f"card {source}: key {key} = {pattern!r} must be relative to the dataset root; "
                           f"set root: to the dataset folder and write e.g. 'train/*.png'")


def _check_template(template: str, key: str, source: str) -> None:
    if "*" in template:
        raise DsbenchError(f"card {source}: key {key} = {template!r} contains '*'; write {{stem}} where the "
                           f"image's '*' text goes, e.g. 'trainannot/{{stem}}.png'")
    if "{stem}" not in template:
        raise DsbenchError(f"card {source}: key {key} = {template!r} lacks {{stem}}; write {{stem}} where the "
                           f"image's '*' text goes, e.g. 'trainannot/{{stem}}.png'")


def card_from_dict(data: Any, source: str, base_dir: Optional[Path] = None) -> DatasetCard:
    """Validate a card given as a mapping (as parsed from YAML); ``base_dir`` resolves a relative root."""
    import jsonschema  # only cards need it

    validator = jsonschema.Draft202012Validator(CARD_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise DsbenchError(_schema_message(error, source))

    label_format = data["label_format"]
    classes: List[CardClass] = []
    for index, entry in enumerate(data["classes"]):
        key = f"classes[{index}]"
        value, color = entry.get("value"), entry.get("color")
        if label_format == "ids":
            if value is None:
                raise DsbenchError(f"card {source}: key {key}.value is missing for class {entry['name']!r}; "
                                   f"label_format ids needs the class's label value, e.g. value: {index}")
            values = tuple(value) if isinstance(value, list) else (value,)
        else:
            if value is not None:
                raise DsbenchError(f"card {source}: key {key}.value is set but label_format is colors; "
                                   f"give the class's color: [r, g, b] instead")
            if color is None:
                raise DsbenchError(f"card {source}: key {key}.color is missing for class {entry['name']!r}; "
                                   f"label_format colors needs color: [r, g, b]")
            values = ()
        classes.append(CardClass(entry["name"], values, tuple(color) if color is not None else None))

    names = [c.name for c in classes]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise DsbenchError(f"card {source}: key classes[{index}].name {name!r} repeats classes"
                               f"[{names.index(name)}]; class names must be unique: rename or merge them")
    ignore = data.get("ignore_values", [])
    owner: Dict[Any, str] = {}  # value or colour -> the key that claims it
    for index, cls in enumerate(classes):
        for code in (cls.values if label_format == "ids" else (cls.color,)):
            if code in owner:
                raise DsbenchError(f"card {source}: key classes[{index}] {_code_text(code)} is already "
                                   f"{owner[code]}; each value or colour belongs to one class: remove one")
            owner[code] = f"classes[{names.index(cls.name)}] ({cls.name})"
    ignore_codes: List[Any] = []
    for index, item in enumerate(ignore):
        key = f"ignore_values[{index}]"
        if label_format == "ids" and not isinstance(item, int):
            raise DsbenchError(f"card {source}: key {key} = {item!r} is a colour but label_format is ids; "
                               f"write the label value as an integer")
        if label_format == "colors" and not isinstance(item, list):
            raise DsbenchError(f"card {source}: key {key} = {item!r} is an integer but label_format is colors; "
                               f"write the colour as [r, g, b]")
        code = item if isinstance(item, int) else tuple(item)
        if code in owner:
            raise DsbenchError(f"card {source}: key {key} {_code_text(code)} is also {owner[code]}; a value is "
                               f"either a class or ignored: remove one")
        owner[code] = key
        ignore_codes.append(code)
    if label_format == "colors" and "label_channel" in data:
        raise DsbenchError(f"card {source}: key label_channel only applies to label_format ids; remove it")
    if label_format == "ids" and "color_threshold" in data:
        raise DsbenchError(f"card {source}: key color_threshold only applies to label_format colors; remove it")

    splits: Dict[str, SplitLayout] = {}
    for split, layout in data["splits"].items():
        _check_glob(layout["images"], f"splits.{split}.images", source)
        _check_template(layout["labels"], f"splits.{split}.labels", source)
        if "instances" in layout:
            _check_template(layout["instances"], f"splits.{split}.instances", source)
        splits[split] = SplitLayout(layout["images"], layout["labels"], layout.get("instances"))

    root: Optional[Path] = None
    if "root" in data:
        root = Path(os.path.expanduser(data["root"]))
        if not root.is_absolute():
            # Relative to the card so a dataset folder can carry its own card.
            root = (base_dir or Path.cwd()) / root
    return DatasetCard(
        name=data["name"], source=source, root=root, splits=splits, label_format=label_format,
        classes=tuple(classes), ignore_values=tuple(ignore_codes), label_channel=data.get("label_channel"),
        color_threshold=data.get("color_threshold"), download=data.get("download", ""),
        image_size=tuple(data.get("image_size", DEFAULT_IMAGE_SIZE)))


def _code_text(code: Any) -> str:
    return f"colour {list(code)}" if isinstance(code, tuple) else f"value {code}"


def read_card(path: Union[str, os.PathLike]) -> DatasetCard:
    """Read and validate the YAML card at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DsbenchError(f"card {path}: cannot read it ({error.strerror or error}); check the path") from error
    try:
        # The C loader (when built) parses a 150-class card ~10x faster; both are safe loaders.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DsbenchError(f"card {path}: not valid YAML{where} ({getattr(error, 'problem', error)}); "
                           f"fix the syntax") from error
    if not isinstance(data, dict):
        raise DsbenchError(f"card {path}: expected a mapping of keys (name, splits, label_format, classes), "
                           f"got {type(data).__name__}; write the card as YAML keys")
    return card_from_dict(data, str(path), path.parent)


# ----------------------------------------------------------------------------- decoding labels
def read_rgb(path: Path) -> np.ndarray:
    """An image file (PNG, JPEG, ...) as uint8 (H, W, 3) RGB."""
    try:
        with Image.open(path) as handle:
            handle.load()
            return np.array(handle if handle.mode == "RGB" else handle.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as error:
        raise DsbenchError(f"{path}: cannot read image ({type(error).__name__}: {error}); "
                           f"the file is corrupt or truncated, re-download it") from error


def _read_label_image(path: Path) -> Image.Image:
    try:
        handle = Image.open(path)
        handle.load()
        return handle
    except (OSError, SyntaxError, ValueError) as error:
        raise DsbenchError(f"{path}: cannot read label image ({type(error).__name__}: {error}); "
                           f"the file is corrupt or truncated, re-download it") from error


def read_channel(path: Path, channel: int) -> np.ndarray:
    """Channel ``channel`` (0 = red/first) of a PNG at full bit depth (PIL would cut 16-bit RGB to 8 bits)."""
    import cv2  # opencv keeps 16-bit multi-channel PNGs intact

    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise DsbenchError(f"{path}: cannot read label PNG; the file is missing, corrupt or not a PNG")
    if array.ndim == 2:
        if channel != 0:
            raise DsbenchError(f"{path}: label PNG has one channel but label_channel is {channel}; set it to 0")
        return array
    depth = array.shape[2]
    if channel >= depth:
        raise DsbenchError(f"{path}: label PNG has {depth} channels but label_channel is {channel}; "
                           f"use 0..{depth - 1}")
    # OpenCV orders channels BGR(A); the card counts them in file order RGB(A).
    return array[:, :, [2, 1, 0, 3][channel] if depth == 4 else depth - 1 - channel]


class CardLabelDecoder:
    """Label file -> training ids (uint8, 255 = ignore), validated against the card's values."""

    def __init__(self, card: DatasetCard):
        self.card = card
        if card.label_format == "ids":
            codes = [v for c in card.classes for v in c.values] + list(card.ignore_values)
            self._lut = np.full(max(codes) + 1, -1, np.int16)  # -1: a value the card does not list
            for train_id, cls in enumerate(card.classes):
                self._lut[list(cls.values)] = train_id
            if card.ignore_values:
                self._lut[list(card.ignore_values)] = IGNORE_INDEX
        else:
            entries = [(_pack(c.color), t) for t, c in enumerate(card.classes)]
            entries += [(_pack(color), IGNORE_INDEX) for color in card.ignore_values]
            entries.sort()
            self._packed = np.array([e[0] for e in entries], np.int64)
            self._train = np.array([e[1] for e in entries], np.uint8)

    def raw(self, path: Path) -> np.ndarray:
        """The stored label values: (H, W) ints (ids) or (H, W, 3) uint8 (colors)."""
        card = self.card
        if card.label_format == "ids" and card.label_channel is not None:
            return read_channel(path, card.label_channel)
        with _read_label_image(path) as handle:
            if card.label_format == "colors":
                if handle.mode not in ("RGB", "RGBA", "P"):
                    raise DsbenchError(f"{path}: label image mode {handle.mode} is not an RGB mask but card "
                                       f"{card.source} says label_format colors; use label_format ids")
                return np.array(handle.convert("RGB"))
            # 'P' gives palette indices, the usual storage of id PNGs (Mapillary, ...).
            if handle.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
                raise DsbenchError(f"{path}: label image mode {handle.mode} has several channels but card "
                                   f"{card.source} says label_format ids; set label_channel (the channel "
                                   f"holding the id) or use label_format colors")
            return np.array(handle)

    def decode(self, path: Path) -> np.ndarray:
        raw = self.raw(path)
        if self.card.label_format == "ids":
            return self._decode_ids(raw.astype(np.int64, copy=False), path)
        return self._decode_colors(raw, path)

    def _decode_ids(self, values: np.ndarray, path: Path) -> np.ndarray:
        inside = (values >= 0) & (values < self._lut.size)
        mapped = np.where(inside, self._lut[np.where(inside, values, 0)], -1)
        unknown = mapped < 0
        if unknown.any():
            value = int(np.unique(values[unknown])[0])
            raise DsbenchError(f"{path}: label value {value} is not in card {self.card.source}; add it to "
                               f"classes (e.g. {{name: ..., value: {value}}}) or to ignore_values")
        return mapped.astype(np.uint8)

    def _decode_colors(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        if self.card.color_threshold is not None:
            rgb = np.where(rgb >= self.card.color_threshold, 255, 0).astype(np.uint8)
        packed = _pack_array(rgb)
        # searchsorted over the few known colours: linear in pixels, no sort of the image.
        slot = np.clip(np.searchsorted(self._packed, packed), 0, self._packed.size - 1)
        known = self._packed[slot] == packed
        if not known.all():
            code = int(np.unique(packed[~known])[0])
            color = [(code >> 16) & 255, (code >> 8) & 255, code & 255]
            raise DsbenchError(f"{path}: label colour {color} is not in card {self.card.source}; add it to "
                               f"classes (e.g. {{name: ..., color: {color}}}) or to ignore_values")
        return self._train[slot]


def _pack(color: Sequence[int]) -> int:
    return (int(color[0]) << 16) | (int(color[1]) << 8) | int(color[2])


def _pack_array(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


# ----------------------------------------------------------------------------- the dataset
def read_object_numbers(path: Path) -> np.ndarray:
    """A one-channel instance PNG of per-image object numbers as int64 (H, W)."""
    with _read_label_image(path) as handle:
        if handle.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
            raise DsbenchError(f"{path}: instance image mode {handle.mode} has several channels; use a "
                               f"one-channel PNG of object numbers (0 = no object)")
        return np.array(handle).astype(np.int64)


@dataclass(frozen=True)
class Record:
    """One sample's files; ``instances`` may be None (no objects) or a path that may not exist."""

    id: str
    image: Path
    labels: Path
    instances: Optional[Path] = None


def encode_instances(objects: np.ndarray, train_ids: np.ndarray, path: Path) -> np.ndarray:
    """Per-image object numbers (0 = none, 1..999) -> the suite's codes ``(train id + 1) * 1000 + k``."""
    objects = objects.astype(np.int64, copy=False)
    if objects.size and (objects.min() < 0 or objects.max() >= INSTANCE_OFFSET):
        raise DsbenchError(f"{path}: object number {int(objects.max())} is outside 0..{INSTANCE_OFFSET - 1}; "
                           f"instance PNGs hold per-image object numbers, 0 = no object")
    codes = (train_ids.astype(np.int64) + 1) * INSTANCE_OFFSET + objects
    return np.where((objects > 0) & (train_ids != IGNORE_INDEX), codes, 0)


def instance_label_to_train(num_classes: int) -> Dict[int, int]:
    """``label_to_train`` for :func:`encode_instances` codes: label code ``t + 1`` -> training id ``t``."""
    return {train_id + 1: train_id for train_id in range(num_classes)}


class LabelMapSegmentation(Dataset):
    """Samples from a list of records and a label decoder (``decode(path) -> uint8 training ids``)."""

    def __init__(self, records: Sequence[Record], decoder: Any, *, transform: Optional[Transform] = None,
                 root: Optional[Path] = None, split: str = "", read_instances: Optional[Callable] = None):
        self._records = list(records)
        self.decoder = decoder
        self.transform = transform
        self.root = root
        self.split = split
        self._read_instances = read_instances or read_object_numbers

    def __len__(self) -> int:
        return len(self._records)

    @property
    def ids(self) -> List[str]:
        return [record.id for record in self._records]

    def load_labels(self, index: int) -> np.ndarray:
        """Training ids (H, W) uint8 of sample ``index`` (255 = ignore)."""
        return self.decoder.decode(self._records[index].labels)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        record = self._records[index % len(self)]
        image = read_rgb(record.image)
        labels = self.decoder.decode(record.labels)
        if labels.shape != image.shape[:2]:
            raise DsbenchError(f"{record.labels}: labels are {labels.shape[0]}x{labels.shape[1]} but image "
                               f"{record.image} is {image.shape[0]}x{image.shape[1]}; labels must match their image")
        if record.instances is not None and record.instances.exists():
            objects = self._read_instances(record.instances)
            if objects.shape != labels.shape:
                raise DsbenchError(f"{record.instances}: instances are {'x'.join(map(str, objects.shape))} but "
                                   f"image {record.image} is {image.shape[0]}x{image.shape[1]}; use one-channel "
                                   f"object-number PNGs of the image's size")
            instances = encode_instances(objects, labels, record.instances)
        else:
            instances = np.zeros(labels.shape, np.int64)  # no objects: object recall skips the image
        sample = {
            "image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0),
            "labels": torch.from_numpy(labels.astype(np.int64)),
            "instances": torch.from_numpy(instances),
            "id": record.id,
            "path": str(record.image),
        }
        return self.transform(sample) if self.transform is not None else sample

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"


def match_glob(root: Path, pattern: str) -> List[Tuple[str, Path]]:
    """``(stem, path)`` of files under ``root`` matching ``pattern`` (one '*'), sorted by path."""
    prefix, suffix = pattern.split("*")
    found = []
    for path in root.glob(pattern):
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if len(relative) >= len(prefix) + len(suffix):
            found.append((relative[len(prefix): len(relative) - len(suffix)], path))
    return sorted(found, key=lambda item: item[1].as_posix())


def card_records(card: DatasetCard, root: Path, split: str) -> List[Record]:
    """The records of ``split``: every image the glob matches, with its label (and instance) file."""
    if split not in card.splits:
        raise DsbenchError(f"split {split!r} is not defined in card {card.source}; add splits.{split} or use "
                           f"one of {', '.join(card.splits)}")
    layout = card.splits[split]
    if not root.is_dir():
        raise DsbenchError(f"dataset root {root} does not exist; {card.hint(root, split)}, "
                           f"or set root: in the card / pass --root")
    matches = match_glob(root, layout.images)
    if not matches:
        raise DsbenchError(f"card {card.source}: splits.{split}.images {layout.images!r} matches no file under "
                           f"{root}; {card.hint(root, split)}")
    records = []
    for stem, image_path in matches:
        label_path = root / layout.labels.replace("{stem}", stem)
        if not label_path.is_file():
            raise DsbenchError(f"{label_path}: missing label file for image {image_path}; add it or fix "
                               f"splits.{split}.labels {layout.labels!r} in card {card.source}")
        instance_path = root / layout.instances.replace("{stem}", stem) if layout.instances else None
        records.append(Record(stem, image_path, label_path, instance_path))
    return records


class CardSegmentation(LabelMapSegmentation):
    """One split of a dataset described by a card."""

    def __init__(self, card: DatasetCard, root: Union[str, os.PathLike], split: str, *,
                 transform: Optional[Transform] = None):
        self.card = card
        root = Path(root)
        super().__init__(card_records(card, root, split), CardLabelDecoder(card), transform=transform,
                         root=root, split=split)


# ----------------------------------------------------------------------------- specs and registration
def palette(count: int) -> Tuple[Tuple[int, int, int], ...]:
    """``count`` distinct display colours (hues spread by the golden angle) for cards without colours."""
    colors = []
    for index in range(count):
        hue = (index * 0.618033988749895) % 1.0
        lightness = (0.45, 0.6, 0.35)[index % 3]
        colors.append(tuple(int(round(255 * c)) for c in colorsys.hls_to_rgb(hue, lightness, 0.75)))
    return tuple(colors)


def spec_from_card(card: DatasetCard, builder: Optional[Callable[..., Dataset]] = None,
                   default_root: Optional[str] = None) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``card``; ``builder`` replaces the glob-based :class:`CardSegmentation`."""
    generated = palette(len(card.classes))
    colors = tuple(c.color if c.color is not None else generated[i] for i, c in enumerate(card.classes))
    if card.label_format == "ids":
        label_ids = tuple(c.values[0] for c in card.classes)  # the first of merged values names the class
    else:
        label_ids = tuple(range(len(card.classes)))  # an RGB mask has no integer ids: training ids stand in
    root = default_root or (str(card.root) if card.root is not None else f"data/{card.name}")

    def build(root: Union[str, os.PathLike], split: str, *, transform: Optional[Transform] = None) -> Dataset:
        return CardSegmentation(card, root, split, transform=transform)

    return DatasetSpec(
        name=card.name,
        evaluated_classes=card.class_names,
        default_root=root,
        setup_hint=card.hint(Path("{root}")).replace("{", "{{").replace("}", "}}").replace("{{root}}", "{root}"),
        class_names=card.class_names,
        colors=colors,
        ignore_index=IGNORE_INDEX,
        num_classes=len(card.classes),
        default_image_size=card.image_size,
        label_ids=label_ids,
        builder=builder or build,
        instance_label_to_train=instance_label_to_train(len(card.classes)),
        source=card.source,
    )


def load_dataset_card(path: Union[str, os.PathLike]) -> DatasetSpec:
    """The :class:`DatasetSpec` of the YAML card at ``path`` (not registered; see :func:`register_card`)."""
    return spec_from_card(read_card(path))


def register_spec(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to ``DATASETS``; the same source registered again returns the registered spec."""
    from benchmark.registry import DATASETS

    if spec.name in DATASETS:
        existing = DATASETS.get(spec.name)
        if existing.source is not None and existing.source == spec.source:
            return existing
        raise DsbenchError(f"dataset name {spec.name!r} of {spec.source} is already registered (from "
                           f"{existing.source or 'the suite'}); give the card another name")
    return DATASETS.register(spec.name, spec)


def register_card(path: Union[str, os.PathLike], *, require_root: bool = False) -> DatasetSpec:
    """Register the card at ``path`` in ``DATASETS`` so ``build_dataset(name, root, split)`` finds it.

    ``require_root``: the card stands in for ``--dataset NAME --root DIR`` (``--dataset-card``, a
    workflow ``card:`` entry), so it must say where the data is; the spec's ``default_root`` is it.
    """
    path = Path(path).resolve()
    card = read_card(path)
    if require_root and card.root is None:
        raise DsbenchError(f"card {path}: key root is missing; a card given instead of --dataset/--root must "
                           f"name the dataset folder: add root: DIR (absolute or relative to the card file), "
                           f"or pass --dataset {card.name} --root DIR")
    return register_spec(spec_from_card(card))


__all__ = ["CARD_SCHEMA", "CardLabelDecoder", "CardSegmentation", "DatasetCard", "LabelMapSegmentation", "Record",
           "card_from_dict", "encode_instances", "instance_label_to_train", "load_dataset_card", "read_card",
           "register_card", "register_spec", "spec_from_card"]
