"""SSN: Superpixel Sampling Networks (Jampani et al., ECCV 2018).

A small CNN computes pixel features; differentiable SLIC clusters them around a regular grid of
seeds, each pixel choosing softly among the 9 seeds around its own cell
(``benchmark.ops.cell_association``: candidate order, ceil grid, invalid seeds excluded exactly).

Numbers taken from the SSN paper (and its released code, which agrees):

* Input features: CIELAB scaled by the colour scale 0.26 and pixel coordinates scaled by the
  position scale ``2.5 * max(n_rows / H, n_cols / W)``; with our integer grid (``deep_common``:
  ``n_rows = ceil(H / cell)``) that is ``2.5 / cell`` up to the partial last cell, so that adjacent
  seeds are 2.5 feature units apart.
* Feature CNN (paper Fig. 3 / Sec. 4): 3x3 convs with 64 channels, each followed by batch norm and
  ReLU; two max-poolings (stride 2) after the 2nd and 4th conv; the outputs of the 4th and 6th conv
  are upsampled bilinearly to full resolution and concatenated with the 2nd conv's output and the
  input features; a final 3x3 conv gives ``k - 5`` channels, concatenated with the 5 input features
  into ``k = 20`` dimensional pixel features.
* Differentiable SLIC: ``Q = softmax_k(-||F_p - S_k||^2)`` over the 9 candidate seeds, seeds updated
  as the Q-weighted mean of the pixels (column-normalised Q); seeds initialised to the mean feature
  of each grid cell; 5 iterations in training, 10 at test.
* Loss: label reconstruction (cross-entropy of the labels pooled to superpixels with the
  column-normalised Q and decoded back with the row-normalised Q) plus ``lambda = 1e-5`` times the
  compactness loss ``||I_xy - I'_xy||^2``, ``I'_xy`` the position of each pixel's *hard*-assigned
  superpixel (its soft position pooled with Q).

Choices where the paper is silent, or where we deviate:

* The final conv has no activation (the paper's figure shows none; the features then concatenate
  with the signed Lab/XY input).
* Max-pooling is 3x3 with stride 2 and padding 1 (output ``ceil(H / 2)``), the size convention of
  the clustering modules that :mod:`hcssn` puts there.
* Both losses are means over pixels (ignored pixels ``-1`` excluded from the cross-entropy and from
  the pooling of labels); the compactness term uses the squared Euclidean norm per pixel.
* Training builds the grid for ``train_superpixels`` (169, Suzuki Sec. 4.3's SSN setting, i.e.
  13 x 13 cells on a 208 x 208 crop); the grid's integer cell size is set by ``deep_common``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from benchmark.registry import SUPERPIXEL_METHODS
from methods.base import SuperpixelMethod
import torch.nn.functional as F

from benchmark.ops.cell_association import (
    candidate_inner_products, candidate_validity, coarse_size, decode, hard_assignment, masked_softmax,
)
from benchmark.ops.sampling import ALIGN_CORNERS
from methods.superpixels.deep_common import (
    check_segment_input, finish_segmentation, grid_cell_size, label_reconstruction_loss, own_cell_assignment,
    pixel_coordinates, pool_to_cells, rgb_to_lab, superpixel_ids,
)

COLOUR_SCALE = 0.26       # SSN Sec. 4 / released code: Lab scale
POSITION_SCALE = 2.5      # SSN: XY scale, times max(n_rows / H, n_cols / W)
FEATURE_DIM = 20          # SSN: k = 20 pixel feature dimensions (15 learned + 5 input)
CONV_CHANNELS = 64        # SSN Fig. 3: every conv has 64 output channels but the last
COMPACTNESS_WEIGHT = 1e-5  # SSN Sec. 4: lambda of the compactness loss
TRAIN_ITERATIONS = 5      # SSN Sec. 4: differentiable SLIC iterations in training
TEST_ITERATIONS = 10      # SSN Sec. 4: ... and at test time
TRAIN_SUPERPIXELS = 169   # Suzuki Sec. 4.3 (SSN setting): 169 superpixels on 208 x 208 crops


def lab_xy_features(image: torch.Tensor, cell: int) -> torch.Tensor:
    """SSN's scaled input features ``(B, 5, H, W)``: ``0.26 * Lab`` and ``(2.5 / cell) * (row, col)``."""
    B, _, H, W = image.shape
    h, w = coarse_size((H, W), cell)
    position_scale = POSITION_SCALE * max(h / H, w / W)
    coords = pixel_coordinates(B, (H, W), image.device, image.dtype)
    return torch.cat((COLOUR_SCALE * rgb_to_lab(image), position_scale * coords), dim=1)


