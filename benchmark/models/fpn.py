"""FPN with the Panoptic-FPN semantic head (Kirillov et al.; Suzuki's FPN baseline).

Pyramid: the encoder levels with stride >= 4 (P2..P5 for a ResNet). Lateral 1x1 convs, a
top-down pathway (bilinear upsample to the finer level's exact size, add) and a 3x3 output conv
per level. Semantic head: each level goes through 3x3 Conv-GroupNorm-ReLU stages, each followed
by a 2x upsample, until it reaches stride 4; the levels are summed and a 1x1 conv classifies.
Widths as in Panoptic FPN: 256 pyramid channels, 128 in the semantic head.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn as nn

from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.blocks import ConvGroupNormAct, resize_to
from benchmark.models.encoder import DEFAULT_ENCODER


class SemanticStage(nn.Module):
    """One level of the semantic head: ``n_up`` x (Conv-GN-ReLU, upsample to the next finer level)."""

    def __init__(self, in_channels: int, out_channels: int, reductions: List[int]):
        super().__init__()
        # reductions: the nominal strides this level passes through, e.g. [32, 16, 8, 4]; a
        # level already at the finest stride gets a single conv and no upsampling.
        self.reductions = reductions
        n_convs = max(1, len(reductions) - 1)
        self.convs = nn.ModuleList(
            ConvGroupNormAct(in_channels if i == 0 else out_channels, out_channels) for i in range(n_convs)
        )

    def forward(self, x: torch.Tensor, sizes: dict,
                upsample: Optional[Callable[[torch.Tensor, int, Sequence[int]], torch.Tensor]] = None) -> torch.Tensor:
        """``upsample(x, stride_of_x, target_size)``; None: bilinear (:func:`resize_to`)."""
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i + 1 < len(self.reductions):
                target = sizes[self.reductions[i + 1]]
                x = resize_to(x, target) if upsample is None else upsample(x, self.reductions[i], target)
        return x


@register_model("fpn")
class FPN(SegmentationModel):
    """FPN (Panoptic-FPN semantic head) on a timm encoder (output stride 32 by default)."""

    default_output_stride = 32

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 pyramid_channels: int = 256, segmentation_channels: int = 128, dropout: float = 0.1):
        super().__init__(num_classes, encoder, output_stride)
        reductions = self.encoder.reductions
        self.levels = [i for i, r in enumerate(reductions) if r >= 4] or list(range(len(reductions)))
        self.finest = reductions[self.levels[0]]
        self.lateral = nn.ModuleList(nn.Conv2d(self.encoder.channels[i], pyramid_channels, 1) for i in self.levels)
        self.output = nn.ModuleList(nn.Conv2d(pyramid_channels, pyramid_channels, 3, padding=1) for _ in self.levels)
        stages = []
        for i in self.levels:
            steps = int(round(math.log2(reductions[i] / self.finest)))
            path = [self.finest * 2 ** (steps - k) for k in range(steps + 1)]  # e.g. [32, 16, 8, 4]
            stages.append(SemanticStage(pyramid_channels, segmentation_channels, path))
        self.semantic = nn.ModuleList(stages)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(segmentation_channels, num_classes, 1)

    def upsample(self, x: torch.Tensor, stride: int, size: Sequence[int]) -> torch.Tensor:
        """Bring the stride-``stride`` map ``x`` to the next finer level's ``size`` (bilinear).

        The one place the decoder upsamples, so that a subclass (Suzuki's HCFPN) can decode
        through cluster assignments instead.
        """
        return resize_to(x, size)

    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        pyramid = [features[i] for i in self.levels]
        # Actual sizes by nominal stride: odd inputs make them differ from size / stride.
        sizes = {}
        for i, f in zip(self.levels, pyramid):
            sizes.setdefault(self.encoder.reductions[i], tuple(f.shape[-2:]))
        laterals = [conv(f) for conv, f in zip(self.lateral, pyramid)]
        for k in range(len(laterals) - 2, -1, -1):  # top-down
            coarser_stride = self.encoder.reductions[self.levels[k + 1]]
            laterals[k] = laterals[k] + self.upsample(laterals[k + 1], coarser_stride, laterals[k].shape[-2:])
        outputs = [conv(p) for conv, p in zip(self.output, laterals)]
        finest_size = tuple(outputs[0].shape[-2:])
        merged = None
        for stage, p in zip(self.semantic, outputs):
            y = resize_to(stage(p, sizes, self.upsample), finest_size)
            merged = y if merged is None else merged + y
        return self.classifier(self.dropout(merged))
