"""Pixel-to-cell association over a 3x3 neighbourhood of coarse cells (the "9 candidates").

Several methods share this structure: Suzuki's hierarchical clustering (each fine pixel picks
one of the 9 coarse seeds around it, cell = 2) and the SSN / SCN / PCNet superpixels (each pixel
is associated with the 9 grid superpixels around it, cell = 16 or other sizes).

Conventions (stated once, used by every caller)
-----------------------------------------------
* A fine map has ``H x W`` pixels; the coarse grid has ``h x w`` cells of ``cell x cell`` fine
  pixels, ``h = ceil(H / cell)`` and ``w = ceil(W / cell)`` exactly (the last row / column of
  cells may be partial). Fine pixel ``(i, j)`` lies in its *own cell* ``(i // cell, j // cell)``.
* Its 9 candidates are the cells ``(i // cell + dy, j // cell + dx)`` for the offsets of
  :func:`candidate_offsets`, in **row-major order over (dy, dx) in {-1, 0, 1}^2**::

      0 (-1,-1)  1 (-1, 0)  2 (-1,+1)
      3 ( 0,-1)  4 ( 0, 0)  5 ( 0,+1)        index 4 = the own cell
      6 (+1,-1)  7 (+1, 0)  8 (+1,+1)

  This is the order of ``F.unfold(kernel_size=3, padding=1)``, so assignments from the
  authors' layout (Suzuki, Appendix B/C) keep their meaning.
* An assignment is a float tensor ``(B, 9, H, W)``: ``assign[b, k, i, j]`` is the weight fine
  pixel ``(i, j)`` gives candidate ``k``. Candidates outside the coarse grid are *invalid*
  (:func:`candidate_validity`). They are excluded exactly, never by hoping that zero padding
  gives a zero score: :func:`masked_softmax` gives them probability 0, and :func:`decode` /
  :func:`scatter_to_cells` / :func:`pool` ignore whatever value an assignment holds there
  (even NaN). The own cell is always valid, so every pixel has at least one candidate.
* Memory: :func:`candidate_inner_products` and :func:`decode` loop over the 9 candidates,
  each a broadcast multiply-accumulate between the fine map (or assignment) viewed as cells and
  the candidate cells' values shifted at *coarse* resolution (``vecdot`` / ``addcmul``; an
  ``einsum`` would become h * w tiny matmuls, several times slower on CPU); the largest tensor
  is ``max(C * H * W, 9 * H * W)`` per batch item and autograd keeps views of the inputs only.
  :func:`scatter_to_cells` is one ``einsum`` over the 9 candidates per cell with the
  candidates' values at coarse resolution ``(B, C, 9, h, w)`` (the authors' ``unfold``
  layout). Nothing of size ``(H * W) x (h * w)`` is ever built. Only
  :func:`gather_candidates` materialises ``(B, C, 9, H, W)``, for callers that need it.
* Everything is built from padding, reshapes, products, ``einsum`` and sums, so
  forward and backward are deterministic on every device (no scatter/index_add atomics).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from benchmark.errors import DsbenchError

Size = Tuple[int, int]
Offset = Tuple[int, int]

NUM_CANDIDATES = 9
OWN_CELL = 4  # index of offset (0, 0) in candidate_offsets()

_OFFSETS: Tuple[Offset, ...] = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def candidate_offsets() -> Tuple[Offset, ...]:
    """The 9 ``(dy, dx)`` cell offsets, row-major over ``{-1, 0, 1}^2``; index 4 is ``(0, 0)``."""
    return _OFFSETS


def coarse_size(fine_hw: Sequence[int], cell: int) -> Size:
    """``(ceil(H / cell), ceil(W / cell))``: the coarse grid that covers a fine ``H x W`` map."""
    H, W = _check_fine(fine_hw, cell)
    return -(-H // cell), -(-W // cell)


def _check_fine(fine_hw: Sequence[int], cell: int) -> Size:
    if int(cell) != cell or cell <= 0:
        raise DsbenchError(f"cell size {cell!r} must be a positive integer number of pixels, e.g. 2 or 16")
    if len(fine_hw) != 2 or any(int(s) != s or s <= 0 for s in fine_hw):
        raise DsbenchError(f"fine map size {tuple(fine_hw)} must be two positive integers HxW")
    return int(fine_hw[0]), int(fine_hw[1])


def _check_geometry(fine_hw: Sequence[int], coarse_hw: Sequence[int], cell: int) -> Tuple[Size, Size]:
    fine = _check_fine(fine_hw, cell)
    expected = coarse_size(fine, cell)
    if tuple(int(s) for s in coarse_hw) != expected:
        raise DsbenchError(
            f"coarse grid {tuple(coarse_hw)} does not cover the fine map {fine} in cells of {cell} pixels: "
            f"expected {expected} = ceil(H/cell) x ceil(W/cell) (use ceil_mode / padding 1 in the strided layer)"
        )
    return fine, expected


def _check_assign(assign: torch.Tensor, batch: int) -> Size:
    if assign.dim() != 4 or assign.shape[1] != NUM_CANDIDATES:
        raise ValueError(f"assignment must be (B, 9, H, W), got {tuple(assign.shape)}")
    if assign.shape[0] != batch:
        raise ValueError(f"assignment batch {assign.shape[0]} does not match the features' batch {batch}")
    return int(assign.shape[2]), int(assign.shape[3])


def _axis_validity(n_fine: int, n_coarse: int, cell: int, offset: int, device) -> torch.Tensor:
    # Candidate index along one axis for every fine index; valid iff inside [0, n_coarse).
    candidate = torch.arange(n_fine, device=device) // cell + offset
    return (candidate >= 0) & (candidate < n_coarse)


def candidate_validity(
    fine_hw: Sequence[int], coarse_hw: Sequence[int], cell: int, device: Optional[torch.device] = None
) -> torch.Tensor:
    """Bool ``(9, H, W)``: True where candidate ``k`` of pixel ``(i, j)`` is inside the grid."""
    (H, W), (h, w) = _check_geometry(fine_hw, coarse_hw, cell)
    masks = []
    for dy, dx in _OFFSETS:
        rows = _axis_validity(H, h, cell, dy, device)
        cols = _axis_validity(W, w, cell, dx, device)
        masks.append(rows[:, None] & cols[None, :])
    return torch.stack(masks)  # (9, H, W)


def _shift(cells: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., m, n] = cells[..., m + dy, n + dx]`` inside the grid, exactly 0 outside.

    Its adjoint is ``_shift(., -dy, -dx)``. Negative pads crop, positive pads append zeros.
    """
    return F.pad(cells, (-dx, dx, -dy, dy))


