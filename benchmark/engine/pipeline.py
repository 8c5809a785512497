"""sample -> segment -> unsample: one module holding a method and a segmentation network."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from benchmark.data import normalize
from benchmark.ops.sampling import Size, downsample_labels, unsample


class SegmentationPipeline(nn.Module):
    """The whole inference path of ARCHITECTURE.md. Both parts are trained together, so a
    learned sampler's parameters live in the same optimiser and checkpoint as the network's."""

    def __init__(self, method: nn.Module, model: nn.Module, size_lr: Size, num_classes: int):
        super().__init__()
        self.method = method
        self.model = model
        self.size_lr = tuple(size_lr)
        self.num_classes = num_classes

    def sample(self, image_hr: torch.Tensor, labels_hr: Optional[torch.Tensor] = None,
               size_lr: Optional[Size] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Grid ``(B, h, w, 2)`` and low-res image ``(B, 3, h, w)``; ``size_lr`` replaces the run's
        resolution (multi-scale evaluation samples at scaled sizes)."""
        grid_lr = self.method.sampler(image_hr, tuple(size_lr or self.size_lr), labels_hr)
        image_lr = self.method.downsample_image(image_hr, grid_lr)
        return grid_lr, image_lr

    def training_loss(self, image_hr: torch.Tensor, labels_hr: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        # Ground-truth-driven samplers (oracle studies) see the labels; learned ones never do.
        oracle = labels_hr if self.method.uses_labels_at_train else None
        grid_lr, image_lr = self.sample(image_hr, oracle)
        labels_lr = downsample_labels(labels_hr, grid_lr, self.method.label_mode, num_classes=self.num_classes,
                                      **self.method.label_options())  # ids (B,h,w) or soft (B,K,h,w)
        logits_lr = self.model(normalize(image_lr))  # (B, K, h, w)
        extras = {"grid_lr": grid_lr, "image_hr": image_hr, "labels_hr": labels_hr, "image_lr": image_lr}
        loss = self.method.loss(logits_lr, labels_lr, extras)
        return loss, extras

    def predict(self, image_hr: torch.Tensor, labels_hr: Optional[torch.Tensor] = None,
                size_lr: Optional[Size] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Logits at the original resolution ``(B, K, H, W)`` and the grid they were sampled on.
        Labels reach the sampler only for oracle studies (``uses_labels_at_eval``)."""
        grid_lr, image_lr = self.sample(image_hr, labels_hr if self.method.uses_labels_at_eval else None, size_lr)
        logits_lr = self.model(normalize(image_lr))
        logits_hr = unsample(logits_lr.float(), grid_lr.float(), tuple(image_hr.shape[-2:]), self.method.unsample_mode)
        return logits_hr, grid_lr

    def predict_multiscale(self, image_hr: torch.Tensor, labels_hr: Optional[torch.Tensor] = None, *,
                           scales: Sequence[float] = (1.0,), flip: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """PSPNet-style multi-scale testing: the run's resolution times each of ``scales`` (and, with
        ``flip``, each mirrored left-right), every prediction's logits at the label resolution, averaged.
        The grid returned is the run's own resolution's, so the intrinsic metrics stay those of the run.
        ``scales=(1.0,)`` without flip is :meth:`predict` itself, bit for bit."""
        if tuple(scales) == (1.0,) and not flip:
            return self.predict(image_hr, labels_hr)
        total, passes, own_grid = None, 0, None
        for scale in scales:
            size_lr = scaled_size(self.size_lr, scale)
            for mirrored in ((False, True) if flip else (False,)):
                image = image_hr.flip(-1) if mirrored else image_hr
                labels = labels_hr.flip(-1) if mirrored and labels_hr is not None else labels_hr
                logits_hr, grid_lr = self.predict(image, labels, size_lr)
                if mirrored:
                    logits_hr = logits_hr.flip(-1)  # back into the unmirrored image's frame
                elif size_lr == self.size_lr:
                    own_grid = grid_lr
                total = logits_hr if total is None else total + logits_hr
                passes += 1
        if own_grid is None:  # 1.0 not among the scales: sample the run's grid once for the metrics
            own_grid, _ = self.sample(image_hr, labels_hr if self.method.uses_labels_at_eval else None)
        return total / passes, own_grid

    def forward(self, image_hr: torch.Tensor, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits at the original resolution ``(B, K, H, W)``: evaluation is always done there."""
        return self.predict(image_hr, labels_hr)[0]


def scaled_size(size: Size, scale: float) -> Tuple[int, int]:
    """``size`` (h, w) times ``scale``, rounded, at least one pixel each way."""
    return tuple(max(1, int(round(side * scale))) for side in size)  # type: ignore[return-value]
