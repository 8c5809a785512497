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

from benchmark.sampling import UNSAMPLERS, Size, grid_to_pixels

MAX_CANDIDATES = 1 << 21  # candidate pixels per rasterisation chunk (~60 MB of temporaries)
BLEND_CHUNK = 1 << 17     # output pixels per blend chunk (keeps the gathers in cache)
INSIDE_EPS = 1e-5         # barycentric tolerance: a pixel on an edge belongs to both triangles


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
    device = pts.device
    n_out = H * W
    owner = torch.full((n_out,), -1, dtype=torch.long, device=device)
    index = torch.zeros(n_out, 3, dtype=torch.long, device=device)
    weight = torch.zeros(n_out, 3, dtype=torch.float32, device=device)

    if tris.shape[0]:
        v = pts[tris]  # (T, 3, 2) float64
        v0, e1, e2 = v[:, 0], v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        lo = torch.ceil(v.min(dim=1).values - 1e-9)
        hi = torch.floor(v.max(dim=1).values + 1e-9)
        lo[:, 0].clamp_(min=0)
        lo[:, 1].clamp_(min=0)
        hi[:, 0].clamp_(max=W - 1)
        hi[:, 1].clamp_(max=H - 1)
        box = (hi - lo + 1).clamp(min=0)  # (T, 2) width, height
        count = (box[:, 0] * box[:, 1]).long()
        keep = (det.abs() > 1e-12) & (count > 0)
        # l1, l2 as affine functions of the offset (dx, dy) from the box origin: float64 here,
        # float32 per candidate (offsets are small, so no cancellation).
        inv = torch.where(keep, 1.0 / torch.where(keep, det, torch.ones_like(det)), torch.zeros_like(det))
        d0 = lo - v0  # origin relative to v0
        l1_a, l1_b = e2[:, 1] * inv, -e2[:, 0] * inv
        l2_a, l2_b = -e1[:, 1] * inv, e1[:, 0] * inv
        l1_c = l1_a * d0[:, 0] + l1_b * d0[:, 1]
        l2_c = l2_a * d0[:, 0] + l2_b * d0[:, 1]
        coef = torch.stack((l1_a, l1_b, l1_c, l2_a, l2_b, l2_c), dim=1).float()  # (T, 6)
        tri_ids = torch.nonzero(keep).squeeze(1)
        box_w = box[:, 0].long()
        origin = lo.long()
        counts = count[tri_ids]
        ends = torch.cumsum(counts, 0)
        start = 0
        n_tri = tri_ids.shape[0]
        while start < n_tri:
            base = int(ends[start - 1]) if start else 0
            stop = int(torch.searchsorted(ends, base + max_candidates, right=True))
            stop = max(stop, start + 1)
            _raster_chunk(tri_ids[start:stop], counts[start:stop], box_w, origin, coef, tris, W,
                          owner, index, weight)
            start = stop

    uncovered = torch.nonzero(owner < 0).squeeze(1)
    if uncovered.numel():
        nearest = _nearest_grid_point(pts, uncovered, W)
        index[uncovered] = nearest.unsqueeze(1).expand(-1, 3)
        weight[uncovered] = torch.tensor([1.0, 0.0, 0.0], device=device)
    return index, weight


def _raster_chunk(tri: torch.Tensor, counts: torch.Tensor, box_w: torch.Tensor, origin: torch.Tensor,
                  coef: torch.Tensor, tris: torch.Tensor, W: int,
                  owner: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> None:
    total = int(counts.sum())
    rep = torch.repeat_interleave(torch.arange(tri.shape[0], device=tri.device), counts)  # (N,)
    first = torch.cumsum(counts, 0) - counts
    k = torch.arange(total, device=tri.device) - first[rep]
    t = tri[rep]
    bw = box_w[t]
    dy = torch.div(k, bw, rounding_mode="floor")
    dx = k - dy * bw
    c = coef[t]  # (N, 6)
    dxf, dyf = dx.float(), dy.float()
    l1 = c[:, 0] * dxf + c[:, 1] * dyf + c[:, 2]
    l2 = c[:, 3] * dxf + c[:, 4] * dyf + c[:, 5]
    l0 = 1.0 - l1 - l2
    inside = (l0 >= -INSIDE_EPS) & (l1 >= -INSIDE_EPS) & (l2 >= -INSIDE_EPS)
    sel = torch.nonzero(inside).squeeze(1)
    if not sel.numel():
        return
    t = t[sel]
    o = origin[t]
    pix = (o[:, 1] + dy[sel]) * W + (o[:, 0] + dx[sel])
    # Later triangles win: scatter the max triangle id, keep the candidates that hold it.
    owner.scatter_reduce_(0, pix, t, reduce="amax")
    win = owner[pix] == t
    pix, t = pix[win], t[win]
    sel = sel[win]
    lam = torch.stack((l0[sel], l1[sel], l2[sel]), dim=1).clamp_(min=0.0)
    lam = lam / lam.sum(dim=1, keepdim=True)
    index[pix] = tris[t]
    weight[pix] = lam


def _nearest_grid_point(pts: torch.Tensor, pixels: torch.Tensor, W: int) -> torch.Tensor:
    from scipy.spatial import cKDTree

    query = torch.stack((pixels % W, pixels // W), dim=1).double().cpu().numpy()
    _, nearest = cKDTree(pts.cpu().numpy()).query(query, k=1)
    return torch.from_numpy(np.asarray(nearest, dtype=np.int64)).to(pts.device)


def blend(logits: torch.Tensor, index: torch.Tensor, weight: torch.Tensor, size_hr: Size,
          chunk: int = BLEND_CHUNK) -> torch.Tensor:
    """``logits`` ``(B, C, h, w)`` blended with ``(index, weight)`` ``(B, H*W, 3)`` -> ``(B, C, H, W)``."""
    B, C, h, w = logits.shape
    H, W = size_hr
    flat = logits.reshape(B, C, h * w)
    out = torch.empty(B, C, H * W, dtype=logits.dtype, device=logits.device)
    weight = weight.to(logits.dtype)
    for b in range(B):
        src = flat[b]
        for s in range(0, H * W, chunk):
            e = min(s + chunk, H * W)
            idx = index[b, s:e]
            wt = weight[b, s:e]
            o = out[b, :, s:e]
            torch.mul(src.index_select(1, idx[:, 0]), wt[:, 0], out=o)
            o.addcmul_(src.index_select(1, idx[:, 1]), wt[:, 1])
            o.addcmul_(src.index_select(1, idx[:, 2]), wt[:, 2])
    return out.reshape(B, C, H, W)


def unsample_barycentric(logits: torch.Tensor, grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """``UNSAMPLERS["barycentric"]``: ``(B, C, h, w)`` predictions at ``grid`` -> ``(B, C, H, W)``."""
    index, weight = barycentric_weights(grid, tuple(size_hr))
    return blend(logits, index, weight, tuple(size_hr))


UNSAMPLERS["barycentric"] = unsample_barycentric

__all__ = ["barycentric_weights", "blend", "unsample_barycentric"]