# --------------------------------------------------------------------------- differentiable SLIC


def slic_scores(features: torch.Tensor, seeds: torch.Tensor, cell: int) -> torch.Tensor:
    """``-||F_p - S_k||^2`` for the 9 candidate seeds of every pixel: ``(B, 9, H, W)``.

    ``||F - S||^2 = ||F||^2 + <[F, 1], [-2 S, ||S||^2]>``: one contraction over the candidates,
    never a ``(B, C, 9, H, W)`` tensor. Invalid candidates read garbage and must be masked.
    """
    fine = torch.cat((features, torch.ones_like(features[:, :1])), dim=1)
    coarse = torch.cat((-2.0 * seeds, (seeds ** 2).sum(dim=1, keepdim=True)), dim=1)
    squared_distance = (features ** 2).sum(dim=1, keepdim=True) + candidate_inner_products(fine, coarse, cell)
    return -squared_distance


def initial_seeds(features: torch.Tensor, cell: int) -> torch.Tensor:
    """Mean feature of each grid cell ``(B, C, h, w)`` (SSN's seed initialisation)."""
    own = own_cell_assignment(features.shape[0], features.shape[-2:], features.device, features.dtype)
    return pool_to_cells(features, own, cell)


def slic_iteration(features: torch.Tensor, seeds: torch.Tensor, cell: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """One differentiable SLIC step: the soft association to ``seeds`` and the updated seeds."""
    valid = candidate_validity(features.shape[-2:], seeds.shape[-2:], cell, features.device)
    assign = masked_softmax(slic_scores(features, seeds, cell), valid)
    return assign, pool_to_cells(features, assign, cell, seeds.shape[-2:])


def differentiable_slic(features: torch.Tensor, cell: int, iterations: int) -> Dict[str, torch.Tensor]:
    """Run ``iterations`` SLIC steps from the grid-cell means.

    Returns ``assign`` (the last association, ``(B, 9, H, W)``), ``assign_seeds`` (the seeds it was
    computed from) and ``seeds`` (the seeds it produced).
    """
    if iterations < 1:
        raise ValueError(f"differentiable SLIC needs at least one iteration, got {iterations}")
    seeds = initial_seeds(features, cell)
    for _ in range(iterations):
        assign_seeds = seeds
        assign, seeds = slic_iteration(features, seeds, cell)
    return {"assign": assign, "assign_seeds": assign_seeds, "seeds": seeds}


# --------------------------------------------------------------------------- feature network


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class SSNFeatureNet(nn.Module):
    """SSN's pixel feature CNN: ``(B, 5, H, W)`` scaled Lab/XY -> ``(B, feature_dim, H, W)``."""

    def __init__(self, feature_dim: int = FEATURE_DIM, channels: int = CONV_CHANNELS):
        super().__init__()
        if feature_dim <= 5:
            raise ValueError(f"feature_dim {feature_dim} must exceed the 5 input features it includes")
        self.level1 = nn.Sequential(conv_bn_relu(5, channels), conv_bn_relu(channels, channels))
        self.level2 = nn.Sequential(conv_bn_relu(channels, channels), conv_bn_relu(channels, channels))
        self.level3 = nn.Sequential(conv_bn_relu(channels, channels), conv_bn_relu(channels, channels))
        self.head = nn.Conv2d(5 + 3 * channels, feature_dim - 5, 3, padding=1)

    @staticmethod
    def downsample(x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)  # output ceil(H / 2)

    def upsample_levels(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor,
                        context: Dict[str, torch.Tensor]) -> List[torch.Tensor]:
        """Bring the coarse levels to full resolution (SSN: bilinear)."""
        size = x1.shape[-2:]
        return [F.interpolate(x, size=size, mode="bilinear", align_corners=ALIGN_CORNERS) for x in (x2, x3)]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        context: Dict[str, torch.Tensor] = {}
        x1 = self.level1(inputs)
        x2 = self.level2(self.down_with_context(x1, 1, context))
        x3 = self.level3(self.down_with_context(x2, 2, context))
        up2, up3 = self.upsample_levels(x1, x2, x3, context)
        learned = self.head(torch.cat((inputs, x1, up2, up3), dim=1))
        return torch.cat((inputs, learned), dim=1)

    def down_with_context(self, x: torch.Tensor, level: int, context: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Downsampling layer ``level`` (1 or 2); subclasses record what upsampling needs in ``context``."""
        return self.downsample(x)


@SUPERPIXEL_METHODS.register("ssn")
class SSN(nn.Module, SuperpixelMethod):
    """Superpixel Sampling Network (deep features + differentiable SLIC).

    Args:
        feature_dim: pixel feature dimensions ``k`` including the 5 input features (20 in SSN).
        channels: channels of the feature CNN's convs (64 in SSN); smaller for fast tests.
        train_iterations / test_iterations: SLIC iterations (5 / 10 in SSN).
        train_superpixels: grid size used by :meth:`forward` when none is given.
        compactness_weight: lambda of the compactness loss (1e-5 in SSN).
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, channels: int = CONV_CHANNELS,
                 train_iterations: int = TRAIN_ITERATIONS, test_iterations: int = TEST_ITERATIONS,
                 train_superpixels: int = TRAIN_SUPERPIXELS, compactness_weight: float = COMPACTNESS_WEIGHT):
        super().__init__()
        self.features = self.build_feature_net(feature_dim, channels)
        self.train_iterations = int(train_iterations)
        self.test_iterations = int(test_iterations)
        self.train_superpixels = int(train_superpixels)
        self.compactness_weight = float(compactness_weight)

    def build_feature_net(self, feature_dim: int, channels: int) -> nn.Module:
        return SSNFeatureNet(feature_dim, channels)

    @property
    def iterations(self) -> int:
        return self.train_iterations if self.training else self.test_iterations

    def forward(self, image: torch.Tensor, n_superpixels: Optional[int] = None) -> Dict[str, torch.Tensor]:
        """``image`` ``(B, 3, H, W)`` in [0, 1] -> dict with ``assign`` ``(B, 9, H, W)``, ``cell``,
        ``inputs`` (the scaled Lab/XY features), ``features``, ``seeds``."""
        n = self.train_superpixels if n_superpixels is None else int(n_superpixels)
        cell = grid_cell_size(image.shape[-2:], n)
        inputs = lab_xy_features(image, cell)
        features = self.features(inputs)
        slic = differentiable_slic(features, cell, self.iterations)
        return {"assign": slic["assign"], "seeds": slic["seeds"], "features": features, "inputs": inputs,
                "cell": torch.tensor(cell)}

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor]
             ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Label reconstruction cross-entropy + ``compactness_weight`` x compactness (SSN Sec. 4)."""
        assign, cell = outputs["assign"], int(outputs["cell"])
        reconstruction = label_reconstruction_loss(assign, batch["labels"], cell)
        # compactness: each pixel's scaled position against its hard superpixel's (soft-pooled) position
        positions = outputs["inputs"][:, 3:5]
        coarse_hw = coarse_size(assign.shape[-2:], cell)
        superpixel_positions = pool_to_cells(positions, assign, cell, coarse_hw)
        valid = candidate_validity(assign.shape[-2:], coarse_hw, cell, assign.device)
        hard_positions = decode(superpixel_positions, hard_assignment(assign, valid), cell)
        compactness = ((positions - hard_positions) ** 2).sum(dim=1).mean()
        total = reconstruction + self.compactness_weight * compactness
        return total, {"reconstruction": reconstruction.detach(), "compactness": compactness.detach()}

    @torch.no_grad()
    def superpixel_ids(self, image: torch.Tensor, n_superpixels: int) -> torch.Tensor:
        """Hard ids ``(H, W)`` before connectivity enforcement (eval mode, test iterations)."""
        was_training = self.training
        self.eval()
        try:
            outputs = self.forward(image.unsqueeze(0), n_superpixels)
        finally:
            self.train(was_training)
        return superpixel_ids(outputs["assign"], int(outputs["cell"]))[0]

    def segment(self, image: torch.Tensor, n_superpixels: int) -> torch.Tensor:
        """``(3, H, W)`` in [0, 1] -> ``(H, W)`` int64 superpixel ids, contiguous, 4-connected."""
        check_segment_input(image, n_superpixels, type(self).__name__)
        return finish_segmentation(self.superpixel_ids(image, n_superpixels), n_superpixels)


SSN.name = "ssn"
SSN.trainable = True  # trained by the engine (a checkpoint, resumable)
# Jampani et al. 2018 Sec. 4 (not in ../shared/papers): Adam, lr 1e-4, batches of 8 random 201x201
# crops, 500K iterations.
SSN.paper_training = {"optimizer": "adam", "lr": 1e-4, "lr_policy": "constant", "batch_size": 8, "crop": (201, 201),
                      "iters": 500_000}
