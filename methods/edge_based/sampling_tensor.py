"""Ground-truth sampling tensors of Marin et al. 2019 (edge-based downsampling, Sec. 3.1).

Given a label map, the sampling tensor ``phi`` ``(2, h, w)`` in ``[0, 1]`` (channel 0 the row /
y, channel 1 the column / x, as in :mod:`benchmark.ops.sampling`) minimises energy (2)

    E(phi) = sum_ij ||phi_ij - b(u_ij)||^2 + lam * sum_{|i-i'|+|j-j'|=1} ||phi_ij - phi_i'j'||^2

subject to the covering constraints (3): the first / last row of ``phi^0`` is 0 / 1 and the
first / last column of ``phi^1`` is 0 / 1. ``u_ij`` is the uniform tensor and ``b(u)`` the
boundary pixel closest (Euclidean, in pixels) to ``u``.

Conventions
-----------
* The neighbour sum runs over *ordered* pairs exactly as printed, so every grid edge counts
  twice: with ``L`` the graph Laplacian of the 4-connected ``h x w`` grid, the stationarity
  condition is ``(I + 2 lam L) phi^c = b^c`` on the free nodes (fixed nodes moved to the
  right-hand side). The two coordinates decouple; each system is sparse, symmetric positive
  definite and depends only on ``(h, w, lam)``, so it is factorised once and cached.
* The box constraint ``phi in [0, 1]^...`` needs no projection: the system matrix is a
  non-singular M-matrix with unit-plus-neighbour row sums, so every free value is a convex
  combination of the targets ``b`` and the fixed values, which all lie in ``[0, 1]``.
* Relative coordinates: a row ``r`` of an ``H``-row image sits at ``r / (H - 1)`` (pixel centres
  at 0 and 1, ``align_corners=True``). A dimension of size 1 sits at 0.5, like
  :func:`benchmark.ops.sampling.uniform_grid`.
* Boundary map of the *target classes*: a pixel is a boundary pixel when a 4-neighbour has a
  different label, neither of the two is the ignore label 255, and at least one of them is a
  target class (``target_classes=None``: all classes). Both sides of the edge are marked.
* ``lam = 0`` gives the boundary points themselves (with the borders fixed); ``lam = inf`` the
  uniform tensor; a map with no target boundary falls back to the uniform tensor.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.spatial import cKDTree

from benchmark.errors import DsbenchError

IGNORE_INDEX = 255
Size = Tuple[int, int]


# -- boundary map and nearest boundary point --------------------------------------------------
def _target_mask(labels: np.ndarray, target_classes: Optional[Iterable[int]]) -> np.ndarray:
    if target_classes is None:
        return labels != IGNORE_INDEX
    table = np.zeros(256, dtype=bool)
    ids = [int(c) for c in target_classes]
    if any(not 0 <= c < IGNORE_INDEX for c in ids):
        raise DsbenchError(f"target_classes {ids} must be train ids in 0..254; fix the edge_based option target_classes")
    table[ids] = True
    return table[labels.astype(np.uint8, copy=False)] if labels.max(initial=0) < 256 else np.isin(labels, ids)


def boundary_map(labels: np.ndarray, target_classes: Optional[Iterable[int]] = None) -> np.ndarray:
    """Boolean ``(H, W)`` map of target-class semantic boundaries (both sides of each edge)."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (H, W), got {labels.shape}")
    if labels.dtype != np.uint8 and labels.size and 0 <= labels.min() and labels.max() <= 255:
        labels = labels.astype(np.uint8)  # 8x less memory traffic for the comparisons below
    valid = labels != IGNORE_INDEX
    target = _target_mask(labels, target_classes)
    out = np.zeros(labels.shape, dtype=bool)
    for axis in (0, 1):
        a = [slice(None), slice(None)]
        b = [slice(None), slice(None)]
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        a, b = tuple(a), tuple(b)
        edge = (labels[a] != labels[b]) & valid[a] & valid[b] & (target[a] | target[b])
        out[a] |= edge
        out[b] |= edge
    return out


