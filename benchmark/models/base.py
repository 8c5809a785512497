"""Segmentation network = timm encoder + decoder; one factory signature for every model.

Every registered model is built by

    MODELS.create(key, num_classes, encoder=DEFAULT_ENCODER, output_stride=None,
                  pretrained=False, weights=None, **model_options) -> nn.Module

and maps ``image (B, 3, h, w) -> logits (B, num_classes, h, w)``: the decoder's output is
resized back to the input size inside the model (bilinear, ``align_corners=True``, the suite's
convention from :mod:`benchmark.ops.sampling`), for any input size (odd sizes included).
``output_stride=None`` means the architecture's own default (32 for U-Net, FCN-32s and FPN;
8 for PSPNet and DeepLabv3+, as in their papers).

``model_options`` are the architecture's own keyword options (e.g. ``hc_levels=2`` for the
hierarchical-clustering models, ``bottleneck_channels=256`` for a narrower PSPNet): every keyword argument
of the model class's ``__init__`` after ``output_stride`` may be given, by name. An unknown
name raises a :class:`DsbenchError` listing the model's options; no options means the
architecture's defaults, so existing callers are unaffected.
"""
from __future__ import annotations

import abc
import inspect
from typing import Any, Callable, ClassVar, List, Optional, Tuple, Type, TypeVar

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
    default_encoder: ClassVar[str] = DEFAULT_ENCODER
    encoder_options: ClassVar[dict] = {}  # extra timm options of the encoder (HRNetV2: its raw branches)

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None):
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.encoder_name = str(encoder)
        self.output_stride = int(output_stride or self.default_output_stride)
        self.encoder = Encoder(self.encoder_name, self.output_stride, self.encoder_options)

    @abc.abstractmethod
    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        """Encoder features (fine to coarse) -> logits ``(B, num_classes, h', w')`` at some stride."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, h, w) -> (B, num_classes, h, w)``."""
        logits = self.decode(self.encoder(image))
        return resize_to(logits, image.shape[-2:])


ModelClass = TypeVar("ModelClass", bound=Type[SegmentationModel])

_FACTORY_ARGUMENTS = ("self", "num_classes", "encoder", "output_stride")


def model_option_names(cls: Type[SegmentationModel]) -> Tuple[str, ...]:
    """The options ``MODELS.create(key, ..., **model_options)`` accepts for ``cls``, in order.

    The named keyword arguments of ``cls.__init__``; an ``__init__`` that forwards ``**kwargs``
    to its base (a mixin such as the HC models') also accepts the next ``__init__``'s in the MRO.
    """
    names: List[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or not issubclass(klass, SegmentationModel):
            continue
        parameters = inspect.signature(vars(klass)["__init__"]).parameters.values()
        names += [p.name for p in parameters if p.name not in _FACTORY_ARGUMENTS and p.name not in names
                  and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return tuple(names)


def check_model_options(key: str, cls: Type[SegmentationModel], options: dict) -> None:
    known = model_option_names(cls)
    unknown = sorted(set(options) - set(known))
    if unknown:
        accepted = ", ".join(known) if known else "none"
        raise DsbenchError(f"model {key!r} has no option {', '.join(map(repr, unknown))}; its options: {accepted}")


def register_model(key: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: register the uniform factory for ``key`` in ``MODELS``."""

    def wrap(cls: ModelClass) -> ModelClass:
        def factory(num_classes: int, encoder: Optional[str] = None, output_stride: Optional[int] = None,
                    pretrained: bool = False, weights: Optional[str] = None, encoder_weights: Optional[str] = None,
                    allow_hub_weights: bool = False, **model_options: Any) -> nn.Module:
            if pretrained:
                raise DsbenchError(
                    f"model {key!r}: pretrained weights would need a hub download, which dsbench never does "
                    "silently; pass encoder_weights=PATH (a local timm checkpoint) or encoder_weights='hub' with "
                    "allow_hub_weights=True"
                )
            check_model_options(key, cls, model_options)
            model = cls(num_classes, encoder=encoder or cls.default_encoder, output_stride=output_stride, **model_options)
            if encoder_weights is not None:
                model.encoder.load_pretrained(encoder_weights, allow_hub=allow_hub_weights)
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
