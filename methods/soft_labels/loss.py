"""Alcover-Couso's training pieces: the KL-divergence loss on soft labels (with or without
multi-class pixels, Table III) and the crop-based augmentation of Sec IV-B with labels paired to
the colour sampling. The soft label sampling itself is an op (:mod:`benchmark.ops.soft_labels`).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from benchmark.data.transforms import RandomCrop, resize
from benchmark.errors import DsbenchError
from benchmark.ops.sampling import IGNORE_INDEX, check_size
from benchmark.ops.soft_labels import DEFAULT_VALID_THRESHOLD, LABEL_MODES, MASS_TOLERANCE


def kl_soft_loss(logits: torch.Tensor, soft_labels: torch.Tensor, mc: bool = True,
                 valid_threshold: float = 0.0, class_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """KL divergence to soft labels (Alcover-Couso eq. 4), averaged over pixels weighted by valid mass.

    ``soft_labels`` ``(B, K, h, w)`` sum to each pixel's valid mass m (0 = ignored). With
    ``q = y / m`` the loss is ``sum_p m_p KL(q_p || softmax(logits_p)) / sum_p m_p``, which is
    eq. 4 with the ignored fraction left out, and equals the soft cross-entropy minus the label
    entropy. ``mc=False`` keeps only single-class pixels (max_k y_k = m), as Table III's "MC off".
    Pixels with m < ``valid_threshold`` are ignored. Integer ids ``(B, h, w)`` (nearest labels)
    give the KL to a one-hot, i.e. cross-entropy with ignore 255.

    ``class_weights`` ``(K,)`` (a run's ``class_weights`` setting) weigh each pixel by its label's
    expected class weight ``sum_k w_k q_k``, numerator and denominator alike: on one-hot labels
    this is weighted cross-entropy exactly as ``F.cross_entropy(weight=w)`` averages it.
    """
    logits = logits.float()
    if not soft_labels.is_floating_point():
        return F.cross_entropy(logits, soft_labels.long(), weight=class_weights, ignore_index=IGNORE_INDEX)
    if soft_labels.shape != logits.shape:
        raise ValueError(f"soft labels {tuple(soft_labels.shape)} do not match logits {tuple(logits.shape)}")
    soft_labels = soft_labels.float()
    mass = soft_labels.sum(1)  # (B, h, w)
    weight = mass * (mass >= max(valid_threshold - MASS_TOLERANCE, 1e-6))
    if not mc:
        weight = weight * (soft_labels.amax(1) >= mass - MASS_TOLERANCE)
    q = soft_labels / mass.clamp_min(1e-12).unsqueeze(1)
    if class_weights is not None:
        weight = weight * (q * class_weights.to(q).view(1, -1, 1, 1)).sum(1)
    log_p = F.log_softmax(logits, dim=1)
    kl = (torch.xlogy(q, q) - q * log_p).sum(1)  # (B, h, w)
    return (weight * kl).sum() / weight.sum().clamp_min(1e-12)


def single_class_mask(soft_labels: torch.Tensor) -> torch.Tensor:
    """``(B, h, w)`` bool: pixels whose valid mass belongs to one class (the "MC off" pixels)."""
    mass = soft_labels.sum(1)
    return (mass > 0) & (soft_labels.amax(1) >= mass - MASS_TOLERANCE)


# -- training-time resize and crop (Sec IV-B) ----------------------------------------------

def resize_and_crop(sample: Mapping[str, Any], crop: Sequence[int], scale_range: Tuple[float, float] = (0.5, 2.0),
                    label_mode: str = "soft-bilinear", generator: Optional[torch.Generator] = None, *,
                    num_classes: int, valid_threshold: float = DEFAULT_VALID_THRESHOLD) -> Dict[str, Any]:
    """The crop-based augmentation of Sec IV-B with labels paired to the colour sampling.

    The image ``(3, H, W)`` is resized *in one step* to the size at which it would fit the crop
    ``(hc, wc)``, times a factor drawn uniformly from ``scale_range`` (half to twice the crop
    size), then a random ``hc x wc`` window is cut (padded with 0 / ignore where smaller). Colour
    (bilinear) and labels (``label_mode``: ids ``(hc, wc)`` for nearest, probabilities
    ``(K, hc, wc)`` for soft modes) are resampled on the same uniform grid by
    ``benchmark.data.transforms.resize``. Deterministic for a seeded ``generator``.
    """
    hc, wc = check_size(crop, "crop size")
    if label_mode not in LABEL_MODES:
        raise DsbenchError(f"label mode {label_mode!r} unknown; use one of {', '.join(LABEL_MODES)}")
    lo, hi = scale_range
    if not 0 < lo <= hi:
        raise DsbenchError(f"scale range {scale_range} must be 0 < low <= high, e.g. (0.5, 2.0)")
    H, W = sample["image"].shape[-2:]
    scale = lo + (hi - lo) * float(torch.rand((), generator=generator))
    fit = min(hc / H, wc / W)
    size = (max(1, round(H * fit * scale)), max(1, round(W * fit * scale)))
    options = {} if label_mode == "nearest" else {"num_classes": num_classes, "valid_threshold": valid_threshold}
    return RandomCrop((hc, wc))(resize(dict(sample), size, label_mode, **options), generator)