def _relative_axis(n: int) -> np.ndarray:
    return np.full(1, 0.5) if n == 1 else np.linspace(0.0, 1.0, n)


def uniform_tensor(size: Size) -> np.ndarray:
    """Marin's uniform tensor ``u`` ``(2, h, w)``: ``u0_ij = i/(h-1)``, ``u1_ij = j/(w-1)``."""
    h, w = size
    ys, xs = np.meshgrid(_relative_axis(h), _relative_axis(w), indexing="ij")
    return np.stack((ys, xs))


def _pixel_scale(size_hr: Size) -> np.ndarray:
    H, W = size_hr
    return np.array([max(H - 1, 1), max(W - 1, 1)], dtype=np.float64)


def nearest_boundary_points(boundary: np.ndarray, size_lr: Size) -> Optional[np.ndarray]:
    """``b(u_ij)`` ``(2, h, w)`` in relative coordinates: the boundary pixel closest to each
    uniform point, exact Euclidean nearest neighbour in pixel units (a KD-tree over boundary
    pixels queried at the ``h*w`` points: no full-resolution distance transform). ``None`` when
    the map has no boundary pixel."""
    rows, cols = np.nonzero(boundary)
    if rows.size == 0:
        return None
    scale = _pixel_scale(boundary.shape)
    points_px = np.stack((rows, cols), axis=1).astype(np.float64)
    u = uniform_tensor(size_lr).reshape(2, -1).T * scale  # (h*w, 2) (row, col) pixels
    _, nearest = cKDTree(points_px, leafsize=64, balanced_tree=False).query(u, k=1)
    b = points_px[nearest] / scale  # (h*w, 2)
    return b.T.reshape(2, *size_lr)


# -- the linear systems -----------------------------------------------------------------------
def _grid_laplacian(h: int, w: int) -> sp.csr_matrix:
    """Graph Laplacian of the 4-connected ``h x w`` grid, nodes in row-major order."""
    def path(n: int) -> sp.csr_matrix:
        if n == 1:
            return sp.csr_matrix((1, 1))
        d = np.full(n, 2.0)
        d[0] = d[-1] = 1.0
        return sp.diags([d, -np.ones(n - 1), -np.ones(n - 1)], [0, -1, 1], format="csr")

    return (sp.kron(path(h), sp.identity(w)) + sp.kron(sp.identity(h), path(w))).tocsr()


def fixed_values(size: Size) -> Tuple[np.ndarray, np.ndarray]:
    """Covering constraints (3): for each coordinate a boolean mask ``(h*w,)`` of fixed nodes
    and their values. Coordinate 0 (row) is fixed on the first / last row, 1 on the columns."""
    h, w = size
    out = []
    for c in (0, 1):
        mask = np.zeros((h, w), dtype=bool)
        value = np.zeros((h, w))
        n = h if c == 0 else w
        index = [slice(None), slice(None)]
        if n == 1:  # one sample sits at the centre, like uniform_grid
            mask[:] = True
            value[:] = 0.5
        else:
            index[c] = 0
            mask[tuple(index)] = True
            index[c] = n - 1
            mask[tuple(index)] = True
            value[tuple(index)] = 1.0
        out.append((mask.ravel(), value.ravel()))
    return out[0], out[1]  # type: ignore[return-value]


class _CoordinateSystem:
    """``(I + 2 lam L)`` restricted to the free nodes of one coordinate, factorised once."""

    def __init__(self, laplacian: sp.csr_matrix, fixed: np.ndarray, value: np.ndarray, lam: float):
        self.free = ~fixed
        self.fixed = fixed
        self.value = value
        n = laplacian.shape[0]
        full = (sp.identity(n, format="csr") + 2.0 * lam * laplacian).tocsr()
        self.coupling = full[self.free][:, fixed]  # free x fixed block
        self.fixed_rhs = -(self.coupling @ value[fixed])
        system = full[self.free][:, self.free].tocsc()
        self.matrix = system
        self.solve_free: Optional[Callable[[np.ndarray], np.ndarray]] = (
            spla.factorized(system) if system.shape[0] else None
        )

    def solve(self, target: np.ndarray) -> np.ndarray:
        """Minimiser for one coordinate given the targets ``b^c`` ``(h*w,)``."""
        out = self.value.copy()
        if self.solve_free is not None:
            out[self.free] = self.solve_free(target[self.free] + self.fixed_rhs)
        return out


