"""Pieces shared by the deep superpixel methods (SSN, HCSSN, SCN, PCNet), one place for each.

* Input checking and the end of ``segment``: :func:`check_segment_input`, :func:`finish_segmentation`
  (hard ids -> numpy -> the shared ``connectivity.enforce_connectivity`` -> contiguous int64 ids).
* Grid geometry from a requested superpixel count: :func:`grid_cell_size`. The cell association ops
  need an integer cell, so the grid is ``ceil(H / cell) x ceil(W / cell)`` cells of ``cell`` pixels,
  with ``cell`` the integer near ``sqrt(H * W / n)`` whose cell count is closest to ``n`` (ties: the
  larger cell). The count obtained is therefore close to, not exactly, ``n``.
* Colour and position features: :func:`rgb_to_lab` (a torch CIELAB conversion matching
  ``skimage.color.rgb2lab``: sRGB, D65, 2 degree observer) and :func:`pixel_coordinates`.
* Label handling: :func:`labels_one_hot` (arbitrary ids, ``-1`` = ignore), :func:`boundary_mask`.
* Reconstruction through an association (SSN eq. 3 / SCN eqs. 1-2 / PCNet eqs. 1-2): pool pixel
  properties to the superpixels with the column-normalised association (:func:`pool_to_cells`),
  decode them back with the row-normalised one: :func:`reconstruct`, :func:`label_reconstruction_loss`,
  :func:`position_reconstruction_error`.
* Hard superpixel ids from an association: :func:`superpixel_ids` (a band of rows of it:
  :func:`write_superpixel_ids_band`).
* The fully convolutional encoder-decoder trunk of SCN and PCNet: :class:`EncoderDecoder`, and
  :func:`pad_to_multiple` (replicate padding; SCN and PCNet never resize their full-resolution input
  to fit the network stride, they pad and crop the outputs back).
"""
from __future__ import annotations

import abc

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.ops.cell_association import (
    NUM_CANDIDATES, OWN_CELL, candidate_offsets, candidate_validity, coarse_size, decode, scatter_to_cells,
)
from methods.superpixels.connectivity import enforce_connectivity

IGNORE = -1  # label value of pixels without ground truth

# --------------------------------------------------------------------------- segment() contract


