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

Two implementations, same interpolant:

* **Scanline path** (:func:`scanline_plan` + :func:`blend_scanlines`, used by
  :func:`unsample_barycentric` whenever the grid is a valid covering mesh: boundary on the image
  border within ``BORDER_TOL`` pixels, every triangle consistently oriented, hence no folds and
  no gaps). On output row ``y`` the interpolant is piecewise linear in ``x`` with kinks only
  where the row crosses a mesh edge, so each row is a 1-D linear interpolation between its edge
  crossings (the value at a crossing is a 2-point blend along the edge). The crossings of all
  rows are sorted into one list (an integer radix sort), each pixel finds its left crossing with
  a cumulative sum of per-pixel marks, and one ``grid_sample`` call (via
  :func:`benchmark.sampling.resample`) does the lerp for every channel straight into a
  contiguous ``(B, C, H, W)`` tensor: the table row ``k`` holds crossings ``k`` and ``k+1``
  (an overlapping strided view, nothing copied), the sample's y is the integer ``k`` (exact in
  float32: the table has ``2**m + 1`` rows) and its x the fraction in ``[0, 1]``.
  Memory: a few ``H*W`` int32/float32 maps, the ``C x crossings`` table; rows are processed in
  bands of at most ``MAX_BAND_PIXELS`` (all images together) so indices stay exact in float32.
* **General path** (:func:`barycentric_weights` + :func:`blend`): every triangle is rasterised
  scanline by scanline in chunks of at most ``max_candidates`` candidate pixels, giving per
  pixel an ``(index, weight)`` triple; then one fused weighted gather. Handles folds, gaps and
  uncovered pixels as stated above; used for grids the scanline path declines.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.sampling import UNSAMPLERS, Size, grid_to_pixels, resample

MAX_CANDIDATES = 1 << 21  # candidate pixels per rasterisation chunk (~60 MB of temporaries)
SPAN_EPS = 1e-6           # pixels: a pixel on an edge is a candidate of both triangles
BORDER_TOL = 1e-3         # pixels: a mesh boundary this close to the image border is snapped onto it
MAX_BAND_PIXELS = 1 << 23  # output pixels per scanline band (all images): flat indices exact in float32
MAX_CROSSINGS = 1 << 23    # edge crossings per image and band: table row indices exact in float32
_FRACTION_BITS = 21        # sub-pixel resolution of the crossing sort key


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


