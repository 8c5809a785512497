"""Superpixel metrics of the standard benchmark (Stutz, Hermans, Leibe 2018), vectorised.

The definitions are those of that benchmark's ``lib_eval`` (the evaluation SCN and PCNet report);
this module re-derives them with whole-array numpy/scipy operations.

Conventions
-----------
* Label maps are 2-D integer arrays of the same shape; any integer ids work (negative, sparse,
  unsorted), since ids are only compared for equality. Every pixel belongs to exactly one
  superpixel and one ground-truth segment; there is no ignore label.
* A *boundary pixel* (the benchmark's 4-connected rule) is a pixel whose up, down, left or right
  neighbour inside the image has a different label. Both sides of an edge are boundary pixels;
  the image border is not a boundary.
* The tolerance radius is ``r = round(0.0025 * sqrt(H^2 + W^2))``, rounding halves up (C++
  ``std::round``, with 0.0025 at float32 precision as there): 1 px on 481x321 BSDS500 images. A pixel at ``(i, j)`` is matched when a
  boundary pixel of the other map lies in the square window ``|di| <= r, |dj| <= r`` clipped to
  the image (one separable max filter per map).
* Boundary recall ``BR = TP / (TP + FN)``: the share of ground-truth boundary pixels with a
  superpixel boundary pixel in their window.
* Boundary precision, exactly as the benchmark counts it: ``TP`` as in BR (ground-truth boundary
  pixels matched by a superpixel boundary), ``FP`` = superpixel boundary pixels with no
  ground-truth boundary pixel in their window; ``BP = TP / (TP + FP)``. (It is not the symmetric
  "matched superpixel boundary pixels / all superpixel boundary pixels".)
* BR and BP are 0.0 when their denominator is 0 (no ground-truth boundary for BR; neither a
  ground-truth nor an unmatched superpixel boundary for BP), the benchmark's value, so that
  averages over images agree with its numbers.
* With ``n_ij = |S_j ∩ G_i|`` (the contingency table), ``|S_j|`` superpixel sizes and ``N`` pixels:
  ``ASA = sum_j max_i n_ij / N``; the undersegmentation error is the Neubert-Protzel variant the
  benchmark reports, ``UE = sum_{i,j: n_ij > 0} min(n_ij, |S_j| - n_ij) / N``.
* Compactness (Schick et al.) ``CO = sum_j |S_j| * 4 pi |S_j| / P_j^2 / N``, where the perimeter
  ``P_j`` counts the unit pixel edges of ``S_j`` that face another superpixel or the image border
  (each pixel contributes its number of 4-neighbours that are outside the image or differently
  labelled); areas are pixel counts. A square of side ``s`` touching no border has ``P = 4s``.
* Explained variation ``EV = sum_x ||mu(S(x)) - mu||^2 / sum_x ||I(x) - mu||^2`` over pixels
  ``x`` and all channels together, with ``mu(S)`` the superpixel's mean colour and ``mu`` the
  image mean; NaN for a constant image (nothing to explain).
* Everything is computed in float64 and int64 (the benchmark accumulates in float32, so its last
  digits can differ).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np
from scipy import ndimage

from benchmark.errors import DsbenchError

#: Tolerance as a fraction of the image diagonal (the benchmark's default, 0.0025).
TOLERANCE_FRACTION = 0.0025

# Dense contingency tables are used up to this many cells; beyond it (thousands of segments on
# both sides) a sort of the pair ids is cheaper than a huge mostly-empty table.
_DENSE_TABLE_MAX_CELLS = 1 << 22


def _check_label_map(labels: Any, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 2 or arr.size == 0:
        raise DsbenchError(f"superpixel metrics: {name} has shape {arr.shape}; expected a non-empty (H, W) label map")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DsbenchError(f"superpixel metrics: {name} has dtype {arr.dtype}; expected integer labels "
                           "(cast with .astype(np.int64))")
    return arr


def _check_pair(sp: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    sp_arr = _check_label_map(sp, "superpixels")
    gt_arr = _check_label_map(gt, "ground truth")
    if sp_arr.shape != gt_arr.shape:
        raise DsbenchError(f"superpixel metrics: superpixels {sp_arr.shape} and ground truth {gt_arr.shape} "
                           "differ in shape; resize the superpixels to the ground truth (nearest neighbour)")
    return sp_arr, gt_arr


def contiguous_ids(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Flat int64 ids ``0..K-1`` in the order of the original ids, and ``K`` (distinct labels)."""
    flat = labels.ravel()
    lo, hi = int(flat.min()), int(flat.max())
    if hi - lo <= 4 * flat.size:
        # Offset ids are small enough for a presence table: O(N) instead of a sort.
        # uint64 ids may not fit int64, their offsets from the minimum do.
        offset = (flat - flat.min()).astype(np.int64) if flat.dtype == np.uint64 else flat.astype(np.int64) - lo
        present = np.bincount(offset, minlength=hi - lo + 1) > 0
        if present.all():  # already 0..K-1 up to the offset (grids, BSDS500): no gather needed
            return offset, int(present.size)
        rank = np.cumsum(present) - 1
        return rank[offset], int(present.sum())
    values, inverse = np.unique(flat, return_inverse=True)
    return inverse.astype(np.int64).ravel(), int(values.size)