def check_segment_input(image: torch.Tensor, n_superpixels: int, method: str) -> Tuple[int, int]:
    """Validate ``segment``'s arguments: ``(3, H, W)`` float in [0, 1], ``1 <= n <= H * W``."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise DsbenchError(f"{method}: image must be a (3, H, W) float tensor in [0, 1], got {shape}")
    if not image.is_floating_point():
        raise DsbenchError(f"{method}: image must be float in [0, 1], got dtype {image.dtype}; divide uint8 by 255")
    H, W = int(image.shape[1]), int(image.shape[2])
    if isinstance(n_superpixels, bool) or not isinstance(n_superpixels, (int, np.integer)) \
            or not 1 <= int(n_superpixels) <= H * W:
        raise DsbenchError(f"{method}: n_superpixels must be an integer in [1, H*W={H * W}], got {n_superpixels!r}")
    return H, W


def finish_segmentation(ids: torch.Tensor, n_superpixels: int) -> torch.Tensor:
    """(H, W) integer ids -> the shared connectivity step -> (H, W) int64 contiguous from 0."""
    labels = enforce_connectivity(ids.detach().cpu().numpy().astype(np.int64), int(n_superpixels))
    return torch.from_numpy(labels)


# --------------------------------------------------------------------------- grid geometry


def grid_cell_size(hw: Sequence[int], n_superpixels: int) -> int:
    """Integer cell size of the regular seed grid for about ``n_superpixels`` cells on ``H x W``."""
    H, W = int(hw[0]), int(hw[1])
    if n_superpixels < 1:
        raise DsbenchError(f"n_superpixels must be >= 1, got {n_superpixels}")
    ideal = math.sqrt(H * W / n_superpixels)
    candidates = {max(1, math.floor(ideal)), max(1, math.ceil(ideal))}

    def count(cell: int) -> int:
        h, w = coarse_size((H, W), cell)
        return h * w

    return min(candidates, key=lambda c: (abs(count(c) - n_superpixels), -c))


# --------------------------------------------------------------------------- colour and position

# sRGB (D65) -> XYZ, the matrix scikit-image uses (``skimage.color.colorconv.xyz_from_rgb``).
_XYZ_FROM_RGB = ((0.412453, 0.357580, 0.180423),
                 (0.212671, 0.715160, 0.072169),
                 (0.019334, 0.119193, 0.950227))
_D65_WHITE = (0.95047, 1.0, 1.08883)  # CIE 1931 2 degree observer, scikit-image's default
_LAB_EPSILON = (6.0 / 29.0) ** 3      # CIE: cube root above, linear segment below


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """CIELAB of sRGB in [0, 1]: ``(..., 3, H, W) -> (..., 3, H, W)``, L in [0, 100].

    The same formula as ``skimage.color.rgb2lab`` (sRGB companding, D65 white, 2 degree observer).
    Differentiable everywhere: the cube root only sees values above the CIE threshold.
    """
    if rgb.dim() < 3 or rgb.shape[-3] != 3:
        raise ValueError(f"rgb_to_lab expects (..., 3, H, W), got {tuple(rgb.shape)}")
    linear = torch.where(rgb > 0.04045, ((rgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    matrix = torch.tensor(_XYZ_FROM_RGB, dtype=rgb.dtype, device=rgb.device)
    white = torch.tensor(_D65_WHITE, dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("dc,...chw->...dhw", matrix, linear) / white[:, None, None]
    # clamp inside the cube-root branch so that its (unused) gradient at 0 is finite, not inf * 0
    f = torch.where(xyz > _LAB_EPSILON, xyz.clamp_min(_LAB_EPSILON) ** (1.0 / 3.0),
                    xyz / (3.0 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def pixel_coordinates(batch: int, hw: Sequence[int], device=None, dtype=torch.float32) -> torch.Tensor:
    """``(B, 2, H, W)``: channel 0 the row ``i``, channel 1 the column ``j``, in pixels."""
    H, W = int(hw[0]), int(hw[1])
    rows = torch.arange(H, device=device, dtype=dtype)[:, None].expand(H, W)
    cols = torch.arange(W, device=device, dtype=dtype)[None, :].expand(H, W)
    return torch.stack((rows, cols)).unsqueeze(0).expand(batch, 2, H, W)


# --------------------------------------------------------------------------- labels


def labels_one_hot(labels: torch.Tensor, dtype=torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
    """One-hot ``(B, K, H, W)`` of arbitrary integer ids and the valid mask ``(B, 1, H, W)``.

    ``K`` is the number of distinct ids in the whole batch (ids are compacted first, so large or
    sparse segment ids cost nothing). Ignored pixels (``-1``) get an all-zero vector.
    """
    if labels.dim() != 3 or labels.is_floating_point():
        raise DsbenchError(f"labels must be (B, H, W) integer ids, got {tuple(labels.shape)} {labels.dtype}")
    if bool((labels < IGNORE).any()):
        raise DsbenchError(f"labels may be negative only as the ignore value {IGNORE}, got min {int(labels.min())}")
    valid = labels != IGNORE
    compact = torch.full_like(labels, IGNORE)
    if bool(valid.any()):
        compact[valid] = torch.unique(labels[valid], return_inverse=True)[1]
    classes = int(compact.max()) + 1 if bool(valid.any()) else 1
    one_hot = F.one_hot(compact.clamp_min(0), classes).permute(0, 3, 1, 2).to(dtype)
    valid_f = valid.unsqueeze(1).to(dtype)
    return one_hot * valid_f, valid_f


def boundary_mask(labels: torch.Tensor) -> torch.Tensor:
    """Bool ``(B, H, W)``: pixels with a 4-neighbour of another (non-ignored) label.

    Both sides of a label change are boundary pixels; ignored pixels are never boundary and never
    create one.
    """
    valid = labels != IGNORE
    boundary = torch.zeros_like(valid)
    differ_down = (labels[:, 1:, :] != labels[:, :-1, :]) & valid[:, 1:, :] & valid[:, :-1, :]
    differ_right = (labels[:, :, 1:] != labels[:, :, :-1]) & valid[:, :, 1:] & valid[:, :, :-1]
    boundary[:, 1:, :] |= differ_down
    boundary[:, :-1, :] |= differ_down
    boundary[:, :, 1:] |= differ_right
    boundary[:, :, :-1] |= differ_right
    return boundary


# --------------------------------------------------------------------------- reconstruction


POOL_EPS = 1e-6  # added to each cell's total weight by pool_to_cells


def pool_to_cells(values: torch.Tensor, assign: torch.Tensor, cell: int,
                  coarse_hw: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Association-weighted mean of the pixels per cell, ``(B, C, h, w)`` (column-normalised Q).

    ``scatter_to_cells(values) / (scatter_to_cells(1) + POOL_EPS)``, the form of SSN's released code.
    Not ``cell_association.pool``: with a near-hard softmax a cell's total weight can be positive yet
    denormal (1e-40), and ``pool``'s exact division then has a gradient ``sum / weight^2`` that
    overflows to inf and turns into NaN downstream. The epsilon bounds that gradient by
    ``|values| / (4 POOL_EPS)`` and shrinks the mean of a cell by ``weight / (weight + 1e-6)``,
    nothing for any cell that holds a pixel's worth of weight. Cells with no weight are 0.
    """
    if coarse_hw is None:
        coarse_hw = coarse_size(assign.shape[-2:], cell)
    weighted_sum = scatter_to_cells(values, assign, cell, coarse_hw)
    ones = values.new_ones((values.shape[0], 1) + tuple(values.shape[-2:]))
    return weighted_sum / (scatter_to_cells(ones, assign, cell, coarse_hw) + POOL_EPS)


