"""timm encoders as feature pyramids.

Any timm model that supports ``features_only=True`` is an encoder. It returns the list of
feature maps ``[(B, C_i, h_i, w_i)]`` from fine to coarse; ``channels[i]`` and ``reductions[i]``
(the nominal stride, e.g. ``[2, 4, 8, 16, 32]`` for a ResNet) describe them. Dilation for a
smaller output stride is timm's ``output_stride`` option: the last stages keep their resolution
and use atrous convolutions instead of striding.

Weights are never downloaded: encoders are built with random initialisation and trained
checkpoints are loaded with ``weights=PATH`` (see :mod:`benchmark.models.weights`).
"""
from __future__ import annotations

import difflib
from typing import List

import timm
import torch
import torch.nn as nn

from benchmark.errors import DsbenchError

DEFAULT_ENCODER = "resnet18"
OUTPUT_STRIDES = (8, 16, 32)


def check_output_stride(output_stride: int) -> int:
    if output_stride not in OUTPUT_STRIDES:
        raise DsbenchError(
            f"output_stride {output_stride!r} is not supported; use one of {', '.join(map(str, OUTPUT_STRIDES))}"
        )
    return int(output_stride)


def _unknown_encoder(name: str) -> DsbenchError:
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see timm.list_models() for the names"
    return DsbenchError(f"unknown timm encoder {name!r}; {hint}")


class Encoder(nn.Module):
    """A timm backbone with ``features_only=True``.

    ``forward(image (B, 3, H, W)) -> [features (B, channels[i], ~H/reductions[i], ~W/reductions[i])]``
    from fine to coarse.
    """

    def __init__(self, name: str = DEFAULT_ENCODER, output_stride: int = 32):
        super().__init__()
        self.name = str(name)
        self.output_stride = check_output_stride(output_stride)
        if not timm.is_model(self.name):
            raise _unknown_encoder(self.name)
        # Stride 32 is every encoder's native stride: not passing it keeps encoders that have no
        # dilation option (e.g. vision transformers) usable.
        options = {} if self.output_stride == 32 else {"output_stride": self.output_stride}
        try:
            self.body = timm.create_model(self.name, features_only=True, pretrained=False, **options)
        except (TypeError, ValueError, AssertionError, RuntimeError, NotImplementedError) as exc:
            raise DsbenchError(
                f"encoder {self.name!r} cannot be built with features_only and output_stride={self.output_stride} "
                f"({exc.__class__.__name__}: {exc}); use a CNN encoder such as {DEFAULT_ENCODER} or output_stride=32"
            ) from None
        self.channels: List[int] = list(self.body.feature_info.channels())
        self.reductions: List[int] = list(self.body.feature_info.reduction())
        if self.output_stride != 32 and max(self.reductions) != self.output_stride:
            raise DsbenchError(
                f"encoder {self.name!r} ignored output_stride={self.output_stride} (its deepest stride is "
                f"{max(self.reductions)}); use an encoder that supports dilation, such as {DEFAULT_ENCODER}"
            )

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:
        return list(self.body(image))
