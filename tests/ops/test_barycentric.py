"""Barycentric unsampling over a sampling grid, against bilinear, brute force and griddata."""
from __future__ import annotations

import tempfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.interpolate import griddata
from scipy.spatial import Delaunay

import benchmark.ops.barycentric as barycentric
from benchmark import native
from benchmark.ops.barycentric import barycentric_weights, blend, unsample_barycentric
from benchmark.ops.sampling import grid_to_pixels, pixels_to_grid, uniform_grid, unsample


def monotone_grid(h: int, w: int, H: int, W: int, seed: int, jitter: float = 0.2) -> torch.Tensor:
    """A random covering grid that keeps its topology: sorted random rows / columns (ends on
    the border) plus a small per-point jitter, in the suite's normalised convention."""
    rng = np.random.default_rng(seed)

    def axis(n: int, size: int) -> np.ndarray:
        inner = np.sort(rng.uniform(0, size - 1, n - 2))
        return np.concatenate(([0.0], inner, [size - 1.0]))

    ys, xs = axis(h, H), axis(w, W)
    gap_y, gap_x = np.diff(ys).min(), np.diff(xs).min()
    y = np.repeat(ys[:, None], w, 1) + rng.uniform(-jitter, jitter, (h, w)) * gap_y
    x = np.repeat(xs[None, :], h, 0) + rng.uniform(-jitter, jitter, (h, w)) * gap_x
    y[0], y[-1] = 0.0, H - 1.0
    x[:, 0], x[:, -1] = 0.0, W - 1.0
    px = torch.from_numpy(np.stack((x, y), -1)).unsqueeze(0)
    return pixels_to_grid(px, (H, W)).double()


def brute_force(values: np.ndarray, pts: np.ndarray, h: int, w: int, H: int, W: int) -> np.ndarray:
    """Per pixel, loop over every triangle (same diagonal a-d) and blend its three corners."""
    out = np.full((values.shape[0], H, W), np.nan)
    tris = []
    for i in range(h - 1):
        for j in range(w - 1):
            a, b, c, d = i * w + j, i * w + j + 1, (i + 1) * w + j, (i + 1) * w + j + 1
            tris += [(a, c, d), (a, d, b)]
    for r in range(H):
        for col in range(W):
            p = np.array([col, r], float)
            for t in tris:
                v0, v1, v2 = pts[list(t)]
                m = np.array([v1 - v0, v2 - v0]).T
                if abs(np.linalg.det(m)) < 1e-12:
                    continue
                l1, l2 = np.linalg.solve(m, p - v0)
                l0 = 1 - l1 - l2
                if min(l0, l1, l2) >= -1e-9:
                    out[:, r, col] = l0 * values[:, t[0]] + l1 * values[:, t[1]] + l2 * values[:, t[2]]
                    break
    return out


def test_registered_in_unsample():
    logits = torch.randn(1, 3, 4, 5)
    out = unsample(logits, uniform_grid(1, (4, 5)), (7, 9), mode="barycentric")
    assert out.shape == (1, 3, 7, 9)


def test_uniform_grid_affine_predictions_equal_bilinear():
    h, w, H, W = 5, 7, 17, 25
    ys, xs = torch.meshgrid(torch.linspace(0, H - 1, h), torch.linspace(0, W - 1, w), indexing="ij")
    logits = torch.stack((0.3 * xs - 0.7 * ys + 2, -0.1 * xs + 0.05 * ys)).unsqueeze(0)  # (1, 2, h, w)
    grid = uniform_grid(1, (h, w))
    ref = F.interpolate(logits, (H, W), mode="bilinear", align_corners=True)
    torch.testing.assert_close(unsample_barycentric(logits, grid, (H, W)), ref, atol=1e-5, rtol=0)


