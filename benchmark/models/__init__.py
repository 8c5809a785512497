"""Segmentation networks on timm encoders. Importing this package registers every model in ``MODELS``.

Keys: ``unet``, ``fcn32``, ``fpn``, ``pspnet``, ``deeplabv3plus``. Each factory takes
``(num_classes, encoder=DEFAULT_ENCODER, output_stride=None, pretrained=False, weights=None)``
and returns a module mapping ``(B, 3, h, w) -> (B, num_classes, h, w)``.
"""
from __future__ import annotations

from typing import Optional

import torch.nn as nn

from benchmark.models import deeplabv3plus, fcn, fpn, pspnet, unet  # noqa: F401  (registration)
from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.encoder import DEFAULT_ENCODER, Encoder
from benchmark.models.weights import load_weights
from benchmark.registry import MODELS


def build_model(key: str, num_classes: int, encoder: Optional[str] = None, output_stride: Optional[int] = None,
                weights: Optional[str] = None) -> nn.Module:
    """The registered model ``key`` (``encoder=None``: :data:`DEFAULT_ENCODER`), optionally loading ``weights``."""
    return MODELS.create(key, num_classes, encoder=encoder or DEFAULT_ENCODER, output_stride=output_stride,
                         weights=weights)


__all__ = ["MODELS", "DEFAULT_ENCODER", "Encoder", "SegmentationModel", "build_model", "load_weights",
           "register_model"]
