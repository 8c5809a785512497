"""Barycentric unsampling over a non-uniform sampling grid (Marin et al. 2019, Sec. 3.3).

A sampling grid keeps the topology of the uniform grid, so every cell ``(i, j)`` with corners
``a = (i, j)``, ``b = (i, j+1)``, ``c = (i+1, j)``, ``d = (i+1, j+1)`` is cut along the diagonal
``a-d`` into the triangles ``(a, c, d)`` and ``(a, d, b)``. Each output pixel centre is a
barycentric (piecewise-linear) blend of the low-res predictions at the three corners of the
triangle containing it: the same interpolant as ``scipy.interpolate.griddata(method="linear")``
wherever Delaunay picks the same triangles, without triangulating.

Conventions
-----------
* Grids follow :mod:`benchmark.sampling` (``(B, h, w, 2)``, ``(x, y)``, ``align_corners=True``);
  pixel ``(r, c)`` of the ``H x W`` output has its centre at ``x = c``, ``y = r`` in pixel units.
* On the uniform grid this is *not* bilinear interpolation inside a cell (a triangle is linear,
  a bilinear patch has the ``xy`` twist term); the two agree exactly on the grid lines, and
  everywhere for predictions that are affine in ``(x, y)`` or when only one axis is upsampled.
* Overlaps (folded cells, or a pixel on a shared edge) go to the triangle with the largest index
  (row-major cells, lower triangle first): deterministic on every device.
* Pixels no triangle covers (cannot happen under covering constraints (3) except through float
  error at the border; can happen for arbitrary grids) take the prediction of the nearest grid
  point.

Implementation: each triangle's integer bounding box is rasterised in chunks of at most
``max_candidates`` candidate pixels (memory bounded independently of the grid), barycentric
coordinates come from per-triangle affine coefficients relative to the box origin (small
numbers, so float32 is accurate), and the result is a per-pixel ``(index, weight)`` triple; the
blend is then three gathers and a weighted sum, batched over images and chunked over pixels.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.sampling import UNSAMPLERS, Size, grid_to_pixels

MAX_CANDIDATES = 1 << 21  # candidate pixels per rasterisation chunk (~60 MB of temporaries)
SPAN_EPS = 1e-6           # pixels: a pixel on an edge is a candidate of both triangles


def _triangles(h: int, w: int, device) -> torch.Tensor:
    """Vertex indices ``(2*(h-1)*(w-1), 3)`` into the flattened ``h*w`` grid, row-major cells,
    lower triangle ``(a, c, d)`` then upper ``(a, d, b)`` for each cell."""
    i, j = torch.meshgrid(torch.arange(h - 1, device=device), torch.arange(w - 1, device=device), indexing="ij")
    a = (i * w + j).reshape(-1)
    b, c, d = a + 1, a + w, a + w + 1
    lower = torch.stack((a, c, d), dim=1)
    upper = torch.stack((a, d, b), dim=1)
    return torch.stack((lower, upper), dim=1).reshape(-1, 3)  # (T, 3)


def barycentric_weights(grid: torch.Tensor, size_hr: Size,
                        max_candidates: int = MAX_CANDIDATES) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per output pixel, the three grid-point indices and barycentric weights.

    ``grid`` ``(B, h, w, 2)`` -> ``index`` ``(B, H*W, 3)`` int64 into the flattened ``h*w`` grid
    and ``weight`` ``(B, H*W, 3)`` float32 (rows sum to 1).
    """
    B, h, w, _ = grid.shape
    H, W = size_hr
    device = grid.device
    indices, weights = [], []
    tris = _triangles(h, w, device) if h > 1 and w > 1 else torch.zeros(0, 3, dtype=torch.long, device=device)
    for image in range(B):
        pts = grid_to_pixels(grid[image].double(), (H, W)).reshape(-1, 2)  # (h*w, 2) pixel (x, y)
        index, weight = _weights_one(pts, tris, H, W, max_candidates)
        indices.append(index)
        weights.append(weight)
    return torch.stack(indices), torch.stack(weights)