# ---------------------------------------------------------------------------------------------
# Boundaries


def boundary_map(labels: Any) -> np.ndarray:
    """``(H, W)`` bool: pixels with an in-image 4-neighbour of a different label (see module doc)."""
    arr = _check_label_map(labels, "labels")
    boundary = np.zeros(arr.shape, dtype=bool)
    vertical = arr[1:, :] != arr[:-1, :]
    boundary[1:, :] |= vertical
    boundary[:-1, :] |= vertical
    horizontal = arr[:, 1:] != arr[:, :-1]
    boundary[:, 1:] |= horizontal
    boundary[:, :-1] |= horizontal
    return boundary


def tolerance_radius(height: int, width: int, fraction: float = TOLERANCE_FRACTION) -> int:
    """``round(fraction * diagonal)`` in pixels, halves rounded up (C++ ``std::round``).

    ``fraction`` is rounded to float32 first, because the benchmark receives it as a C++
    ``float``: 0.0025f is slightly below 0.0025, so an exact half such as 800x600 (2.5) gives 2,
    as there, and not 3.
    """
    if height < 1 or width < 1:
        raise DsbenchError(f"superpixel metrics: image size {height}x{width} must be positive")
    return int(math.floor(float(np.float32(fraction)) * math.hypot(height, width) + 0.5))


def _near(boundary: np.ndarray, r: int) -> np.ndarray:
    """Pixels whose clipped ``(2r+1)^2`` window contains a boundary pixel (a square dilation)."""
    if r > 8:
        # Outside the image counts as "no boundary", which is exactly the clipped window.
        return ndimage.maximum_filter(boundary.view(np.uint8), size=2 * r + 1, mode="constant", cval=0).view(bool)
    # Small radii (r = 1 on BSDS500): the square is separable, and 2r shifted ORs per axis on
    # bools are several times faster than the generic filter.
    near = boundary.copy()
    for axis in (0, 1):
        source = near.copy()  # shift the previous pass's result, not this pass's growing one
        for d in range(1, r + 1):
            lead = [slice(None)] * 2
            trail = [slice(None)] * 2
            lead[axis], trail[axis] = slice(d, None), slice(None, -d)
            near[tuple(lead)] |= source[tuple(trail)]
            near[tuple(trail)] |= source[tuple(lead)]
    return near


def _radius(r: Optional[int], shape: tuple[int, ...]) -> int:
    if r is None:
        return tolerance_radius(*shape)
    if int(r) != r or r < 0:
        raise DsbenchError(f"superpixel metrics: tolerance radius {r!r} must be a non-negative integer (pixels)")
    return int(r)


@dataclass(frozen=True)
class BoundaryCounts:
    """Raw counts behind BR and BP (int, so they can be pooled over images)."""

    true_positives: int    # ground-truth boundary pixels with a superpixel boundary in the window
    false_negatives: int   # ground-truth boundary pixels without one
    false_positives: int   # superpixel boundary pixels without a ground-truth boundary in the window

    @property
    def recall(self) -> float:
        total = self.true_positives + self.false_negatives
        return self.true_positives / total if total else 0.0

    @property
    def precision(self) -> float:
        total = self.true_positives + self.false_positives
        return self.true_positives / total if total else 0.0