def test_uniform_grid_one_axis_upsampling_equals_bilinear():
    # every output pixel lies on a grid line: the triangle and the bilinear patch agree
    logits = torch.randn(2, 4, 6, 5)
    grid = uniform_grid(2, (6, 5))
    for size in ((6, 23), (21, 5)):
        ref = F.interpolate(logits, size, mode="bilinear", align_corners=True)
        torch.testing.assert_close(unsample_barycentric(logits, grid, size), ref, atol=1e-5, rtol=0)


def test_uniform_grid_differs_from_bilinear_by_the_twist_term():
    # inside a cell: barycentric = bilinear + q * min(s, t) * (1 - max(s, t)), q = f_a - f_b - f_c + f_d
    h, w, H, W = 4, 5, 13, 17  # (H-1)/(h-1) = 4, (W-1)/(w-1) = 4: cells of 4x4 pixels
    logits = torch.randn(1, 3, h, w, dtype=torch.float64)
    out = unsample_barycentric(logits, uniform_grid(1, (h, w), dtype=torch.float64), (H, W))
    bil = F.interpolate(logits, (H, W), mode="bilinear", align_corners=True)
    f = logits[0]
    q = f[:, :-1, :-1] - f[:, :-1, 1:] - f[:, 1:, :-1] + f[:, 1:, 1:]  # (C, h-1, w-1)
    rows, cols = torch.arange(H), torch.arange(W)
    i = (rows // 4).clamp(max=h - 2)
    j = (cols // 4).clamp(max=w - 2)
    t = (rows - 4 * i) / 4.0
    s = (cols - 4 * j) / 4.0
    S, T = torch.meshgrid(s, t, indexing="xy")
    twist = torch.minimum(S, T) * (1 - torch.maximum(S, T))
    expected = bil[0] + q[:, i][:, :, j] * twist
    torch.testing.assert_close(out[0].double(), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_monotone_grid_matches_brute_force(seed):
    h, w, H, W = 5, 6, 19, 23
    grid = monotone_grid(h, w, H, W, seed)
    logits = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(seed))
    out = unsample_barycentric(logits, grid.float(), (H, W))[0].numpy()
    pts = grid_to_pixels(grid, (H, W))[0].reshape(-1, 2).numpy()
    ref = brute_force(logits[0].reshape(3, -1).numpy().astype(float), pts, h, w, H, W)
    assert not np.isnan(ref).any()
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=0)


def test_agrees_with_griddata_where_triangles_agree():
    h, w, H, W = 9, 11, 40, 50
    grid = monotone_grid(h, w, H, W, seed=5, jitter=0.3)
    pts = grid_to_pixels(grid, (H, W))[0].reshape(-1, 2).numpy()
    logits = torch.randn(1, 2, h, w, generator=torch.Generator().manual_seed(0))
    out = unsample_barycentric(logits, grid.float(), (H, W))[0].reshape(2, -1).numpy()
    index, _ = barycentric_weights(grid, (H, W))
    ours = np.sort(index[0].numpy(), axis=1)
    rr, cc = np.mgrid[:H, :W]
    query = np.stack((cc.ravel(), rr.ravel()), 1).astype(float)
    delaunay = Delaunay(pts)
    simplex = delaunay.find_simplex(query)
    theirs = np.sort(delaunay.simplices[simplex], axis=1)
    same = (simplex >= 0) & (ours == theirs).all(1)
    assert same.mean() > 0.25  # Delaunay picks either diagonal: about half the cells agree
    for c in range(2):
        ref = griddata(pts, logits[0, c].reshape(-1).numpy(), query, method="linear")
        np.testing.assert_allclose(out[c][same], ref[same], atol=1e-5, rtol=0)


def test_batched_grids_and_chunking():
    h, w, H, W = 6, 7, 21, 27
    grids = torch.cat([monotone_grid(h, w, H, W, seed=s) for s in (3, 4)]).float()
    logits = torch.randn(2, 4, h, w)
    both = unsample_barycentric(logits, grids, (H, W))
    for b in range(2):
        torch.testing.assert_close(both[b:b + 1], unsample_barycentric(logits[b:b + 1], grids[b:b + 1], (H, W)))
    idx_a, w_a = barycentric_weights(grids, (H, W))
    idx_b, w_b = barycentric_weights(grids, (H, W), max_candidates=7)  # many tiny chunks
    assert torch.equal(idx_a, idx_b) and torch.equal(w_a, w_b)
    torch.testing.assert_close(w_a.sum(-1), torch.ones(2, H * W))


def test_uncovered_pixels_take_the_nearest_grid_point():
    h, w, H, W = 4, 4, 20, 20
    px = torch.stack(torch.meshgrid(torch.linspace(5, 14, w), torch.linspace(5, 14, h), indexing="xy"), -1)
    grid = pixels_to_grid(px.unsqueeze(0).double(), (H, W)).float()  # covers only the centre
    logits = torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w)
    out = unsample_barycentric(logits, grid, (H, W))[0, 0]
    assert out[0, 0] == logits[0, 0, 0, 0] and out[-1, -1] == logits[0, 0, -1, -1]
    assert out[0, -1] == logits[0, 0, 0, -1] and out[19, 9] == logits[0, 0, -1, 1]


