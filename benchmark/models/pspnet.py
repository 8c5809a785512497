"""PSPNet: dilated encoder (output stride 8) + pyramid pooling module, bins 1, 2, 3, 6 (Zhao et al.).

Each bin pools the deepest feature, reduces it to C/4 channels with a 1x1 conv and resizes it
back; the four maps are concatenated with the feature, fused by a 3x3 Conv-BN-ReLU and
classified by a 1x1 conv. Pooled branches carry no BatchNorm (see :mod:`blocks`). The fusion
conv has 512 channels as in PSPNet (and Marin's Table 3 count, tests/cost/test_paper_costs.py).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.blocks import ConvNormAct, PooledBranch
from benchmark.models.encoder import DEFAULT_ENCODER

PSP_BINS = (1, 2, 3, 6)


@register_model("pspnet")
class PSPNet(SegmentationModel):
    """PSPNet on a timm encoder (output stride 8 by default)."""

    default_output_stride = 8

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 bins: Sequence[int] = PSP_BINS, bottleneck_channels: int = 512, dropout: float = 0.1):
        super().__init__(num_classes, encoder, output_stride)
        in_channels = self.encoder.channels[-1]
        branch_channels = max(1, in_channels // len(bins))
        self.branches = nn.ModuleList(PooledBranch(in_channels, branch_channels, b) for b in bins)
        self.fuse = ConvNormAct(in_channels + branch_channels * len(bins), bottleneck_channels)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(bottleneck_channels, num_classes, 1)

    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        pyramid = torch.cat([x] + [branch(x) for branch in self.branches], dim=1)
        return self.classifier(self.dropout(self.fuse(pyramid)))
