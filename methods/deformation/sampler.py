"""Sampler pieces of learned deformation downsampling (Jin et al., ICLR 2022).

The deformed sampler (Jin eq. 3)
--------------------------------
A deformation map ``d`` ``(B, 1, hd, wd)`` (non-negative, any scale) is a sampling density on
the lattice of its own pixels. Each lattice point ``p`` moves to the ``d``-weighted average of
the coordinates of the lattice points ``q`` around it under a fixed Gaussian kernel
``k_sigma(p, q)`` of standard deviation ``sigma`` (in deformation-map pixels), truncated to a
square of side ``2 * sigma + 1``::

    grid(p) = sum_q d(q) k(p, q) coord(q) / sum_q d(q) k(p, q)

Both sums are separable convolutions. The resulting ``(hd, wd)`` grid is resized (bilinear,
corners kept) to the requested output size.

Coordinates follow ``benchmark.ops.sampling``: ``align_corners=True`` normalised ``(x, y)`` in
``[-1, 1]``, lattice point ``j`` of ``wd`` at ``-1 + 2 j / (wd - 1)``.

Border rule (our choice; the paper does not state one)
------------------------------------------------------
Near the border the kernel reaches past the map. We extend ``d`` by mirror reflection about the
border pixel centres (``d(-q) = d(q)``) and extend the coordinates linearly (the odd
reflection of a linear ramp is its continuation). Why:

* a constant ``d`` gives exactly the uniform grid, interior *and* border (the average of a
  linear ramp under a symmetric weight is its centre);
* for *any* ``d`` the first and last row/column land exactly on the image border, by symmetry
  about it, so the grid always spans the whole image (the covering condition);
* every mirrored point outside has an inside twin at least as close with the same ``d``, so no
  sample leaves the image (we still clamp to ``[-1, 1]`` against round-off).

Zero padding instead would pull border samples inward (the grid would stop short of the image
edges), and replicate padding of coordinates would bias them too.

The edge-loss target (Jin eq. 4, footnote 4)
--------------------------------------------
``d_t = f_edge(f_gauss(Y_lr))`` with the 3x3 kernel ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`` and
a Gaussian blur of standard deviation ``delta = 1``, border values replicated first. We apply
both filters to the *one-hot* label (per class) and sum the absolute responses over classes, so
the target does not depend on how class ids are numbered (filtering the ids as numbers would
make a road/sky edge 10x stronger than a road/sidewalk edge). Ignore pixels take the label of
the nearest valid pixel first, so they create no edges, and they are masked out of the loss.
The target is normalised to sum 1 over positions, like the softmax output it is compared with
(all zeros when there is no edge).
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.ops.sampling import ALIGN_CORNERS, IGNORE_INDEX, Size, check_size

EDGE_KERNEL = ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0))


# -- Gaussian kernels -----------------------------------------------------------------------
def gaussian_kernel1d(sigma: float, radius: Optional[int] = None, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalised 1-D Gaussian of std ``sigma`` on ``[-radius, radius]`` (default ``round(sigma)``,
    i.e. the paper's square of side ``2 sigma + 1``). Shape ``(2 radius + 1,)``."""
    if sigma <= 0:
        raise DsbenchError(f"deformation: sigma={sigma} must be positive (kernel std in deformation-map pixels)")
    radius = max(1, int(round(sigma))) if radius is None else int(radius)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).to(dtype)


def _reflect_index(n: int, pad: int, device=None) -> torch.Tensor:
    """Indices ``0..n-1`` extended by ``pad`` on both sides by mirror reflection about the end
    pixel centres (numpy ``mode='reflect'``), repeated as often as needed (pad may exceed n)."""
    i = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = torch.remainder(i, period)
    return torch.where(i >= n, period - i, i)