def test_folded_grid_is_deterministic_and_finite():
    grid = monotone_grid(5, 5, 16, 16, seed=0)
    grid[0, 2, 2] = grid[0, 1, 1]  # fold a cell over its neighbour
    logits = torch.randn(1, 2, 5, 5)
    a = unsample_barycentric(logits, grid.float(), (16, 16))
    b = unsample_barycentric(logits, grid.float(), (16, 16))
    assert torch.equal(a, b) and torch.isfinite(a).all()


def test_blend_output_is_a_plain_tensor_view():
    logits = torch.randn(2, 3, 4, 5)
    grid = uniform_grid(2, (4, 5))
    index, weight = barycentric_weights(grid, (4, 5))
    out = blend(logits, index, weight, (4, 5))
    torch.testing.assert_close(out, logits)  # identity when input and output grids coincide
    assert out.argmax(1).shape == (2, 4, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    grid = monotone_grid(9, 10, 50, 60, seed=1).float()
    logits = torch.randn(1, 5, 9, 10)
    cpu = unsample_barycentric(logits, grid, (50, 60))
    gpu = unsample_barycentric(logits.cuda(), grid.cuda(), (50, 60)).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-5, rtol=0)


def exact_largest_index(values: np.ndarray, pts: np.ndarray, h: int, w: int, H: int, W: int) -> np.ndarray:
    """Float64 reference of the documented rule: the largest-index triangle containing the
    pixel centre (within 1e-9) gives the blend. Vectorised over pixels, looped over triangles."""
    rr, cc = np.mgrid[:H, :W]
    p = np.stack((cc.ravel(), rr.ravel()), 1).astype(float)
    out = np.full((values.shape[0], H * W), np.nan)
    for i in range(h - 1):
        for j in range(w - 1):
            a, b, c, d = i * w + j, i * w + j + 1, (i + 1) * w + j, (i + 1) * w + j + 1
            for t in ((a, c, d), (a, d, b)):
                v0, v1, v2 = pts[list(t)]
                e1, e2 = v1 - v0, v2 - v0
                det = e1[0] * e2[1] - e1[1] * e2[0]
                if abs(det) < 1e-12:
                    continue
                q = p - v0
                l1 = (q[:, 0] * e2[1] - q[:, 1] * e2[0]) / det
                l2 = (e1[0] * q[:, 1] - e1[1] * q[:, 0]) / det
                l0 = 1 - l1 - l2
                inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
                out[:, inside] = (l0[inside] * values[:, [t[0]]] + l1[inside] * values[:, [t[1]]]
                                  + l2[inside] * values[:, [t[2]]])
    return out.reshape(-1, H, W)


