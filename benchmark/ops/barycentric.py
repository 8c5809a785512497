"""Barycentric unsampling over a non-uniform sampling grid (Marin et al. 2019, Sec. 3.3).

A sampling grid keeps the topology of the uniform grid, so every cell ``(i, j)`` with corners
``a = (i, j)``, ``b = (i, j+1)``, ``c = (i+1, j)``, ``d = (i+1, j+1)`` is cut along the diagonal
``a-d`` into the triangles ``(a, c, d)`` and ``(a, d, b)``. Each output pixel centre is a
barycentric (piecewise-linear) blend of the low-res predictions at the three corners of the
triangle containing it: the same interpolant as ``scipy.interpolate.griddata(method="linear")``
wherever Delaunay picks the same triangles, without triangulating.

Conventions
-----------
* Grids follow :mod:`benchmark.ops.sampling` (``(B, h, w, 2)``, ``(x, y)``, ``align_corners=True``);
  pixel ``(r, c)`` of the ``H x W`` output has its centre at ``x = c``, ``y = r`` in pixel units.
  A mesh boundary within ``BORDER_TOL`` pixels of the image border is snapped onto it
  (:func:`pixel_mesh`), so float32 grids cover the border pixels exactly.
* On the uniform grid this is *not* bilinear interpolation inside a cell (a triangle is linear,
  a bilinear patch has the ``xy`` twist term); the two agree exactly on the grid lines, and
  everywhere for predictions that are affine in ``(x, y)`` or when only one axis is upsampled.
* Overlaps (folded cells, or a pixel on a shared edge) go to the triangle with the largest index
  (row-major cells, lower triangle first): deterministic on every device.
* Pixels no triangle covers (cannot happen under covering constraints (3); can happen for
  arbitrary grids) take the prediction of the nearest grid point.

Two implementations of that one interpolant, behind one differentiable function
(:class:`BarycentricUnsample`, which fvcore sees as a single op and counts analytically):

* **Native** (CPU, the default): ``benchmark/native/barycentric.c``, built at first use. For a
  band of a few output rows it rasterises only the cells whose y-range meets the band, then
  writes every channel row once, front to back, so it streams the output like
  ``F.interpolate`` does; bands are split over ``torch.get_num_threads()`` threads and the
  output does not depend on the thread count.
* **Torch** (CUDA, and CPU without a C compiler; :func:`barycentric_weights` + :func:`blend`):
  every triangle is rasterised scanline by scanline in chunks of at most ``max_candidates``
  candidate pixels, giving per pixel an ``(index, weight)`` triple; then one fused weighted
  gather. Its weights are stored in float32 (~1e-7 from the native path's float64 ones).
"""
from __future__ import annotations

import ctypes
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from benchmark import native
from benchmark.ops.sampling import UNSAMPLERS, Size, grid_to_pixels

MAX_CANDIDATES = 1 << 21  # candidate pixels per rasterisation chunk (~60 MB of temporaries)
INSIDE_TOL = 1e-9         # barycentric units: a pixel centre is in a triangle when all three coordinates
                          # are >= -INSIDE_TOL (so a pixel on a shared edge is in both); as in native/barycentric.c
SPAN_EPS = 1e-4           # pixels: candidate spans are this much looser, then INSIDE_TOL decides
BORDER_TOL = 1e-3         # pixels: a mesh boundary this close to the image border is snapped onto it
MACS_PER_PIXEL = 4        # native cost convention: two barycentric coordinates per output pixel,
MACS_PER_ELEMENT = 3      # then a three-term blend per output element (see benchmark.cost.macs)


