"""``DatasetSpec``: what every consumer needs to know about a dataset, and how to build a split.

The defaults describe Cityscapes (19 trainIds, official labelIds and colours, 255 = ignore,
samples from :class:`CityscapesSegmentation`). A dataset with other classes (a dataset card,
ADE20K, Mapillary, ...) sets ``class_names``, ``colors``, ``num_classes``, ``label_ids`` and a
``builder``; nothing below assumes 19 classes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from torch.utils.data import Dataset

from benchmark.data.cityscapes import CityscapesSegmentation, Transform
from benchmark.data.labels import CLASS_NAMES, COLORS, IGNORE_INDEX, LABEL_ID, NUM_CLASSES
from benchmark.errors import DsbenchError

#: ``builder(root, split, transform=..., **options) -> Dataset`` of samples like CityscapesSegmentation's.
Builder = Callable[..., Dataset]


@dataclass(frozen=True)
class DatasetSpec:
    """What every consumer needs to know about a dataset; called, it builds a split.

    ``label_ids``: the dataset's own label value of each training id, used to write predictions in
    the dataset's encoding; None means Cityscapes' official labelIds.
    ``instance_label_to_train``: the ``label_to_train`` table of the metric suite for this dataset's
    ``instances`` maps (``code // 1000`` -> training id); None means the Cityscapes table.
    ``source``: where the spec came from (a card path), for messages and re-registration checks.
    ``has_instances``: whether samples carry instance maps (objects); False (land cover) builds the
    metric suite without object recall, so no per-object rows are written.
    """

    name: str
    evaluated_classes: Tuple[str, ...]
    default_root: str
    setup_hint: str
    class_names: Tuple[str, ...] = CLASS_NAMES
    colors: Tuple[Tuple[int, int, int], ...] = COLORS
    ignore_index: int = IGNORE_INDEX
    num_classes: int = NUM_CLASSES
    default_image_size: Tuple[int, int] = (1024, 2048)  # full resolution, for cost before training
    generator: Optional[Callable[..., Dict[str, Any]]] = field(default=None, repr=False, compare=False)
    label_ids: Optional[Tuple[int, ...]] = None
    builder: Optional[Builder] = field(default=None, repr=False, compare=False)
    instance_label_to_train: Optional[Mapping[int, int]] = field(default=None, repr=False, compare=False)
    source: Optional[str] = field(default=None, compare=False)
    has_instances: bool = True

    def __post_init__(self) -> None:
        # A spec whose tables disagree would mislabel every metric row; fail where it is defined.
        if len(self.class_names) != self.num_classes or len(set(self.class_names)) != self.num_classes:
            raise ValueError(f"dataset {self.name!r}: {len(self.class_names)} class names (unique: "
                             f"{len(set(self.class_names))}) for num_classes {self.num_classes}")
        if len(self.colors) != self.num_classes:
            raise ValueError(f"dataset {self.name!r}: {len(self.colors)} colours for {self.num_classes} classes")
        if self.label_ids is not None and len(self.label_ids) != self.num_classes:
            raise ValueError(f"dataset {self.name!r}: {len(self.label_ids)} label ids for {self.num_classes} classes")
        if not 0 < self.num_classes <= self.ignore_index:
            raise ValueError(f"dataset {self.name!r}: num_classes {self.num_classes} must lie in "
                             f"1..{self.ignore_index} (training ids must stay below the ignore index)")
        unknown = [name for name in self.evaluated_classes if name not in self.class_names]
        if unknown:
            raise ValueError(f"dataset {self.name!r}: evaluated classes {unknown} are not among its classes")

    @property
    def has_generator(self) -> bool:
        return self.generator is not None

    @property
    def evaluated_train_ids(self) -> Tuple[int, ...]:
        """Training ids (positions in ``class_names``) of ``evaluated_classes``, ascending."""
        return tuple(sorted(self.class_names.index(name) for name in self.evaluated_classes))

    @property
    def train_id_to_label_id(self) -> Tuple[int, ...]:
        """The dataset's label value of each training id (to write predictions as label PNGs)."""
        if self.label_ids is not None:
            return self.label_ids
        return tuple(LABEL_ID[name] for name in self.class_names)

    def build(self, root: Union[str, os.PathLike, None], split: str, transform: Optional[Transform] = None,
              **options: Any) -> Dataset:
        root = self.default_root if root is None else root
        if self.builder is not None:
            return self.builder(root, split, transform=transform, **options)
        return CityscapesSegmentation(root, split, transform=transform, setup_hint=self.setup_hint, **options)

    __call__ = build

    def make(self, root: Union[str, os.PathLike, None] = None, **options: Any) -> Dict[str, Any]:
        """Generate the dataset under ``root`` (only datasets with a generator)."""
        if self.generator is None:
            hint = self.setup_hint.format(root=self.default_root if root is None else root, split="train")
            raise DsbenchError(f"dataset {self.name!r} cannot be generated; {hint}")
        return self.generator(self.default_root if root is None else root, **options)
