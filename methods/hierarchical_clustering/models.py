"""Suzuki's HC models: existing segmentation models on the hierarchical-clustering backbone.

Registered in ``MODELS`` like every model (``MODELS.create("hcpspnet", 19, encoder="resnet50")``),
so the engine trains and evaluates them unchanged. Each is its base model at output stride 32
whose upsampling from the clustered strides decodes through the cluster assignments (Suzuki eq.
3) instead of bilinear interpolation; the levels without clustering stay bilinear.

* ``hcfcn32``: FCN-32s; the stride-32 logits are decoded level by level, then bilinear.
* ``hcfpn``: FPN; its decoder's 2x upsamplings (top-down pathway and semantic head) from a
  clustered stride decode through that level's assignment.
* ``hcpspnet``, ``hcdeeplabv3``: PSPNet / DeepLabv3 heads on the stride-32 backbone
  ("clustering instead of atrous convolution"), logits decoded as for ``hcfcn32``. The heads
  keep the hyper-parameters of their stride-8 originals (Sec. 4.2: "we adopt the same
  hyperparameters"): PSP bins (1, 2, 3, 6) and ASPP rates (12, 24, 36).

Model options (``MODELS.create(key, ..., **options)``), besides the base model's own:
``hc_levels`` (0..4, default 2 as in Sec. 4.2 and Table 1; 0 = the plain model at stride 32),
``hc_branch`` (``identity`` / ``residual`` / ``block``, default ``block``, Table 1), ``tau``
(0.07), ``hard`` (one-hot argmax assignments in eval mode, eq. 1), ``dcn`` (DCNv2 downsampling,
Appendix A; default False).

Assignments: set ``model.save_assignment = True`` and, after a forward pass,
:meth:`HierarchicalClusteringModel.last_assignment` returns the finest clustered level's
assignment ``(B, 9, H, W)`` or its cluster-id map ``(B, H, W)``, and
:meth:`HierarchicalClusteringModel.last_clusters` the final clusters (Suzuki Fig. 3): each cell of
the finest clustered level's grid followed through every level to its coarsest-level seed.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch

from benchmark.errors import DsbenchError
from benchmark.models.base import SegmentationModel, register_model
from benchmark.models.blocks import resize_to
from benchmark.models.deeplabv3 import DeepLabV3
from benchmark.models.deeplabv3plus import atrous_rates as rates_for_output_stride
from benchmark.models.encoder import DEFAULT_ENCODER
from benchmark.models.fcn import FCN32
from benchmark.models.fpn import FPN
from benchmark.models.pspnet import PSPNet
from benchmark.ops.cell_association import candidate_offsets, candidate_validity, coarse_size, decode
from methods.hierarchical_clustering.backbone import (
    PAPER_BRANCH, PAPER_LEVELS, HierarchicalClusteringBackbone,
)
from methods.hierarchical_clustering.clustering import PAPER_TAU, STRIDE, decode_hierarchy

HC_OUTPUT_STRIDE = 32


def cluster_ids(assign: torch.Tensor) -> torch.Tensor:
    """``(B, 9, H, W)`` assignment -> ``(B, H, W)`` int64 id ``m * w + n`` of each pixel's chosen seed.

    The argmax over the valid candidates (ties to the lowest index, as the hard assignment);
    ``(m, n)`` is the seed's cell in the ``ceil(H / 2) x ceil(W / 2)`` grid.
    """
    H, W = assign.shape[-2:]
    h, w = coarse_size((H, W), STRIDE)
    valid = candidate_validity((H, W), (h, w), STRIDE, assign.device)
    choice = assign.detach().masked_fill(~valid, float("-inf")).argmax(dim=1)  # (B, H, W), first max
    offsets = torch.tensor(candidate_offsets(), device=assign.device)  # (9, 2)
    rows = torch.arange(H, device=assign.device)[:, None] // STRIDE + offsets[choice][..., 0]
    cols = torch.arange(W, device=assign.device)[None, :] // STRIDE + offsets[choice][..., 1]
    return rows * w + cols


class HierarchicalClusteringModel(SegmentationModel):
    """Mixin for an HC variant of a model: put it first, ``class HCX(HierarchicalClusteringModel, X)``.

    It swaps ``self.encoder`` for the HC backbone (same body and parameter names, plus the
    clustering projections under ``encoder.clustering``) and, in :meth:`forward`, decodes the
    logits through the assignments of the levels at or below the logits' stride; decoders that
    upsample internally (FPN) consult :meth:`assignment_from` for the strides above it.
    """

    default_output_stride = HC_OUTPUT_STRIDE

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 hc_levels: int = PAPER_LEVELS, hc_branch: str = PAPER_BRANCH, tau: float = PAPER_TAU,
                 hard: bool = False, dcn: bool = False, **base_options):
        super().__init__(num_classes, encoder, output_stride, **base_options)
        self.encoder = HierarchicalClusteringBackbone(self.encoder, hc_levels, hc_branch, tau=tau, hard=hard, dcn=dcn)
        self.save_assignment = False
        self._last_assignments: List[torch.Tensor] = []  # coarsest first, as take_assignments gives them
        self._assignment_by_stride: Dict[int, torch.Tensor] = {}

    @property
    def logits_stride(self) -> int:
        """Nominal stride of :meth:`decode`'s output (the deepest feature's, unless overridden)."""
        return self.encoder.reductions[-1]

    def assignment_from(self, stride: int, size: Sequence[int]) -> Optional[torch.Tensor]:
        """The current assignment decoding stride ``stride`` to a map of ``size``, or None."""
        assign = self._assignment_by_stride.get(int(stride))
        if assign is None or tuple(assign.shape[-2:]) != tuple(int(s) for s in size):
            return None
        return assign

    def coarse_logits(self, image: torch.Tensor) -> torch.Tensor:
        """The decoder's output before any assignment decoding (the feed-forward path only)."""
        features = self.encoder(image)
        self.encoder.take_assignments()
        return self.decode(features)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.encoder(image)
        pairs = self.encoder.take_assignments()
        if self.save_assignment:
            self._last_assignments = [assign.detach() for _, assign in pairs]
        # levels above the logits' stride are decoded inside decode() (FPN), the rest after it
        self._assignment_by_stride = {level.coarse_stride: assign for level, assign in pairs
                                      if level.coarse_stride > self.logits_stride}
        after = [assign for level, assign in pairs if level.coarse_stride <= self.logits_stride]
        try:
            logits = self.decode(features)
        finally:
            self._assignment_by_stride = {}
        return decode_hierarchy(logits, after, tuple(image.shape[-2:]))

    def last_assignment(self, as_cluster_ids: bool = False) -> torch.Tensor:
        """Finest clustered level's assignment of the latest forward: ``(B, 9, H, W)`` or ids ``(B, H, W)``.

        Needs ``model.save_assignment = True`` before the forward pass (kept detached).
        """
        finest = self._saved_assignments()[-1]
        return cluster_ids(finest) if as_cluster_ids else finest

    def last_clusters(self) -> torch.Tensor:
        """``(B, H, W)`` int64 final cluster of each cell of the finest clustered level (grid ``H x W``).

        The hard assignment of every level composed, coarsest seed last: the id is ``m * w + n``
        of the seed in the coarsest level's ``h x w`` seed grid (``HW / 32^2`` clusters of the
        input at output stride 32, as in Suzuki Fig. 3). Needs ``save_assignment`` as above.
        """
        levels = self._saved_assignments()
        clusters = cluster_ids(levels[0])  # (B, H_1, W_1): ids in the coarsest seed grid
        for assign in levels[1:]:
            # each finer cell's seed is a cell of the coarser grid: take that cell's cluster
            seeds = cluster_ids(assign)
            clusters = clusters.flatten(1).gather(1, seeds.flatten(1)).view_as(seeds)
        return clusters

    def _saved_assignments(self) -> List[torch.Tensor]:
        if not self._last_assignments:
            reason = ("the model has hc_levels=0" if not self.encoder.clustered else
                      "set model.save_assignment = True and run a forward pass first")
            raise DsbenchError(f"{self.key}: no assignment saved; {reason}")
        return self._last_assignments


