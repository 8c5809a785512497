"""Nearest-neighbour unsampling: Jin's interpolation Pi after the reverse sampler G^-1.

The reverse sampler puts each low-res prediction back at its sampling location in the
full-resolution image; Pi then gives every full-resolution pixel the prediction of the *nearest
sampling location* (Euclidean distance in full-resolution pixel units, ``align_corners=True``
coordinates as in ``benchmark.ops.sampling``). Exact for any grid, uniform or not.

Registers ``UNSAMPLERS["nearest"]`` in ``benchmark.ops.sampling``. The nearest-point search is a
scipy k-d tree on the CPU (O((hw + HW) log hw)); the gather runs on the logits' device and is
differentiable in the logits. Ties (a pixel exactly midway) go to whichever point the k-d tree
returns, which is deterministic.

The search runs outside the traced graph, so :mod:`benchmark.cost` cannot count it;
:func:`search_comparisons` is its analytic estimate, reported as a stage of its own.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from benchmark.ops.sampling import UNSAMPLERS, Size, grid_to_pixels


def nearest_sample_index(grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """For every full-resolution pixel, the flat index (``i * w + j``) of the nearest grid point.

    Args:
        grid: ``(B, h, w, 2)`` normalised ``(x, y)`` sampling grid.
        size_hr: ``(H, W)``.
    Returns:
        int64 ``(B, H * W)`` on ``grid``'s device, pixels in row-major order.
    """
    from scipy.spatial import cKDTree  # here, not at the top: scipy.spatial costs every job 0.4 s of imports

    H, W = size_hr
    B = grid.shape[0]
    points = grid_to_pixels(grid.detach().double(), (H, W)).reshape(B, -1, 2).cpu().numpy()  # (B, hw, 2) x,y
    ys, xs = np.mgrid[0:H, 0:W]
    queries = np.stack((xs.ravel(), ys.ravel()), axis=1).astype(np.float64)                  # (HW, 2) x,y
    index = np.empty((B, H * W), dtype=np.int64)
    for b in range(B):
        _, index[b] = cKDTree(points[b]).query(queries, k=1)
    return torch.from_numpy(index).to(grid.device)


def search_comparisons(n_points: int, n_queries: int, dims: int = 2) -> int:
    """Estimated coordinate comparisons of :func:`nearest_sample_index` for one image.

    An estimate, not a count: building a balanced k-d tree over ``n_points`` compares every point
    once per level (``n_points x ceil(log2 n_points)``), and each of the ``n_queries`` descends
    ``ceil(log2 n_points)`` levels comparing ``dims`` coordinates per node (backtracking past a
    splitting plane is left out, so the true number is somewhat higher).
    """
    levels = max(1, math.ceil(math.log2(max(2, n_points))))
    return int(levels * (n_points + n_queries * dims))


def unsample_nearest(logits_lr: torch.Tensor, grid_lr: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """``(B, C, h, w)`` values sampled at ``grid_lr`` -> ``(B, C, H, W)`` by nearest sampling point."""
    B, C, h, w = logits_lr.shape
    H, W = size_hr
    index = nearest_sample_index(grid_lr, (H, W))                       # (B, H*W)
    flat = logits_lr.reshape(B, C, h * w)
    out = torch.gather(flat, 2, index.unsqueeze(1).expand(B, C, H * W))  # (B, C, H*W)
    return out.reshape(B, C, H, W)


UNSAMPLERS.register("nearest", unsample_nearest)
