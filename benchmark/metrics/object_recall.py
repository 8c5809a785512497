"""Per-object recall broken down by object size (Marin et al. 2019, Figs 12 and 14).

Conventions
-----------
* Instances come from a Cityscapes ``*_instanceIds.png`` map: a value ``id >= 1000`` is instance
  ``id % 1000`` of labelId ``id // 1000``; smaller values are stuff labelIds (no instance). The
  labelId is mapped to a trainId with the official table (``cityscapesscripts.helpers.labels``);
  instances whose class is ignored in evaluation (trainId 255 or -1: caravan, trailer, ...) are
  skipped.
* An instance's pixels that are ``ignore_index`` in the label map are excluded; an instance left
  with no pixel is skipped. Instance ids are per image: each image's instances are new objects.
* Recall of an instance = pixels predicted as its class / its (valid) area. The raw table keeps
  ``(trainId, area, correct)`` int64 per instance; instances are few, so memory stays small.
* ``evaluate(n_bins)``: the instances of each class are sorted by area (stable, so ties keep
  arrival order) and split into ``n_bins`` equal-count bins (sizes differ by at most one;
  ``q1`` = smallest objects). The mean recall (unweighted over instances) is reported per
  (class, bin). ``"all"`` bins all instances of all classes together by area, the grouping of
  Marin's Fig. 14. A bin without instances (fewer instances than bins) is NaN.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from benchmark.errors import DsbenchError
from benchmark.metrics._arrays import as_id_array, as_pred_and_labels

IGNORE_INDEX = 255
INSTANCE_OFFSET = 1000
# Columns of the per-instance table.
INSTANCE_COLUMNS = ("class", "area", "correct")


def cityscapes_label_to_train() -> Dict[int, int]:
    """Official labelId -> trainId map; ids ignored in evaluation map to 255."""
    from cityscapesscripts.helpers.labels import labels

    return {label.id: (label.trainId if 0 <= label.trainId < 255 else 255) for label in labels if label.id >= 0}


def equal_count_bins(areas: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index ``(N,)`` in ``[0, n_bins)`` per item: equal-count split of the stable area order."""
    order = np.argsort(areas, kind="stable")
    bins = np.empty(len(areas), dtype=np.int64)
    for b, chunk in enumerate(np.array_split(order, n_bins)):
        bins[chunk] = b
    return bins


def _mean_per_bin(recall: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    out = np.full(n_bins, np.nan)
    for b in range(n_bins):
        members = recall[bins == b]
        if members.size:
            out[b] = members.mean()
    return out


def recall_by_size(table: np.ndarray, n_bins: int = 4) -> Dict[str, Any]:
    """Mean recall per size bin from an ``(N, 3)`` int64 table ``(trainId, area, correct)``.

    Returns ``{"per_class": {trainId: (n_bins,) array}, "all": (n_bins,) array,
    "instances": {trainId: count}}`` (classes without instances are absent).
    """
    if int(n_bins) < 1:
        raise DsbenchError(f"metrics: n_bins {n_bins} must be a positive integer")
    table = np.asarray(table, dtype=np.int64).reshape(-1, len(INSTANCE_COLUMNS))
    classes, areas, correct = table[:, 0], table[:, 1], table[:, 2]
    recall = correct / np.maximum(areas, 1)
    per_class: Dict[int, np.ndarray] = {}
    counts: Dict[int, int] = {}
    for cls in np.unique(classes):
        rows = classes == cls
        per_class[int(cls)] = _mean_per_bin(recall[rows], equal_count_bins(areas[rows], n_bins), n_bins)
        counts[int(cls)] = int(rows.sum())
    overall = _mean_per_bin(recall, equal_count_bins(areas, n_bins), n_bins)
    return {"per_class": per_class, "all": overall, "instances": counts}


class ObjectRecallBySize:
    """Streaming per-instance recall table (detectron2 style: ``reset`` / ``process`` / ``evaluate``).

    Args:
        num_classes: C; instance trainIds must lie in ``[0, C)``.
        ignore_index: label id of unlabelled pixels.
        label_to_train: labelId -> trainId (255 = not evaluated); default the Cityscapes table.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX,
                 label_to_train: Optional[Mapping[int, int]] = None):
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        mapping = dict(cityscapes_label_to_train() if label_to_train is None else label_to_train)
        size = max(mapping) + 1 if mapping else 1
        # Lookup table: unknown labelIds get -1 so they can be reported.
        self._to_train = np.full(size, -1, dtype=np.int64)
        for label_id, train_id in mapping.items():
            self._to_train[int(label_id)] = int(train_id)
        self.reset()

    def reset(self) -> None:
        self._chunks: list[np.ndarray] = []

    @property
    def table(self) -> np.ndarray:
        """``(N, 3)`` int64 rows ``(trainId, area, correct)``, one per instance seen."""
        if not self._chunks:
            return np.zeros((0, len(INSTANCE_COLUMNS)), dtype=np.int64)
        return np.concatenate(self._chunks, axis=0)

    def load_table(self, table: np.ndarray) -> None:
        self._chunks = [np.asarray(table, dtype=np.int64).reshape(-1, len(INSTANCE_COLUMNS))]

    def process(self, pred: Any, labels: Any, instances: Any = None) -> None:
        """Add a batch; ``instances`` is the Cityscapes instanceIds map, same shape as ``labels``."""
        if instances is None:
            raise DsbenchError("metrics: ObjectRecallBySize needs the instanceIds map; pass instances= "
                               "or build the suite with with_instances=False")
        pred_arr, labels_arr = as_pred_and_labels(pred, labels)
        inst_arr = as_id_array(instances, "instances")
        if inst_arr.shape != labels_arr.shape:
            raise DsbenchError(f"metrics: instances shape {inst_arr.shape} differs from labels shape "
                               f"{labels_arr.shape}; load *_instanceIds.png at the label resolution")
        for pred_img, labels_img, inst_img in zip(pred_arr, labels_arr, inst_arr):
            self._process_image(pred_img, labels_img, inst_img)

    def _process_image(self, pred: np.ndarray, labels: np.ndarray, inst: np.ndarray) -> None:
        member = (inst >= INSTANCE_OFFSET) & (labels != self.ignore_index)
        ids = inst[member]
        if ids.size == 0:
            return
        unique_ids, index = np.unique(ids, return_inverse=True)
        label_ids = unique_ids // INSTANCE_OFFSET
        if label_ids.max() >= self._to_train.size or (self._to_train[label_ids] < 0).any():
            unknown = [int(i) for i in label_ids if i >= self._to_train.size or self._to_train[i] < 0]
            raise DsbenchError(f"metrics: instanceIds map has labelId {unknown[0]} with no trainId; "
                               "check the *_instanceIds.png encoding (labelId*1000 + k) or pass label_to_train")
        train_ids = self._to_train[label_ids]
        evaluated = train_ids != 255
        if (train_ids[evaluated] >= self.num_classes).any():
            raise DsbenchError(f"metrics: instance trainId {int(train_ids[evaluated].max())} is outside "
                               f"[0, {self.num_classes}); num_classes does not match the label mapping")
        area = np.bincount(index, minlength=unique_ids.size)
        hit = pred[member] == train_ids[index]
        correct = np.bincount(index[hit], minlength=unique_ids.size)
        table = np.stack([train_ids, area, correct], axis=1)[evaluated]
        if table.size:
            self._chunks.append(table.astype(np.int64))

    def evaluate(self, n_bins: int = 4) -> Dict[str, Any]:
        """See :func:`recall_by_size`."""
        return recall_by_size(self.table, n_bins)