@functools.lru_cache(maxsize=32)
def _systems(h: int, w: int, lam: float) -> Tuple[_CoordinateSystem, _CoordinateSystem]:
    laplacian = _grid_laplacian(h, w)
    (m0, v0), (m1, v1) = fixed_values((h, w))
    return _CoordinateSystem(laplacian, m0, v0, lam), _CoordinateSystem(laplacian, m1, v1, lam)


def _check_lam(lam: float) -> float:
    lam = float(lam)
    if not lam >= 0:  # also rejects NaN
        raise DsbenchError(f"edge_based lam={lam} must be >= 0 (0: boundary points, inf: uniform); fix option lam")
    return lam


def solve_sampling_tensor(b: np.ndarray, lam: float) -> np.ndarray:
    """Minimiser ``phi`` ``(2, h, w)`` of energy (2) under constraints (3) for targets ``b``."""
    lam = _check_lam(lam)
    _, h, w = b.shape
    if math.isinf(lam):
        return uniform_tensor((h, w))
    systems = _systems(h, w, lam)
    return np.stack([systems[c].solve(b[c].ravel()).reshape(h, w) for c in (0, 1)])


def sampling_tensor(labels: np.ndarray, size_lr: Size, lam: float = 1.0,
                    target_classes: Optional[Iterable[int]] = None) -> np.ndarray:
    """Ground-truth sampling tensor ``(2, h, w)`` in [0, 1] for one label map ``(H, W)``.

    Fast path: boundary map, KD-tree nearest boundary points at the ``h*w`` uniform points, and
    the cached factorisation for ``(h, w, lam)``. No target boundary (or ``lam = inf``): uniform.
    """
    lam = _check_lam(lam)
    labels = np.asarray(labels)
    if math.isinf(lam):
        return uniform_tensor(tuple(size_lr))
    b = nearest_boundary_points(boundary_map(labels, target_classes), tuple(size_lr))
    if b is None:
        return uniform_tensor(tuple(size_lr))
    return solve_sampling_tensor(b, lam)


def sampling_tensor_batch(labels, size_lr: Size, lam: float = 1.0,
                          target_classes: Optional[Iterable[int]] = None):
    """Torch convenience: labels ``(B, H, W)`` -> sampling tensors ``(B, 2, h, w)`` (float32)."""
    import torch

    arrays = labels.detach().cpu().numpy()
    phis = np.stack([sampling_tensor(a, size_lr, lam, target_classes) for a in arrays])
    return torch.from_numpy(phis).to(device=labels.device, dtype=torch.float32)


def sampling_grid(labels, size_lr: Size, lam: float = 1.0, target_classes: Optional[Iterable[int]] = None):
    """Grid ``(B, h, w, 2)`` in the suite's convention (:func:`benchmark.ops.sampling.tensor_to_grid`)."""
    from benchmark.ops.sampling import tensor_to_grid

    return tensor_to_grid(sampling_tensor_batch(labels, size_lr, lam, target_classes))


def sampling_for_lambdas(labels: np.ndarray, size_lr: Size, lams: Sequence[float] = (0.0, 0.5, 1.0, math.inf),
                         target_classes: Optional[Iterable[int]] = None) -> Dict[float, np.ndarray]:
    """Fig 3: sampling points ``(h*w, 2)`` in pixel ``(row, col)`` coordinates for each lambda."""
    scale = _pixel_scale(np.asarray(labels).shape)
    out: Dict[float, np.ndarray] = {}
    for lam in lams:
        phi = sampling_tensor(labels, size_lr, lam, target_classes)
        out[float(lam)] = phi.reshape(2, -1).T * scale
    return out


