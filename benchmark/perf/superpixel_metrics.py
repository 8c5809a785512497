"""`dsbench perf superpixel-metrics`: vectorised BR / BP / ASA / UE vs per-pixel Python loops.

Baseline (:func:`baseline_loop_metrics`): the benchmark's definitions written as a direct port
would, one pixel at a time: boundary maps by checking the four neighbours of every pixel, a
``(2r+1)^2`` window scan for every boundary pixel, and the contingency table as a dict filled
pixel by pixel (on Python lists, not numpy scalars, so the loop is as fast as plain Python gets).
Ours: :mod:`benchmark.metrics.superpixels` (shift comparisons, a separable max filter, one
``np.bincount``). Inputs: BSDS500 test images and their annotations when the release is at
``../shared/data/BSDS500/data`` (relative to the current directory, or ``root``), else seeded
synthetic segmentations of the same size; superpixels are regular grids of blocks (SLIC's
initialisation) of about ``n`` cells. The loop is slow, so the headline ratio is per
(image, annotation) pair on a few pairs; ``details`` also times ours on the full sweep (every
test image x every annotator x 8 values of n, with CO and EV too) and extrapolates the loop.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from benchmark.metrics.superpixels import (
    _asa,
    _undersegmentation,
    boundary_counts,
    contingency,
    superpixel_metrics,
    tolerance_radius,
)
from benchmark.perf import PERF, PerfResult, best_of

DEFAULT_ROOT = Path("..") / "shared" / "data" / "BSDS500" / "data"
#: Superpixel counts of the sweep (SCN / PCNet curves span roughly this range on BSDS500).
SWEEP_N = (100, 200, 300, 400, 600, 800, 1000, 1200)
METRIC_KEYS = ("boundary_recall", "boundary_precision", "asa", "undersegmentation_error")


def grid_superpixels(height: int, width: int, n: int) -> np.ndarray:
    """Regular blocks, about ``n`` of them, as square as the image allows (int64 ids)."""
    step = math.sqrt(height * width / n)
    rows = max(1, round(height / step))
    cols = max(1, round(width / step))
    row_id = (np.arange(height) * rows) // height
    col_id = (np.arange(width) * cols) // width
    return (row_id[:, None] * cols + col_id[None, :]).astype(np.int64)


def baseline_loop_metrics(sp: np.ndarray, gt: np.ndarray, r: int) -> Dict[str, float]:
    """BR, BP, ASA, UE (Neubert-Protzel) with per-pixel Python loops: the baseline."""
    h, w = gt.shape
    sp_rows, gt_rows = sp.tolist(), gt.tolist()

    def boundary(rows: List[List[int]]) -> List[List[bool]]:
        out = [[False] * w for _ in range(h)]
        for i in range(h):
            for j in range(w):
                v = rows[i][j]
                out[i][j] = ((i > 0 and rows[i - 1][j] != v) or (i < h - 1 and rows[i + 1][j] != v)
                             or (j > 0 and rows[i][j - 1] != v) or (j < w - 1 and rows[i][j + 1] != v))
        return out

    def any_in_window(mask: List[List[bool]], i: int, j: int) -> bool:
        for k in range(max(0, i - r), min(h - 1, i + r) + 1):
            row = mask[k]
            for m in range(max(0, j - r), min(w - 1, j + r) + 1):
                if row[m]:
                    return True
        return False

    sp_b, gt_b = boundary(sp_rows), boundary(gt_rows)
    tp = fn = fp = 0
    for i in range(h):
        for j in range(w):
            if gt_b[i][j]:
                if any_in_window(sp_b, i, j):
                    tp += 1
                else:
                    fn += 1
            elif sp_b[i][j] and not any_in_window(gt_b, i, j):
                fp += 1
    overlap: Dict[Tuple[int, int], int] = {}
    sizes: Dict[int, int] = {}
    for i in range(h):
        for j in range(w):
            s, g = sp_rows[i][j], gt_rows[i][j]
            overlap[(s, g)] = overlap.get((s, g), 0) + 1
            sizes[s] = sizes.get(s, 0) + 1
    best: Dict[int, int] = {}
    ue = 0
    for (s, _), c in overlap.items():
        best[s] = max(best.get(s, 0), c)
        ue += min(c, sizes[s] - c)
    n = h * w
    return {"boundary_recall": tp / (tp + fn) if tp + fn else 0.0,
            "boundary_precision": tp / (tp + fp) if tp + fp else 0.0,
            "asa": sum(best.values()) / n, "undersegmentation_error": ue / n}


def ours_metrics(sp: np.ndarray, gt: np.ndarray, r: int) -> Dict[str, float]:
    """The same four numbers from the vectorised module."""
    counts = boundary_counts(sp, gt, r)
    table = contingency(sp, gt)
    return {"boundary_recall": counts.recall, "boundary_precision": counts.precision,
            "asa": _asa(table), "undersegmentation_error": _undersegmentation(table)}


def _synthetic_samples(count: int, shape: Tuple[int, int] = (321, 481)) -> Iterator[Tuple[str, np.ndarray, List[np.ndarray]]]:
    """BSDS-sized stand-ins: smooth random blobs (thresholded noise), 5 annotators at 5 scales."""
    from scipy import ndimage

    from benchmark.data.bsds500 import regions_from_labels

    for index in range(count):
        rng = np.random.default_rng([7, index])
        image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        segs = []
        for k in range(5):
            field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=6 + 4 * k)
            classes = np.digitize(field, np.quantile(field, [0.25, 0.5, 0.75]))
            segs.append(regions_from_labels(classes))
        yield f"synthetic{index}", image, segs


def _samples(root: Optional[Path], limit: Optional[int]) -> Tuple[str, Iterator[Tuple[str, np.ndarray, List[np.ndarray]]]]:
    import itertools

    from benchmark.data.bsds500 import iter_bsds500

    base = Path(root) if root is not None else DEFAULT_ROOT
    if (base / "images" / "test").is_dir():
        return f"BSDS500 test ({base})", itertools.islice(iter_bsds500(base, "test"), limit)
    return "synthetic 321x481 (BSDS500 not found)", _synthetic_samples(limit if limit is not None else 200)


@PERF.register("superpixel_metrics")
def run(quick: bool = False, root: Optional[str] = None) -> PerfResult:
    """Headline: per-pair seconds, loop vs ours, on 3 BSDS500 test pairs at n = 400 (the 481x321
    images give r = 1). ``quick``: one pair cropped to 96x128, and a 2-image x 2-n sweep."""
    crop = (slice(0, 96), slice(0, 128)) if quick else (slice(None), slice(None))
    timed_pairs = 1 if quick else 3
    source, samples = _samples(root if root is None else Path(root), timed_pairs)
    pairs = []
    for _, _, segs in samples:
        # The radius of the whole image (1 px), also for the quick crop (whose own would be 0).
        r = tolerance_radius(*segs[0].shape)
        gt = segs[0][crop]
        pairs.append((grid_superpixels(*gt.shape, 100 if quick else 400), gt))
    baseline_s = best_of(lambda: [baseline_loop_metrics(sp, gt, r) for sp, gt in pairs], 1) / len(pairs)
    ours_s = best_of(lambda: [ours_metrics(sp, gt, r) for sp, gt in pairs], 5) / len(pairs)
    max_diff = max(abs(baseline_loop_metrics(sp, gt, r)[k] - ours_metrics(sp, gt, r)[k])
                   for sp, gt in pairs for k in METRIC_KEYS)

    # The sweep an evaluation runs: every image x annotator x n, all metrics (CO, EV included).
    sweep_n = SWEEP_N[:2] if quick else SWEEP_N
    _, sweep_samples = _samples(root if root is None else Path(root), 2 if quick else None)
    sweep_s, evaluations, images = 0.0, 0, 0
    for _, image, segs in sweep_samples:
        images += 1
        grids = [grid_superpixels(*image.shape[:2], n) for n in sweep_n]
        start = time.perf_counter()
        for gt in segs:
            for sp in grids:
                superpixel_metrics(sp, gt, image)
        sweep_s += time.perf_counter() - start
        evaluations += len(segs) * len(grids)
    return PerfResult(
        name="superpixel-metrics",
        baseline=f"per-pixel Python loops (BR, BP, ASA, UE), seconds per pair, {source}",
        baseline_s=baseline_s,
        ours_s=ours_s,
        details={
            "pair_size": "x".join(map(str, pairs[0][1].shape)), "tolerance_radius": r,
            "timed_pairs": len(pairs), "max_abs_diff_vs_baseline": max_diff,
            "sweep": f"{images} images x their annotators x n in {list(sweep_n)}",
            "sweep_evaluations": evaluations,
            "sweep_ours_all_metrics_s": sweep_s,
            "sweep_ours_s_per_evaluation": sweep_s / max(evaluations, 1),
            # Per-pair loop time x evaluations; only meaningful on uncropped pairs (not quick).
            **({} if quick else {"sweep_baseline_estimated_s": baseline_s * evaluations}),
        },
    )
