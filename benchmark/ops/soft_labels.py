"""Soft-label downsampling (Alcover-Couso et al.): label maps resampled like the colour image.

The label map is one-hot encoded (ignore pixels, 255, encode as all-zero) and resampled with the
colour image's kernel, so every low-res pixel carries class *fractions* instead of one id.

Conventions
-----------
* Input labels are either integer ids ``(B, H, W)`` (255 = ignore) or class probabilities
  ``(B, K, H, W)`` (e.g. soft labels already produced by the resize-and-crop augmentation; a
  pixel's probabilities sum to its valid mass, 0 for ignore). Output is always float32
  ``(B, K, h, w)``.
* Each output pixel sums to its *valid mass*: the fraction of its support that was not ignore.
  Pixels whose valid mass is below ``valid_threshold`` are returned all-zero (= ignored by
  :func:`kl_soft_loss`).
* Modes (registered in ``benchmark.ops.sampling.LABEL_SAMPLERS``):

  - ``soft-bilinear``: the one-hot sampled bilinearly at the grid, exactly as ``resample`` samples
    the colour image (no antialiasing: at 1/8 a low-res pixel blends the 2x2 nearest pixels,
    the paper's setting).
  - ``soft-bicubic``: the same with the bicubic kernel; bicubic overshoots, so each class is
    clamped to [0, 1] and the pixel renormalised to its (clamped) bicubic valid mass.
  - ``soft-area``: true area fractions (antialiased at any factor). On the suite's uniform grid
    the image is partitioned into ``h x w`` equal cells of ``H/h x W/w`` pixels (fractional
    overlaps for non-integer factors) and each output pixel is the exact class fraction of its
    cell, so dataset priors are preserved exactly. On any other grid each sample gets an
    axis-aligned box reaching halfway to its row/column neighbours (mirrored at the grid edge,
    clipped to the image, at least one pixel wide), and the box average is computed exactly
    from per-class integral images.

* Memory: nothing is allocated per class at full resolution beyond a chunk of classes bounded by
  ``chunk_bytes``; ``soft-area`` on integer ids with a uniform downsampling grid needs no one-hot
  at all (one weighted ``bincount`` per overlap pattern).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.ops.sampling import (
    IGNORE_INDEX,
    LABEL_SAMPLERS,
    Size,
    check_size,
    downsample_labels,
    grid_to_pixels,
    is_uniform,
    pixels_to_grid,
    resample,
    uniform_grid,
)

SOFT_MODES: Tuple[str, ...] = ("soft-bilinear", "soft-bicubic", "soft-area")
LABEL_MODES: Tuple[str, ...] = ("nearest",) + SOFT_MODES
# A low-res pixel with less than half of its support annotated is ignored.
DEFAULT_VALID_THRESHOLD = 0.5
# Bound on the full-resolution per-class temporaries (one chunk of one-hot planes).
DEFAULT_CHUNK_BYTES = 64 * 2**20
# Float slack when comparing masses computed by sums of kernel weights.
MASS_TOLERANCE = 1e-5


# -- input handling ----------------------------------------------------------------------

def _check_labels(labels: torch.Tensor, num_classes: int) -> None:
    if labels.is_floating_point():
        if labels.dim() != 4 or labels.shape[1] != num_classes:
            raise DsbenchError(
                f"soft labels must be probabilities (B, {num_classes}, H, W), got {tuple(labels.shape)}; "
                "pass integer ids (B, H, W) or a probability map with one plane per class")
        return
    if labels.dim() != 3:
        raise DsbenchError(f"label ids must be (B, H, W), got {tuple(labels.shape)}")
    bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= num_classes))
    if bool(bad.any()):
        value = int(labels[bad][0])
        raise DsbenchError(
            f"label id {value} is outside 0..{num_classes - 1} and is not the ignore value {IGNORE_INDEX}; "
            "check num_classes for this dataset or remap the label file")


def class_chunks(num_classes: int, plane_bytes: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[Tuple[int, int]]:
    """Consecutive class ranges ``[c0, c1)`` whose planes fit in ``chunk_bytes`` (at least one class)."""
    step = max(1, int(chunk_bytes // max(plane_bytes, 1)))
    for c0 in range(0, num_classes, step):
        yield c0, min(num_classes, c0 + step)


def _planes(labels: torch.Tensor, c0: int, c1: int, dtype: torch.dtype) -> torch.Tensor:
    """Classes ``[c0, c1)`` as float planes ``(B, c1-c0, H, W)`` (one-hot for ids, a slice for probabilities)."""
    if labels.is_floating_point():
        return labels[:, c0:c1].to(dtype)
    classes = torch.arange(c0, c1, device=labels.device).view(1, -1, 1, 1)
    return (labels.unsqueeze(1) == classes).to(dtype)


def _valid_plane(labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Valid mass at full resolution ``(B, 1, H, W)``."""
    if labels.is_floating_point():
        return labels.sum(1, keepdim=True).to(dtype)
    return (labels != IGNORE_INDEX).unsqueeze(1).to(dtype)


