"""Soft-label downsampling (Alcover-Couso et al.): labels resampled with the colour kernel, KL loss.

The sampler is the uniform grid (this method changes how *labels* are downsampled, not where
the image is sampled); evaluation is identical to ``uniform`` (bilinear unsampling). Training
labels are class-fraction maps (``benchmark.ops.soft_labels``) and the loss is the KL divergence of
eq. 4, over all pixels (``mc=True``) or only single-class pixels (``mc=False``, Table III).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

import torch

from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import Size, uniform_grid
from benchmark.ops.soft_labels import DEFAULT_VALID_THRESHOLD, LABEL_MODES
from methods.soft_labels.loss import kl_soft_loss
from methods.base import DownsamplingMethod, MethodConfig

IMAGE_MODES = ("bilinear", "bicubic", "nearest")


@dataclasses.dataclass
class SoftLabelsConfig(MethodConfig):
    label_mode: str = "soft-bilinear"      # nearest, soft-bilinear, soft-bicubic, soft-area
    mc: bool = True                        # include multi-class pixels in the loss (Table III)
    valid_threshold: float = DEFAULT_VALID_THRESHOLD  # ignore low-res pixels with less valid mass


@METHODS.register("soft_labels")
class SoftLabels(DownsamplingMethod):
    """Uniform grid; bilinear colour and soft-bilinear labels (paired kernels); KL loss, MC on."""

    name = "soft_labels"
    studies = ("priors",)
    Config = SoftLabelsConfig

    def __init__(self, config: Optional[SoftLabelsConfig] = None, **overrides: Any):
        super().__init__(config, **overrides)
        cfg = self.config
        if cfg.label_mode not in LABEL_MODES:
            raise DsbenchError(f"soft_labels option label_mode={cfg.label_mode!r} unknown; use one of {', '.join(LABEL_MODES)}")
        if cfg.image_mode not in IMAGE_MODES:
            raise DsbenchError(f"soft_labels option image_mode={cfg.image_mode!r} unknown; use one of {', '.join(IMAGE_MODES)}")
        if not isinstance(cfg.mc, bool):
            raise DsbenchError(f"soft_labels option mc={cfg.mc!r} must be true or false")
        if not 0.0 <= float(cfg.valid_threshold) <= 1.0:
            raise DsbenchError(f"soft_labels option valid_threshold={cfg.valid_threshold} must be in [0, 1], e.g. 0.5")
        self.label_mode = cfg.label_mode

    def label_options(self) -> Dict[str, Any]:
        """Extra keyword options for ``downsample_labels`` (the engine passes them with num_classes)."""
        return {"valid_threshold": float(self.config.valid_threshold)} if self.label_mode != "nearest" else {}

    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        return uniform_grid(image_hr.shape[0], size_lr, image_hr.device, image_hr.dtype)

    def loss(self, logits_lr: torch.Tensor, labels_lr: torch.Tensor, extras: Dict[str, torch.Tensor]) -> torch.Tensor:
        return kl_soft_loss(logits_lr, labels_lr, mc=self.config.mc, valid_threshold=float(self.config.valid_threshold),
                            class_weights=self.loss_class_weights)
