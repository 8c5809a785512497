"""Datasets: specs registered in ``DATASETS``, the Cityscapes-layout loader, synthcity, synthaerial, cards.

Every spec (:class:`DatasetSpec`) gives its classes in training-id order (``class_names``,
``num_classes``), 255 = ignore, and builds splits whose samples are dicts ``image``, ``labels``,
``instances``, ``id``, ``path``. synthcity and cityscapes use Cityscapes' 19 trainIds and
:class:`CityscapesSegmentation`; a dataset that contains only some classes lists them in
``evaluated_classes``; metrics average over those (the others never occur, so their IoU is
undefined). synthaerial (procedural land cover, DeepGlobe's six classes, no instances) has its own
classes and loader. Dataset cards (:mod:`benchmark.data.cards`) and the public datasets
(:mod:`benchmark.data.public`, registered here: ade20k, deepglobe_landcover,
synthia_rand_cityscapes, mapillary_v1_2, apolloscape, supervisely_person) bring their own classes.

Usage::

    spec = DATASETS.get("synthcity")
    spec.make(root)                                   # generate (datasets with a generator)
    train = build_dataset("synthcity", root, "train", transform=train_transform((256, 512)))
    register_card("mydata.yaml"); build_dataset("mydata", None, "val")   # a card's dataset
"""
from __future__ import annotations

import os
from typing import Any, Optional, Tuple, Union

import torch
from torch.utils.data import Dataset

from benchmark.data.cityscapes import CITYSCAPES_HINT, CityscapesSegmentation, Transform
from benchmark.data.labels import CLASS_NAMES, COLORS, IGNORE_INDEX, NUM_CLASSES
from benchmark.data.cards import load_dataset_card, register_card
from benchmark.data.public import register_mapillary, register_public_datasets
from benchmark.data.spec import DatasetSpec
from benchmark.data.synthaerial import (SETUP_HINT as SYNTHAERIAL_HINT, SYNTHAERIAL_CLASSES, SYNTHAERIAL_COLORS,
                                        SYNTHAERIAL_LABEL_IDS, build_synthaerial, make_synthaerial)
from benchmark.data.synthcity import SYNTHCITY_CLASSES, make_synthcity
from benchmark.defaults import SYNTHCITY_SIZE
from benchmark.registry import DATASETS

IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)


SYNTHCITY = DATASETS.register("synthcity", DatasetSpec(
    name="synthcity",
    evaluated_classes=SYNTHCITY_CLASSES,
    default_root="data/synthcity",
    setup_hint="run `dsbench make-data --dataset synthcity --root {root}`",
    default_image_size=SYNTHCITY_SIZE,  # the embedded reproduction's images
    generator=make_synthcity,
))
# DeepGlobe Land Cover's six classes, told apart by texture more than by colour or edges; no objects.
SYNTHAERIAL = DATASETS.register("synthaerial", DatasetSpec(
    name="synthaerial",
    evaluated_classes=SYNTHAERIAL_CLASSES,
    default_root="data/synthaerial",
    setup_hint=SYNTHAERIAL_HINT,
    class_names=SYNTHAERIAL_CLASSES,
    colors=SYNTHAERIAL_COLORS,
    num_classes=len(SYNTHAERIAL_CLASSES),
    default_image_size=SYNTHCITY_SIZE,
    generator=make_synthaerial,
    label_ids=SYNTHAERIAL_LABEL_IDS,
    builder=build_synthaerial,
    instance_label_to_train={},
    has_instances=False,
))
CITYSCAPES = DATASETS.register("cityscapes", DatasetSpec(
    name="cityscapes",
    evaluated_classes=CLASS_NAMES,
    default_root="data/cityscapes",
    setup_hint=CITYSCAPES_HINT + " (labelTrainIds are optional: labelIds are converted)",
))


# The public datasets' specs need no data on disk, only their cards and tables.
PUBLIC_DATASETS = tuple(register_public_datasets())


def build_dataset(name: str, root: Union[str, os.PathLike, None], split: str,
                  transform: Optional[Transform] = None, **options: Any) -> Dataset:
    """The ``split`` of registered dataset ``name`` under ``root`` (None: its default root)."""
    return DATASETS.get(name).build(root, split, transform=transform, **options)


def normalize(image: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation of an RGB image in [0, 1], (3, H, W) or (B, 3, H, W)."""
    if image.dim() not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"normalize expects (3, H, W) or (B, 3, H, W), got {tuple(image.shape)}")
    mean = image.new_tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = image.new_tensor(IMAGENET_STD).view(3, 1, 1)
    return (image - mean) / std


__all__ = ["CITYSCAPES", "CLASS_NAMES", "COLORS", "DATASETS", "CityscapesSegmentation", "DatasetSpec", "IGNORE_INDEX",
           "IMAGENET_MEAN", "IMAGENET_STD", "NUM_CLASSES", "PUBLIC_DATASETS", "SYNTHAERIAL", "SYNTHCITY", "build_dataset",
           "load_dataset_card", "make_synthaerial", "make_synthcity", "normalize", "register_card", "register_mapillary"]
