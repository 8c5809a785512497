"""Segmentation networks on timm encoders. Importing this package registers every model in ``MODELS``.

Keys: ``unet``, ``fcn32``, ``atrous_fcn``, ``fpn``, ``pspnet``, ``deeplabv3``, ``deeplabv3plus``, ``hrnetv2``, and
Suzuki's hierarchical-clustering variants ``hcfcn32``, ``hcfpn``, ``hcpspnet``, ``hcdeeplabv3``
(registered by :mod:`methods.hierarchical_clustering.models` when ``methods`` is imported: the
harness never imports a method family). Each factory takes
``(num_classes, encoder=DEFAULT_ENCODER, output_stride=None, pretrained=False, weights=None,
**model_options)`` and returns a module mapping ``(B, 3, h, w) -> (B, num_classes, h, w)``;
``model_options`` are the architecture's own keyword options (see :mod:`benchmark.models.base`).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch.nn as nn

from benchmark.models import deeplabv3, deeplabv3plus, fcn, fpn, hrnet, pspnet, unet  # noqa: F401  (registration)
from benchmark.models.base import SegmentationModel, model_option_names, register_model
from benchmark.models.encoder import DEFAULT_ENCODER, Encoder
from benchmark.models.weights import load_weights
from benchmark.registry import MODELS


def build_model(key: str, num_classes: int, encoder: Optional[str] = None, output_stride: Optional[int] = None,
                weights: Optional[str] = None, model_options: Optional[Dict[str, Any]] = None,
                encoder_weights: Optional[str] = None, allow_hub_weights: bool = False) -> nn.Module:
    """The registered model ``key`` (``encoder=None``: the model's default, :data:`DEFAULT_ENCODER` for
    all but HRNetV2), optionally loading ``weights``.

    ``model_options``: the architecture's keyword options (None: its defaults). ``encoder_weights``:
    ImageNet weights for the encoder before ``weights`` (see :meth:`Encoder.load_pretrained`).
    """
    extra = {} if encoder_weights is None else {"encoder_weights": encoder_weights,
                                                "allow_hub_weights": allow_hub_weights}
    return MODELS.create(key, num_classes, encoder=encoder, output_stride=output_stride,
                         weights=weights, **extra, **(model_options or {}))


__all__ = ["MODELS", "DEFAULT_ENCODER", "Encoder", "SegmentationModel", "build_model", "load_weights",
           "model_option_names", "register_model"]
