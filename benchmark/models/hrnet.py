"""HRNetV2 segmentation head (Sun et al., 2019): Jin's and Alcover-Couso's segmentation network.

The encoder is a timm HRNet (``hrnet_w48`` by default, HRNetV2-W48) read at its four parallel
branches (strides 4, 8, 16, 32; 48, 96, 192, 384 channels for W48) rather than timm's
classification "incre" features. The branches are upsampled bilinearly to the stride-4 one and
concatenated (720 channels for W48), mixed by a 1x1 Conv-BN-ReLU of the same width and classified
by a 1x1 conv, as in HRNetV2. HRNet keeps its resolution in parallel branches: it has no dilated
variant, so its output stride is its native 32 (the deepest branch). timm's HRNet fuses branches
by fixed 2x upsampling, so it needs sides divisible by 32: other inputs are padded (replicated
border) to the next multiple and the logits cropped back.
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.blocks import ConvNormAct, resize_to

HRNET_ENCODER = "hrnet_w48"


@register_model("hrnetv2")
class HRNetV2(SegmentationModel):
    """HRNetV2: every branch upsampled to stride 4, concatenated, 1x1 Conv-BN-ReLU, 1x1 classifier."""

    default_output_stride = 32
    default_encoder = HRNET_ENCODER
    encoder_options = {"feature_location": ""}  # the raw branches, not the classification head's features

    def __init__(self, num_classes: int, encoder: str = HRNET_ENCODER, output_stride: Optional[int] = None):
        super().__init__(num_classes, encoder, output_stride)
        self.levels = [i for i, r in enumerate(self.encoder.reductions) if r >= 4]
        width = sum(self.encoder.channels[i] for i in self.levels)
        self.fuse = ConvNormAct(width, width, kernel_size=1)
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        pad_h, pad_w = (-h) % 32, (-w) % 32
        padded = F.pad(image, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else image
        logits = resize_to(self.decode(self.encoder(padded)), padded.shape[-2:])
        return logits[..., :h, :w]

    def decode(self, features: List[torch.Tensor]) -> torch.Tensor:
        finest = features[self.levels[0]].shape[-2:]
        x = torch.cat([resize_to(features[i], finest) for i in self.levels], dim=1)
        return self.classifier(self.fuse(x))
