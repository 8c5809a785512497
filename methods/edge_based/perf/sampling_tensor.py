"""`dsbench perf sampling_tensor`: ground-truth sampling tensor, fast path vs straightforward.

Straightforward (the baseline): boundary map, full-resolution ``distance_transform_edt`` with
indices read at the pixel nearest each uniform point, and a fresh ``spsolve`` per coordinate,
for every image. Ours: the same boundary map, a KD-tree over the boundary pixels queried at the
``h*w`` uniform points only, and the factorisation cached per ``(h, w, lambda)``.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from benchmark.perf import PERF, PerfResult, best_of
from methods.edge_based.perf.unsample import street_labels
from methods.edge_based.sampling_tensor import (
    boundary_map,
    nearest_boundary_points,
    nearest_boundary_points_edt,
    sampling_tensor,
    sampling_tensor_straightforward,
    uniform_tensor,
)


def measure(size_hr: Tuple[int, int], size_lr: Tuple[int, int], images: int = 3, lam: float = 1.0) -> Dict[str, Any]:
    maps = [street_labels(*size_hr, seed=s) for s in range(images)]
    sampling_tensor(maps[0], size_lr, lam)  # the factorisation is cached once per shape, not per image
    baseline_s = best_of(lambda: [sampling_tensor_straightforward(m, size_lr, lam) for m in maps], 3) / images
    ours_s = best_of(lambda: [sampling_tensor(m, size_lr, lam) for m in maps], 3) / images
    # Agreement: ours finds the exact nearest boundary pixel of each uniform point; the
    # straightforward one that of the nearest pixel centre (can be up to ~0.7 px farther).
    scale = np.array([size_hr[0] - 1, size_hr[1] - 1], dtype=float)[:, None, None]
    u = uniform_tensor(size_lr)
    gaps = []
    for m in maps:
        boundary = boundary_map(m)
        fast = nearest_boundary_points(boundary, size_lr)
        slow = nearest_boundary_points_edt(boundary, size_lr)
        extra = np.hypot(*((slow - u) * scale)) - np.hypot(*((fast - u) * scale))
        gaps.append((float(extra.min()), float(extra.max()), float((np.abs(slow - fast) * scale).max())))
    return {"size": f"{size_hr[0]}x{size_hr[1]} -> {size_lr[0]}x{size_lr[1]}", "baseline_s": baseline_s,
            "ours_s": ours_s, "speedup": baseline_s / ours_s,
            # >= 0 up to float error: ours is never farther than the straightforward point
            "extra_distance_px_of_baseline_min": min(g[0] for g in gaps),
            "extra_distance_px_of_baseline_max": max(g[1] for g in gaps),
            "max_point_difference_px": max(g[2] for g in gaps)}


@PERF.register("sampling_tensor")
def sampling_tensor_perf(quick: bool = False) -> PerfResult:
    """Headline: a 1024x2048 label map at 64x64 (``quick``: 512x1024)."""
    size_hr = (512, 1024) if quick else (1024, 2048)
    head = measure(size_hr, (64, 64))
    rows = [head]
    if not quick:
        rows.append(measure(size_hr, (128, 256)))
    return PerfResult(
        name="sampling_tensor",
        baseline="distance_transform_edt(return_indices) at full resolution + spsolve per coordinate, per image",
        baseline_s=head["baseline_s"],
        ours_s=head["ours_s"],
        details={k: head[k] for k in ("extra_distance_px_of_baseline_min", "extra_distance_px_of_baseline_max",
                                      "max_point_difference_px")},
        rows=rows,
    )