def reconstruct(values: torch.Tensor, assign: torch.Tensor, cell: int,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Pixel values pooled to the superpixels and decoded back: ``(B, C, H, W)``.

    Pooling is the association-weighted mean (column-normalised Q); with ``weight`` ``(B, 1, H, W)``
    (e.g. the valid-label mask) each pixel's pooling weight is multiplied by it, so ignored pixels do
    not vote. Decoding uses the association as given (row-normalised: a softmax or one-hot).
    """
    pooling_assign = assign if weight is None else assign * weight
    return decode(pool_to_cells(values, pooling_assign, cell), assign, cell)


def label_reconstruction_loss(assign: torch.Tensor, labels: torch.Tensor, cell: int,
                              eps: float = 1e-8) -> torch.Tensor:
    """Cross-entropy of the labels reconstructed through the association (SSN / SCN / PCNet eq. 3).

    Mean over the non-ignored pixels. ``eps`` keeps the log finite where a reconstructed
    distribution gives a class exactly 0 (SCN's code uses 1e-8 as well).
    """
    one_hot, valid = labels_one_hot(labels, assign.dtype)
    reconstructed = reconstruct(one_hot, assign, cell, weight=valid)
    cross_entropy = -(one_hot * torch.log(reconstructed + eps)).sum(dim=1)  # (B, H, W)
    return cross_entropy.sum() / valid.sum().clamp_min(1.0)


def position_reconstruction_error(assign: torch.Tensor, cell: int, squared: bool) -> torch.Tensor:
    """Per-pixel distance ``||p - p'||`` (or its square), ``(B, H, W)``, in pixels.

    ``p'`` is the pixel's coordinate reconstructed through the association (pooled to the
    superpixels, decoded back): small when each pixel's weight sits on nearby superpixels.
    """
    coords = pixel_coordinates(assign.shape[0], assign.shape[-2:], assign.device, assign.dtype)
    diff = reconstruct(coords, assign, cell) - coords
    squared_norm = (diff ** 2).sum(dim=1)
    # sqrt(0) has an infinite derivative; the epsilon only matters at exact reconstructions
    return squared_norm if squared else torch.sqrt(squared_norm + 1e-12)


# --------------------------------------------------------------------------- hard ids


def superpixel_ids(scores: torch.Tensor, cell: int) -> torch.Tensor:
    """Hard superpixel id ``(B, H, W)`` int64 of each pixel: the raster index of its argmax cell.

    ``scores`` ``(B, 9, H, W)`` is an association or its logits (softmax is monotone, so both give
    the same argmax). Invalid candidates are never chosen and ties go to the lowest candidate index,
    as in ``hard_assignment``, but with a running maximum over the 9 candidates: memory ``O(H W)``
    instead of ``hard_assignment``'s several ``9 H W`` temporaries, which matters at 4K.
    """
    B, _, H, W = scores.shape
    h, w = coarse_size((H, W), cell)
    valid = candidate_validity((H, W), (h, w), cell, scores.device)
    scores = scores.detach()
    best = scores[:, OWN_CELL].clone()  # the own cell is always valid
    chosen = torch.full((B, H, W), OWN_CELL, dtype=torch.long, device=scores.device)
    for k in range(NUM_CANDIDATES):
        if k == OWN_CELL:
            continue
        candidate = scores[:, k].masked_fill(~valid[k], float("-inf"))
        # strictly better, or equal with a lower index than the own cell: ties to the lowest index
        better = (candidate > best) | ((candidate == best) & (k < OWN_CELL) & (chosen > k))
        best = torch.where(better, candidate, best)
        chosen = torch.where(better, torch.full_like(chosen, k), chosen)
    offsets = torch.tensor(candidate_offsets(), device=scores.device)  # (9, 2)
    rows = torch.arange(H, device=scores.device)[:, None] // cell + offsets[chosen, 0]
    cols = torch.arange(W, device=scores.device)[None, :] // cell + offsets[chosen, 1]
    return rows * w + cols


def write_superpixel_ids_band(scores: torch.Tensor, cell: int, full_hw: Sequence[int], top: int,
                              out: torch.Tensor) -> None:
    """:func:`superpixel_ids` of a band of rows, written into ``out`` ``(B, H, W)`` int64 in place.

    ``scores`` ``(B, 9, rows, W)`` are the scores of rows ``top .. top + rows - 1`` of an ``H x W``
    map (``full_hw``); candidate validity and the ids are those of the whole map, and the same
    running maximum with the same tie rule is taken, so bands written over every row give exactly
    ``superpixel_ids`` of the whole map. Temporaries are the band's size (PCNet's banded inference).
    """
    H, W = int(full_hw[0]), int(full_hw[1])
    B, _, rows_n, width = scores.shape
    if width != W or not 0 <= top <= H - rows_n:
        raise ValueError(f"band of {rows_n}x{width} at row {top} does not fit an {H}x{W} map")
    h, w = coarse_size((H, W), cell)
    device = scores.device
    row_cells = (torch.arange(top, top + rows_n, device=device) // cell)[:, None]
    col_cells = (torch.arange(W, device=device) // cell)[None, :]
    scores = scores.detach()
    best = scores[:, OWN_CELL].clone()
    chosen = torch.full((B, rows_n, W), OWN_CELL, dtype=torch.long, device=device)
    for k, (dy, dx) in enumerate(candidate_offsets()):
        if k == OWN_CELL:
            continue
        valid = ((row_cells + dy >= 0) & (row_cells + dy < h)) & ((col_cells + dx >= 0) & (col_cells + dx < w))
        candidate = scores[:, k].masked_fill(~valid, float("-inf"))
        better = (candidate > best) | ((candidate == best) & (k < OWN_CELL) & (chosen > k))
        best = torch.where(better, candidate, best)
        chosen = torch.where(better, torch.full_like(chosen, k), chosen)
    offsets = torch.tensor(candidate_offsets(), device=device)  # (9, 2)
    band = out[:, top:top + rows_n]
    torch.add(row_cells, offsets[chosen, 0], out=band)
    band.mul_(w).add_(col_cells).add_(offsets[chosen, 1])


def own_cell_assignment(batch: int, hw: Sequence[int], device=None, dtype=torch.float32) -> torch.Tensor:
    """The regular-grid association: every pixel fully in its own cell, ``(B, 9, H, W)``."""
    assign = torch.zeros(batch, NUM_CANDIDATES, int(hw[0]), int(hw[1]), device=device, dtype=dtype)
    assign[:, OWN_CELL] = 1.0
    return assign


# --------------------------------------------------------------------------- SCN / PCNet trunk


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad ``(B, C, H, W)`` at the bottom and right to multiples of ``multiple``.

    Replicate, not reflect: reflect padding needs the pad to be smaller than the side, which tiny
    inputs (and the last cells of any input) violate; replicate works for every size and adds no
    fake edge at the border. Callers crop the outputs back to ``(H, W)``.
    """
    H, W = image.shape[-2:]
    pad_h, pad_w = (-H) % multiple, (-W) % multiple
    if pad_h == 0 and pad_w == 0:
        return image
    return F.pad(image, (0, pad_w, 0, pad_h), mode="replicate")


def conv_bn_lrelu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    # SCN's building block: 3x3 conv, batch norm, leaky ReLU (slope 0.1)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1, inplace=True),
    )