@register_model("hcfcn32")
class HCFCN32(HierarchicalClusteringModel, FCN32):
    """HCFCN-32 (Suzuki): FCN-32s whose stride-32 logits are decoded through the clusters."""


@register_model("hcfpn")
class HCFPN(HierarchicalClusteringModel, FPN):
    """HCFPN (Suzuki): FPN whose decoder upsamples from clustered strides through the clusters."""

    @property
    def logits_stride(self) -> int:
        return self.finest

    def upsample(self, x: torch.Tensor, stride: int, size: Sequence[int]) -> torch.Tensor:
        assign = self.assignment_from(stride, size)
        return resize_to(x, size) if assign is None else decode(x, assign, STRIDE)


@register_model("hcpspnet")
class HCPSPNet(HierarchicalClusteringModel, PSPNet):
    """HCPSPNet (Suzuki): the PSP head on the stride-32 HC backbone, logits decoded through the clusters."""


@register_model("hcdeeplabv3")
class HCDeepLabV3(HierarchicalClusteringModel, DeepLabV3):
    """HCDeepLabv3 (Suzuki): the ASPP head on the stride-32 HC backbone, logits decoded through the clusters.

    ASPP rates default to DeepLabv3's at its own output stride 8, (12, 24, 36), not rescaled
    to stride 32: Suzuki keeps the original hyper-parameters.
    """

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, output_stride: Optional[int] = None,
                 hc_levels: int = PAPER_LEVELS, hc_branch: str = PAPER_BRANCH, tau: float = PAPER_TAU,
                 hard: bool = False, dcn: bool = False, **base_options):
        base_options.setdefault("atrous_rates", rates_for_output_stride(DeepLabV3.default_output_stride))
        super().__init__(num_classes, encoder, output_stride, hc_levels=hc_levels, hc_branch=hc_branch, tau=tau,
                         hard=hard, dcn=dcn, **base_options)


__all__ = ["HCFCN32", "HCFPN", "HCPSPNet", "HCDeepLabV3", "HierarchicalClusteringModel", "cluster_ids"]