def boundary_counts(sp: Any, gt: Any, r: Optional[int] = None) -> BoundaryCounts:
    """TP / FN / FP of the benchmark's boundary matching; ``r`` defaults to :func:`tolerance_radius`."""
    sp_arr, gt_arr = _check_pair(sp, gt)
    radius = _radius(r, gt_arr.shape)
    sp_boundary = boundary_map(sp_arr)
    gt_boundary = boundary_map(gt_arr)
    gt_count = int(np.count_nonzero(gt_boundary))
    tp = int(np.count_nonzero(gt_boundary & _near(sp_boundary, radius)))
    fp = int(np.count_nonzero(sp_boundary & ~_near(gt_boundary, radius)))
    return BoundaryCounts(true_positives=tp, false_negatives=gt_count - tp, false_positives=fp)


def boundary_recall(sp: Any, gt: Any, r: Optional[int] = None) -> float:
    """BR in ``[0, 1]``; 0.0 when the ground truth has no boundary pixel (see module doc)."""
    return boundary_counts(sp, gt, r).recall


def boundary_precision(sp: Any, gt: Any, r: Optional[int] = None) -> float:
    """BP in ``[0, 1]`` as the benchmark counts it; 0.0 when ``TP + FP == 0`` (see module doc)."""
    return boundary_counts(sp, gt, r).precision


# ---------------------------------------------------------------------------------------------
# Region metrics from one contingency table


@dataclass(frozen=True)
class Contingency:
    """The non-zero cells ``n_ij = |S_j ∩ G_i|``, sorted by superpixel then segment.

    ``superpixel``/``segment``/``count`` are parallel int64 vectors; ``superpixel_sizes`` has one
    entry per distinct superpixel (contiguous index ``0..K-1``), ``num_pixels`` is ``N``.
    """

    superpixel: np.ndarray
    segment: np.ndarray
    count: np.ndarray
    superpixel_sizes: np.ndarray
    num_segments: int
    num_pixels: int

    @property
    def num_superpixels(self) -> int:
        return int(self.superpixel_sizes.size)


def contingency(sp: Any, gt: Any) -> Contingency:
    """Intersection counts of every (superpixel, ground-truth segment) pair that overlaps."""
    sp_arr, gt_arr = _check_pair(sp, gt)
    return _contingency(*contiguous_ids(sp_arr), *contiguous_ids(gt_arr))


def _contingency(sp_ids: np.ndarray, n_sp: int, gt_ids: np.ndarray, n_gt: int) -> Contingency:
    pair = sp_ids * n_gt + gt_ids
    if n_sp * n_gt <= max(_DENSE_TABLE_MAX_CELLS, pair.size):
        table = np.bincount(pair, minlength=n_sp * n_gt)
        cells = np.flatnonzero(table)           # ascending pair id = sorted by superpixel, then segment
        counts = table[cells]
    else:
        cells, counts = np.unique(pair, return_counts=True)
    superpixel = cells // n_gt
    sizes = np.bincount(superpixel, weights=counts, minlength=n_sp).astype(np.int64)
    return Contingency(superpixel=superpixel, segment=cells % n_gt, count=counts.astype(np.int64),
                       superpixel_sizes=sizes, num_segments=n_gt, num_pixels=int(pair.size))


def _asa(table: Contingency) -> float:
    # Cells are grouped by superpixel and every superpixel has at least one cell.
    starts = np.flatnonzero(np.r_[True, table.superpixel[1:] != table.superpixel[:-1]])
    return float(np.maximum.reduceat(table.count, starts).sum() / table.num_pixels)


def _undersegmentation(table: Contingency) -> float:
    outside = table.superpixel_sizes[table.superpixel] - table.count
    return float(np.minimum(table.count, outside).sum() / table.num_pixels)


def achievable_segmentation_accuracy(sp: Any, gt: Any) -> float:
    """ASA: pixel accuracy of labelling each superpixel with its largest overlapping segment."""
    return _asa(contingency(sp, gt))


