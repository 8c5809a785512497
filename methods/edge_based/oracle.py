"""``edge_based_oracle``: Marin's ground-truth sampling tensor as the sampler (an upper bound).

The tensor that minimises energy (2) under the covering constraints (3) for the image's own labels
(:func:`methods.edge_based.sampling_tensor.sampling_grid`, the aux net's training target) is
computed at the requested low resolution and used as the grid, at training and at evaluation:
what the edge-based method would give with a perfect auxiliary net. Nothing is learned; like
``edge_sim`` it needs the labels at evaluation (``uses_labels_at_eval``), so its results are an
oracle's and must be labelled as such. Nearest labels, barycentric unsampling (Sec. 3.3).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional, Tuple, Union

import torch

from benchmark.errors import DsbenchError
from benchmark.ops.sampling import Size, check_size
from benchmark.registry import METHODS
from methods.base import DownsamplingMethod, MethodConfig
from methods.edge_based.method import resolve_target_classes
from methods.edge_based.sampling_tensor import sampling_grid


@METHODS.register("edge_based_oracle")
class EdgeBasedOracle(DownsamplingMethod):
    """Grid = Marin's ground-truth sampling tensor of the labels (see the module docstring)."""

    name = "edge_based_oracle"
    label_mode = "nearest"
    unsample_mode = "barycentric"
    uses_labels_at_train: ClassVar[bool] = True
    uses_labels_at_eval: ClassVar[bool] = True

    @dataclasses.dataclass
    class Config(MethodConfig):
        lam: float = 1.0                         # lambda of energy (2), as edge_based's aux-net targets
        target_classes: Optional[Tuple[Union[int, str], ...]] = None  # None: all classes

    def __init__(self, config: Optional[MethodConfig] = None, **overrides):
        super().__init__(config, **overrides)
        self.target_ids = resolve_target_classes(self.config.target_classes)

    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        if labels_hr is None:
            raise DsbenchError("edge_based_oracle computes its grid from the ground truth (Marin's sampling tensor): "
                               "it needs labels_hr at evaluation too; the engine passes them when "
                               "uses_labels_at_eval is True")
        grid = sampling_grid(labels_hr.long(), check_size(size_lr), self.config.lam, self.target_ids)
        return grid.to(device=image_hr.device, dtype=image_hr.dtype)
