"""FCN-32s: a 1x1 classifier on the deepest (stride-32) feature, bilinear upsampling.

The simplest dense predictor (Long et al.; Suzuki's FCN-32 baseline). ``atrous_fcn`` is the
same head at output stride 8 (the last two stages dilated instead of strided): Suzuki's
AtrousFCN, "replacing the striding of conv4_x and conv5_x ... with atrous convolution".
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn as nn

from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.encoder import DEFAULT_ENCODER


@register_model("fcn32")
class FCN32(SegmentationModel):
    """FCN-32s: deepest feature -> dropout -> 1x1 conv classifier (output stride 32 by default)."""

    default_output_stride = 32

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 dropout: float = 0.1):
        super().__init__(num_classes, encoder, output_stride)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(self.encoder.channels[-1], num_classes, 1)

    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        return self.classifier(self.dropout(features[-1]))


@register_model("atrous_fcn")
class AtrousFCN(FCN32):
    """AtrousFCN: the FCN-32s head on a dilated encoder (output stride 8 by default)."""

    default_output_stride = 8