def _apply_threshold(soft: torch.Tensor, valid_threshold: float) -> torch.Tensor:
    if valid_threshold > 0:
        mass = soft.sum(1, keepdim=True)
        soft.mul_((mass >= valid_threshold - MASS_TOLERANCE).to(soft.dtype))
    return soft


# -- soft-bilinear / soft-bicubic: the colour kernel on the one-hot ---------------------------

def _bilinear_splat(labels: torch.Tensor, grid: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Bilinear sampling of the one-hot of ids without building it: each sample reads its four
    neighbouring pixels' ids and adds their bilinear weights to those classes. Same coordinates
    as ``resample`` (align_corners=True, border clamping); memory O(B*K*h*w)."""
    B, H, W = labels.shape
    h, w = grid.shape[1:3]
    px = grid_to_pixels(grid.to(torch.float64), (H, W))
    x = px[..., 0].clamp(0, W - 1)
    y = px[..., 1].clamp(0, H - 1)
    x0, y0 = x.floor().long(), y.floor().long()
    fx, fy = x - x0, y - y0
    x1, y1 = (x0 + 1).clamp(max=W - 1), (y0 + 1).clamp(max=H - 1)
    # Ignore pixels splat into an extra class K that is dropped.
    classes = torch.where(labels == IGNORE_INDEX, torch.full_like(labels, num_classes), labels).reshape(B, H * W)
    out = torch.zeros(B, num_classes + 1, h * w, dtype=torch.float64, device=labels.device)
    for row, col, weight in ((y0, x0, (1 - fy) * (1 - fx)), (y0, x1, (1 - fy) * fx),
                             (y1, x0, fy * (1 - fx)), (y1, x1, fy * fx)):
        ids = torch.gather(classes, 1, (row * W + col).reshape(B, h * w))  # (B, h*w)
        out.scatter_add_(1, ids.unsqueeze(1), weight.reshape(B, 1, h * w))
    return out[:, :num_classes].reshape(B, num_classes, h, w).to(torch.float32)


def soft_bilinear(labels: torch.Tensor, grid: torch.Tensor, *, num_classes: int,
                  valid_threshold: float = DEFAULT_VALID_THRESHOLD, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                  **_: Any) -> torch.Tensor:
    """One-hot labels sampled bilinearly at ``grid`` ``(B, h, w, 2)`` -> ``(B, K, h, w)``.

    Ids are splatted from their four neighbours (no one-hot); probability maps are resampled in
    class chunks with ``resample`` exactly like the colour image.
    """
    _check_labels(labels, num_classes)
    if not labels.is_floating_point():
        return _apply_threshold(_bilinear_splat(labels, grid, num_classes), valid_threshold)
    B, (H, W), (h, w) = labels.shape[0], labels.shape[-2:], grid.shape[1:3]
    out = torch.empty(B, num_classes, h, w, dtype=torch.float32, device=labels.device)
    for c0, c1 in class_chunks(num_classes, B * H * W * 4, chunk_bytes):
        out[:, c0:c1] = resample(_planes(labels, c0, c1, torch.float32), grid, "bilinear")
    return _apply_threshold(out, valid_threshold)


def soft_bicubic(labels: torch.Tensor, grid: torch.Tensor, *, num_classes: int,
                 valid_threshold: float = DEFAULT_VALID_THRESHOLD, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 **_: Any) -> torch.Tensor:
    """Bicubic soft labels: clamped to [0, 1] per class, renormalised to the clamped bicubic valid mass."""
    _check_labels(labels, num_classes)
    B, (H, W), (h, w) = labels.shape[0], labels.shape[-2:], grid.shape[1:3]
    out = torch.empty(B, num_classes, h, w, dtype=torch.float32, device=labels.device)
    for c0, c1 in class_chunks(num_classes, B * H * W * 4, chunk_bytes):
        out[:, c0:c1] = resample(_planes(labels, c0, c1, torch.float32), grid, "bicubic").clamp_(0.0, 1.0)
    valid = resample(_valid_plane(labels, torch.float32), grid, "bicubic").clamp_(0.0, 1.0)
    total = out.sum(1, keepdim=True)
    out.mul_(torch.where(total > 0, valid / total.clamp_min(1e-12), torch.zeros_like(total)))
    return _apply_threshold(out, valid_threshold)


# -- soft-area: exact area fractions ----------------------------------------------------------

def area_weights(n_in: int, n_out: int) -> torch.Tensor:
    """Exact overlap matrix ``(n_out, n_in)`` float64: row i averages input cells over output cell i.

    Output cell i covers ``[i, i+1) * n_in / n_out`` in input pixel units; entry ``(i, r)`` is the
    length of its overlap with input pixel ``[r, r+1)`` divided by the cell length, so every row
    sums to 1 and every column to ``n_out / n_in``. Integer arithmetic (units of 1/n_out pixel)
    keeps it exact.
    """
    i = torch.arange(n_out, dtype=torch.int64).view(-1, 1)
    r = torch.arange(n_in, dtype=torch.int64).view(1, -1)
    lo = torch.maximum(i * n_in, r * n_out)
    hi = torch.minimum((i + 1) * n_in, (r + 1) * n_out)
    return (hi - lo).clamp_min(0).to(torch.float64) / n_in


def _two_taps(weights: torch.Tensor, dim: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The (at most) two nonzero entries of each column (dim=0) or row (dim=1) of an overlap matrix."""
    values, index = weights.topk(2, dim=dim)
    return index, values


def _area_axis(x: torch.Tensor, dim: int, n_out: int) -> torch.Tensor:
    """Exact area resampling of a float tensor along ``dim`` to ``n_out`` cells."""
    n_in = x.shape[dim]
    if n_in == n_out:
        return x
    weights = area_weights(n_in, n_out).to(x.dtype)
    shape = [1] * x.dim()
    if n_in > n_out:  # downsampling: each input pixel feeds at most two cells
        index, values = _two_taps(weights, 0)  # (2, n_in)
        out_shape = list(x.shape)
        out_shape[dim] = n_out
        out = x.new_zeros(out_shape)
        shape[dim] = n_in
        for tap in range(2):
            out.index_add_(dim, index[tap], x * values[tap].view(shape))
        return out
    index, values = _two_taps(weights, 1)  # upsampling: each cell reads at most two pixels, (n_out, 2)
    shape[dim] = n_out
    return sum(x.index_select(dim, index[:, tap]) * values[:, tap].view(shape) for tap in range(2))


def _area_uniform_ids(labels: torch.Tensor, size: Size, num_classes: int) -> torch.Tensor:
    """Per-class area sums by weighted bincount: no one-hot, memory O(B*H*W + B*K*h*w)."""
    B, H, W = labels.shape
    h, w = size
    iy, wy = _two_taps(area_weights(H, h), 0)  # (2, H)
    ix, wx = _two_taps(area_weights(W, w), 0)  # (2, W)
    # Ignore pixels go to an extra class K that is dropped at the end.
    classes = torch.where(labels == IGNORE_INDEX, torch.full_like(labels, num_classes), labels)
    base = (torch.arange(B).view(B, 1, 1) * (num_classes + 1) + classes) * (h * w)  # (B, H, W)
    n_bins = B * (num_classes + 1) * h * w
    sums = torch.zeros(n_bins, dtype=torch.float64)
    for ty in range(2):
        if not bool((wy[ty] > 0).any()):
            continue
        for tx in range(2):
            if not bool((wx[tx] > 0).any()):
                continue
            cell = (iy[ty].view(H, 1) * w + ix[tx].view(1, W))  # (H, W)
            weight = (wy[ty].view(H, 1) * wx[tx].view(1, W)).expand(B, H, W)
            sums += torch.bincount((base + cell).reshape(-1), weight.reshape(-1), minlength=n_bins)
    return sums.view(B, num_classes + 1, h, w)[:, :num_classes].to(torch.float32)


def _area_uniform_planes(labels: torch.Tensor, size: Size, num_classes: int, chunk_bytes: int) -> torch.Tensor:
    B, (H, W) = labels.shape[0], labels.shape[-2:]
    h, w = size
    out = torch.empty(B, num_classes, h, w, dtype=torch.float32, device=labels.device)
    for c0, c1 in class_chunks(num_classes, B * H * W * 8, chunk_bytes):
        planes = _planes(labels, c0, c1, torch.float64)
        out[:, c0:c1] = _area_axis(_area_axis(planes, 2, h), 3, w).to(torch.float32)
    return out


def _axis_boxes(centre: torch.Tensor, dim: int, limit: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Box ``[lo, hi]`` along one axis (edge coordinates, pixel r = [r, r+1)) for sample centres."""
    n = centre.shape[dim]
    if n == 1:
        return torch.zeros_like(centre), torch.full_like(centre, float(limit))
    mid = 0.5 * (centre.narrow(dim, 0, n - 1) + centre.narrow(dim, 1, n - 1))
    first = 2 * centre.narrow(dim, 0, 1) - mid.narrow(dim, 0, 1)      # mirror the first half-spacing
    last = 2 * centre.narrow(dim, n - 1, 1) - mid.narrow(dim, n - 2, 1)
    a = torch.cat([first, mid], dim)
    b = torch.cat([mid, last], dim)
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    # At least one pixel wide so that dense (upsampling) grids stay well conditioned.
    half = torch.maximum(0.5 * (hi - lo), torch.full_like(lo, 0.5))
    centre_box = 0.5 * (lo + hi)
    return (centre_box - half).clamp(0, limit), (centre_box + half).clamp(0, limit)


def _area_general(labels: torch.Tensor, grid: torch.Tensor, num_classes: int, chunk_bytes: int) -> torch.Tensor:
    """Box averages around arbitrary grid points from per-class integral images (float64)."""
    B, (H, W), (h, w) = labels.shape[0], labels.shape[-2:], grid.shape[1:3]
    edge = grid_to_pixels(grid.to(torch.float64), (H, W)) + 0.5  # (B, h, w, 2) edge coordinates (x, y)
    x_lo, x_hi = _axis_boxes(edge[..., 0], 2, W)
    y_lo, y_hi = _axis_boxes(edge[..., 1], 1, H)
    area = ((x_hi - x_lo) * (y_hi - y_lo)).clamp_min(1e-12).unsqueeze(1)  # (B, 1, h, w)

    # The integral image S is bilinear inside every pixel, so sampling it bilinearly at the box
    # corners gives exact box integrals. S has (H+1) x (W+1) nodes at integer edge coordinates.
    def corners(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack((x / W * 2 - 1, y / H * 2 - 1), dim=-1)

    corner_grid = torch.cat([corners(x_hi, y_hi), corners(x_lo, y_hi), corners(x_hi, y_lo), corners(x_lo, y_lo)], 1)
    out = torch.empty(B, num_classes, h, w, dtype=torch.float32, device=labels.device)
    for c0, c1 in class_chunks(num_classes, B * (H + 1) * (W + 1) * 8 * 2, chunk_bytes):
        planes = _planes(labels, c0, c1, torch.float64)
        integral = F.pad(planes.cumsum(2).cumsum(3), (1, 0, 1, 0))  # (B, k, H+1, W+1)
        s = resample(integral, corner_grid, "bilinear")  # (B, k, 4h, w)
        box = s[:, :, :h] - s[:, :, h:2 * h] - s[:, :, 2 * h:3 * h] + s[:, :, 3 * h:]
        out[:, c0:c1] = (box / area).to(torch.float32)
    return out


def soft_area(labels: torch.Tensor, grid: torch.Tensor, *, num_classes: int,
              valid_threshold: float = DEFAULT_VALID_THRESHOLD, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
              **_: Any) -> torch.Tensor:
    """Exact class-area fractions of each sample's cell (see the module docstring) -> ``(B, K, h, w)``."""
    _check_labels(labels, num_classes)
    H, W = labels.shape[-2:]
    h, w = grid.shape[1:3]
    if is_uniform(grid):
        if not labels.is_floating_point() and h <= H and w <= W:
            out = _area_uniform_ids(labels.cpu(), (h, w), num_classes).to(labels.device)
        else:
            out = _area_uniform_planes(labels, (h, w), num_classes, chunk_bytes)
    else:
        out = _area_general(labels, grid, num_classes, chunk_bytes)
    return _apply_threshold(out.clamp_(0.0, 1.0), valid_threshold)


for _mode, _fn in (("soft-bilinear", soft_bilinear), ("soft-bicubic", soft_bicubic), ("soft-area", soft_area)):
    LABEL_SAMPLERS.register(_mode, _fn)


# -- entry points -------------------------------------------------------------------------

def cell_centred_grid(batch: int, size_lr: Size, size_hr: Size, device=None, dtype=torch.float32) -> torch.Tensor:
    """Uniform grid whose samples sit at the centres of ``h x w`` equal cells of the HR image.

    This is ``F.interpolate(..., align_corners=False)``'s sampling, expressed in the suite's
    corner-aligned grid convention: at exactly 1/2 every sample falls midway between 2x2 pixels,
    which is why bilinear preserves class priors there (the paper's Table V), whereas the
    suite's corner-aligned :func:`uniform_grid` does not.
    """
    h, w = size_lr
    H, W = size_hr
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) * (H / h) - 0.5
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) * (W / w) - 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = pixels_to_grid(torch.stack((gx, gy), dim=-1), size_hr)
    return grid.to(dtype=dtype, device=device).unsqueeze(0).expand(batch, h, w, 2).contiguous()


