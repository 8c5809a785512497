"""Suzuki's soft clustering at a downsampling layer, and decoding a prediction through it.

Conventions
-----------
* A clustering module sits at one downsampling layer of stride 2 (``cell = 2``): the fine
  features ``x`` are the layer's input ``(B, Cf, H, W)``, the seeds ``s = d(x)`` its output
  ``(B, Cc, h, w)`` with ``h = ceil(H / 2)``, ``w = ceil(W / 2)`` (a 3x3 stride-2 conv with
  padding 1, or pooling with ``ceil_mode=True``; odd sizes are fine).
* Each fine pixel is assigned among the 9 seeds around its own cell, in the candidate order of
  ``benchmark.ops.cell_association`` (row-major offsets, index 4 = own cell); seeds outside
  the grid get exactly zero weight. An assignment is ``(B, 9, H, W)``.
* The similarity is the cosine of the 1x1 projections ``W x`` and ``W~ s`` into ``K`` = 64
  dimensions (Sec. 3.2; Appendix B's listing omits the normalisation, the text defines S as
  the cosine similarity). Soft assignment: temperature softmax, eq. 4, tau = 0.07. Hard
  assignment: argmax, eq. 1, ties to the lowest candidate index.
* :func:`decode_hierarchy` takes the assignments **coarsest first**, the order in which they
  are applied to the coarsest prediction (eq. 3's product over s' = 16, 8, 4, 2, 1).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.ops.cell_association import (
    candidate_inner_products, candidate_validity, coarse_size, decode, hard_assignment, masked_softmax,
)
from benchmark.ops.sampling import ALIGN_CORNERS

STRIDE = 2  # every clustering module sits at a stride-2 downsampling layer
PAPER_TAU = 0.07
PAPER_EMBED_DIM = 64


class SoftClustering(nn.Module):
    """Assign each fine pixel to the 9 surrounding coarse seeds (Suzuki Sec. 3.2, eqs. 1 and 4).

    Args:
        fine_channels: ``Cf``, channels of the features before the strided block.
        coarse_channels: ``Cc``, channels of the seeds after it.
        embed_dim: ``K`` of the projections ``W`` and ``W~`` (64 in the paper).
        tau: softmax temperature (0.07 in the paper); its initial value if learnable.
        learnable_tau: learn tau (as ``log tau``, so it stays positive). NOT in the paper,
            which fixes tau = 0.07 and describes no penalty on it; see :meth:`tau_penalty`.
        hard: in eval mode, return the one-hot argmax (eq. 1) instead of the softmax. Training
            mode is always soft, so that gradients flow.
    """

    def __init__(
        self,
        fine_channels: int,
        coarse_channels: int,
        embed_dim: int = PAPER_EMBED_DIM,
        tau: float = PAPER_TAU,
        learnable_tau: bool = False,
        hard: bool = False,
    ):
        super().__init__()
        if not tau > 0:
            raise DsbenchError(f"soft clustering temperature tau={tau} must be positive (the paper uses 0.07)")
        # bias-free 1x1 projections, as in the paper's Appendix B
        self.project_fine = nn.Conv2d(fine_channels, embed_dim, kernel_size=1, bias=False)  # W
        self.project_seeds = nn.Conv2d(coarse_channels, embed_dim, kernel_size=1, bias=False)  # W~
        self.learnable_tau = bool(learnable_tau)
        self.hard = bool(hard)
        if self.learnable_tau:
            self.log_tau = nn.Parameter(torch.tensor(math.log(tau)))
        else:
            self.fixed_tau = float(tau)

    @property
    def tau(self) -> Union[float, torch.Tensor]:
        return self.log_tau.exp() if self.learnable_tau else self.fixed_tau

    def tau_penalty(self) -> torch.Tensor:
        """L1 penalty ``|tau|`` (a scalar tensor); exactly 0 when tau is fixed.

        Not from the paper (Suzuki fixes tau = 0.07 and states no penalty). With a learnable
        tau, ``|tau|`` pulls the softmax towards its tau -> 0 limit, the hard assignment of
        eq. 1 used at evaluation, so training and evaluation decode alike. The trainer picks
        the weight: ``loss + weight * module.tau_penalty()``.
        """
        if self.learnable_tau:
            return self.tau.abs()
        return self.project_fine.weight.new_zeros(())

    def similarities(self, fine: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        """Cosine similarity ``(B, 9, H, W)`` of each pixel to its 9 candidate seeds.

        Invalid candidates read 0; they are masked out by :meth:`forward`, never scored.
        """
        if fine.dim() != 4 or seeds.dim() != 4 or fine.shape[0] != seeds.shape[0]:
            raise ValueError(f"fine {tuple(fine.shape)} and seeds {tuple(seeds.shape)} must be (B, C, H, W), one batch")
        fine_unit = F.normalize(self.project_fine(fine), dim=1)  # (B, K, H, W)
        seeds_unit = F.normalize(self.project_seeds(seeds), dim=1)  # (B, K, h, w)
        return candidate_inner_products(fine_unit, seeds_unit, STRIDE)

    def forward(self, fine: torch.Tensor, seeds: torch.Tensor, hard: Optional[bool] = None) -> torch.Tensor:
        """Assignment ``(B, 9, H, W)`` of the fine pixels to the seeds.

        ``hard`` overrides the module's setting: None means ``self.hard and not self.training``.
        """
        scores = self.similarities(fine, seeds)
        valid = candidate_validity(fine.shape[-2:], seeds.shape[-2:], STRIDE, fine.device)
        use_hard = (self.hard and not self.training) if hard is None else hard
        if use_hard:
            return hard_assignment(scores, valid)
        return masked_softmax(scores, valid, self.tau)


def decode_hierarchy(
    coarse_pred: torch.Tensor,
    assignments: Sequence[torch.Tensor],
    output_hw: Optional[Sequence[int]] = None,
    cell: int = STRIDE,
) -> torch.Tensor:
    """Decode the coarsest prediction through the clustering levels, then bilinear (eq. 3).

    Args:
        coarse_pred: ``(B, C, h, w)`` prediction (logits or features) at the coarsest level.
        assignments: ``(B, 9, H_l, W_l)`` per clustered level, **coarsest first**: the first
            maps ``(h, w)`` to ``(H_0, W_0)`` with ``h = ceil(H_0 / cell)``, and so on.
        output_hw: final size; the levels without clustering are bridged by bilinear
            upsampling (``align_corners`` as in ``benchmark.ops.sampling``). None: stop at the
            finest clustered level.
    Returns:
        ``(B, C, *output_hw)``, or the finest level's size.
    """
    pred = coarse_pred
    for level, assign in enumerate(assignments):
        expected = coarse_size(assign.shape[-2:], cell)
        if tuple(pred.shape[-2:]) != expected:
            raise ValueError(
                f"assignment {level} {tuple(assign.shape)} expects a {expected} prediction, got "
                f"{tuple(pred.shape[-2:])}: assignments go coarsest first"
            )
        pred = decode(pred, assign, cell)
    if output_hw is not None and tuple(pred.shape[-2:]) != tuple(output_hw):
        pred = F.interpolate(pred, size=tuple(output_hw), mode="bilinear", align_corners=ALIGN_CORNERS)
    return pred
