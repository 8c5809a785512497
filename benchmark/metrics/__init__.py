"""Streaming segmentation metrics (detectron2-style ``reset`` / ``process`` / ``evaluate``).

* :class:`ConfusionMatrix` — per-class IoU, mIoU (official Cityscapes averaging), pixel accuracy.
* :class:`TrimapAccuracy` — accuracy within bands around label boundaries.
* :class:`ObjectRecallBySize` — per-instance recall by size bin (Marin Figs 12, 14).
* :class:`MetricSuite` — the three together, tidy rows, and raw counts saved to ``.npz``.

Never imports torch or a method: tensors are accepted duck-typed.
"""
from benchmark.metrics.confusion import (ConfusionMatrix, iou_from_confusion, miou_from_confusion,
                                         pixel_accuracy_from_confusion)
from benchmark.metrics.object_recall import (ObjectRecallBySize, cityscapes_label_to_train, equal_count_bins,
                                             recall_by_size)
from benchmark.metrics.suite import MetricSuite, rows_from_counts
from benchmark.metrics.trimap import (DEFAULT_BAND_WIDTHS, TrimapAccuracy, accuracy_by_band, boundary_mask,
                                      distance_to_boundary)

__all__ = [
    "ConfusionMatrix", "iou_from_confusion", "miou_from_confusion", "pixel_accuracy_from_confusion",
    "TrimapAccuracy", "DEFAULT_BAND_WIDTHS", "accuracy_by_band", "boundary_mask", "distance_to_boundary",
    "ObjectRecallBySize", "cityscapes_label_to_train", "equal_count_bins", "recall_by_size",
    "MetricSuite", "rows_from_counts",
]