def _weights_one(pts: torch.Tensor, tris: torch.Tensor, H: int, W: int, max_candidates: int,
                 subset: Optional[torch.Tensor] = None,
                 pixels: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scanline rasterisation of every triangle: the rows of its y-range, then on each row the
    pixel span between its left and right edges (inclusive within ``SPAN_EPS``, so a pixel on a
    shared edge is a candidate of both triangles and the larger triangle index keeps it).

    ``subset`` (bool ``(T,)``) rasterises only those triangles; ``pixels`` (sorted flat indices
    ``(S,)``) returns ``(S, 3)`` triples for those pixels only instead of ``(H*W, 3)``; the
    caller guarantees that every triangle covering one of them is in ``subset``."""
    device = pts.device
    n_out = H * W if pixels is None else pixels.shape[0]
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
        rows = (y_hi - y_lo + 1).clamp(min=0).long() * (keep if subset is None else keep & subset)
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
            _scan_chunk(tri_ids[start:stop], row_counts[start:stop], y_lo, v_sorted, coef, origin, W, owner, weight,
                        pixels)
            start = stop
        del row_ends

    index = tris.index_select(0, owner.clamp(min=0)) if tris.shape[0] else index  # (H*W, 3) corners of the owning triangle
    uncovered = torch.nonzero(owner < 0).squeeze(1)
    if uncovered.numel():
        nearest = _nearest_grid_point(pts, uncovered if pixels is None else pixels.index_select(0, uncovered), W)
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
                coef: torch.Tensor, origin: torch.Tensor, W: int, owner: torch.Tensor, weight: torch.Tensor,
                pixels: Optional[torch.Tensor] = None) -> None:
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
    if pixels is not None:  # only the listed pixels: their slot in the list
        slot = torch.searchsorted(pixels, pix).clamp_(max=pixels.shape[0] - 1)
        listed = torch.nonzero(pixels.index_select(0, slot) == pix).squeeze(1)
        pix, t, l1, l2 = slot.index_select(0, listed), t.index_select(0, listed), l1.index_select(0, listed), \
            l2.index_select(0, listed)
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
    ``(h*w, C)`` table of predictions), then one transposing copy to a contiguous tensor.
    """
    B, C, h, w = logits.shape
    H, W = size_hr
    table = logits.permute(0, 2, 3, 1).reshape(B, h * w, C)  # (B, h*w, C)
    weight = weight.to(logits.dtype)
    out = torch.stack([F.embedding_bag(index[b], table[b], per_sample_weights=weight[b], mode="sum")
                       for b in range(B)]) if B > 1 else \
        F.embedding_bag(index[0], table[0], per_sample_weights=weight[0], mode="sum").unsqueeze(0)
    return out.reshape(B, H, W, C).permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


# --------------------------------------------------------------------------- scanline path


@contextlib.contextmanager
def _one_intra_op_thread(device: torch.device) -> Iterator[None]:
    """Run the planning ops on one CPU thread, restoring the caller's setting afterwards.

    They are many medium-sized ops (crossing lists, row blocks sized for the cache): on two
    threads each op is a fork-join barrier, and on a busy machine every barrier waits for a
    scheduler slice (measured on the shared 2-core machine: ~8 ms per op instead of ~10 us),
    while an idle machine gains little from splitting them. The one big op, the final
    ``grid_sample``, runs outside with the caller's threads."""
    before = torch.get_num_threads()
    if device.type != "cpu" or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclasses.dataclass
class _Band:
    """Output rows ``[row0, row1)`` of every image: what :func:`blend_scanlines` needs."""
    row0: int
    row1: int
    top: List[torch.Tensor]     # per image (K_b,) int64: upper end of the crossed edge (flat grid index)
    bottom: List[torch.Tensor]  # per image (K_b,) int64: lower end
    t: List[torch.Tensor]       # per image (K_b,) float64: position along the edge, 0 at ``top``
    rows: int                   # table rows 2**m + 1 > max K_b (row index exact in float32)
    sample: torch.Tensor        # (B, row1-row0, W, 2) sample coordinates (a strided view)


@dataclasses.dataclass
class ScanlinePlan:
    """Everything of a scanline unsampling that depends on the grid only (not on the logits)."""
    size_hr: Size
    batch: int
    grid_hw: Size
    bands: List[_Band]
    # per image: None, or (pixels (S,) flat, index (S, 3), weight (S, 3)) from the general path
    patches: List[Optional[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]


def _covering_mesh(pts: torch.Tensor, H: int, W: int) -> Optional[torch.Tensor]:
    """Pixel grid ``(h, w, 2)`` float64 with its boundary snapped onto the image border, or
    ``None`` when the boundary is not on the border within ``BORDER_TOL`` (then the general path
    applies: there may be uncovered pixels)."""
    h, w, _ = pts.shape
    if h < 2 or w < 2 or not bool(torch.isfinite(pts).all()):
        return None
    x, y = pts[..., 0], pts[..., 1]
    border = torch.stack((x[:, 0].abs().max(), (x[:, -1] - (W - 1)).abs().max(),
                          y[0].abs().max(), (y[-1] - (H - 1)).abs().max()))
    if bool((border > BORDER_TOL).any()):
        return None
    pts = pts.clone()
    pts[:, 0, 0], pts[:, -1, 0], pts[0, :, 1], pts[-1, :, 1] = 0.0, W - 1.0, 0.0, H - 1.0
    return pts


def _bad_triangles(pts: torch.Tensor, tris: torch.Tensor) -> torch.Tensor:
    """Bool ``(T,)``: triangles folded over (orientation opposite to the uniform grid's, whose
    triangles have negative determinants with y down) or degenerate.

    With the boundary on the image border the mesh has degree 1, so a point inside no bad
    triangle lies in exactly one triangle, and any edge passing through that triangle's
    interior lies in the closure of the bad triangles: away from them the scanline
    interpolation is exact."""
    v = pts.reshape(-1, 2)[tris]
    e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
    return (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) >= 0


def _box_pixels(lo: torch.Tensor, hi: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Flat indices (with repeats) of the pixels in the integer boxes ``lo``..``hi`` ``(N, 2)``
    (x, y), inclusive, clipped to the image."""
    lo = torch.maximum(lo, torch.zeros_like(lo))
    hi = torch.minimum(hi, torch.tensor([W - 1, H - 1], device=hi.device))
    heights = (hi[:, 1] - lo[:, 1] + 1).clamp(min=0)
    box, dy = _expand(heights)
    row = lo[box, 1] + dy
    return _interval_pixels(row * W + lo[box, 0], row * W + hi[box, 0] + 1)


def _interval_pixels(start: torch.Tensor, stop: torch.Tensor) -> torch.Tensor:
    """Flat indices (with repeats) in the intervals ``[start, stop)``."""
    length = (stop - start).clamp(min=0)
    interval, offset = _expand(length)
    return start.index_select(0, interval) + offset


def _edges(h: int, w: int, device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Both ends ``(E,)`` of every mesh edge: horizontal, vertical and diagonal ``a-d``."""
    idx = torch.arange(h * w, device=device).reshape(h, w)
    first = torch.cat((idx[:, :-1].reshape(-1), idx[:-1, :].reshape(-1), idx[:-1, :-1].reshape(-1)))
    second = torch.cat((idx[:, 1:].reshape(-1), idx[1:, :].reshape(-1), idx[1:, 1:].reshape(-1)))
    return first, second


def _crossings(pts: torch.Tensor, edges: Tuple[torch.Tensor, torch.Tensor], row0: int, row1: int, W: int):
    """Where output rows ``[row0, row1)`` cross the mesh edges, sorted by (row, x).

    Returns ``top``, ``bottom`` (edge ends), ``t`` (float64 position along the edge), ``x``
    (float64 column), ``row`` (int64, relative to ``row0``). Each edge counts on every row of
    its closed y-range (horizontal edges on none: their ends are crossings of other edges), so
    a row through a grid point gets it several times: duplicates are harmless, a missing kink
    would not be.
    """
    flat = pts.reshape(-1, 2)
    e0, e1 = edges
    y0, y1 = flat[e0, 1], flat[e1, 1]
    swap = y1 < y0
    top, bottom = torch.where(swap, e1, e0), torch.where(swap, e0, e1)
    y_top, y_bot = torch.minimum(y0, y1), torch.maximum(y0, y1)
    first = torch.ceil(y_top).clamp(min=row0)
    last = torch.floor(y_bot).clamp(max=row1 - 1)
    count = (last - first + 1).clamp(min=0).long() * (y_bot > y_top)
    keep = torch.nonzero(count).squeeze(1)
    top, bottom, first, count = top[keep], bottom[keep], first[keep], count[keep]
    edge, offset = _expand(count)
    row = first.index_select(0, edge) + offset                      # float64 absolute row
    top, bottom = top.index_select(0, edge), bottom.index_select(0, edge)
    p, q = flat.index_select(0, top), flat.index_select(0, bottom)
    t = ((row - p[:, 1]) / (q[:, 1] - p[:, 1])).clamp(0.0, 1.0)
    x = torch.lerp(p[:, 0], q[:, 0], t).clamp(0.0, W - 1.0)
    row = row.long() - row0
    # Integer key: the pixel bucket ceil(x) first (so the order agrees with the per-pixel marks
    # exactly), then x within the bucket to 2**-21 px.
    bucket = torch.ceil(x)
    fraction = ((x - bucket + 1.0) * (1 << _FRACTION_BITS)).long().clamp(0, (1 << _FRACTION_BITS) - 1)
    key = ((row * W + bucket.long()) << _FRACTION_BITS) + fraction
    order = torch.sort(key).indices
    return (top.index_select(0, order), bottom.index_select(0, order), t.index_select(0, order),
            x.index_select(0, order), row.index_select(0, order))


def scanline_plan(grid: torch.Tensor, size_hr: Size, dtype: torch.dtype = torch.float32,
                  max_band_pixels: int = MAX_BAND_PIXELS) -> Optional[ScanlinePlan]:
    """Plan of the scanline path for ``grid`` ``(B, h, w, 2)`` -> ``size_hr``; ``None`` when some
    image's mesh boundary is not on the image border. ``dtype``: that of the logits to blend.

    Pixels near folded or degenerate triangles (inside their bounding boxes, dilated by a pixel,
    or interpolated from an edge crossing there) are listed in the plan with general-path
    ``(index, weight)`` triples and overwritten after the scanline blend."""
    with _one_intra_op_thread(grid.device):
        return _scanline_plan(grid, tuple(size_hr), dtype, max_band_pixels)


def _scanline_plan(grid: torch.Tensor, size_hr: Size, dtype: torch.dtype,
                   max_band_pixels: int) -> Optional[ScanlinePlan]:
    B, h, w, _ = grid.shape
    H, W = size_hr
    device = grid.device
    meshes = []
    for image in range(B):
        mesh = _covering_mesh(grid_to_pixels(grid[image].double(), (H, W)), H, W)
        if mesh is None:
            return None
        meshes.append(mesh)
    tris = _triangles(h, w, device)
    bad = [_bad_triangles(mesh, tris) for mesh in meshes]
    suspect = []  # per image: bool (H*W,) pixels the general path must redo, or None
    for mesh, folded in zip(meshes, bad):
        if not bool(folded.any()):
            suspect.append(None)
            continue
        v = mesh.reshape(-1, 2)[tris[folded]]  # (F, 3, 2)
        mask = torch.zeros(H * W, dtype=torch.bool, device=device)
        mask.index_fill_(0, _box_pixels(torch.floor(v.min(dim=1).values).long() - 1,
                                        torch.ceil(v.max(dim=1).values).long() + 1, H, W), True)
        suspect.append(mask)
    edges = _edges(h, w, device)
    band_rows = max(1, min(H, max_band_pixels // max(B * W, 1)))
    bands, row0 = [], 0
    while row0 < H:
        row1 = min(H, row0 + band_rows)
        band = _plan_band(meshes, edges, row0, row1, W, dtype, suspect)
        if band is None:  # too many crossings for exact float32 row indices: halve the band
            if row1 - row0 == 1:
                return None
            band_rows = max(1, (row1 - row0) // 2)
            continue
        bands.append(band)
        row0 = row1
    patches = []
    for mesh, mask in zip(meshes, suspect):
        if mask is None:
            patches.append(None)
            continue
        pixels = torch.nonzero(mask).squeeze(1)
        # Only the triangles that may cover these pixels, in index order (so the largest still wins).
        near = tris[_triangles_near(mesh, tris, pixels, H, W)]
        index, weight = _weights_one(mesh.reshape(-1, 2), near, H, W, MAX_CANDIDATES, pixels=pixels)
        patches.append((pixels, index, weight))
    return ScanlinePlan(size_hr=(H, W), batch=B, grid_hw=(h, w), bands=bands, patches=patches)


def _triangles_near(mesh: torch.Tensor, tris: torch.Tensor, pixels: torch.Tensor, H: int, W: int,
                    tile: int = 16) -> torch.Tensor:
    """Bool ``(T,)``: triangles whose bounding box meets a ``tile``-pixel tile holding one of
    ``pixels`` (a superset of the triangles covering them)."""
    th, tw = (H + tile - 1) // tile, (W + tile - 1) // tile
    occupied = torch.zeros(th + 1, tw + 1, dtype=torch.int32, device=mesh.device)
    flat_tiles = torch.zeros(th * tw, dtype=torch.int32, device=mesh.device)
    flat_tiles.index_fill_(0, (pixels // W // tile) * tw + (pixels % W) // tile, 1)
    occupied[1:, 1:] = flat_tiles.view(th, tw)
    table = occupied.cumsum(0).cumsum(1)  # summed-area table
    v = mesh.reshape(-1, 2)[tris]
    lo = torch.ceil(v.min(dim=1).values - SPAN_EPS).clamp(min=0)
    hi = torch.floor(v.max(dim=1).values + SPAN_EPS)
    hi = torch.minimum(hi, torch.tensor([W - 1.0, H - 1.0], device=hi.device, dtype=hi.dtype))
    nonempty = (hi >= lo).all(dim=1)
    lo = (lo.long() // tile).clamp(min=0)
    hi = (hi.long() // tile).clamp(min=0)
    x0, y0, x1, y1 = lo[:, 0], lo[:, 1], torch.minimum(hi[:, 0], lo[:, 0].new_tensor(tw - 1)), \
        torch.minimum(hi[:, 1], lo[:, 1].new_tensor(th - 1))
    count = table[y1 + 1, x1 + 1] - table[y0, x1 + 1] - table[y1 + 1, x0] + table[y0, x0]
    return nonempty & (count > 0)


def _plan_band(meshes: List[torch.Tensor], edges, row0: int, row1: int, W: int, dtype: torch.dtype,
               suspect: List[Optional[torch.Tensor]]) -> Optional[_Band]:
    device = meshes[0].device
    B, rows_out = len(meshes), row1 - row0
    pixels = rows_out * W                  # per image
    tops, bottoms, ts, per_row_tables, marks_at = [], [], [], [], []
    offset = 0
    for image, mesh in enumerate(meshes):
        top, bottom, t, x, row = _crossings(mesh, edges, row0, row1, W)
        K = top.shape[0]
        if K >= MAX_CROSSINGS:
            return None
        bucket = torch.ceil(x)
        # Per crossing k: the pixels whose left crossing it is lie at column ceil(x_k) and right
        # of it; their lerp fraction is f = (column - ceil(x_k) + delta_k) * alpha_k.
        same_row = torch.zeros(K, dtype=torch.bool, device=device)
        same_row[:-1] = row[1:] == row[:-1]
        gap = torch.zeros_like(x)
        gap[:-1] = x[1:] - x[:-1]
        alpha = torch.where(same_row & (gap > 0), 1.0 / torch.where(gap > 0, gap, torch.ones_like(gap)),
                            torch.zeros_like(gap))
        delta = bucket - x
        in_band = row * W + bucket.long()
        # Columns (2 alpha, table row as y in [-1, 1], 2 delta alpha - 1, flat pixel): the sample
        # x = 2 f - 1 is then column 2 + (pixel - column 3) * column 0, written into column 0.
        per_row_tables.append(torch.stack((2.0 * alpha, torch.arange(K, device=device, dtype=torch.float64),
                                           2.0 * delta * alpha - 1.0, bucket), dim=1))
        marks_at.append(image * pixels + in_band)
        tops.append(top), bottoms.append(bottom), ts.append(t)
        offset += K
        if suspect[image] is not None:
            # Crossings inside a bad box (dilated by a pixel, so its ceil pixel is too): the pixels
            # interpolated from them (between the previous and the next crossing of the row) go
            # to the general path. (Marking more than needed is harmless: same interpolant.)
            absolute = in_band + row0 * W
            hit = torch.nonzero(suspect[image].index_select(0, absolute)).squeeze(1)
            if hit.numel():
                same_prev = torch.zeros(K, dtype=torch.bool, device=device)
                same_prev[1:] = same_row[:-1]
                prev = torch.where(same_prev, absolute.roll(1), absolute).index_select(0, hit)
                row_end = (row + row0 + 1) * W
                stop = torch.where(same_row, absolute.roll(-1) + 1, row_end).index_select(0, hit)
                suspect[image].index_fill_(0, _interval_pixels(prev, stop), True)
    k_max = max(max(int(t.shape[0]) for t in ts), 1)  # int(): shapes are tensors under tracing (fvcore)
    m = max(1, (k_max - 1).bit_length())
    rows = (1 << m) + 1                    # table rows; y = k * 2**(1-m) - 1 is exact
    table = torch.cat([torch.zeros(1, 4, dtype=torch.float64, device=device)] + per_row_tables)
    table[1:, 1] = table[1:, 1] * (2.0 / (rows - 1)) - 1.0
    table = table.to(dtype)
    sample = _sample_coordinates(table, torch.cat(marks_at), B * pixels, W, dtype)
    sample = sample.view(B, rows_out, W, 2)
    return _Band(row0=row0, row1=row1, top=tops, bottom=bottoms, t=ts, rows=rows, sample=sample)


def _sample_coordinates(table: torch.Tensor, marks_at: torch.Tensor, n_pixels: int, W: int,
                        dtype: torch.dtype, block_rows: int = 32) -> torch.Tensor:
    """Per pixel (row-major, all images), the ``(x, y)`` sample into the crossing table.

    The crossings up to a pixel are counted by a cumulative sum of marks at ``marks_at``
    (sorted flat pixels, one per crossing): that count is the pixel's row of ``table`` (whose
    row 0 is a dummy), whose columns are ``(2 alpha, y, 2 delta alpha - 1, column of the
    crossing)``; ``x = 2 f - 1 = col2 + (column - col3) * col0`` is exact in float32 (small
    integers and a fraction). Done in blocks of ``block_rows`` rows so the temporaries stay in
    cache and only the result is fresh memory."""
    device = table.device
    out = torch.empty(n_pixels, 2, dtype=dtype, device=device)
    block = block_rows * W
    columns = torch.arange(W, dtype=dtype, device=device).repeat(block_rows)
    bounds = torch.searchsorted(marks_at, torch.arange(0, n_pixels + block, block, device=device)).tolist()
    marks = torch.empty(block, dtype=torch.int32, device=device)
    gathered = torch.empty(block, 4, dtype=dtype, device=device)
    offset = torch.empty(block, dtype=dtype, device=device)
    ones = torch.ones(max(b - a for a, b in zip(bounds[:-1], bounds[1:])), dtype=torch.int32, device=device)
    for number, start in enumerate(range(0, n_pixels, block)):
        size = min(block, n_pixels - start)
        first, last = bounds[number], bounds[number + 1]
        counts = marks[:size].zero_()
        counts.index_add_(0, marks_at[first:last] - start, ones[:last - first])
        counts.cumsum_(0)
        rows = gathered[:size]
        torch.index_select(table[first:], 0, counts, out=rows)  # count within the block + crossings before
        torch.sub(columns[:size], rows[:, 3], out=offset[:size])
        torch.addcmul(rows[:, 2], offset[:size], rows[:, 0], out=out[start:start + size, 0])
        out[start:start + size, 1] = rows[:, 1]
    return out


def blend_scanlines(logits: torch.Tensor, plan: ScanlinePlan) -> torch.Tensor:
    """``logits`` ``(B, C, h, w)`` -> contiguous ``(B, C, H, W)`` along a :func:`scanline_plan`."""
    B, C, h, w = logits.shape
    H, W = plan.size_hr
    values = logits.reshape(B, C, h * w)
    outputs = []
    for band in plan.bands:
        length = band.rows + 1
        # Row k of the table view is (crossing k, crossing k+1): overlapping strides, no copy.
        differentiable = torch.is_grad_enabled() and logits.requires_grad
        table = torch.empty(B, C, length, dtype=logits.dtype, device=logits.device)
        with _one_intra_op_thread(logits.device):
            parts = []
            for image in range(B):
                K = band.t[image].shape[0]
                ends = (values[image].index_select(1, band.top[image]), values[image].index_select(1, band.bottom[image]),
                        band.t[image].to(logits.dtype))
                if differentiable:  # out= is not differentiable; rows past K + 2 are never read
                    parts.append(torch.cat((torch.lerp(*ends), logits.new_zeros(C, length - K)), dim=1))
                else:
                    torch.lerp(*ends, out=table[image, :, :K])
                    table[image, :, K:K + 2] = 0.0  # read with weight 0 by the last rows
            if differentiable:
                table = torch.stack(parts)
        view = table.as_strided((B, C, band.rows, 2), (C * length, length, 1, 1))
        outputs.append(resample(view, band.sample.to(logits.dtype)))
    out = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
    flat = out.view(B, C, H * W)
    with _one_intra_op_thread(logits.device):
        for image, patch in enumerate(plan.patches):
            if patch is not None:
                pixels, index, weight = patch
                picked = values[image].index_select(1, index.reshape(-1)).view(C, -1, 3)
                flat[image].index_copy_(1, pixels, (picked * weight.to(logits.dtype)).sum(-1))
    return out


def unsample_barycentric(logits: torch.Tensor, grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """``UNSAMPLERS["barycentric"]``: ``(B, C, h, w)`` predictions at ``grid`` -> contiguous
    ``(B, C, H, W)``. Scanline path for valid covering meshes, general path otherwise."""
    size_hr = tuple(size_hr)
    work_dtype = logits.dtype if logits.dtype in (torch.float32, torch.float64) else torch.float32
    plan = scanline_plan(grid, size_hr, work_dtype)
    if plan is not None:
        return blend_scanlines(logits.to(work_dtype), plan).to(logits.dtype)
    index, weight = barycentric_weights(grid, size_hr)
    return blend(logits, index, weight, size_hr)


UNSAMPLERS["barycentric"] = unsample_barycentric

__all__ = ["ScanlinePlan", "barycentric_weights", "blend", "blend_scanlines", "scanline_plan",
           "unsample_barycentric"]
