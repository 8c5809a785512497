"""Uniform downsampling: the baseline every method is compared against."""
from __future__ import annotations

from typing import Optional

import torch

from benchmark.registry import METHODS
from benchmark.ops.sampling import Size, uniform_grid
from methods.base import DownsamplingMethod


@METHODS.register("uniform")
class Uniform(DownsamplingMethod):
    """Marin's uniform tensor ``u_ij = (i-1)/(h-1)``: bilinear image, nearest labels,
    bilinear unsampling (``align_corners=True``)."""

    name = "uniform"

    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        return uniform_grid(image_hr.shape[0], size_lr, image_hr.device, image_hr.dtype)
