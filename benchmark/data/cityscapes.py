"""Loader for datasets in the Cityscapes layout (real Cityscapes and synthcity).

Layout under ``root``::

    leftImg8bit/{split}/{city}/{id}_leftImg8bit.png
    gtFine/{split}/{city}/{id}_gtFine_labelTrainIds.png   (optional: made by cityscapesscripts)
    gtFine/{split}/{city}/{id}_gtFine_labelIds.png        (converted with the official mapping)
    gtFine/{split}/{city}/{id}_gtFine_instanceIds.png     (optional)

A sample is a dict:

* ``image``: float32 tensor (3, H, W), RGB in [0, 1] (not normalised; see ``benchmark.data.normalize``)
* ``labels``: int64 tensor (H, W), trainIds 0..18, 255 = ignore
* ``instances``: int64 tensor (H, W), Cityscapes instanceIds (zeros when the file is missing)
* ``id``: Cityscapes image id, e.g. ``aachen_000000_000019``; ``path``: the image file
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from benchmark.data.labels import LABEL_ID_TO_TRAIN_ID, VALID_LABEL_IDS, VALID_TRAIN_IDS
from benchmark.errors import DsbenchError

IMAGE_SUFFIX = "_leftImg8bit.png"
TRAIN_IDS_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_IDS_SUFFIX = "_gtFine_instanceIds.png"
LABEL_SOURCES = ("auto", "trainIds", "labelIds")

CITYSCAPES_HINT = ("download leftImg8bit and gtFine from cityscapes-dataset.com into "
                   "{root}/leftImg8bit/{split}/<city>/... and {root}/gtFine/{split}/<city>/...")

Transform = Callable[[Dict[str, Any]], Dict[str, Any]]


def read_png(path: Union[str, os.PathLike], kind: str) -> np.ndarray:
    """Read a PNG as a numpy array; ``kind`` is 'image' (-> uint8 HxWx3 RGB), 'label' (-> uint8 HxW)
    or 'instance' (-> int64 HxW). Unreadable or wrongly shaped files raise DsbenchError."""
    try:
        with Image.open(path) as handle:
            handle.load()
            if kind == "image":
                array = np.array(handle.convert("RGB") if handle.mode != "RGB" else handle)
            else:
                array = np.array(handle)
    except (OSError, SyntaxError, ValueError) as error:
        raise DsbenchError(f"{path}: cannot read PNG ({type(error).__name__}: {error}); "
                           f"the file is corrupt or truncated, re-download or regenerate it") from error
    if kind == "image":
        return array
    if array.ndim != 2:
        raise DsbenchError(f"{path}: {kind} PNG has shape {array.shape}, expected one channel (H, W); "
                           f"use the gtFine id PNGs, not the *_color.png visualisations")
    if kind == "label":
        if array.dtype != np.uint8:
            if array.size and (array.min() < 0 or array.max() > 255):
                raise DsbenchError(f"{path}: label values up to {int(array.max())} exceed 255; "
                                   f"label PNGs must be 8-bit Cityscapes ids")
            array = array.astype(np.uint8)
        return array
    return array.astype(np.int64)


def _check_values(array: np.ndarray, valid: np.ndarray, path: Path, what: str, fix: str) -> None:
    # bincount over a uint8 map is one linear pass, cheaper than np.unique's sort.
    counts = np.bincount(array.ravel(), minlength=256)
    bad = np.flatnonzero((counts > 0) & ~valid)
    if bad.size:
        shown = ", ".join(str(v) for v in bad[:6]) + (", ..." if bad.size > 6 else "")
        raise DsbenchError(f"{path}: {what} values {shown} are not Cityscapes classes; {fix}")


class CityscapesSegmentation(Dataset):
    """Images and trainId labels of one split of a dataset in the Cityscapes layout.

    ``label_source``: ``"trainIds"`` reads ``*_labelTrainIds.png``; ``"labelIds"`` reads
    ``*_labelIds.png`` and maps them with the official labelId->trainId table (unmapped ->
    255); ``"auto"`` takes trainIds per image where present, labelIds otherwise.
    ``setup_hint`` is the "how to get the data" part of error messages ({root} and {split}
    are filled in); it defaults to the Cityscapes download instructions.
    """

    def __init__(self, root: Union[str, os.PathLike], split: str, *, transform: Optional[Transform] = None,
                 label_source: str = "auto", setup_hint: Optional[str] = None):
        self.root = Path(root)
        self.split = split
        self.transform = transform
        if label_source not in LABEL_SOURCES:
            raise DsbenchError(f"label_source {label_source!r} unknown; use one of {', '.join(LABEL_SOURCES)}")
        self.label_source = label_source
        hint = (setup_hint or CITYSCAPES_HINT).format(root=self.root, split=split)
        if not self.root.is_dir():
            raise DsbenchError(f"dataset root {self.root} does not exist; {hint}")
        image_dir = self.root / "leftImg8bit" / split
        label_dir = self.root / "gtFine" / split
        for folder in (image_dir, label_dir):
            if not folder.is_dir():
                raise DsbenchError(f"{folder} not found: {self.root} is not in the Cityscapes layout "
                                   f"for split {split!r}; {hint}")
        images = sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}"))
        if not images:
            raise DsbenchError(f"{image_dir}: split {split!r} has no images <city>/<id>{IMAGE_SUFFIX}; {hint}")
        self._records: List[Tuple[str, Path, Path, bool, Path]] = []
        for image_path in images:
            image_id = image_path.name[: -len(IMAGE_SUFFIX)]
            gt = label_dir / image_path.parent.name
            train_path, id_path = gt / f"{image_id}{TRAIN_IDS_SUFFIX}", gt / f"{image_id}{LABEL_IDS_SUFFIX}"
            if label_source == "trainIds" or (label_source == "auto" and train_path.exists()):
                label_path, is_train_ids = train_path, True
            else:
                label_path, is_train_ids = id_path, False
            if not label_path.exists():
                wanted = {"auto": f"{train_path.name} or {id_path.name}", "trainIds": train_path.name,
                          "labelIds": id_path.name}[label_source]
                raise DsbenchError(f"{label_path}: missing label file for {image_path}; put {wanted} in {gt} "
                                   f"({hint})")
            self._records.append((image_id, image_path, label_path, is_train_ids,
                                  gt / f"{image_id}{INSTANCE_IDS_SUFFIX}"))

    def __len__(self) -> int:
        return len(self._records)

    @property
    def ids(self) -> List[str]:
        return [record[0] for record in self._records]

    def load_labels(self, index: int) -> np.ndarray:
        """trainIds (H, W) uint8 of sample ``index``, validated (values in 0..18 or 255)."""
        _, _, label_path, is_train_ids, _ = self._records[index]
        raw = read_png(label_path, "label")
        if is_train_ids:
            _check_values(raw, VALID_TRAIN_IDS, label_path, "trainId",
                          "trainIds are 0..18 or 255 (ignore); regenerate them with cityscapesscripts' "
                          "createTrainIdLabelImgs or delete them to convert from labelIds")
            return raw
        _check_values(raw, VALID_LABEL_IDS, label_path, "labelId",
                      "labelIds are 0..33 (cityscapesscripts.helpers.labels); re-download gtFine")
        return LABEL_ID_TO_TRAIN_ID[raw]

    def __getitem__(self, index: int) -> Dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        image_id, image_path, label_path, _, instance_path = self._records[index]
        image = read_png(image_path, "image")
        labels = self.load_labels(index)
        if labels.shape != image.shape[:2]:
            raise DsbenchError(f"{label_path}: labels are {labels.shape[0]}x{labels.shape[1]} but image "
                               f"{image_path} is {image.shape[0]}x{image.shape[1]}; labels must match their image")
        if instance_path.exists():
            instances = read_png(instance_path, "instance")
            if instances.shape != labels.shape:
                raise DsbenchError(f"{instance_path}: instances are {instances.shape[0]}x{instances.shape[1]} "
                                   f"but image {image_path} is {image.shape[0]}x{image.shape[1]}; "
                                   f"instances must match their image")
        else:
            instances = np.zeros(labels.shape, np.int64)
        sample = {
            "image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0),  # (3, H, W)
            "labels": torch.from_numpy(labels.astype(np.int64)),  # (H, W)
            "instances": torch.from_numpy(instances),  # (H, W)
            "id": image_id,
            "path": str(image_path),
        }
        return self.transform(sample) if self.transform is not None else sample

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"
