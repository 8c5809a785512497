"""U-Net: the papers' small base model (Marin et al. use U-Net as a base segmentation model).

A light U-Net decoder on the encoder's feature pyramid: from the deepest feature, each block
upsamples (bilinear, to the skip's exact size, so odd sizes work), concatenates the next finer
skip and applies two 3x3 Conv-BN-ReLU; a 1x1 classifier on the finest decoded map, then the
model resizes to the input size.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.blocks import ConvNormAct, resize_to
from benchmark.models.encoder import DEFAULT_ENCODER

# Narrow widths: the suite's default is a CPU reproduction. One width per decoder block,
# from coarse to fine; extra blocks (encoders with more levels) keep halving down to 16.
DECODER_CHANNELS = (128, 64, 32, 16)


class UNetBlock(nn.Module):
    """(deep (B, C_d, h, w), skip (B, C_s, H, W)) -> (B, C_out, H, W)."""

    def __init__(self, deep_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.convs = nn.Sequential(
            ConvNormAct(deep_channels + skip_channels, out_channels),
            ConvNormAct(out_channels, out_channels),
        )

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.convs(torch.cat([resize_to(deep, skip.shape[-2:]), skip], dim=1))


@register_model("unet")
class UNet(SegmentationModel):
    """U-Net decoder on a timm encoder (output stride 32 by default)."""

    default_output_stride = 32

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 decoder_channels: Sequence[int] = DECODER_CHANNELS):
        super().__init__(num_classes, encoder, output_stride)
        skips = self.encoder.channels[:-1][::-1]  # coarse to fine
        widths = list(decoder_channels)
        while len(widths) < len(skips):
            widths.append(max(16, widths[-1] // 2))
        blocks = []
        deep = self.encoder.channels[-1]
        for skip, width in zip(skips, widths):
            blocks.append(UNetBlock(deep, skip, width))
            deep = width
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Conv2d(deep, num_classes, 1)

    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, features[:-1][::-1]):
            x = block(x, skip)
        return self.classifier(x)
