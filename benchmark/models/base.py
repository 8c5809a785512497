"""Segmentation network = timm encoder + decoder; one factory signature for every model.

Every registered model is built by

    MODELS.create(key, num_classes, encoder=DEFAULT_ENCODER, output_stride=None,
                  pretrained=False, weights=None) -> nn.Module

and maps ``image (B, 3, h, w) -> logits (B, num_classes, h, w)``: the decoder's output is
resized back to the input size inside the model (bilinear, ``align_corners=True``, the suite's
convention from :mod:`benchmark.ops.sampling`), for any input size (odd sizes included).
``output_stride=None`` means the architecture's own default (32 for U-Net, FCN-32s and FPN;
8 for PSPNet and DeepLabv3+, as in their papers).
"""
from __future__ import annotations

import abc
from typing import Callable, ClassVar, List, Optional, Type, TypeVar

import torch
import torch.nn as nn

from benchmark.errors import DsbenchError
from benchmark.models.blocks import resize_to
from benchmark.models.encoder import DEFAULT_ENCODER, Encoder
from benchmark.models.weights import load_weights
from benchmark.registry import MODELS


def check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise DsbenchError(f"num_classes {num_classes!r} must be a positive integer (the dataset's number of classes)")
    return num_classes


class SegmentationModel(nn.Module, abc.ABC):
    """Encoder feature pyramid -> :meth:`decode` -> logits resized to the input size."""

    key: ClassVar[str] = ""
    default_output_stride: ClassVar[int] = 32

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None):
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.encoder_name = str(encoder)
        self.output_stride = int(output_stride or self.default_output_stride)
        self.encoder = Encoder(self.encoder_name, self.output_stride)

    @abc.abstractmethod
    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        """Encoder features (fine to coarse) -> logits ``(B, num_classes, h', w')`` at some stride."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, h, w) -> (B, num_classes, h, w)``."""
        logits = self.decode(self.encoder(image))
        return resize_to(logits, image.shape[-2:])


ModelClass = TypeVar("ModelClass", bound=Type[SegmentationModel])


def register_model(key: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: register the uniform factory for ``key`` in ``MODELS``."""

    def wrap(cls: ModelClass) -> ModelClass:
        def factory(num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                    pretrained: bool = False, weights: Optional[str] = None) -> nn.Module:
            if pretrained:
                raise DsbenchError(
                    f"model {key!r}: pretrained weights would need a hub download, which dsbench never does; "
                    "save a checkpoint locally and pass weights=PATH"
                )
            model = cls(num_classes, encoder=encoder or DEFAULT_ENCODER, output_stride=output_stride)
            if weights is not None:
                load_weights(model, weights)
            return model

        factory.__name__ = f"create_{key}"
        factory.__qualname__ = factory.__name__
        factory.__doc__ = cls.__doc__
        factory.model_class = cls  # type: ignore[attr-defined]
        cls.key = key
        MODELS.register(key, factory)
        return cls

    return wrap