def _weights_one(pts: torch.Tensor, tris: torch.Tensor, H: int, W: int,
                 max_candidates: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scanline rasterisation of every triangle: the rows of its y-range, then on each row the
    pixel span between its left and right edges (inclusive within ``SPAN_EPS``, so a pixel on a
    shared edge is a candidate of both triangles and the larger triangle index keeps it)."""
    device = pts.device
    n_out = H * W
    owner = torch.full((n_out,), -1, dtype=torch.long, device=device)
    index = torch.zeros(n_out, 3, dtype=torch.long, device=device)
    weight = torch.zeros(n_out, 3, dtype=torch.float32, device=device)

    if tris.shape[0]:
        v = pts[tris]  # (T, 3, 2) float64 pixel (x, y)
        e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        keep = det.abs() > 1e-12  # degenerate triangles cover nothing
        y_lo = torch.ceil(v[..., 1].min(dim=1).values - SPAN_EPS).clamp(min=0)
        y_hi = torch.floor(v[..., 1].max(dim=1).values + SPAN_EPS).clamp(max=H - 1)
        rows = (y_hi - y_lo + 1).clamp(min=0).long() * keep
        tri_ids = torch.nonzero(rows).squeeze(1)
        # l1, l2 are affine in the pixel position; expressed relative to an integer origin at
        # the triangle so that float32 keeps full precision at any image size.
        origin = torch.floor(v[:, 0])
        d0 = origin - v[:, 0]
        inv = 1.0 / torch.where(keep, det, torch.ones_like(det))
        l1_a, l1_b = e2[:, 1] * inv, -e2[:, 0] * inv
        l2_a, l2_b = -e1[:, 1] * inv, e1[:, 0] * inv
        coef = torch.stack((l1_a, l1_b, l1_a * d0[:, 0] + l1_b * d0[:, 1],
                            l2_a, l2_b, l2_a * d0[:, 0] + l2_b * d0[:, 1]), dim=1).float()  # (T, 6)
        origin = origin.long()
        order = torch.argsort(v[..., 1], dim=1)
        v_sorted = torch.gather(v, 1, order.unsqueeze(-1).expand(-1, -1, 2))  # (T, 3, 2) by y
        row_counts = rows[tri_ids]
        row_ends = torch.cumsum(row_counts, 0)
        # Chunk over triangles so that each chunk holds about max_candidates pixels.
        area = (v[..., 0].max(dim=1).values - v[..., 0].min(dim=1).values + 1.0)[tri_ids] * row_counts
        area_ends = torch.cumsum(area, 0)
        start, n_tri = 0, tri_ids.shape[0]
        while start < n_tri:
            base = float(area_ends[start - 1]) if start else 0.0
            stop = max(int(torch.searchsorted(area_ends, base + max_candidates, right=True)), start + 1)
            _scan_chunk(tri_ids[start:stop], row_counts[start:stop], y_lo, v_sorted, coef, origin, W, owner, weight)
            start = stop
        del row_ends

    index = tris.index_select(0, owner.clamp(min=0)) if tris.shape[0] else index  # (H*W, 3) corners of the owning triangle
    uncovered = torch.nonzero(owner < 0).squeeze(1)
    if uncovered.numel():
        nearest = _nearest_grid_point(pts, uncovered, W)
        index[uncovered] = nearest.unsqueeze(1).expand(-1, 3)
        weight[uncovered] = torch.tensor([1.0, 0.0, 0.0], device=device)
    return index, weight


def _expand(counts: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Segments of the given lengths -> per element: its segment id and its offset in it."""
    seg = torch.repeat_interleave(torch.arange(counts.shape[0], device=counts.device), counts)
    first = torch.cumsum(counts, 0) - counts
    offset = torch.arange(seg.shape[0], device=counts.device) - first.index_select(0, seg)
    return seg, offset


def _scan_chunk(tri: torch.Tensor, row_counts: torch.Tensor, y_lo: torch.Tensor, v_sorted: torch.Tensor,
                coef: torch.Tensor, origin: torch.Tensor, W: int, owner: torch.Tensor, weight: torch.Tensor) -> None:
    seg, dy = _expand(row_counts)
    t = tri.index_select(0, seg)                          # (S,) triangle of each span
    y = y_lo.index_select(0, t) + dy.double()             # (S,) its row
    top, mid, bot = v_sorted.index_select(0, t).unbind(1)  # (S, 2) each
    x_long = top[:, 0] + (y - top[:, 1]) * (bot[:, 0] - top[:, 0]) / (bot[:, 1] - top[:, 1])
    upper = ((y <= mid[:, 1]) & (mid[:, 1] > top[:, 1])).unsqueeze(1)
    p = torch.where(upper, top, mid)
    q = torch.where(upper, mid, bot)
    dq = q[:, 1] - p[:, 1]
    flat = dq == 0  # horizontal short edge: the row is the edge itself
    x_short = torch.where(flat, q[:, 0], p[:, 0] + (y - p[:, 1]) * (q[:, 0] - p[:, 0]) / torch.where(flat, torch.ones_like(dq), dq))
    x_lo = torch.ceil(torch.minimum(x_long, x_short) - SPAN_EPS).clamp(min=0)
    x_hi = torch.floor(torch.maximum(x_long, x_short) + SPAN_EPS).clamp(max=W - 1)
    width = (x_hi - x_lo + 1).clamp(min=0).long()
    span, dx = _expand(width)
    t = t.index_select(0, span)
    px = x_lo.long().index_select(0, span) + dx           # (N,) pixel column
    py = y.long().index_select(0, span)                   # (N,) pixel row
    o = origin.index_select(0, t)
    c = coef.index_select(0, t)                           # (N, 6)
    fx = (px - o[:, 0]).float()
    fy = (py - o[:, 1]).float()
    l1 = c[:, 0] * fx + c[:, 1] * fy + c[:, 2]
    l2 = c[:, 3] * fx + c[:, 4] * fy + c[:, 5]
    pix = py * W + px
    # Where spans overlap (shared edges, folded cells) the larger triangle index wins.
    owner.scatter_reduce_(0, pix, t, reduce="amax")
    win = owner.index_select(0, pix) == t
    if not bool(win.all()):
        keep = torch.nonzero(win).squeeze(1)
        pix, l1, l2 = pix.index_select(0, keep), l1.index_select(0, keep), l2.index_select(0, keep)
    # Weights sum to 1 by construction; on an edge one may be negative by float error (~1e-6).
    weight[pix] = torch.stack((1.0 - l1 - l2, l1, l2), dim=1)


def _nearest_grid_point(pts: torch.Tensor, pixels: torch.Tensor, W: int) -> torch.Tensor:
    from scipy.spatial import cKDTree

    query = torch.stack((pixels % W, pixels // W), dim=1).double().cpu().numpy()
    _, nearest = cKDTree(pts.cpu().numpy()).query(query, k=1)
    return torch.from_numpy(np.asarray(nearest, dtype=np.int64)).to(pts.device)


def blend(logits: torch.Tensor, index: torch.Tensor, weight: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """``logits`` ``(B, C, h, w)`` blended with ``(index, weight)`` ``(B, H*W, 3)`` -> ``(B, C, H, W)``.

    One fused weighted gather per image (``embedding_bag`` with per-sample weights over the
    ``(h*w, C)`` table of predictions). The result is returned in channels-last memory layout
    (a permuted view of ``(B, H, W, C)``): same values and shape, no transposing pass.
    """
    B, C, h, w = logits.shape
    H, W = size_hr
    table = logits.permute(0, 2, 3, 1).reshape(B, h * w, C)  # (B, h*w, C)
    weight = weight.to(logits.dtype)
    out = torch.stack([F.embedding_bag(index[b], table[b], per_sample_weights=weight[b], mode="sum")
                       for b in range(B)]) if B > 1 else \
        F.embedding_bag(index[0], table[0], per_sample_weights=weight[0], mode="sum").unsqueeze(0)
    return out.reshape(B, H, W, C).permute(0, 3, 1, 2)  # (B, C, H, W), channels-last


def unsample_barycentric(logits: torch.Tensor, grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """``UNSAMPLERS["barycentric"]``: ``(B, C, h, w)`` predictions at ``grid`` -> ``(B, C, H, W)``."""
    index, weight = barycentric_weights(grid, tuple(size_hr))
    return blend(logits, index, weight, tuple(size_hr))


UNSAMPLERS["barycentric"] = unsample_barycentric

__all__ = ["barycentric_weights", "blend", "unsample_barycentric"]