def pixel_mesh(grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """``grid`` ``(B, h, w, 2)`` -> float64 pixel coordinates ``(B, h, w, 2)``, each image's
    boundary snapped onto the image border when all of it lies within ``BORDER_TOL`` pixels
    (branch-free, so tracing sees no data-dependent control flow)."""
    H, W = size_hr
    pts = grid_to_pixels(grid.double(), (H, W))
    if pts.shape[1] < 2 or pts.shape[2] < 2:
        return pts
    x, y = pts[..., 0], pts[..., 1]
    border = torch.stack((x[:, :, 0].abs().amax(1), (x[:, :, -1] - (W - 1)).abs().amax(1),
                          y[:, 0].abs().amax(1), (y[:, -1] - (H - 1)).abs().amax(1)), dim=1)
    snap = (border <= BORDER_TOL).all(dim=1).view(-1, 1)  # (B, 1); NaN never snaps
    x, y = x.clone(), y.clone()
    x[:, :, 0] = torch.where(snap, torch.zeros_like(x[:, :, 0]), x[:, :, 0])
    x[:, :, -1] = torch.where(snap, torch.full_like(x[:, :, -1], W - 1.0), x[:, :, -1])
    y[:, 0] = torch.where(snap, torch.zeros_like(y[:, 0]), y[:, 0])
    y[:, -1] = torch.where(snap, torch.full_like(y[:, -1], H - 1.0), y[:, -1])
    return torch.stack((x, y), dim=-1)


# --------------------------------------------------------------------------- torch path


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
    return _mesh_weights(pixel_mesh(grid, tuple(size_hr)), tuple(size_hr), max_candidates)


def _mesh_weights(mesh: torch.Tensor, size_hr: Size,
                  max_candidates: int = MAX_CANDIDATES) -> Tuple[torch.Tensor, torch.Tensor]:
    B, h, w, _ = mesh.shape
    H, W = size_hr
    device = mesh.device
    tris = _triangles(h, w, device) if h > 1 and w > 1 else torch.zeros(0, 3, dtype=torch.long, device=device)
    indices, weights = [], []
    for image in range(B):
        index, weight = _weights_one(mesh[image].reshape(-1, 2), tris, H, W, max_candidates)
        indices.append(index)
        weights.append(weight)
    return torch.stack(indices), torch.stack(weights)


def _weights_one(pts: torch.Tensor, tris: torch.Tensor, H: int, W: int,
                 max_candidates: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scanline rasterisation of every triangle: the rows of its y-range, then on each row the
    pixel span between its left and right edges (widened by ``SPAN_EPS``) gives candidates; a
    candidate is in when its barycentric coordinates pass ``INSIDE_TOL`` (the pixel tolerance
    alone would let a sliver triangle extrapolate to pixels just outside it), and the larger
    triangle index keeps a pixel that several triangles hold."""
    device = pts.device
    owner = torch.full((H * W,), -1, dtype=torch.long, device=device)
    index = torch.zeros(H * W, 3, dtype=torch.long, device=device)
    weight = torch.zeros(H * W, 3, dtype=torch.float32, device=device)

    if tris.shape[0]:
        v = pts[tris]  # (T, 3, 2) float64 pixel (x, y)
        e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        keep = det.abs() > 1e-12  # degenerate triangles cover nothing
        y_lo = torch.ceil(v[..., 1].min(dim=1).values - SPAN_EPS).clamp(min=0)
        y_hi = torch.floor(v[..., 1].max(dim=1).values + SPAN_EPS).clamp(max=H - 1)
        rows = (y_hi - y_lo + 1).clamp(min=0).long() * keep
        tri_ids = torch.nonzero(rows).squeeze(1)
        # l1, l2 are linear in the pixel position relative to the first vertex; float64, because
        # long thin triangles (strong adaptation) lose ~1e-4 in float32.
        origin = v[:, 0]
        inv = 1.0 / torch.where(keep, det, torch.ones_like(det))
        coef = torch.stack((e2[:, 1] * inv, -e2[:, 0] * inv, -e1[:, 1] * inv, e1[:, 0] * inv), dim=1)  # (T, 4)
        order = torch.argsort(v[..., 1], dim=1)
        v_sorted = torch.gather(v, 1, order.unsqueeze(-1).expand(-1, -1, 2))  # (T, 3, 2) by y
        row_counts = rows[tri_ids]
        # Chunk over triangles so that each chunk holds about max_candidates pixels.
        area = (v[..., 0].max(dim=1).values - v[..., 0].min(dim=1).values + 1.0)[tri_ids] * row_counts
        area_ends = torch.cumsum(area, 0)
        start, n_tri = 0, tri_ids.shape[0]
        while start < n_tri:
            base = float(area_ends[start - 1]) if start else 0.0
            stop = max(int(torch.searchsorted(area_ends, base + max_candidates, right=True)), start + 1)
            _scan_chunk(tri_ids[start:stop], row_counts[start:stop], y_lo, v_sorted, coef, origin, W, owner, weight)
            start = stop

    if tris.shape[0]:
        index = tris.index_select(0, owner.clamp(min=0))  # (H*W, 3) corners of the owning triangle
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
    o = origin.index_select(0, t)                         # (N, 2) float64
    c = coef.index_select(0, t)                           # (N, 4)
    fx = px.double() - o[:, 0]
    fy = py.double() - o[:, 1]
    l1 = c[:, 0] * fx + c[:, 1] * fy
    l2 = c[:, 2] * fx + c[:, 3] * fy
    inside = torch.nonzero(torch.minimum(torch.minimum(l1, l2), 1.0 - l1 - l2) >= -INSIDE_TOL).squeeze(1)
    t, l1, l2 = t.index_select(0, inside), l1.index_select(0, inside), l2.index_select(0, inside)
    pix = (py * W + px).index_select(0, inside)
    # Where spans overlap (shared edges, folded cells) the larger triangle index wins.
    owner.scatter_reduce_(0, pix, t, reduce="amax")
    win = owner.index_select(0, pix) == t
    if not bool(win.all()):
        keep = torch.nonzero(win).squeeze(1)
        pix, l1, l2 = pix.index_select(0, keep), l1.index_select(0, keep), l2.index_select(0, keep)
    # Weights sum to 1 by construction; on an edge one may be negative by float error.
    weight[pix] = torch.stack((1.0 - l1 - l2, l1, l2), dim=1).float()


def _nearest_grid_point(pts: torch.Tensor, pixels: torch.Tensor, W: int) -> torch.Tensor:
    """Flat index of the grid point nearest to each of ``pixels`` (flat output indices)."""
    from scipy.spatial import cKDTree

    query = torch.stack((pixels % W, pixels // W), dim=1).double().cpu().numpy()
    finite = np.isfinite(pts.cpu().numpy()).all(axis=1)
    tree_pts = np.where(finite[:, None], pts.cpu().numpy(), 1e300)  # a non-finite point is nobody's nearest
    _, nearest = cKDTree(tree_pts).query(query, k=1)
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
        F.embedding_bag(index[0], table[0], per_sample_weights=weight[0], mode="sum").unsqueeze(0)  # no stack copy
    return out.reshape(B, H, W, C).permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


def _blend_adjoint(grad_out: torch.Tensor, index: torch.Tensor, weight: torch.Tensor, grid_hw: Size) -> torch.Tensor:
    """The transpose of :func:`blend`: ``(B, C, H, W)`` -> ``(B, C, h, w)``."""
    B, C, H, W = grad_out.shape
    h, w = grid_hw
    grad = grad_out.new_zeros(B, C, h * w)
    flat = grad_out.reshape(B, C, 1, H * W)
    weighted = (flat * weight.to(grad_out.dtype).permute(0, 2, 1).unsqueeze(1)).reshape(B, C, 3 * H * W)
    for b in range(B):
        grad[b].index_add_(1, index[b].T.reshape(-1), weighted[b])
    return grad.view(B, C, h, w)


# --------------------------------------------------------------------------- native path

_SIGNATURE = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
              ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]


def _native_library() -> Optional[ctypes.CDLL]:
    library = native.load("barycentric")
    if library is not None and not getattr(library, "_dsbench_typed", False):
        for name in ("dsb_unsample_f32", "dsb_unsample_f64", "dsb_unsample_grad_f32", "dsb_unsample_grad_f64"):
            function = getattr(library, name)
            function.argtypes, function.restype = _SIGNATURE, ctypes.c_int64
        library._dsbench_typed = True
    return library


def _native_call(kind: str, mesh: torch.Tensor, source: torch.Tensor, target: torch.Tensor,
                 size_hr: Size, row_bands: int) -> List[torch.Tensor]:
    """Run ``dsb_KIND_{f32,f64}`` per image over ``row_bands`` bands of output rows (in
    parallel); returns per image the flat indices of the pixels no triangle covers."""
    library = _native_library()
    B, h, w, _ = mesh.shape
    H, W = size_hr
    C = source.shape[1]
    function = getattr(library, f"dsb_{kind}_{'f64' if source.dtype == torch.float64 else 'f32'}")
    uncovered = torch.zeros(B, H * W, dtype=torch.uint8)
    bounds = [H * k // row_bands for k in range(row_bands + 1)]
    tasks = [(b, r0, r1) for b in range(B) for r0, r1 in zip(bounds[:-1], bounds[1:]) if r1 > r0]

    def run(task: Tuple[int, int, int]) -> int:
        b, r0, r1 = task
        return function(mesh[b].data_ptr(), h, w, source[b].data_ptr(), C, target[b].data_ptr(), H, W, r0, r1,
                        uncovered[b].data_ptr())

    missing = native.parallel_map(run, tasks, row_bands)  # uncovered pixels per task, -1: out of memory
    if min(missing) < 0:
        raise MemoryError("barycentric unsampling: the native kernel could not allocate its row buffers")
    per_image = [sum(m for (b, _, _), m in zip(tasks, missing) if b == image) for image in range(B)]
    return [torch.nonzero(uncovered[b]).squeeze(1) if per_image[b] else torch.zeros(0, dtype=torch.long)
            for b in range(B)]  # the mask is scanned only when the kernel flagged something


class BarycentricUnsample(torch.autograd.Function):
    """``(logits (B, C, h, w), mesh (B, h, w, 2) float64 pixels) -> (B, C, H, W)``.

    One op for autograd and for fvcore (``prim::PythonOp.BarycentricUnsample``, counted by
    :mod:`benchmark.cost.macs`), whichever implementation runs inside."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, mesh: torch.Tensor, height: int, width: int) -> torch.Tensor:
        size_hr = (height, width)
        ctx.save_for_backward(mesh)
        ctx.size_hr = size_hr
        ctx.grid_hw = tuple(logits.shape[-2:])
        if _use_native(logits):
            B, C, h, w = logits.shape
            values = logits.detach().contiguous()
            out = torch.empty(B, C, height, width, dtype=logits.dtype)
            uncovered = _native_call("unsample", mesh.contiguous(), values, out, size_hr, torch.get_num_threads())
            for b, pixels in enumerate(uncovered):
                if pixels.numel():
                    nearest = _nearest_grid_point(mesh[b].reshape(-1, 2), pixels, width)
                    out[b].view(C, -1)[:, pixels] = values[b].view(C, -1)[:, nearest]
            return out
        index, weight = _mesh_weights(mesh, size_hr)
        return blend(logits.detach(), index, weight, size_hr)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (mesh,) = ctx.saved_tensors
        if _use_native(grad_out):
            B, C, H, W = grad_out.shape
            h, w = ctx.grid_hw
            grad_out = grad_out.contiguous()
            grad = torch.zeros(B, C, h, w, dtype=grad_out.dtype)
            # One band: the sums then do not depend on the thread count.
            uncovered = _native_call("unsample_grad", mesh.contiguous(), grad_out, grad, ctx.size_hr, 1)
            for b, pixels in enumerate(uncovered):
                if pixels.numel():
                    nearest = _nearest_grid_point(mesh[b].reshape(-1, 2), pixels, W)
                    grad[b].view(C, -1).index_add_(1, nearest, grad_out[b].view(C, -1)[:, pixels])
            return grad, None, None, None
        index, weight = _mesh_weights(mesh, ctx.size_hr)
        return _blend_adjoint(grad_out, index, weight, ctx.grid_hw), None, None, None


def _use_native(tensor: torch.Tensor) -> bool:
    return tensor.device.type == "cpu" and tensor.dtype in (torch.float32, torch.float64) \
        and _native_library() is not None


def unsample_barycentric(logits: torch.Tensor, grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """``UNSAMPLERS["barycentric"]``: ``(B, C, h, w)`` predictions at ``grid`` -> contiguous
    ``(B, C, H, W)``, differentiable in ``logits``."""
    H, W = (int(s) for s in size_hr)
    work_dtype = logits.dtype if logits.dtype in (torch.float32, torch.float64) else torch.float32
    mesh = pixel_mesh(grid, (H, W))
    return BarycentricUnsample.apply(logits.to(work_dtype), mesh, H, W).to(logits.dtype)


UNSAMPLERS.register("barycentric", unsample_barycentric)

__all__ = ["BarycentricUnsample", "barycentric_weights", "blend", "pixel_mesh", "unsample_barycentric"]