def _to_blocks(fine: torch.Tensor, coarse_hw: Size, cell: int) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C, h, cell, w, cell)``: each cell's own pixels, zero-padded."""
    B, C, H, W = fine.shape
    h, w = coarse_hw
    padded = F.pad(fine, (0, w * cell - W, 0, h * cell - H))  # zero pixels fill the partial cells
    return padded.reshape(B, C, h, cell, w, cell)


def _from_blocks(blocks: torch.Tensor, fine_hw: Size) -> torch.Tensor:
    """``(B, C, h, cell, w, cell) -> (B, C, H, W)``, cropping the partial last cells."""
    B, C, h, cell, w, _ = blocks.shape
    H, W = fine_hw
    return blocks.reshape(B, C, h * cell, w * cell)[:, :, :H, :W]


def _coarse_candidates(coarse: torch.Tensor) -> torch.Tensor:
    """``(B, C, h, w) -> (B, C, 9, h, w)``: channel ``k`` holds cell ``(m, n) + offset k`` (0 outside).

    The same tensor as ``F.unfold(coarse, 3, padding=1)`` (the authors' layout), built from pads.
    """
    return torch.stack([_shift(coarse, dy, dx) for dy, dx in _OFFSETS], dim=2)


def _valid_block_weights(assign: torch.Tensor, coarse_hw: Size, cell: int) -> torch.Tensor:
    """The assignment with invalid slots set to exactly 0, as blocks ``(B, 9, h, cell, w, cell)``."""
    valid = candidate_validity(assign.shape[-2:], coarse_hw, cell, assign.device)
    # torch.where, not multiplication: an invalid slot holding inf or NaN still contributes 0.
    return _to_blocks(torch.where(valid, assign, assign.new_zeros(())), coarse_hw, cell)


