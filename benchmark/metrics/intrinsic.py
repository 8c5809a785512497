"""Intrinsic upsampling error of a sampler: mIoU(Y', Y) with Y' = Pi(G^-1(G(Y))) (Jin Sec. 2.1).

The label map is sampled on the method's grid (nearest: each sample takes the id of the closest
pixel) and brought back with the method's own unsampler, with no network in between: a perfect
low-res segmentation. What is lost is the error the sampling itself causes.

Conventions
-----------
* Labels are unsampled as one-hot maps (plus one channel for "sampled an ignore pixel") and
  the argmax is taken, so every unsample mode (bilinear, nearest, barycentric) applies unchanged;
  with ``nearest`` this is exactly copying the id of the nearest sample.
* A full-resolution pixel whose reconstruction is "ignore" gets prediction 255: a miss for its
  true class, counted in the extra last column of the ``(K, K + 1)`` confusion matrix of
  :mod:`benchmark.metrics.confusion`. Ignore pixels of Y are not evaluated.
* The grid is the method's own: learned samplers run on the image (no gradient, in eval mode; the
  caller's mode is restored afterwards), label-driven samplers (oracles that simulate an
  ideal sampler from ground truth) get the labels. Metric name ``miou_intrinsic``.
* Jin's Pi is the nearest sampling point (:data:`JIN_UNSAMPLE_MODE`); with the method's own
  unsampler instead (bilinear for uniform, barycentric for edge-based) the same measure is named
  ``miou_intrinsic_own_unsampler`` (:func:`dataset_intrinsic_miou`, ``dsbench intrinsic``).

Never imports a method: ``method`` is any object with ``sampler`` and ``unsample_mode``.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.metrics.confusion import ConfusionMatrix, miou_from_confusion
from benchmark.ops.sampling import IGNORE_INDEX, Size, check_size, downsample_labels, unsample


JIN_UNSAMPLE_MODE = "nearest"  # Jin's Pi: every pixel takes the value of its nearest sampling point


def reconstruct_labels(labels_hr: torch.Tensor, grid_lr: torch.Tensor, num_classes: int,
                       unsample_mode: str, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Y' = Pi(G^-1(G(Y))): ``labels_hr`` ``(B, H, W)`` int64 sampled at ``grid_lr`` then unsampled.

    Returns int64 ``(B, H, W)``; pixels reconstructed from an ignore sample are ``ignore_index``.
    """
    labels_lr = downsample_labels(labels_hr, grid_lr, "nearest")                    # (B, h, w)
    void = num_classes  # extra channel for samples that landed on an ignore pixel
    ids = torch.where(labels_lr == ignore_index, torch.full_like(labels_lr, void), labels_lr)
    if int(ids.max()) > void or int(ids.min()) < 0:
        raise DsbenchError(f"intrinsic mIoU: label ids outside [0, {num_classes}) and not {ignore_index}; pass trainIds")
    one_hot = F.one_hot(ids, num_classes + 1).permute(0, 3, 1, 2).float()           # (B, K+1, h, w)
    scores = unsample(one_hot, grid_lr.float(), tuple(labels_hr.shape[-2:]), unsample_mode)  # (B, K+1, H, W)
    pred = scores.argmax(1)
    return torch.where(pred == void, torch.full_like(pred, ignore_index), pred)


