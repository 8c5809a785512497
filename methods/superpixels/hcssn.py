"""HCSSN: SSN with Suzuki's hierarchical soft clustering (Suzuki, Sec. 4.3).

"We introduce the soft clustering into SSN and replace bilinear upsampling operations with
Eq. (3)": at each of SSN's two stride-2 downsampling layers a :class:`SoftClustering` module
assigns the layer's input pixels to the 9 surrounding pixels of its output (the seeds), and the
coarse feature levels are brought back to full resolution by decoding through those assignments
(:func:`decode_hierarchy`, coarsest first) instead of bilinear upsampling. Everything else (input
features, differentiable SLIC, losses, iterations 5 / 10, 169 superpixels and k = 20 in training,
Sec. 4.3) is SSN's.

Choices where the paper is silent:

* The clustering's fine features are the downsampling layer's input (the last conv output of the
  finer level) and its seeds the max-pooled output, as in Suzuki's Sec. 3.2 ``s = d(x)``.
* Cosine similarity with tau = 0.07 and embedding dimension 64 (Suzuki Sec. 3.2 defaults of
  :class:`SoftClustering`), or ``channels`` when the feature CNN is narrower (tests).
* In eval mode the assignments stay soft (``hard=False``), so that segment() decodes features the
  way training did; only the final SLIC association is made hard.
"""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn as nn

from benchmark.registry import SUPERPIXEL_METHODS

from methods.hierarchical_clustering.clustering import PAPER_EMBED_DIM, SoftClustering, decode_hierarchy
from methods.superpixels.ssn import CONV_CHANNELS, FEATURE_DIM, SSN, SSNFeatureNet


class HCFeatureNet(SSNFeatureNet):
    """SSN's feature CNN with a soft clustering at each downsampling layer and decoding by assignments."""

    def __init__(self, feature_dim: int = FEATURE_DIM, channels: int = CONV_CHANNELS):
        super().__init__(feature_dim, channels)
        embed_dim = min(PAPER_EMBED_DIM, channels)
        self.clusterings = nn.ModuleList(SoftClustering(channels, channels, embed_dim=embed_dim) for _ in range(2))

    def down_with_context(self, x: torch.Tensor, level: int, context: Dict[str, torch.Tensor]) -> torch.Tensor:
        seeds = self.downsample(x)
        context[f"assign{level}"] = self.clusterings[level - 1](x, seeds)  # (B, 9, H_level, W_level)
        return seeds

    def upsample_levels(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor,
                        context: Dict[str, torch.Tensor]) -> List[torch.Tensor]:
        # level 2 (1/2 resolution) decodes through the first clustering; level 3 (1/4) through both
        up2 = decode_hierarchy(x2, [context["assign1"]])
        up3 = decode_hierarchy(x3, [context["assign2"], context["assign1"]])
        return [up2, up3]


@SUPERPIXEL_METHODS.register("hcssn")
class HCSSN(SSN):
    """SSN whose feature network clusters at its downsampling layers (Suzuki Sec. 4.3)."""

    def build_feature_net(self, feature_dim: int, channels: int) -> nn.Module:
        return HCFeatureNet(feature_dim, channels)


HCSSN.name = "hcssn"
# Suzuki Sec. 4.3: Adam, lr 5e-5 with a cosine decay (to 5e-7 there; to 0 here, the engine's
# cosine), batch 8, random 208x208 crops, 300K iterations.
HCSSN.paper_training = {"optimizer": "adam", "lr": 5e-5, "lr_policy": "cosine", "batch_size": 8, "crop": (208, 208),
                        "iters": 300_000}