def gather_candidates(coarse: torch.Tensor, fine_hw: Sequence[int], cell: int) -> torch.Tensor:
    """The 9 candidate cells' values per fine pixel: ``(B, C, h, w) -> (B, C, 9, H, W)``.

    Entries of invalid candidates are exactly 0; use :func:`candidate_validity` to tell them
    from cells whose value happens to be 0. (The other operations never build this tensor.)
    """
    if coarse.dim() != 4:
        raise ValueError(f"coarse values must be (B, C, h, w), got {tuple(coarse.shape)}")
    fine, (h, w) = _check_geometry(fine_hw, coarse.shape[-2:], cell)
    B, C = coarse.shape[:2]
    blocks = _coarse_candidates(coarse).reshape(B, C * 9, h, 1, w, 1).expand(B, C * 9, h, cell, w, cell)
    return _from_blocks(blocks, fine).reshape(B, C, 9, *fine)


def candidate_inner_products(fine: torch.Tensor, coarse: torch.Tensor, cell: int) -> torch.Tensor:
    """``<fine[:, :, i, j], coarse[:, :, candidate k]>`` for every pixel: ``(B, 9, H, W)``.

    ``fine`` is ``(B, C, H, W)`` and ``coarse`` ``(B, C, h, w)``. Invalid candidates read 0 here;
    they are not scores and must be masked (:func:`masked_softmax`) before any use.
    """
    if fine.dim() != 4 or coarse.dim() != 4 or fine.shape[:2] != coarse.shape[:2]:
        raise ValueError(f"fine {tuple(fine.shape)} and coarse {tuple(coarse.shape)} need the same (B, C)")
    fine_hw, coarse_hw = _check_geometry(fine.shape[-2:], coarse.shape[-2:], cell)
    blocks = _to_blocks(fine, coarse_hw, cell)  # (B, C, h, cell, w, cell)
    B, C, h, _, w, _ = blocks.shape
    # One dot product per candidate, the candidate cell broadcast over the own cell's pixels:
    # streaming elementwise work, several times faster on CPU than the equivalent einsum, which
    # becomes a batched matmul of h * w tiny (cell^2 x C) @ (C x 9) products.
    products = torch.stack(
        [torch.linalg.vecdot(blocks, _shift(coarse, dy, dx).reshape(B, C, h, 1, w, 1), dim=1) for dy, dx in _OFFSETS],
        dim=1,
    )  # (B, 9, h, cell, w, cell)
    return _from_blocks(products, fine_hw)


def masked_softmax(
    scores: torch.Tensor, valid: torch.Tensor, tau: Union[float, torch.Tensor] = 1.0
) -> torch.Tensor:
    """Softmax of ``scores / tau`` over the 9 candidates (dim 1); invalid candidates exactly 0.

    ``scores`` is ``(B, 9, H, W)``; ``valid`` is bool ``(9, H, W)`` or ``(B, 9, H, W)``;
    ``tau`` a positive number or a (learnable) positive tensor (Suzuki eq. 4).
    """
    if isinstance(tau, (int, float)) and tau <= 0:
        raise DsbenchError(f"softmax temperature tau={tau} must be positive (the paper uses 0.07)")
    logits = (scores / tau).masked_fill(~valid, float("-inf"))
    return logits.softmax(dim=1)


