"""Trimap accuracy: pixel accuracy inside bands of growing width around label boundaries.

Conventions
-----------
* A *boundary pixel* is a valid (non-ignore) label pixel with at least one 4-neighbour that is
  valid and carries a different label. Both sides of an edge are therefore boundary pixels, and
  edges between a class and ignore pixels are not boundaries (ignore regions are unlabelled, not
  a class). The image border is not a boundary.
* A pixel is in the band of width ``w`` if it is valid and the Euclidean distance between its
  centre and the centre of the nearest boundary pixel is ``<= w`` (one
  ``scipy.ndimage.distance_transform_edt`` per image, thresholded at every width). Boundary
  pixels are in every band. An image without boundary pixels adds nothing to any band.
* Accuracy in a band = correct / total pixels of the band, summed over the dataset (raw counts
  ``correct`` and ``total`` per band, int64, so the ratio can be recomputed or re-pooled).
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np
from scipy import ndimage

from benchmark.errors import DsbenchError
from benchmark.metrics._arrays import as_pred_and_labels

IGNORE_INDEX = 255
DEFAULT_BAND_WIDTHS = (1, 2, 4, 8, 16, 32)


def boundary_mask(labels: np.ndarray, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """``(H, W)`` bool: valid pixels with a valid 4-neighbour of a different label."""
    valid = labels != ignore_index
    boundary = np.zeros(labels.shape, dtype=bool)
    # Vertical then horizontal neighbour pairs; mark both pixels of each differing valid pair.
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis] = slice(None, -1)
        b[axis] = slice(1, None)
        a_t, b_t = tuple(a), tuple(b)
        differ = valid[a_t] & valid[b_t] & (labels[a_t] != labels[b_t])
        boundary[a_t] |= differ
        boundary[b_t] |= differ
    return boundary


def distance_to_boundary(labels: np.ndarray, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """``(H, W)`` float64 Euclidean distance to the nearest boundary pixel (inf if there is none)."""
    boundary = boundary_mask(labels, ignore_index)
    if not boundary.any():
        return np.full(labels.shape, np.inf)
    return ndimage.distance_transform_edt(~boundary)


class TrimapAccuracy:
    """Streaming trimap accuracy; memory is two int64 vectors of length ``len(band_widths)``."""

    def __init__(self, band_widths: Sequence[int] = DEFAULT_BAND_WIDTHS, ignore_index: int = IGNORE_INDEX):
        widths = [int(w) for w in band_widths]
        if not widths or any(w < 0 for w in widths) or len(set(widths)) != len(widths):
            raise DsbenchError(f"metrics: band_widths {tuple(band_widths)} must be distinct non-negative "
                               "pixel widths, e.g. (1, 2, 4, 8, 16, 32)")
        self.band_widths = tuple(sorted(widths))
        self.ignore_index = int(ignore_index)
        self.reset()

    def reset(self) -> None:
        self.correct = np.zeros(len(self.band_widths), dtype=np.int64)
        self.total = np.zeros(len(self.band_widths), dtype=np.int64)

    def process(self, pred: Any, labels: Any, instances: Any = None) -> None:
        """Add a batch; ``pred``/``labels`` int ``(B, H, W)`` or ``(H, W)`` at the same resolution."""
        pred_arr, labels_arr = as_pred_and_labels(pred, labels)
        for pred_img, labels_img in zip(pred_arr, labels_arr):
            valid = labels_img != self.ignore_index
            dist = distance_to_boundary(labels_img, self.ignore_index)[valid]
            hit = (pred_img == labels_img)[valid]
            for i, width in enumerate(self.band_widths):
                in_band = dist <= width
                self.total[i] += int(np.count_nonzero(in_band))
                self.correct[i] += int(np.count_nonzero(in_band & hit))

    def evaluate(self) -> Dict[int, float]:
        """``{band_px: accuracy}``; NaN for a band without pixels."""
        return accuracy_by_band(self.band_widths, self.correct, self.total)


def accuracy_by_band(band_widths: Sequence[int], correct: np.ndarray, total: np.ndarray) -> Dict[int, float]:
    return {int(w): (float(c / t) if t else float("nan")) for w, c, t in zip(band_widths, correct, total)}