def evaluation_grid(method: Any, labels_hr: torch.Tensor, size_lr: Size,
                    image_hr: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels as int64 ``(B, H, W)`` and the method's grid as at evaluation: eval mode (no
    BatchNorm update; the caller's mode is restored), labels passed only to oracle samplers
    (``uses_labels_at_eval``). Label-only samplers get a blank image of the right shape."""
    size_lr = check_size(size_lr)
    if labels_hr.dim() == 2:
        labels_hr = labels_hr.unsqueeze(0)
    labels_hr = labels_hr.long()
    B, H, W = labels_hr.shape
    if image_hr is None:
        image_hr = torch.zeros(B, 3, H, W, device=labels_hr.device)
    oracle = getattr(method, "uses_labels_at_eval", False)
    was_training = getattr(method, "training", False)
    if hasattr(method, "eval"):
        method.eval()
    try:
        grid_lr = method.sampler(image_hr, size_lr, labels_hr if oracle else None)
    finally:
        if was_training:
            method.train()
    return labels_hr, grid_lr


@torch.no_grad()
def intrinsic_confusion(method: Any, labels_hr: torch.Tensor, size_lr: Size, num_classes: int,
                        image_hr: Optional[torch.Tensor] = None, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Confusion counts ``(K, K + 1)`` (rows Y, columns Y') of one batch for ``method``'s sampler.

    Args:
        method: a ``DownsamplingMethod`` (anything with ``sampler`` and ``unsample_mode``).
        labels_hr: ``(B, H, W)`` int64 trainIds with ``ignore_index``.
        size_lr: ``(h, w)``, the downsampled size.
        image_hr: ``(B, 3, H, W)`` in [0, 1]; needed by image-driven (learned) samplers.
    """
    labels_hr, grid_lr = evaluation_grid(method, labels_hr, size_lr, image_hr)
    pred = reconstruct_labels(labels_hr, grid_lr, num_classes, method.unsample_mode, ignore_index)
    counts = ConfusionMatrix(num_classes, ignore_index)
    counts.process(pred, labels_hr)
    return counts.counts


def intrinsic_miou(method: Any, labels_hr: torch.Tensor, size_lr: Size, num_classes: int,
                   image_hr: Optional[torch.Tensor] = None, ignore_index: int = IGNORE_INDEX,
                   classes: Optional[Sequence[int]] = None) -> float:
    """mIoU(Y', Y) of one batch (Cityscapes averaging over non-NaN classes). For a dataset,
    sum :func:`intrinsic_confusion` over batches and call ``miou_from_confusion`` once."""
    counts = intrinsic_confusion(method, labels_hr, size_lr, num_classes, image_hr, ignore_index)
    return miou_from_confusion(counts, classes)


@torch.no_grad()
def sampled_class_counts(method: Any, labels_hr: torch.Tensor, size_lr: Size, num_classes: int,
                         image_hr: Optional[torch.Tensor] = None,
                         ignore_index: int = IGNORE_INDEX) -> tuple[np.ndarray, np.ndarray]:
    """Pixel counts per class ``(K,)`` of the original labels and of the labels sampled on the
    method's grid (nearest), for Jin's Fig 13 (``class_frequency`` rows, stage original / sampled:
    the figure plots ``(sampled / sum) / (original / sum) - 1``). Ignore pixels are not counted."""
    labels_hr, grid_lr = evaluation_grid(method, labels_hr, size_lr, image_hr)
    labels_lr = downsample_labels(labels_hr, grid_lr, "nearest")

    def count(ids: torch.Tensor) -> np.ndarray:
        ids = ids[ids != ignore_index].cpu().numpy()
        return np.bincount(ids, minlength=num_classes)[:num_classes].astype(np.int64)

    return count(labels_hr), count(labels_lr)


@torch.no_grad()
def dataset_intrinsic_miou(method: Any, samples: Iterable[Mapping[str, Any]], size_lr: Size, num_classes: int,
                           evaluated_classes: Optional[Sequence[int]] = None,
                           ignore_index: int = IGNORE_INDEX) -> Dict[str, float]:
    """mIoU(Y', Y) over ``samples`` (dicts with ``image`` ``(3, H, W)`` and ``labels`` ``(H, W)``,
    as a dataset split gives them) on ``method``'s grid: ``miou_intrinsic`` with Jin's Pi
    (nearest) and ``miou_intrinsic_own_unsampler`` with ``method.unsample_mode``. Confusions are
    summed over the images and averaged once, over ``evaluated_classes`` (NaN: no class occurs)."""
    modes = {"miou_intrinsic": JIN_UNSAMPLE_MODE, "miou_intrinsic_own_unsampler": method.unsample_mode}
    counts = {name: ConfusionMatrix(num_classes, ignore_index, evaluated_classes=evaluated_classes)
              for name in modes}
    for sample in samples:
        labels_hr, grid_lr = evaluation_grid(method, sample["labels"], size_lr, sample["image"].unsqueeze(0))
        for name, mode in modes.items():
            counts[name].process(reconstruct_labels(labels_hr, grid_lr, num_classes, mode, ignore_index), labels_hr)
    return {name: float(matrix.evaluate()["miou"]) for name, matrix in counts.items()}