def undersegmentation_error(sp: Any, gt: Any) -> float:
    """Neubert-Protzel UE: per overlap, the smaller of the part inside and outside the segment, / N."""
    return _undersegmentation(contingency(sp, gt))


def compactness(sp: Any) -> float:
    """CO (Schick et al.): area-weighted isoperimetric quotient, perimeters in pixel edges (module doc)."""
    arr = _check_label_map(sp, "superpixels")
    return _compactness(arr, *contiguous_ids(arr))


def _compactness(arr: np.ndarray, ids: np.ndarray, n_sp: int) -> float:
    # Start from 4 exposed edges per pixel and remove the ones shared with a same-label neighbour.
    exposed = np.full(arr.shape, 4, dtype=np.int64)
    same_vertical = arr[1:, :] == arr[:-1, :]
    exposed[1:, :] -= same_vertical
    exposed[:-1, :] -= same_vertical
    same_horizontal = arr[:, 1:] == arr[:, :-1]
    exposed[:, 1:] -= same_horizontal
    exposed[:, :-1] -= same_horizontal
    perimeter = np.bincount(ids, weights=exposed.ravel(), minlength=n_sp)
    area = np.bincount(ids, minlength=n_sp).astype(np.float64)
    # Every non-empty region has at least one exposed edge, so perimeter > 0.
    return float(np.sum(area * 4.0 * math.pi * area / perimeter**2) / arr.size)


def explained_variation(sp: Any, image: Any) -> float:
    """EV in ``[0, 1]``: the share of the image's colour variance the superpixel means explain."""
    arr = _check_label_map(sp, "superpixels")
    return _explained_variation(_check_image(image, arr.shape), *contiguous_ids(arr))


def _check_image(image: Any, shape: tuple[int, ...]) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.shape[:2] != shape:
        raise DsbenchError(f"superpixel metrics: image has shape {img.shape}; expected {shape} or "
                           f"{shape + ('C',)} like the superpixels")
    if not (np.issubdtype(img.dtype, np.integer) or np.issubdtype(img.dtype, np.floating)):
        raise DsbenchError(f"superpixel metrics: image has dtype {img.dtype}; expected integer or float")
    return img


def _explained_variation(img: np.ndarray, ids: np.ndarray, n_sp: int) -> float:
    # Channel planes (C, N): reductions along contiguous rows are ~10x faster than along axis 0.
    planes = np.ascontiguousarray(img.reshape(ids.size, -1).T, dtype=np.float64)
    centred = planes - planes.mean(axis=1, keepdims=True)
    total = float(np.sum(centred * centred))
    if total == 0.0:
        return float("nan")
    sizes = np.bincount(ids, minlength=n_sp).astype(np.float64)
    # Superpixel means relative to the image mean; each appears |S_j| times in the sum.
    means = np.stack([np.bincount(ids, weights=plane, minlength=n_sp) for plane in centred]) / sizes
    explained = float(np.sum(sizes * means * means))
    return explained / total


def superpixel_metrics(sp: Any, gt: Any, image: Any = None, r: Optional[int] = None) -> Dict[str, Any]:
    """All metrics for one (superpixels, ground truth[, image]) triple.

    Returns ``boundary_recall``, ``boundary_precision``, ``asa``, ``undersegmentation_error``,
    ``compactness``, ``explained_variation`` (only with ``image``) and ``n_superpixels``, the
    number of distinct labels actually present in ``sp`` (not the number requested from a method).
    The boundary maps and the contingency table are each computed once.
    """
    sp_arr, gt_arr = _check_pair(sp, gt)
    img = None if image is None else _check_image(image, sp_arr.shape)
    counts = boundary_counts(sp_arr, gt_arr, r)
    sp_ids, n_sp = contiguous_ids(sp_arr)
    table = _contingency(sp_ids, n_sp, *contiguous_ids(gt_arr))
    result: Dict[str, Any] = {
        "boundary_recall": counts.recall,
        "boundary_precision": counts.precision,
        "asa": _asa(table),
        "undersegmentation_error": _undersegmentation(table),
        "compactness": _compactness(sp_arr, sp_ids, n_sp),
    }
    if img is not None:
        result["explained_variation"] = _explained_variation(img, sp_ids, n_sp)
    result["n_superpixels"] = table.num_superpixels
    return result
