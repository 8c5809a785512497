"""Confusion matrix, per-class IoU, mIoU and pixel accuracy, streamed over a dataset.

Conventions
-----------
* Ids are trainIds in ``[0, C)``; ``ignore_index`` (255) marks unlabelled pixels, which are
  skipped entirely (never a false positive, never a false negative).
* The confusion matrix has rows = ground truth, columns = prediction. Its stored form is
  ``(C, C + 1)`` int64: the extra last column counts valid pixels whose prediction lies outside
  ``[0, C)`` (for example 255, "no class"). Such a prediction is wrong: a false negative for the
  pixel's true class and a false positive for no class. This is exactly what
  ``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling`` does for predictions of labelIds
  that are ignored in evaluation. The functions below accept ``(C, C)`` or ``(C, C + 1)``.
* ``IoU_c = TP / (TP + FP + FN)``; it is NaN when the class is absent from both the ground truth
  and the predictions (denominator 0). A class predicted but never in the ground truth gets 0.
* mIoU is the mean of the non-NaN IoUs, the official Cityscapes rule (``getScoreAverage``). An
  optional class list restricts the mean to those trainIds (the dataset's evaluated classes, or
  Marin's target classes); NaNs inside the list are still skipped.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from benchmark.errors import DsbenchError
from benchmark.metrics._arrays import as_pred_and_labels, check_labels, class_list

IGNORE_INDEX = 255


def _split(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Square part ``(C, C)`` and per-row count of out-of-range predictions ``(C,)``."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[1] not in (cm.shape[0], cm.shape[0] + 1):
        raise DsbenchError(f"metrics: confusion matrix has shape {cm.shape}; expected (C, C) or (C, C+1)")
    num_classes = cm.shape[0]
    square = cm[:, :num_classes].astype(np.int64)
    missed = cm[:, num_classes].astype(np.int64) if cm.shape[1] > num_classes else np.zeros(num_classes, np.int64)
    return square, missed


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class IoU ``(C,)`` float64 from a ``(C, C)`` or ``(C, C+1)`` confusion matrix; NaN = absent."""
    square, missed = _split(cm)
    tp = np.diag(square).astype(np.float64)
    fn = square.sum(axis=1) + missed - tp
    fp = square.sum(axis=0) - tp
    denom = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)


def miou_from_confusion(cm: np.ndarray, classes: Optional[Sequence[int]] = None) -> float:
    """Mean of the non-NaN IoUs over ``classes`` (trainIds; default all). NaN if none is defined."""
    iou = iou_from_confusion(cm)
    ids = class_list(classes, iou.shape[0], "classes")
    if ids is not None:
        iou = iou[ids]
    defined = iou[~np.isnan(iou)]
    return float(defined.mean()) if defined.size else float("nan")


def pixel_accuracy_from_confusion(cm: np.ndarray) -> float:
    """Correct / valid pixels (out-of-range predictions count as wrong); NaN without valid pixels."""
    square, missed = _split(cm)
    total = square.sum() + missed.sum()
    return float(np.trace(square) / total) if total else float("nan")


class ConfusionMatrix:
    """Streaming confusion matrix (detectron2 style: ``reset`` / ``process`` / ``evaluate``).

    Memory is one ``(C, C+1)`` int64 array whatever the dataset size.

    Args:
        num_classes: C, the number of trainIds.
        ignore_index: label id of unlabelled pixels.
        evaluated_classes: trainIds the mIoU averages over (default all C; see module docstring).
        target_classes: trainIds for ``miou_target`` (Marin's target classes), optional.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX, *,
                 evaluated_classes: Optional[Sequence[int]] = None,
                 target_classes: Optional[Sequence[int]] = None):
        if int(num_classes) < 1:
            raise DsbenchError(f"metrics: num_classes {num_classes} must be a positive integer")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.evaluated_classes = class_list(evaluated_classes, self.num_classes, "evaluated_classes")
        self.target_classes = class_list(target_classes, self.num_classes, "target_classes")
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros((self.num_classes, self.num_classes + 1), dtype=np.int64)

    @property
    def matrix(self) -> np.ndarray:
        """The square ``(C, C)`` part: rows ground truth, columns prediction."""
        return self.counts[:, : self.num_classes]

    def process(self, pred: Any, labels: Any, instances: Any = None) -> None:
        """Add a batch. ``pred``/``labels``: int tensors or arrays ``(B, H, W)`` or ``(H, W)``."""
        pred_arr, labels_arr = as_pred_and_labels(pred, labels)
        check_labels(labels_arr, self.num_classes, self.ignore_index)
        valid = labels_arr != self.ignore_index
        gt = labels_arr[valid]
        pr = pred_arr[valid]
        # Out-of-range predictions go to the extra column C.
        pr = np.where((pr >= 0) & (pr < self.num_classes), pr, self.num_classes)
        width = self.num_classes + 1
        flat = np.bincount(gt * width + pr, minlength=self.num_classes * width)
        self.counts += flat.reshape(self.num_classes, width)

    def evaluate(self) -> Dict[str, Any]:
        """``{"iou": (C,) array, "miou": float, "pixel_accuracy": float[, "miou_target": float]}``."""
        result: Dict[str, Any] = {
            "iou": iou_from_confusion(self.counts),
            "miou": miou_from_confusion(self.counts, self.evaluated_classes),
            "pixel_accuracy": pixel_accuracy_from_confusion(self.counts),
        }
        if self.target_classes is not None:
            result["miou_target"] = miou_from_confusion(self.counts, target_ids(self.target_classes,
                                                                                self.evaluated_classes))
        return result


def target_ids(target_classes: np.ndarray, evaluated_classes: Optional[np.ndarray]) -> np.ndarray:
    """Target classes that the dataset evaluates (all of them when every class is evaluated)."""
    if evaluated_classes is None:
        return target_classes
    kept = np.intersect1d(target_classes, evaluated_classes)
    if kept.size == 0:
        raise DsbenchError("metrics: none of target_classes is in evaluated_classes; pick target trainIds "
                           "the dataset contains")
    return kept
