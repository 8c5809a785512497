"""DeepLabv3: dilated encoder + ASPP, no decoder (Chen et al., "Rethinking atrous convolution", 2017).

The ASPP block is DeepLabv3+'s (:class:`benchmark.models.deeplabv3plus.ASPP`) with plain atrous
3x3 convolutions, as in the v3 paper (v3+ made them depthwise-separable): a 1x1 branch, three
atrous branches and image pooling, concatenated, projected by a 1x1 Conv-BN-ReLU, then a 1x1
classifier on the stride-8 map. Rates (12, 24, 36) at the default output stride 8, (6, 12, 18)
at 16; ``atrous_rates`` overrides them (Suzuki's HCDeepLabv3 keeps the stride-8 rates at stride
32). Width 256 as in the paper (``aspp_channels`` narrows it).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.deeplabv3plus import ASPP, atrous_rates as rates_for_output_stride
from benchmark.models.encoder import DEFAULT_ENCODER


@register_model("deeplabv3")
class DeepLabV3(SegmentationModel):
    """DeepLabv3 (ASPP head, no decoder) on a timm encoder (output stride 8 by default)."""

    default_output_stride = 8

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 aspp_channels: int = 256, atrous_rates: Optional[Sequence[int]] = None, dropout: float = 0.1):
        super().__init__(num_classes, encoder, output_stride)
        rates = list(atrous_rates) if atrous_rates is not None else rates_for_output_stride(self.output_stride)
        self.atrous_rates = rates
        self.aspp = ASPP(self.encoder.channels[-1], aspp_channels, rates, dropout=dropout, separable=False)
        self.classifier = nn.Conv2d(aspp_channels, num_classes, 1)

    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        return self.classifier(self.aspp(features[-1]))
