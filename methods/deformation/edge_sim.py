"""Simulated "edge-based" samplers (Jin et al. 2022, Sec. 2.2 and A.5): the ``edge_sim`` baseline.

Jin approximates Marin's edge-based downsampling without its auxiliary network: the label's
boundaries, blurred with a Gaussian of a given radius, are the deformation map of the same
Gaussian-kernel sampler the learned method uses (eq. 3). A small radius samples densely right at
the edges; a large one spreads the samples (the role of Marin's lambda). Nothing is learned:
one segmentation network is trained per radius (a workflow sweep, Fig 14) and the best radius is
reported as the "edge-based" baseline.

Oracle: the map is computed from the ground truth, at training *and at evaluation* (A.5 has no
predictor of the map; Fig 3a's IoU(Y', Y) is computed from the labels too). So this is an upper
bound on what an edge-based sampler with a perfect edge detector gives, not a deployable method;
results must be labelled as such. ``uses_labels_at_eval = True`` tells the engine to pass the
labels to ``sampler`` at evaluation; without labels the sampler raises.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional

import torch

from methods.deformation.sampler import auto_sigma, deformed_grid, simulated_edge_map
from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import Size, check_size
from methods.base import DownsamplingMethod, MethodConfig


@dataclasses.dataclass
class EdgeSimConfig(MethodConfig):
    radius: float = 2.0           # Gaussian blur std of the label edges, in deformation-map pixels (Fig 14)
    sigma_frac: float = 0.125     # eq. 3 kernel std / shorter map side (same as the learned method)
    map_scale: int = 2            # deformation map at 1x or 2x the low-res size
    floor: float = 1e-3           # density added everywhere (relative to the edge peak of 1)
    unsample: str = "nearest"     # "nearest" (Pi) or "barycentric"


@METHODS.register("edge_sim")
class EdgeSim(DownsamplingMethod):
    """Fixed sampler from blurred ground-truth edges (an oracle; see the module docstring)."""

    name = "edge_sim"
    Config = EdgeSimConfig
    label_mode = "nearest"
    uses_labels_at_train: ClassVar[bool] = True
    uses_labels_at_eval: ClassVar[bool] = True

    def __init__(self, config: Optional[EdgeSimConfig] = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        if c.radius < 0 or c.floor <= 0 or c.map_scale not in (1, 2):
            raise DsbenchError(f"edge_sim: need radius >= 0, floor > 0 and map_scale 1 or 2 "
                               f"(got {c.radius}, {c.floor}, {c.map_scale})")
        if c.unsample not in ("nearest", "barycentric"):
            raise DsbenchError(f"edge_sim: unsample={c.unsample!r}; use nearest or barycentric")
        auto_sigma((1, 1), c.sigma_frac)
        self.unsample_mode = c.unsample

    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        if labels_hr is None:
            raise DsbenchError("edge_sim is an oracle sampler built from ground-truth edges (Jin A.5): it needs "
                               "labels_hr at evaluation too; the engine passes them when uses_labels_at_eval is True")
        h, w = check_size(size_lr)
        map_size = (h * self.config.map_scale, w * self.config.map_scale)
        d = simulated_edge_map(labels_hr.long(), map_size, self.config.radius, self.config.floor)  # (B, 1, hd, wd)
        sigma = auto_sigma(map_size, self.config.sigma_frac)
        return deformed_grid(d.to(image_hr.dtype), sigma, (h, w))

    def skip_reason(self, *, dataset: str, model: str, size_lr: Size, size_hr: Optional[Size] = None) -> Optional[str]:
        if min(size_lr) < 2:
            return f"edge_sim needs at least 2 samples per axis, got {tuple(size_lr)}"
        return None