# -- the straightforward pipeline (reference and perf baseline) -------------------------------
def nearest_boundary_points_edt(boundary: np.ndarray, size_lr: Size) -> np.ndarray:
    """``b(u_ij)`` ``(2, h, w)`` the straightforward way: a full-resolution Euclidean distance
    transform with indices, read at the pixel nearest each uniform point (so the result is the
    boundary pixel nearest that pixel centre, not nearest ``u_ij`` itself)."""
    from scipy import ndimage

    _, (ri, ci) = ndimage.distance_transform_edt(~boundary, return_indices=True)
    scale = _pixel_scale(boundary.shape)
    u_px = np.rint(uniform_tensor(size_lr).reshape(2, -1) * scale[:, None]).astype(int)
    b = np.stack((ri[u_px[0], u_px[1]], ci[u_px[0], u_px[1]])).astype(np.float64) / scale[:, None]
    return b.reshape(2, *size_lr)


def sampling_tensor_straightforward(labels: np.ndarray, size_lr: Size, lam: float = 1.0,
                                    target_classes: Optional[Iterable[int]] = None) -> np.ndarray:
    """What one writes first: a full-resolution distance transform with indices, read at the
    pixel nearest each uniform point, then a fresh ``spsolve`` per coordinate. Same energy and
    constraints; ``b`` can differ from the fast path only where rounding ``u`` to a pixel
    changes the nearest boundary pixel (ties, sub-pixel offsets)."""
    lam = _check_lam(lam)
    labels = np.asarray(labels)
    h, w = size_lr
    boundary = boundary_map(labels, target_classes)
    if math.isinf(lam) or not boundary.any():
        return uniform_tensor((h, w))
    b = nearest_boundary_points_edt(boundary, (h, w)).reshape(2, -1)
    laplacian = _grid_laplacian(h, w)
    full = (sp.identity(h * w, format="csr") + 2.0 * lam * laplacian).tocsr()
    phi = []
    for c, (fixed, value) in enumerate(fixed_values((h, w))):
        free = ~fixed
        out = value.copy()
        if free.any():
            rhs = b[c][free] - full[free][:, fixed] @ value[fixed]
            out[free] = spla.spsolve(full[free][:, free].tocsc(), rhs)
        phi.append(out.reshape(h, w))
    return np.stack(phi)


def energy(phi: np.ndarray, b: np.ndarray, lam: float) -> float:
    """Energy (2) as printed (ordered neighbour pairs: each edge twice)."""
    data = float(((phi - b) ** 2).sum())
    smooth = float(((phi[:, 1:, :] - phi[:, :-1, :]) ** 2).sum() + ((phi[:, :, 1:] - phi[:, :, :-1]) ** 2).sum())
    return data + lam * 2.0 * smooth


def project_onto_constraints(phi):
    """Project a (predicted) tensor ``(B, 2, h, w)`` onto constraints (3): clamp to [0, 1] and
    set the fixed borders. Works on torch tensors and numpy arrays; returns a new object."""
    out = phi.clamp(0.0, 1.0).clone() if hasattr(phi, "clamp") else np.clip(phi, 0.0, 1.0)
    h, w = out.shape[-2:]
    if h == 1:
        out[..., 0, :, :] = 0.5
    else:
        out[..., 0, 0, :] = 0.0
        out[..., 0, h - 1, :] = 1.0
    if w == 1:
        out[..., 1, :, :] = 0.5
    else:
        out[..., 1, :, 0] = 0.0
        out[..., 1, :, w - 1] = 1.0
    return out


__all__: List[str] = [
    "boundary_map", "uniform_tensor", "nearest_boundary_points", "fixed_values", "solve_sampling_tensor",
    "sampling_tensor", "sampling_tensor_batch", "sampling_grid", "sampling_for_lambdas",
    "sampling_tensor_straightforward", "nearest_boundary_points_edt", "energy", "project_onto_constraints",
]