def hard_assignment(assign: torch.Tensor, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """One-hot ``(B, 9, H, W)`` of the argmax over the candidates (Suzuki eq. 1).

    Ties go to the lowest candidate index (explicitly, not left to the backend's argmax). With
    ``valid`` given, invalid candidates are never chosen, so raw scores can be passed too.
    The result has ``assign``'s dtype and no gradient.
    """
    scores = assign.detach()
    if valid is not None:
        scores = scores.masked_fill(~valid, float("-inf"))
    is_max = scores == scores.amax(dim=1, keepdim=True)
    first_max = is_max & (is_max.cumsum(dim=1) == 1)
    return first_max.to(assign.dtype)


def decode(coarse: torch.Tensor, assign: torch.Tensor, cell: int) -> torch.Tensor:
    """Fine map ``(B, C, H, W)`` from cell values ``(B, C, h, w)`` (Suzuki eqs. 2-3).

    Each fine pixel is ``sum_k assign[k] * coarse[candidate k]`` over its *valid* candidates: a
    convex combination when the assignment is a (masked) softmax or one-hot. Linear in
    ``coarse``; any number of channels; ``(H, W)`` is taken from ``assign``.
    """
    if coarse.dim() != 4:
        raise ValueError(f"coarse values must be (B, C, h, w), got {tuple(coarse.shape)}")
    fine_hw = _check_assign(assign, coarse.shape[0])
    _, coarse_hw = _check_geometry(fine_hw, coarse.shape[-2:], cell)
    weights = _valid_block_weights(assign, coarse_hw, cell)  # (B, 9, h, cell, w, cell)
    B, C, h, w = coarse.shape
    # sum over the 9 candidates of weight x candidate value, the value broadcast over the cell's
    # pixels (multiply-accumulate per candidate, as in candidate_inner_products: no tiny matmuls)
    decoded = None
    for k, (dy, dx) in enumerate(_OFFSETS):
        candidate = _shift(coarse, dy, dx).reshape(B, C, h, 1, w, 1)
        weight = weights[:, k:k + 1]  # (B, 1, h, cell, w, cell)
        decoded = candidate * weight if decoded is None else torch.addcmul(decoded, candidate, weight)
    return _from_blocks(decoded, fine_hw)


def scatter_to_cells(
    fine: torch.Tensor, assign: torch.Tensor, cell: int, coarse_hw: Sequence[int]
) -> torch.Tensor:
    """Unnormalised pooling ``(B, C, H, W) -> (B, C, h, w)``: the exact adjoint of :func:`decode`.

    ``out[cell m] = sum over (pixel p, candidate k) with candidate k of p == m and valid of
    assign[k, p] * fine[p]``, so ``<decode(x, A), y> == <x, scatter_to_cells(y, A)>``.
    """
    if fine.dim() != 4:
        raise ValueError(f"fine values must be (B, C, H, W), got {tuple(fine.shape)}")
    fine_hw = _check_assign(assign, fine.shape[0])
    if tuple(fine.shape[-2:]) != fine_hw:
        raise ValueError(f"fine map {tuple(fine.shape)} and assignment {tuple(assign.shape)} differ in size")
    _, cells_hw = _check_geometry(fine_hw, coarse_hw, cell)
    weights = _valid_block_weights(assign, cells_hw, cell)  # (B, 9, h, cell, w, cell)
    # per own cell and candidate k: the weighted sum of the own cell's pixels
    own_cell_sums = torch.einsum("bchiwj,bkhiwj->bkchw", _to_blocks(fine, cells_hw, cell), weights)
    pooled = None
    for k, (dy, dx) in enumerate(_OFFSETS):
        term = _shift(own_cell_sums[:, k], -dy, -dx)  # own cell (m, n) feeds candidate (m+dy, n+dx)
        pooled = term if pooled is None else pooled + term
    return pooled


def pool(fine: torch.Tensor, assign: torch.Tensor, cell: int, coarse_hw: Sequence[int]) -> torch.Tensor:
    """Assignment-weighted mean of the pixels that list each cell as a candidate: ``(B, C, h, w)``.

    ``out[m] = scatter_to_cells(fine)[m] / scatter_to_cells(1)[m]``: the numerator sums
    ``assign[k, p] * fine[p]`` over every pixel ``p`` whose valid candidate ``k`` is cell ``m``,
    the denominator the same weights alone (SSN's column-normalised pixel-to-superpixel
    pooling). A cell whose total weight is not positive (no pixel gives it any weight) is
    exactly 0, with zero gradient, rather than ``0 / eps``.
    """
    weighted_sum = scatter_to_cells(fine, assign, cell, coarse_hw)
    ones = fine.new_ones((fine.shape[0], 1) + tuple(fine.shape[-2:]))
    total_weight = scatter_to_cells(ones, assign, cell, coarse_hw)  # (B, 1, h, w)
    has_weight = total_weight > 0
    # the inner where keeps the division (and its gradient) finite where the weight is 0
    safe_weight = torch.where(has_weight, total_weight, torch.ones_like(total_weight))
    return torch.where(has_weight, weighted_sum / safe_weight, weighted_sum.new_zeros(()))