def _separable_conv_valid(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Valid convolution of already padded ``x`` ``(N, C, H + 2r, W + 2r)`` with ``kernel`` (2r+1,)
    along both axes -> ``(N, C, H, W)``."""
    C = x.shape[1]
    k = kernel.to(x.dtype)
    x = F.conv2d(x, k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)
    return F.conv2d(x, k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)


def _axis_coords(n: int, pad: int, dtype, device) -> torch.Tensor:
    """Normalised align_corners coordinates of lattice points ``-pad .. n-1+pad`` (linear beyond)."""
    step = 2.0 / (n - 1) if n > 1 else 0.0
    return -1.0 + step * torch.arange(-pad, n + pad, dtype=dtype, device=device)


# -- the deformed sampler -------------------------------------------------------------------
def deformed_grid(d: torch.Tensor, sigma: float, size_out: Optional[Size] = None) -> torch.Tensor:
    """Sampling grid from a deformation map by Jin eq. 3 (see the module docstring).

    Args:
        d: ``(B, 1, hd, wd)`` non-negative sampling density; its scale does not matter. Must be
           positive somewhere in every kernel window (add a small floor to be safe).
        sigma: Gaussian std in deformation-map pixels; the kernel is ``2 round(sigma) + 1`` wide.
        size_out: ``(h, w)`` of the returned grid; default the map size.
    Returns:
        ``(B, h, w, 2)`` normalised ``(x, y)`` grid in ``[-1, 1]``, differentiable in ``d``.
    """
    if d.dim() != 4 or d.shape[1] != 1:
        raise ValueError(f"deformation map must be (B, 1, hd, wd), got {tuple(d.shape)}")
    # Coordinates need full precision: under mixed precision a bf16 grid is off by pixels.
    with torch.autocast(device_type=d.device.type, enabled=False):
        return _deformed_grid(d if d.dtype == torch.float64 else d.float(), sigma, size_out)


def _deformed_grid(d: torch.Tensor, sigma: float, size_out: Optional[Size]) -> torch.Tensor:
    B, _, hd, wd = d.shape
    kernel = gaussian_kernel1d(float(sigma), dtype=d.dtype, device=d.device)
    r = (kernel.numel() - 1) // 2
    rows = _reflect_index(hd, r, d.device)
    cols = _reflect_index(wd, r, d.device)
    d_pad = d[:, :, rows][:, :, :, cols]                                   # (B, 1, hd+2r, wd+2r)
    xs = _axis_coords(wd, r, d.dtype, d.device).view(1, 1, 1, -1)
    ys = _axis_coords(hd, r, d.dtype, d.device).view(1, 1, -1, 1)
    stacked = torch.cat((d_pad, d_pad * xs, d_pad * ys), dim=1)            # (B, 3, hd+2r, wd+2r)
    sums = _separable_conv_valid(stacked, kernel)                        # (B, 3, hd, wd)
    denom = sums[:, :1].clamp_min(torch.finfo(d.dtype).tiny)
    grid = (sums[:, 1:] / denom).clamp(-1.0, 1.0)                          # (B, 2=(x,y), hd, wd)
    if size_out is not None and tuple(size_out) != (hd, wd):
        # align_corners=True keeps the border rows/columns on the image border.
        grid = F.interpolate(grid, size=check_size(size_out), mode="bilinear", align_corners=ALIGN_CORNERS)
    return grid.permute(0, 2, 3, 1).contiguous()


def auto_sigma(map_size: Size, sigma_frac: float) -> float:
    """Kernel std in map pixels as a fraction of the map's shorter side (at least 1 pixel)."""
    if sigma_frac <= 0:
        raise DsbenchError(f"deformation: sigma_frac={sigma_frac} must be positive (e.g. 0.125)")
    return float(max(1, round(sigma_frac * min(map_size))))


# -- label edges ----------------------------------------------------------------------------
def fill_ignore_nearest(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Give each ignore pixel the id of the nearest valid pixel (Euclidean), per image.

    ``labels`` ``(B, H, W)`` int64; an image with no valid pixel is returned unchanged."""
    out = labels.clone()
    ignore = (labels == ignore_index).cpu().numpy()
    if not ignore.any():
        return out
    from scipy import ndimage

    arr = labels.cpu().numpy()
    for b in range(arr.shape[0]):
        if ignore[b].any() and not ignore[b].all():
            # Indices of the nearest zero of the input, i.e. of the nearest valid pixel.
            _, (ri, ci) = ndimage.distance_transform_edt(ignore[b], return_indices=True)
            out[b] = torch.from_numpy(arr[b][ri, ci]).to(labels.device)
    return out


def _one_hot_present(labels: torch.Tensor, num_classes: int, ignore_index: int) -> torch.Tensor:
    """float32 one-hot ``(B, K', H, W)`` over the K' classes present in ``labels`` (ignore: all
    zero). Absent classes would only add zero planes to the edge response, and the present ones
    are a handful of the 19: ~10x less work at large maps than encoding every class."""
    valid = labels != ignore_index
    present = torch.unique(labels[valid])
    if present.numel() and int(present.max()) >= num_classes:
        raise DsbenchError(f"deformation: label id {int(present.max())} >= num_classes {num_classes}; pass trainIds")
    ids = torch.where(valid, torch.searchsorted(present, labels), torch.zeros_like(labels))
    one_hot = F.one_hot(ids, max(int(present.numel()), 1)).permute(0, 3, 1, 2).float()
    return one_hot * valid.unsqueeze(1)


def gaussian_blur_replicate(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)``, border values replicated, radius ceil(3 sigma)."""
    radius = max(1, int(math.ceil(3.0 * sigma)))
    kernel = gaussian_kernel1d(sigma, radius, dtype=x.dtype, device=x.device)
    return _separable_conv_valid(F.pad(x, (radius, radius, radius, radius), mode="replicate"), kernel)


def edge_filter_replicate(x: torch.Tensor) -> torch.Tensor:
    """The paper's 3x3 edge filter on ``(N, C, H, W)`` per channel, border values replicated first."""
    C = x.shape[1]
    kernel = x.new_tensor(EDGE_KERNEL).view(1, 1, 3, 3).expand(C, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=C)


def edge_target(labels_lr: torch.Tensor, num_classes: int, delta: float = 1.0,
                ignore_index: int = IGNORE_INDEX) -> Tuple[torch.Tensor, torch.Tensor]:
    """Target deformation map ``d_t`` and validity mask from a low-res label map.

    Args:
        labels_lr: ``(B, hd, wd)`` int64 trainIds (``ignore_index`` allowed), the uniformly
            downsampled label at the deformation map's size.
    Returns:
        ``(d_t, valid)``: ``d_t`` ``(B, 1, hd, wd)`` non-negative, summing to 1 per image (0 where
        the label has no edge); ``valid`` ``(B, 1, hd, wd)`` bool, False on ignore pixels.
    """
    with torch.autocast(device_type=labels_lr.device.type, enabled=False):
        return _edge_target(labels_lr, num_classes, delta, ignore_index)


def _edge_target(labels_lr: torch.Tensor, num_classes: int, delta: float,
                 ignore_index: int) -> Tuple[torch.Tensor, torch.Tensor]:
    valid = (labels_lr != ignore_index).unsqueeze(1)
    filled = fill_ignore_nearest(labels_lr, ignore_index)
    one_hot = _one_hot_present(filled, num_classes, ignore_index)             # (B, K', hd, wd)
    response = edge_filter_replicate(gaussian_blur_replicate(one_hot, delta)).abs().sum(1, keepdim=True)
    # Round-off on flat regions (blur of a constant is 1 +- 1e-7 in float32; the filter's weights
    # sum to 16 in absolute value) is not an edge; the faintest true response (the blur's
    # truncated tail) is about 4e-5.
    response = torch.where(response > 1e-5, response, torch.zeros_like(response)) * valid
    total = response.sum(dim=(2, 3), keepdim=True)
    target = torch.where(total > 0, response / total.clamp_min(1e-12), torch.zeros_like(response))
    return target, valid


def label_boundaries(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Binary boundary map ``(B, 1, H, W)`` float: a valid pixel with a 4-neighbour of another
    valid class. Ignore pixels neither are nor create boundaries."""
    valid = labels != ignore_index
    edge = torch.zeros_like(labels, dtype=torch.bool)
    for dim in (1, 2):
        a = labels.narrow(dim, 0, labels.shape[dim] - 1)
        b = labels.narrow(dim, 1, labels.shape[dim] - 1)
        va = valid.narrow(dim, 0, labels.shape[dim] - 1)
        vb = valid.narrow(dim, 1, labels.shape[dim] - 1)
        differ = (a != b) & va & vb
        edge.narrow(dim, 0, labels.shape[dim] - 1).logical_or_(differ)
        edge.narrow(dim, 1, labels.shape[dim] - 1).logical_or_(differ)
    return edge.unsqueeze(1).float()


def simulated_edge_map(labels_hr: torch.Tensor, map_size: Size, radius: float,
                       floor: float = 1e-3, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Jin A.5 simulated "edge-based" deformation map ``(B, 1, hd, wd)``.

    Label boundaries at full resolution, area-averaged to the map size (thin objects keep their
    edges), blurred with a Gaussian of std ``radius`` map pixels (0: no blur), scaled to max 1
    per image, plus ``floor`` so every kernel window has some mass (a one-class label gives a
    constant map, hence the uniform grid).
    """
    hd, wd = check_size(map_size, "deformation map size")
    edges = label_boundaries(labels_hr, ignore_index)
    edges = F.adaptive_avg_pool2d(edges, (hd, wd))
    if radius > 0:
        edges = gaussian_blur_replicate(edges, float(radius))
    peak = edges.amax(dim=(2, 3), keepdim=True)
    edges = torch.where(peak > 0, edges / peak.clamp_min(1e-12), edges)
    return edges + floor

