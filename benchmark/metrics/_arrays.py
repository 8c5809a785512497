"""Input normalisation shared by the evaluators: tensors or arrays in, int64 numpy (B, H, W) out."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from benchmark.errors import DsbenchError


def as_id_array(x: Any, what: str) -> np.ndarray:
    """Return ``x`` (torch tensor or numpy array, ``(B, H, W)`` or ``(H, W)``) as int64 ``(B, H, W)``.

    torch is never imported here: a tensor is recognised by its ``detach`` method, so figures and
    the results store can use the metrics without torch installed.
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise DsbenchError(f"metrics: {what} has dtype {arr.dtype}; pass integer class ids "
                           "(e.g. logits.argmax(1)), not scores or probabilities")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DsbenchError(f"metrics: {what} has shape {tuple(arr.shape)}; expected (B, H, W) or (H, W) id maps")
    return arr.astype(np.int64, copy=False)


def as_pred_and_labels(pred: Any, labels: Any) -> Tuple[np.ndarray, np.ndarray]:
    pred_arr = as_id_array(pred, "pred")
    labels_arr = as_id_array(labels, "labels")
    if pred_arr.shape != labels_arr.shape:
        raise DsbenchError(f"metrics: pred shape {pred_arr.shape} differs from labels shape {labels_arr.shape}; "
                           "unsample predictions to the label resolution before evaluating")
    return pred_arr, labels_arr


def check_labels(labels: np.ndarray, num_classes: int, ignore_index: int) -> None:
    """Labels must be trainIds in [0, num_classes) or ``ignore_index``: anything else is a data bug."""
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        value = int(labels[bad].flat[0])
        raise DsbenchError(f"metrics: labels contain id {value}, outside [0, {num_classes}) and not the ignore "
                           f"index {ignore_index}; convert labelIds to trainIds (cityscapesscripts labels) first")


def class_list(classes: Optional[Any], num_classes: int, what: str) -> Optional[np.ndarray]:
    """Validate a list of trainIds; ``None`` stays ``None`` (meaning: all classes)."""
    if classes is None:
        return None
    ids = np.asarray(list(classes), dtype=np.int64)
    if ids.size == 0:
        raise DsbenchError(f"metrics: {what} is empty; give at least one trainId or leave it unset")
    bad = ids[(ids < 0) | (ids >= num_classes)]
    if bad.size:
        raise DsbenchError(f"metrics: {what} contains trainId {int(bad[0])} outside [0, {num_classes}); "
                           "use trainIds of the dataset's classes")
    return np.unique(ids)
