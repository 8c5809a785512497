"""Small building blocks shared by the decoders.

Normalisation rule: BatchNorm wherever a layer sees a spatial map; no BatchNorm in branches
that pool to 1x1 (PSP bin 1, ASPP image pooling), because BatchNorm in training mode needs
more than one value per channel and those branches have exactly one per image.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.ops.sampling import ALIGN_CORNERS


def resize_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of ``x`` (B, C, h, w) to ``size`` with the suite's align_corners; no-op if equal."""
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=ALIGN_CORNERS)


class ConvNormAct(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU; ``padding`` keeps the spatial size."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1):
        padding = dilation * (kernel_size // 2)
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class ConvGroupNormAct(nn.Sequential):
    """Conv 3x3 -> GroupNorm -> ReLU (Panoptic FPN's semantic head)."""

    def __init__(self, in_channels: int, out_channels: int, groups: int = 16):
        groups = groups if out_channels % groups == 0 else 1
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.GroupNorm(groups, out_channels),
            nn.ReLU(inplace=True),
        )


class SeparableConvNormAct(nn.Sequential):
    """Depthwise (atrous) 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU (DeepLabv3+'s separable conv)."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=dilation, dilation=dilation, groups=in_channels, bias=False),
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class PooledBranch(nn.Module):
    """Adaptive average pool to ``bins`` -> 1x1 conv (with bias, no norm) -> ReLU -> resize back.

    ``(B, C_in, h, w) -> (B, C_out, h, w)``. No BatchNorm: a 1x1 pooled map has one value per
    channel per image (see the module docstring); feature maps smaller than ``bins`` are fine
    (adaptive pooling then repeats values).
    """

    def __init__(self, in_channels: int, out_channels: int, bins: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(bins)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=True)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize_to(self.act(self.conv(self.pool(x))), x.shape[-2:])
