"""Ground-truth sampling tensor (Marin eq. 2 under constraints 3) against independent references."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.errors import DsbenchError
from benchmark.ops.sampling import grid_to_tensor
from methods.edge_based.sampling_tensor import (
    _systems,
    boundary_map,
    energy,
    nearest_boundary_points,
    project_onto_constraints,
    sampling_for_lambdas,
    sampling_grid,
    sampling_tensor,
    sampling_tensor_straightforward,
    solve_sampling_tensor,
    uniform_tensor,
)


def disk_labels(H: int = 40, W: int = 56, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    labels = np.zeros((H, W), dtype=np.int64)
    labels[yy > 0.7 * H] = 1
    for k in range(3):
        cy, cx, r = rng.integers(0, H), rng.integers(0, W), rng.integers(3, 10)
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 2 + k
    return labels


def dense_reference(b: np.ndarray, lam: float) -> np.ndarray:
    """Energy (2) written term by term as a dense least-squares problem over the free values
    (ordered neighbour pairs, as printed), constraints (3) substituted, solved with lstsq."""
    _, h, w = b.shape
    out = np.empty_like(b)
    for c in (0, 1):
        fixed = np.zeros((h, w), bool)
        value = np.zeros((h, w))
        if c == 0:
            fixed[0, :], fixed[-1, :] = True, True
            value[-1, :] = 1.0
        else:
            fixed[:, 0], fixed[:, -1] = True, True
            value[:, -1] = 1.0
        free = [(i, j) for i in range(h) for j in range(w) if not fixed[i, j]]
        col = {p: k for k, p in enumerate(free)}
        rows, rhs = [], []

        def term(weight, plus, minus, target):
            # weight * (phi[plus] - phi[minus] - target); fixed values move to the right side
            row = np.zeros(len(free))
            t = target
            for p, s in ((plus, 1.0), (minus, -1.0)):
                if p is None:
                    continue
                if p in col:
                    row[col[p]] += s
                else:
                    t -= s * value[p]
            rows.append(weight * row)
            rhs.append(weight * t)

        for i in range(h):
            for j in range(w):
                term(1.0, (i, j), None, b[c, i, j])
                for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    q = (i + di, j + dj)
                    if 0 <= q[0] < h and 0 <= q[1] < w:
                        term(math.sqrt(lam), (i, j), q, 0.0)
        x, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
        full = value.copy()
        for p, k in col.items():
            full[p] = x[k]
        out[c] = full
    return out


@pytest.mark.parametrize("lam", [0.3, 1.0, 7.0])
@pytest.mark.parametrize("size", [(5, 7), (6, 4)])
def test_matches_dense_least_squares(lam, size):
    labels = disk_labels()
    b = nearest_boundary_points(boundary_map(labels), size)
    phi = solve_sampling_tensor(b, lam)
    ref = dense_reference(b, lam)
    np.testing.assert_allclose(phi, ref, atol=1e-8, rtol=0)


def test_is_a_minimum_and_feasible():
    labels = disk_labels(seed=3)
    size = (6, 9)
    b = nearest_boundary_points(boundary_map(labels), size)
    phi = solve_sampling_tensor(b, 1.0)
    rng = np.random.default_rng(0)
    for _ in range(20):  # feasible perturbations (interior only) never lower the energy
        delta = rng.normal(scale=1e-2, size=phi.shape)
        delta[0, [0, -1], :] = 0
        delta[1, :, [0, -1]] = 0
        assert energy(phi + delta, b, 1.0) > energy(phi, b, 1.0)
    # constraints (3)
    assert phi.min() >= 0 and phi.max() <= 1
    np.testing.assert_array_equal(phi[0, 0], 0)
    np.testing.assert_array_equal(phi[0, -1], 1)
    np.testing.assert_array_equal(phi[1, :, 0], 0)
    np.testing.assert_array_equal(phi[1, :, -1], 1)


def test_lambda_zero_gives_boundary_points():
    labels = disk_labels(seed=1)
    size = (7, 8)
    b = nearest_boundary_points(boundary_map(labels), size)
    phi = sampling_tensor(labels, size, lam=0.0)
    np.testing.assert_allclose(phi[0, 1:-1], b[0, 1:-1], atol=1e-12)
    np.testing.assert_allclose(phi[1, :, 1:-1], b[1, :, 1:-1], atol=1e-12)
    # every sampled interior coordinate is a boundary pixel's coordinate
    H, W = labels.shape
    rows = np.rint(phi[0, 1:-1, 1:-1] * (H - 1)).astype(int)
    cols = np.rint(phi[1, 1:-1, 1:-1] * (W - 1)).astype(int)
    assert boundary_map(labels)[rows, cols].all()


def test_lambda_infinity_and_large_is_uniform():
    labels = disk_labels(seed=2)
    u = uniform_tensor((6, 10))
    np.testing.assert_array_equal(sampling_tensor(labels, (6, 10), lam=math.inf), u)
    np.testing.assert_allclose(sampling_tensor(labels, (6, 10), lam=1e9), u, atol=1e-6)


def test_no_boundary_falls_back_to_uniform():
    labels = np.full((20, 30), 4)
    labels[:3] = 255  # the ignore label makes no boundary
    np.testing.assert_array_equal(sampling_tensor(labels, (5, 6)), uniform_tensor((5, 6)))
    # a boundary between non-target classes only is no boundary either
    labels[10:] = 5
    np.testing.assert_array_equal(sampling_tensor(labels, (5, 6), target_classes=[11]), uniform_tensor((5, 6)))


def test_boundary_map_matches_brute_force():
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 2, 255], size=(9, 11), p=[0.4, 0.3, 0.2, 0.1])
    for targets in (None, [2]):
        got = boundary_map(labels, targets)
        want = np.zeros_like(got)
        for i in range(9):
            for j in range(11):
                for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                    k, l = i + di, j + dj
                    if not (0 <= k < 9 and 0 <= l < 11):
                        continue
                    a, b = labels[i, j], labels[k, l]
                    if a != b and 255 not in (a, b) and (targets is None or a in targets or b in targets):
                        want[i, j] = True
        np.testing.assert_array_equal(got, want)


def test_nearest_boundary_point_is_exact():
    labels = disk_labels(seed=4)
    boundary = boundary_map(labels)
    size = (5, 6)
    b = nearest_boundary_points(boundary, size)
    H, W = labels.shape
    pts = np.argwhere(boundary).astype(float)
    u = uniform_tensor(size).reshape(2, -1).T * [H - 1, W - 1]
    got = b.reshape(2, -1).T * [H - 1, W - 1]
    for q, p in zip(u, got):
        assert np.isclose(np.hypot(*(p - q)), np.hypot(*(pts - q).T).min())


def test_straightforward_pipeline_agrees_where_points_are_pixels():
    # (H-1)/(h-1) integral: every uniform point is a pixel centre, both pipelines are exact;
    # compare the distances (ties may pick different but equally near boundary pixels).
    labels = disk_labels(H=41, W=57, seed=5)
    size = (5, 8)
    fast = sampling_tensor(labels, size, lam=0.0)
    slow = sampling_tensor_straightforward(labels, size, lam=0.0)
    u = uniform_tensor(size)
    scale = np.array([40.0, 56.0])[:, None, None]
    d_fast = np.hypot(*((fast - u) * scale))
    d_slow = np.hypot(*((slow - u) * scale))
    np.testing.assert_allclose(d_fast, d_slow, atol=1e-9)
    # with lambda > 0 the same targets give the same tensor
    b = nearest_boundary_points(boundary_map(labels), size)
    np.testing.assert_allclose(solve_sampling_tensor(b, 1.0), dense_reference(b, 1.0), atol=1e-8)


def test_factorisation_is_cached():
    _systems.cache_clear()
    for seed in range(3):
        sampling_tensor(disk_labels(seed=seed), (6, 7), lam=0.5)
    info = _systems.cache_info()
    assert info.misses == 1 and info.hits == 2


def test_bad_lambda_is_a_user_error():
    with pytest.raises(DsbenchError, match="lam"):
        sampling_tensor(disk_labels(), (4, 4), lam=-1.0)


def test_grid_convention_and_lambdas():
    labels = torch.from_numpy(np.stack([disk_labels(seed=0), disk_labels(seed=1)]))
    grid = sampling_grid(labels, (6, 7), lam=1.0)
    assert grid.shape == (2, 6, 7, 2)
    np.testing.assert_allclose(grid_to_tensor(grid)[0].numpy(), sampling_tensor(labels[0].numpy(), (6, 7)), atol=1e-6)
    pts = sampling_for_lambdas(disk_labels(), (6, 7))
    assert sorted(pts) == [0.0, 0.5, 1.0, math.inf]
    assert all(p.shape == (42, 2) for p in pts.values())


def test_projection_onto_constraints():
    phi = torch.randn(3, 2, 4, 5)
    out = project_onto_constraints(phi)
    assert out.min() >= 0 and out.max() <= 1
    assert (out[:, 0, 0] == 0).all() and (out[:, 0, -1] == 1).all()
    assert (out[:, 1, :, 0] == 0).all() and (out[:, 1, :, -1] == 1).all()
    inner = phi[:, :, 1:-1, 1:-1].clamp(0, 1)
    assert torch.equal(out[:, :, 1:-1, 1:-1], inner)