def torch_path(logits: torch.Tensor, grid: torch.Tensor, size) -> torch.Tensor:
    index, weight = barycentric_weights(grid, size)
    return blend(logits, index, weight, size)


@pytest.fixture
def without_native(monkeypatch):
    """The pure-torch path on CPU, as on a machine without a C compiler."""
    monkeypatch.setattr(barycentric, "_native_library", lambda: None)


def test_native_kernel_is_built_here():
    # CI has a C compiler: the fast path must not silently fall back
    assert native.load("barycentric") is not None


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_in_float64_on_valid_grids(seed):
    h, w, H, W = 12, 15, 70, 90
    grid = monotone_grid(h, w, H, W, seed, jitter=0.25)
    logits = torch.randn(1, 3, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    out = unsample_barycentric(logits, grid, (H, W))
    pts = grid_to_pixels(grid, (H, W))[0].reshape(-1, 2).numpy()
    ref = exact_largest_index(logits[0].reshape(3, -1).numpy(), pts, h, w, H, W)
    assert not np.isnan(ref).any()
    np.testing.assert_allclose(out[0].numpy(), ref, atol=1e-9, rtol=0)
    assert out.is_contiguous() and out.dtype == torch.float64


def folded_grid():
    h, w, H, W = 8, 9, 50, 60
    grid = monotone_grid(h, w, H, W, seed=3, jitter=0.1)
    px = grid_to_pixels(grid, (H, W))
    px[0, 3, 4] = px[0, 4, 5] + torch.tensor([1.5, 2.0], dtype=px.dtype)  # fold an interior point over a neighbour
    px[0, 5, 2] = px[0, 5, 3] + torch.tensor([0.0, 0.0], dtype=px.dtype)  # and collapse an edge (degenerate)
    return pixels_to_grid(px, (H, W)), px, (h, w, H, W)


def test_folded_cells_follow_the_largest_index_rule_exactly():
    grid, px, (h, w, H, W) = folded_grid()
    logits = torch.randn(1, 2, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = unsample_barycentric(logits, grid, (H, W))[0].numpy()
    ref = exact_largest_index(logits[0].reshape(2, -1).numpy(), px[0].reshape(-1, 2).numpy(), h, w, H, W)
    assert not np.isnan(ref).any()
    np.testing.assert_allclose(out, ref, atol=1e-9, rtol=0)


@pytest.mark.parametrize("make", ["monotone", "folded"])
def test_native_and_torch_paths_agree(make):
    if make == "monotone":
        h, w, H, W = 10, 12, 41, 53
        grids = torch.cat([monotone_grid(h, w, H, W, seed=s, jitter=0.3) for s in (7, 8)]).float()
    else:
        grids, _, (h, w, H, W) = folded_grid()
        grids = grids.float()
    logits = torch.randn(grids.shape[0], 5, h, w)
    fast = unsample_barycentric(logits, grids, (H, W))
    reference = torch_path(logits, grids, (H, W))
    assert fast.is_contiguous() and reference.is_contiguous()
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=0)  # the torch path stores float32 weights


def test_same_numbers_on_any_thread_count():
    grid = monotone_grid(20, 24, 97, 131, seed=2, jitter=0.3).float()
    logits = torch.randn(1, 6, 20, 24)
    before = torch.get_num_threads()
    try:
        outs = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            outs.append(unsample_barycentric(logits, grid, (97, 131)))
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_torch_path_is_used_without_a_compiler(without_native):
    grid = monotone_grid(6, 7, 21, 27, seed=4).float()
    logits = torch.randn(1, 3, 6, 7)
    torch.testing.assert_close(unsample_barycentric(logits, grid, (21, 27)), torch_path(logits, grid, (21, 27)),
                               atol=0, rtol=0)


@pytest.mark.parametrize("path", ["native", "torch"])
def test_gradient_is_the_exact_adjoint(path, request):
    if path == "torch":
        request.getfixturevalue("without_native")
    grid = monotone_grid(5, 6, 19, 23, seed=0)
    grid[0, 2, 2] = grid[0, 1, 1]  # a fold: overlapping triangles
    logits = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: unsample_barycentric(x, grid, (19, 23)), (logits,))