class EncoderDecoder(nn.Module):
    """SCN's fully convolutional encoder-decoder (also PCNet's, whose paper describes the same shape).

    Encoder: a full-resolution block of two 3x3 convs, then ``levels`` blocks, each a stride-2 conv
    and a conv (channels ``base * 2**level``). Decoder: per level a 4x4 stride-2 transposed conv,
    concatenation with the encoder's features of that resolution, a conv. Output: ``(B, base, H, W)``
    features at the input resolution. ``H`` and ``W`` must be multiples of ``2**levels``
    (:attr:`stride`); callers pad with :func:`pad_to_multiple`.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 16, levels: int = 4):
        super().__init__()
        channels = [base_channels * 2 ** level for level in range(levels + 1)]
        self.stride = 2 ** levels
        self.stem = nn.Sequential(conv_bn_lrelu(in_channels, channels[0]), conv_bn_lrelu(channels[0], channels[0]))
        self.down = nn.ModuleList(
            nn.Sequential(conv_bn_lrelu(channels[i], channels[i + 1], stride=2),
                          conv_bn_lrelu(channels[i + 1], channels[i + 1]))
            for i in range(levels)
        )
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(channels[i + 1], channels[i], 4, stride=2, padding=1),
                          nn.LeakyReLU(0.1, inplace=True))
            for i in range(levels)
        )
        self.fuse = nn.ModuleList(conv_bn_lrelu(2 * channels[i], channels[i]) for i in range(levels))
        self.out_channels = channels[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.stride or x.shape[-1] % self.stride:
            raise ValueError(f"EncoderDecoder input {tuple(x.shape)} must be a multiple of {self.stride}; pad first")
        skips: List[torch.Tensor] = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        y = skips.pop()
        for level in reversed(range(len(self.up))):
            y = self.fuse[level](torch.cat((self.up[level](y), skips[level]), dim=1))
        return y


class AssociationSegmenter(abc.ABC):
    """``segment`` for a network predicting the 9-neighbour association on a regular grid (SCN,
    PCNet): the grid's cell from ``n``, the association's argmax, the shared connectivity step.
    Subclasses give :meth:`inference_logits` ``(1, 9, H, W)`` for a ``(1, 3, H, W)`` image."""

    @abc.abstractmethod
    def inference_logits(self, image: torch.Tensor) -> torch.Tensor:
        """Association logits ``(1, 9, H, W)`` of a ``(1, 3, H, W)`` image, in eval mode."""

    @torch.no_grad()
    def superpixel_ids(self, image: torch.Tensor, n_superpixels: int) -> torch.Tensor:
        """Hard ids ``(H, W)`` before connectivity enforcement (eval mode, grid from ``n``)."""
        was_training = self.training
        self.eval()
        try:
            cell = grid_cell_size(image.shape[-2:], n_superpixels)
            # the argmax of the logits is that of the softmax: no 9-channel probabilities needed
            logits = self.inference_logits(image.unsqueeze(0))
        finally:
            self.train(was_training)
        return superpixel_ids(logits, cell)[0]

    def segment(self, image: torch.Tensor, n_superpixels: int) -> torch.Tensor:
        """``(3, H, W)`` in [0, 1] -> ``(H, W)`` int64 superpixel ids, contiguous, 4-connected."""
        check_segment_input(image, n_superpixels, type(self).__name__)
        return finish_segmentation(self.superpixel_ids(image, n_superpixels), n_superpixels)
