"""The "interpolation" baseline of Jin et al. 2022 (A.2): a learned resizer at uniform locations.

Talebi & Milanfar (2021) learn *how* to resize, not *where* to sample: the network input is the
bilinearly resized image plus a learned residual computed by a small CNN. The sampling grid stays
uniform (so labels are sampled and predictions unsampled exactly as for ``uniform``); only
``downsample_image`` is learned, jointly with the segmentation network.

Resizer, ``r`` residual blocks of ``n`` filters (Table 6: r in 1..4, n in 16, 32)::

    f   = BN(lrelu(conv1x1(lrelu(conv7x7(x)))))          full resolution, n channels
    f_lr = bilinear(f on the uniform grid)                 low resolution
    g   = r x [g + BN(conv3x3(lrelu(BN(conv3x3(g)))))]     starting from g = f_lr
    out = bilinear(x on the grid) + conv7x7(BN(conv3x3(g)) + f_lr)

The last convolution starts at zero, so training starts from plain bilinear (uniform) input:
the learned residual can only be an improvement found by training (our choice, for stability).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch
import torch.nn as nn

from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import Size, resample, uniform_grid
from methods.base import DownsamplingMethod, MethodConfig


@dataclasses.dataclass
class InterpolationConfig(MethodConfig):
    blocks: int = 1               # r, residual blocks (Table 6)
    filters: int = 16             # n, convolutional filters (Table 6)
    negative_slope: float = 0.2   # LeakyReLU


class _ResidualBlock(nn.Module):
    def __init__(self, n: int, slope: float):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n, n, 3, padding=1, bias=False), nn.BatchNorm2d(n),
                                  nn.LeakyReLU(slope, inplace=True),
                                  nn.Conv2d(n, n, 3, padding=1, bias=False), nn.BatchNorm2d(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class LearnedResizer(nn.Module):
    """Talebi & Milanfar style resizer: ``(B, 3, H, W)`` and a grid ``(B, h, w, 2)`` -> ``(B, 3, h, w)``."""

    def __init__(self, blocks: int = 1, filters: int = 16, slope: float = 0.2):
        super().__init__()
        if blocks < 0 or filters < 1:
            raise DsbenchError(f"interpolation: blocks={blocks}, filters={filters}; need blocks >= 0, filters >= 1")
        n = filters
        self.head = nn.Sequential(nn.Conv2d(3, n, 7, padding=3), nn.LeakyReLU(slope, inplace=True),
                                  nn.Conv2d(n, n, 1), nn.LeakyReLU(slope, inplace=True), nn.BatchNorm2d(n))
        self.blocks = nn.Sequential(*[_ResidualBlock(n, slope) for _ in range(blocks)])
        self.merge = nn.Sequential(nn.Conv2d(n, n, 3, padding=1, bias=False), nn.BatchNorm2d(n))
        self.tail = nn.Conv2d(n, 3, 7, padding=3)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, image_hr: torch.Tensor, grid_lr: torch.Tensor) -> torch.Tensor:
        features_lr = resample(self.head(image_hr), grid_lr)          # (B, n, h, w)
        refined = self.merge(self.blocks(features_lr)) + features_lr
        return resample(image_hr, grid_lr) + self.tail(refined)       # (B, 3, h, w)


@METHODS.register("interpolation")
class Interpolation(DownsamplingMethod):
    """Uniform sampling locations, learned pixel values (Jin's "interpolation" baseline)."""

    name = "interpolation"
    Config = InterpolationConfig

    def __init__(self, config: Optional[InterpolationConfig] = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.resizer = LearnedResizer(c.blocks, c.filters, c.negative_slope)

    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        return uniform_grid(image_hr.shape[0], size_lr, image_hr.device, image_hr.dtype)

    def downsample_image(self, image_hr: torch.Tensor, grid_lr: torch.Tensor) -> torch.Tensor:
        return self.resizer(image_hr, grid_lr)