def test_gradient_reaches_the_nearest_point_of_uncovered_pixels():
    h, w, H, W = 4, 4, 20, 20
    px = torch.stack(torch.meshgrid(torch.linspace(5, 14, w), torch.linspace(5, 14, h), indexing="xy"), -1)
    grid = pixels_to_grid(px.unsqueeze(0).double(), (H, W))
    logits = torch.randn(1, 2, h, w, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: unsample_barycentric(x, grid, (H, W)), (logits,))


def test_native_library_is_cached_and_a_missing_compiler_warns(tmp_path, monkeypatch):
    monkeypatch.setenv("DSBENCH_NATIVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load("barycentric") is not None
    built = list((tmp_path / "cache").glob("barycentric-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load("barycentric") is not None and built[0].stat().st_mtime_ns == stamp  # reused, not rebuilt
    # an unwritable cache (a file where the folder should be) falls back to the temp dir
    (tmp_path / "blocked").write_text("")
    monkeypatch.setenv("DSBENCH_NATIVE_CACHE", str(tmp_path / "blocked" / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setattr(native, "_private_dir", None)
    assert native.load("barycentric") is not None
    assert len(list((tmp_path / "tmp").glob("dsbench-native-*/barycentric-*.so"))) == 1
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setenv("DSBENCH_NATIVE_CACHE", str(tmp_path / "other"))
    monkeypatch.setattr(native, "_compiler", lambda: None)
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        assert native.load("barycentric") is None
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").iterdir())


def test_cost_is_one_counted_op():
    from benchmark.cost.macs import count_macs
    from benchmark.cost.pipeline import _UnsamplerStage

    h, w, H, W, C = 6, 7, 21, 27, 5
    count = count_macs(_UnsamplerStage((H, W), "barycentric"), (torch.randn(2, C, h, w), monotone_grid(h, w, H, W, 0).float().expand(2, -1, -1, -1)))
    assert count.unsupported == {}
    blend_macs = 2 * H * W * (barycentric.MACS_PER_PIXEL + barycentric.MACS_PER_ELEMENT * C)
    # plus the grid -> pixel conversion and border snap: a few operations per grid point
    assert blend_macs <= count.total <= blend_macs + 40 * 2 * h * w


@pytest.mark.parametrize("path", ["native", "torch"])
def test_sliver_triangles_do_not_extrapolate(path, request):
    # Cell (1, 1)'s upper triangle (a, d, b) squeezed into a sliver 3e-5 px tall lying 5e-5 px
    # below pixel row 10: those pixels are within any pixel tolerance of it, but far outside it
    # in barycentric terms (l_d ~ -1.7), so they must keep the blend of the cell above.
    if path == "torch":
        request.getfixturevalue("without_native")
    h, w, H, W = 4, 4, 31, 31
    ys, xs = torch.meshgrid(torch.arange(h) * 10.0, torch.arange(w) * 10.0, indexing="ij")
    px = torch.stack((xs, ys), -1).double().unsqueeze(0)
    px[0, 1, 1] = torch.tensor([10.0, 10.00005])
    px[0, 1, 2] = torch.tensor([20.0, 10.00005])
    px[0, 2, 2] = torch.tensor([15.0, 10.00008])
    grid = pixels_to_grid(px, (H, W))
    logits = torch.randn(1, 2, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = unsample_barycentric(logits, grid, (H, W))[0].numpy()
    ref = exact_largest_index(logits[0].reshape(2, -1).numpy(), px[0].reshape(-1, 2).numpy(), h, w, H, W)
    assert not np.isnan(ref).any()
    np.testing.assert_allclose(out, ref, atol=1e-6 if path == "torch" else 1e-9, rtol=0)
