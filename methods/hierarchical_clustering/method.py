"""Suzuki's hierarchical clustering as a member of the network-downsampling track.

``wrap(model)`` turns a segmentation model into its HC variant (:mod:`.models`): the same
feed-forward weights (copied by name; the encoder runs at output stride 32, as Suzuki's HC
backbones replace atrous convolution by clustering), plus the clustering projections, and
decoding through the assignments instead of bilinear upsampling. A run is then
``method: hierarchical_clustering`` with ``model: fcn32`` (HCFCN-32), ``fpn`` (HCFPN), ``pspnet``
(HCPSPNet) or ``deeplabv3`` (HCDeepLabv3); the models' options are this method's options.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping

import torch
import torch.nn as nn

from benchmark.errors import DsbenchError
from benchmark.registry import MODELS, NETWORK_METHODS
from benchmark.results import METRICS, make_row
from methods.base import MethodConfig, NetworkDownsamplingMethod
from methods.hierarchical_clustering.clustering import PAPER_TAU
from methods.hierarchical_clustering.models import PAPER_BRANCH, PAPER_LEVELS

# Base model key -> its HC variant's key.
HC_VARIANT = {"fcn32": "hcfcn32", "fpn": "hcfpn", "pspnet": "hcpspnet", "deeplabv3": "hcdeeplabv3"}


# Suzuki Fig. 3 rows: the edges between cells of different final clusters, and between cells of
# different labels (the label at each cell's centre), of the finest clustered level's grid; one
# row per edge, value and size_bin = row-major index of the cell left of / above it, stage =
# CLUSTER_GRID_STAGE with the grid size and the direction. Edges, not every cell, and a grid of at
# most MAX_CLUSTER_CELLS (finer grids subsampled at cell centres): a few hundred rows per run.
CLUSTER_METRIC = "cluster_boundary"
LABEL_METRIC = "label_boundary"
CLUSTER_GRID_STAGE = "cells={h}x{w},{direction}"  # direction: right or down
MAX_CLUSTER_CELLS = 32 * 64  # the stride-8 grid of a 256x512 input (level 2, the paper's model)


def cell_edges(grid: torch.Tensor):
    """``(direction, row-major index)`` of every edge between 4-neighbouring cells of ``grid`` that differ."""
    w = grid.shape[1]
    for direction, differs in (("right", grid[:, :-1] != grid[:, 1:]), ("down", grid[:-1] != grid[1:])):
        rows, cols = differs.nonzero(as_tuple=True)
        yield from ((direction, int(r) * w + int(c)) for r, c in zip(rows, cols))


@dataclasses.dataclass
class HierarchicalClusteringConfig(MethodConfig):
    levels: int = PAPER_LEVELS        # clustered downsampling layers, 0..4 (Fig 5); 0 = the plain model
    branch: str = PAPER_BRANCH        # seeds from the identity / residual / block branch (Table 1)
    tau: float = PAPER_TAU            # softmax temperature (eq. 4)
    hard: bool = False                # argmax assignments at evaluation (eq. 1)
    dcn: bool = False                 # DCNv2 downsampling (Appendix)


@NETWORK_METHODS.register("hierarchical_clustering")
class HierarchicalClustering(NetworkDownsamplingMethod):
    name = "hierarchical_clustering"
    Config = HierarchicalClusteringConfig

    def wrap(self, model: nn.Module) -> nn.Module:
        key = getattr(model, "key", "")
        if key not in HC_VARIANT:
            raise DsbenchError(f"hierarchical_clustering wraps {', '.join(sorted(HC_VARIANT))}, not {key or type(model).__name__}; "
                               f"pick one of those models")
        c = self.config
        hc = MODELS.create(HC_VARIANT[key], model.num_classes, encoder=model.encoder_name, hc_levels=c.levels,
                           hc_branch=c.branch, tau=c.tau, hard=c.hard, dcn=c.dcn)
        unexpected = hc.load_state_dict(model.state_dict(), strict=False).unexpected_keys
        if unexpected:  # the HC variant must hold every weight of its base model
            raise DsbenchError(f"hierarchical_clustering: {key}'s weights {unexpected[:3]} have no place in {hc.key}")
        return hc

    def evaluation_rows(self, pipeline: nn.Module, dataset: Any, identity: Mapping[str, Any],
                        provenance: Mapping[str, Any]) -> List[Dict[str, Any]]:
        """The final clusters of the eval split's first image (Suzuki Fig. 3); none at levels 0."""
        model = pipeline.model
        if not model.encoder.clustered:
            return []
        sample = dataset[0]
        image = sample["image"].unsqueeze(0).to(next(model.parameters()).device)
        model.save_assignment = True
        try:
            with torch.inference_mode():
                pipeline.predict(image)
            clusters = model.last_clusters()[0].cpu()  # (h, w) final cluster of each cell
        finally:
            model.save_assignment = False
        step = 1
        while (clusters.shape[0] // step) * (clusters.shape[1] // step) > MAX_CLUSTER_CELLS:
            step *= 2
        clusters = clusters[step // 2::step, step // 2::step]
        h, w = clusters.shape
        labels = sample["labels"]  # (H, W) train ids at full resolution
        rows_at = (torch.arange(h) * 2 + 1) * labels.shape[0] // (2 * h)  # cell centres
        cols_at = (torch.arange(w) * 2 + 1) * labels.shape[1] // (2 * w)
        cell_labels = labels[rows_at][:, cols_at]
        out = []
        for metric, grid in ((CLUSTER_METRIC, clusters), (LABEL_METRIC, cell_labels)):
            out += [make_row(identity, metric, index, METRICS[metric], provenance=provenance, size_bin=str(index),
                             stage=CLUSTER_GRID_STAGE.format(h=h, w=w, direction=direction))
                    for direction, index in cell_edges(grid)]
        return out
