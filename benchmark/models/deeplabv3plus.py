"""DeepLabv3+: dilated encoder + ASPP + low-level skip decoder (Chen et al., ECCV 2018).

ASPP on the deepest feature: a 1x1 branch, three atrous separable 3x3 branches and an image
pooling branch, concatenated and projected by a 1x1 Conv-BN-ReLU. Atrous rates are (6, 12, 18)
at output stride 16 and scale with it ((12, 24, 36) at the default output stride 8). Decoder:
the stride-4 feature reduced to 48 channels, concatenated with the upsampled ASPP output, two
separable 3x3 convs, a 1x1 classifier. Widths 256 as in the paper (Marin's Table 3 count with
Xception-65, tests/cost/test_paper_costs.py); a CPU budget narrows them by name (``aspp_channels``,
``decoder_channels``).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.blocks import ConvNormAct, PooledBranch, SeparableConvNormAct, resize_to
from benchmark.models.encoder import DEFAULT_ENCODER

ASPP_RATES_AT_OS16 = (6, 12, 18)


def atrous_rates(output_stride: int) -> List[int]:
    """ASPP rates for an output stride: (6, 12, 18) at 16, doubled at 8, halved at 32 (at least 1)."""
    return [max(1, r * 16 // output_stride) for r in ASPP_RATES_AT_OS16]


class ASPP(nn.Module):
    """``(B, C_in, h, w) -> (B, out_channels, h, w)``.

    ``separable``: depthwise-separable atrous branches (DeepLabv3+); False gives the plain
    atrous 3x3 Conv-BN-ReLU branches of DeepLabv3 (Chen et al., 2017).
    """

    def __init__(self, in_channels: int, out_channels: int, rates: Sequence[int], dropout: float = 0.1,
                 separable: bool = True):
        super().__init__()
        atrous = SeparableConvNormAct if separable else ConvNormAct
        self.branches = nn.ModuleList(
            [ConvNormAct(in_channels, out_channels, kernel_size=1)]
            + [atrous(in_channels, out_channels, dilation=r) for r in rates]
            + [PooledBranch(in_channels, out_channels, bins=1)]
        )
        self.project = nn.Sequential(
            ConvNormAct(out_channels * len(self.branches), out_channels, kernel_size=1), nn.Dropout2d(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))


@register_model("deeplabv3plus")
class DeepLabV3Plus(SegmentationModel):
    """DeepLabv3+ on a timm encoder (output stride 8 by default)."""

    default_output_stride = 8

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 aspp_channels: int = 256, low_level_channels: int = 48, decoder_channels: int = 256):
        super().__init__(num_classes, encoder, output_stride)
        self.aspp = ASPP(self.encoder.channels[-1], aspp_channels, atrous_rates(self.output_stride))
        reductions = self.encoder.reductions
        # The low-level skip is the stride-4 feature (or the closest one the encoder has).
        self.low_level_index = min(range(len(reductions)), key=lambda i: (abs(reductions[i] - 4), i))
        self.low_level = ConvNormAct(self.encoder.channels[self.low_level_index], low_level_channels, kernel_size=1)
        self.decoder = nn.Sequential(
            SeparableConvNormAct(aspp_channels + low_level_channels, decoder_channels),
            SeparableConvNormAct(decoder_channels, decoder_channels),
        )
        self.classifier = nn.Conv2d(decoder_channels, num_classes, 1)

    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        low = self.low_level(features[self.low_level_index])
        context = resize_to(self.aspp(features[-1]), low.shape[-2:])
        return self.classifier(self.decoder(torch.cat([context, low], dim=1)))
