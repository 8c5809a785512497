"""The 9-neighbour cell association (benchmark/ops/cell_association.py) against dense references."""
import time

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from benchmark.errors import DsbenchError
from benchmark.ops.cell_association import (
    OWN_CELL, candidate_inner_products, candidate_offsets, candidate_validity, coarse_size, decode,
    gather_candidates, hard_assignment, masked_softmax, pool, scatter_to_cells,
)

# The documented order, spelled out independently of the implementation.
ROW_MAJOR_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

# (cell, fine H x W): even and odd sizes, cells 2 and 4, and a map smaller than 3x3 cells.
GEOMETRIES = [(2, (6, 8)), (2, (7, 5)), (4, (8, 12)), (4, (9, 7)), (4, (3, 5))]

F64 = torch.float64


def random_assignment(batch, fine_hw, cell, tau=0.5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    valid = candidate_validity(fine_hw, coarse_size(fine_hw, cell), cell)
    scores = torch.randn(batch, 9, *fine_hw, generator=gen, dtype=F64)
    return masked_softmax(scores, valid, tau)


def dense_assignment_matrix(assign, cell, coarse_hw):
    """(B, H*W, h*w) with plain loops: row = fine pixel, column = cell, invalid candidates dropped."""
    B, _, H, W = assign.shape
    h, w = coarse_hw
    dense = torch.zeros(B, H * W, h * w, dtype=assign.dtype)
    for i in range(H):
        for j in range(W):
            for k, (dy, dx) in enumerate(ROW_MAJOR_OFFSETS):
                m, n = i // cell + dy, j // cell + dx
                if 0 <= m < h and 0 <= n < w:
                    dense[:, i * W + j, m * w + n] += assign[:, k, i, j]
    return dense


def test_candidate_order_is_row_major_with_own_cell_in_the_middle():
    assert list(candidate_offsets()) == ROW_MAJOR_OFFSETS
    assert candidate_offsets()[OWN_CELL] == (0, 0) and OWN_CELL == 4


def test_candidate_order_matches_unfold():
    # The authors' layout (Appendix B/C) gathers the candidates with a 3x3 unfold, padding 1.
    coarse = torch.rand(2, 3, 4, 5, dtype=F64)
    unfolded = F.unfold(coarse, kernel_size=3, padding=1).reshape(2, 3, 9, 4, 5)
    assert torch.equal(gather_candidates(coarse, (4, 5), 1), unfolded)


@pytest.mark.parametrize("cell, fine_hw", GEOMETRIES)
def test_gather_candidates_against_loops(cell, fine_hw):
    H, W = fine_hw
    h, w = coarse_size(fine_hw, cell)
    coarse = torch.rand(2, 3, h, w, dtype=F64) + 1.0  # strictly positive: an invalid 0 stands out
    gathered = gather_candidates(coarse, fine_hw, cell)
    valid = candidate_validity(fine_hw, (h, w), cell)
    assert gathered.shape == (2, 3, 9, H, W)
    for i in range(H):
        for j in range(W):
            for k, (dy, dx) in enumerate(ROW_MAJOR_OFFSETS):
                m, n = i // cell + dy, j // cell + dx
                inside = 0 <= m < h and 0 <= n < w
                assert bool(valid[k, i, j]) == inside
                expected = coarse[:, :, m, n] if inside else torch.zeros(2, 3, dtype=F64)
                assert torch.equal(gathered[:, :, k, i, j], expected)


def test_corner_pixels_have_exactly_the_inside_candidates():
    valid = candidate_validity((5, 7), (3, 4), 2)
    inside = lambda i, j: sorted(valid[:, i, j].nonzero().flatten().tolist())  # noqa: E731
    assert inside(0, 0) == [4, 5, 7, 8]       # top-left: no row above, no column left
    assert inside(0, 6) == [3, 4, 6, 7]       # top-right (own cell is the partial last column)
    assert inside(4, 0) == [1, 2, 4, 5]       # bottom-left (own cell is the partial last row)
    assert inside(4, 6) == [0, 1, 3, 4]       # bottom-right
    assert inside(2, 3) == list(range(9))     # interior: all nine
    # a single row of cells: only the own row is ever valid
    assert sorted(candidate_validity((2, 6), (1, 3), 2)[:, 1, 2].nonzero().flatten().tolist()) == [3, 4, 5]


@pytest.mark.parametrize("cell, fine_hw", GEOMETRIES)
def test_decode_and_pool_match_the_dense_assignment_matrix(cell, fine_hw):
    H, W = fine_hw
    h, w = coarse_size(fine_hw, cell)
    assign = random_assignment(2, fine_hw, cell)
    dense = dense_assignment_matrix(assign, cell, (h, w))  # (B, HW, hw)
    coarse = torch.randn(2, 3, h, w, dtype=F64)
    fine = torch.randn(2, 3, H, W, dtype=F64)

    ref_decoded = (dense @ coarse.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, 3, H, W)
    assert torch.allclose(decode(coarse, assign, cell), ref_decoded, atol=1e-12)

    ref_sum = (dense.transpose(1, 2) @ fine.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, 3, h, w)
    ref_weight = dense.sum(dim=1).reshape(2, 1, h, w)
    assert torch.allclose(scatter_to_cells(fine, assign, cell, (h, w)), ref_sum, atol=1e-12)
    assert torch.allclose(pool(fine, assign, cell, (h, w)), ref_sum / ref_weight, atol=1e-12)


def test_pool_of_a_cell_nobody_weights_is_zero_with_zero_gradient():
    cell, fine_hw, coarse_hw = 2, (6, 6), (3, 3)
    valid = candidate_validity(fine_hw, coarse_hw, cell)
    # every pixel goes up-left where it can, else (top row, left column) to its own cell: the
    # cells (1, 2), (2, 1), (2, 2) have no pixel below-right of them and none of their own
    assign = torch.zeros(1, 9, *fine_hw, dtype=F64)
    assign[0, 0] = valid[0].to(F64)
    assign[0, OWN_CELL] = (~valid[0]).to(F64)
    fine = torch.rand(1, 2, *fine_hw, dtype=F64, requires_grad=True)
    pooled = pool(fine, assign, cell, coarse_hw)
    dense = dense_assignment_matrix(assign, cell, coarse_hw)[0]
    empty = (dense.sum(dim=0) == 0).reshape(coarse_hw)
    assert empty.tolist() == [[False, False, False], [False, False, True], [False, True, True]]
    assert torch.equal(pooled[0, :, empty], torch.zeros(2, 3, dtype=F64))
    assert (pooled[0, :, ~empty] > 0).all()
    assert torch.isfinite(pooled).all()
    pooled[0, :, empty].sum().backward()
    assert torch.equal(fine.grad, torch.zeros_like(fine))


@pytest.mark.parametrize("cell, fine_hw", GEOMETRIES)
def test_adjoint_identity(cell, fine_hw):
    h, w = coarse_size(fine_hw, cell)
    gen = torch.Generator().manual_seed(1)
    # any weights, not only normalised ones: the identity is a property of the linear maps
    assign = torch.rand(2, 9, *fine_hw, generator=gen, dtype=F64)
    x = torch.randn(2, 4, h, w, generator=gen, dtype=F64)
    y = torch.randn(2, 4, *fine_hw, generator=gen, dtype=F64)
    lhs = (decode(x, assign, cell) * y).sum()
    rhs = (x * scatter_to_cells(y, assign, cell, (h, w))).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell, fine_hw", [(2, (8, 12)), (4, (16, 8))])
def test_own_cell_one_hot_is_nearest_upsampling(cell, fine_hw):
    h, w = coarse_size(fine_hw, cell)
    assign = torch.zeros(1, 9, *fine_hw, dtype=F64)
    assign[:, OWN_CELL] = 1.0
    coarse = torch.randn(1, 3, h, w, dtype=F64)
    assert torch.equal(decode(coarse, assign, cell), F.interpolate(coarse, scale_factor=cell, mode="nearest"))


@pytest.mark.parametrize("cell, fine_hw", [(2, (7, 9)), (4, (9, 14))])
def test_own_cell_one_hot_is_cropped_nearest_upsampling_for_partial_cells(cell, fine_hw):
    H, W = fine_hw
    h, w = coarse_size(fine_hw, cell)
    assign = torch.zeros(1, 9, H, W, dtype=F64)
    assign[:, OWN_CELL] = 1.0
    coarse = torch.randn(1, 3, h, w, dtype=F64)
    full = F.interpolate(coarse, size=(h * cell, w * cell), mode="nearest")
    assert torch.equal(decode(coarse, assign, cell), full[:, :, :H, :W])


@pytest.mark.parametrize("cell, fine_hw", GEOMETRIES)
def test_weights_sum_to_one_and_invalid_are_exactly_zero(cell, fine_hw):
    H, W = fine_hw
    # huge scores on every candidate: an invalid one would win if it were not masked
    scores = torch.full((1, 9, H, W), 50.0, dtype=F64) + torch.rand(1, 9, H, W, dtype=F64)
    valid = candidate_validity(fine_hw, coarse_size(fine_hw, cell), cell)
    assign = masked_softmax(scores, valid, 0.07)
    assert torch.allclose(assign.sum(dim=1), torch.ones(1, H, W, dtype=F64), atol=1e-12)
    assert torch.equal(assign[:, ~valid], torch.zeros_like(assign[:, ~valid]))
    for i, j in [(0, 0), (0, W - 1), (H - 1, 0), (H - 1, W - 1)]:
        assert torch.equal(assign[0, ~valid[:, i, j], i, j], torch.zeros((~valid[:, i, j]).sum().item(), dtype=F64))
        assert (assign[0, valid[:, i, j], i, j] > 0).all()


def test_decode_ignores_whatever_an_invalid_slot_holds():
    cell, fine_hw = 2, (5, 7)
    h, w = coarse_size(fine_hw, cell)
    assign = random_assignment(1, fine_hw, cell)
    valid = candidate_validity(fine_hw, (h, w), cell)
    polluted = assign.clone()
    polluted[:, ~valid] = float("nan")
    coarse = torch.randn(1, 2, h, w, dtype=F64)
    fine = torch.randn(1, 2, *fine_hw, dtype=F64)
    assert torch.equal(decode(coarse, polluted, cell), decode(coarse, assign, cell))
    assert torch.equal(pool(fine, polluted, cell, (h, w)), pool(fine, assign, cell, (h, w)))


@pytest.mark.parametrize("cell, fine_hw", GEOMETRIES)
def test_decode_is_linear_and_convex(cell, fine_hw):
    h, w = coarse_size(fine_hw, cell)
    assign = random_assignment(2, fine_hw, cell)
    x, y = torch.randn(2, 2, 3, h, w, dtype=F64)
    combined = decode(2.5 * x - 0.75 * y, assign, cell)
    assert torch.allclose(combined, 2.5 * decode(x, assign, cell) - 0.75 * decode(y, assign, cell), atol=1e-12)
    # a convex combination of candidate values stays within the candidates' range
    candidates = gather_candidates(x, fine_hw, cell)
    valid = candidate_validity(fine_hw, (h, w), cell)
    low = candidates.masked_fill(~valid, float("inf")).amin(dim=2)
    high = candidates.masked_fill(~valid, float("-inf")).amax(dim=2)
    decoded = decode(x, assign, cell)
    assert (decoded >= low - 1e-12).all() and (decoded <= high + 1e-12).all()


def test_decode_any_number_of_channels():
    assign = random_assignment(1, (6, 6), 2)
    for channels in (1, 19, 64):
        coarse = torch.randn(1, channels, 3, 3, dtype=F64)
        out = decode(coarse, assign, 2)
        assert out.shape == (1, channels, 6, 6)
        assert torch.allclose(out[:, :1], decode(coarse[:, :1], assign, 2))


def test_candidate_inner_products_match_gathered_candidates():
    fine = torch.randn(2, 5, 7, 9, dtype=F64)
    coarse = torch.randn(2, 5, 4, 5, dtype=F64)
    expected = (gather_candidates(coarse, (7, 9), 2) * fine[:, :, None]).sum(dim=1)
    assert torch.allclose(candidate_inner_products(fine, coarse, 2), expected, atol=1e-12)


def test_tiny_tau_matches_hard_assignment_where_the_top_score_is_unique():
    fine_hw, cell = (9, 11), 2
    valid = candidate_validity(fine_hw, coarse_size(fine_hw, cell), cell)
    scores = torch.randn(2, 9, *fine_hw, dtype=F64)
    scores[:, ~valid] = 100.0  # the best raw scores sit on missing candidates
    hard = hard_assignment(scores, valid)
    soft = masked_softmax(scores, valid, 1e-4)
    top2 = scores.masked_fill(~valid, float("-inf")).topk(2, dim=1).values
    unique = (top2[:, 0] - top2[:, 1]) > 5e-3  # gap/tau >= 50: the softmax is one-hot to 1e-21
    assert unique.float().mean() > 0.9
    assert torch.allclose(soft.permute(0, 2, 3, 1)[unique], hard.permute(0, 2, 3, 1)[unique], atol=1e-12)
    assert torch.equal(hard[:, ~valid], torch.zeros_like(hard[:, ~valid]))
    assert torch.equal(hard.sum(dim=1), torch.ones(2, *fine_hw, dtype=F64))


def test_hard_assignment_breaks_ties_by_the_lowest_index():
    tied = torch.zeros(1, 9, 2, 2)
    assert hard_assignment(tied)[0, :, 0, 0].tolist() == [1.0] + [0.0] * 8
    tied[0, 3] = tied[0, 7] = 1.0
    assert hard_assignment(tied)[0, :, 1, 1].argmax().item() == 3
    # with the grid's validity, the lowest *valid* index wins the tie at the top-left corner
    valid = candidate_validity((2, 2), (1, 1), 2)
    assert hard_assignment(torch.zeros(1, 9, 2, 2), valid)[0, :, 0, 0].argmax().item() == OWN_CELL


def test_gradcheck_decode():
    cell, fine_hw = 2, (5, 7)
    h, w = coarse_size(fine_hw, cell)
    coarse = torch.randn(1, 2, h, w, dtype=F64, requires_grad=True)
    assign = torch.rand(1, 9, *fine_hw, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, a: decode(c, a, cell), (coarse, assign))


def test_gradcheck_pool_through_masked_softmax():
    cell, fine_hw = 4, (5, 6)  # 2 x 2 partial cells
    h, w = coarse_size(fine_hw, cell)
    valid = candidate_validity(fine_hw, (h, w), cell)
    fine = torch.randn(1, 2, *fine_hw, dtype=F64, requires_grad=True)
    scores = torch.randn(1, 9, *fine_hw, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda f, s: pool(f, masked_softmax(s, valid, 0.5), cell, (h, w)), (fine, scores)
    )


def test_inconsistent_geometry_is_a_user_error():
    with pytest.raises(DsbenchError, match="ceil"):
        decode(torch.zeros(1, 1, 2, 2), torch.zeros(1, 9, 5, 4), 2)  # needs a 3x2 grid
    with pytest.raises(DsbenchError, match="positive integer"):
        candidate_validity((4, 4), (2, 2), 0)
    with pytest.raises(ValueError, match=r"\(B, 9, H, W\)"):
        decode(torch.zeros(1, 1, 2, 2), torch.zeros(1, 8, 4, 4), 2)
    with pytest.raises(DsbenchError, match="tau"):
        masked_softmax(torch.zeros(1, 9, 2, 2), candidate_validity((2, 2), (1, 1), 2), 0.0)


class LargestTensor(TorchDispatchMode):
    """Records the element count of the largest tensor any op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_full_resolution_map_never_builds_a_pixel_by_cell_tensor():
    H, W, C, cell = 512, 1024, 19, 2
    h, w = coarse_size((H, W), cell)
    gen = torch.Generator().manual_seed(0)
    coarse = torch.randn(1, C, h, w, generator=gen)
    fine = torch.randn(1, C, H, W, generator=gen)
    valid = candidate_validity((H, W), (h, w), cell)
    assign = masked_softmax(torch.randn(1, 9, H, W, generator=gen), valid, 0.07)
    recorder = LargestTensor()
    start = time.perf_counter()
    with torch.no_grad(), recorder:
        decoded = decode(coarse, assign, cell)
        pooled = pool(fine, assign, cell, (h, w))
    elapsed = time.perf_counter() - start
    assert decoded.shape == (1, C, H, W) and pooled.shape == (1, C, h, w)
    # the documented bound: the fine map, the candidates at coarse resolution or the assignment;
    # the dense (HW x hw) assignment would hold 6.9e10 elements
    assert recorder.largest <= max(C * H * W, 9 * C * h * w, 9 * H * W)
    assert elapsed < 20.0, f"{elapsed:.1f}s"