def soft_downsample(labels: torch.Tensor, grid_or_size: Union[torch.Tensor, Sequence[int]], mode: str = "soft-bilinear",
                    *, num_classes: int, valid_threshold: float = DEFAULT_VALID_THRESHOLD,
                    chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> torch.Tensor:
    """Soft labels ``(B, K, h, w)`` from ids ``(B, H, W)`` or probabilities ``(B, K, H, W)``.

    ``grid_or_size`` is a sampling grid ``(B, h, w, 2)`` or a size ``(h, w)`` (the uniform grid).
    """
    if mode not in SOFT_MODES:
        raise DsbenchError(f"soft label mode {mode!r} unknown; use one of {', '.join(SOFT_MODES)}")
    if isinstance(grid_or_size, torch.Tensor):
        grid = grid_or_size
    else:
        grid = uniform_grid(labels.shape[0], check_size(grid_or_size), labels.device)
    return LABEL_SAMPLERS[mode](labels, grid, num_classes=num_classes, valid_threshold=valid_threshold,
                                chunk_bytes=chunk_bytes)


def sample_labels(labels: torch.Tensor, grid_or_size: Union[torch.Tensor, Sequence[int]], mode: str, *,
                  num_classes: int, valid_threshold: float = DEFAULT_VALID_THRESHOLD) -> torch.Tensor:
    """Any label mode: ``nearest`` -> ids ``(B, h, w)``; soft modes -> probabilities ``(B, K, h, w)``."""
    if mode == "nearest":
        if labels.is_floating_point():
            raise DsbenchError("label mode 'nearest' needs integer ids, but these labels are already soft "
                               "probabilities; use a soft label mode (soft-bilinear, soft-bicubic, soft-area)")
        return downsample_labels(labels, grid_or_size, "nearest")
    return soft_downsample(labels, grid_or_size, mode, num_classes=num_classes, valid_threshold=valid_threshold)
