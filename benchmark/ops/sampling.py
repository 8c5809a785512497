"""Sampling grids: the one interface every downsampling method fills.

Conventions (stated once, used everywhere in the suite)
-------------------------------------------------------
* A sampling grid is a float tensor ``(B, h, w, 2)`` of normalised coordinates in
  ``[-1, 1]``, last axis in ``(x, y)`` order, exactly what ``torch.nn.functional.grid_sample``
  takes.
* ``align_corners=True``: ``-1`` and ``+1`` are the *centres* of the first and last pixel.
  This is the papers' convention: Marin's uniform tensor ``u_ij = (i-1)/(h-1)`` puts the first
  and last sample on the first and last pixel centre, and it makes the uniform grid agree with
  ``F.interpolate(..., align_corners=True)``. Every coordinate basis (uniform grids, the
  edge-based sampling tensor, the deformation sampler) uses the same convention, so there is no
  half-pixel mismatch anywhere.
* Marin's sampling tensor ``phi`` is ``(B, 2, h, w)`` in ``[0, 1]`` with channel 0 the row
  (y) and channel 1 the column (x); :func:`tensor_to_grid` and :func:`grid_to_tensor` convert.
* Label maps are never interpolated as numbers: ``nearest`` gathers the id of the pixel whose
  centre is closest; soft modes (see ``LABEL_SAMPLERS``) return class-probability maps.

This is the only module that calls ``grid_sample``.
"""
from __future__ import annotations

import re
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from benchmark.registry import Registry

ALIGN_CORNERS = True
IGNORE_INDEX = 255

Size = Tuple[int, int]
MODE_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")  # label modes are spelled soft-bilinear, soft-area, ...


def check_size(size: Sequence[int], what: str = "resolution") -> Size:
    from benchmark.errors import DsbenchError

    if len(size) != 2 or any(int(s) != s or int(s) <= 0 for s in size):
        raise DsbenchError(f"{what} {tuple(size)} must be two positive integers HxW, e.g. 64x128")
    return int(size[0]), int(size[1])


def _axis(n: int, device=None, dtype=torch.float32) -> torch.Tensor:
    # A single sample sits at the centre of the image rather than on its first pixel.
    if n == 1:
        return torch.zeros(1, device=device, dtype=dtype)
    return torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)


def uniform_grid(batch: int, size: Size, device=None, dtype=torch.float32) -> torch.Tensor:
    """Uniform grid ``(B, h, w, 2)``: Marin's ``u_ij`` in normalised ``(x, y)`` coordinates."""
    h, w = size
    ys = _axis(h, device, dtype)
    xs = _axis(w, device, dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1).unsqueeze(0).expand(batch, h, w, 2).contiguous()


def identity_grid(batch: int, size: Size, device=None, dtype=torch.float32) -> torch.Tensor:
    """The grid that samples every pixel centre of a ``size`` image: resampling is identity."""
    return uniform_grid(batch, size, device, dtype)


def tensor_to_grid(phi: torch.Tensor) -> torch.Tensor:
    """Marin's sampling tensor ``(B, 2, h, w)`` in [0, 1] (row, col) -> grid ``(B, h, w, 2)``."""
    y, x = phi[:, 0], phi[:, 1]
    return torch.stack((x, y), dim=-1) * 2.0 - 1.0


def grid_to_tensor(grid: torch.Tensor) -> torch.Tensor:
    """Grid ``(B, h, w, 2)`` -> Marin's sampling tensor ``(B, 2, h, w)`` in [0, 1] (row, col)."""
    xy01 = (grid + 1.0) * 0.5
    return torch.stack((xy01[..., 1], xy01[..., 0]), dim=1)


def grid_to_pixels(grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    """Normalised grid -> continuous pixel coordinates ``(x, y)`` of a ``size_hr`` image."""
    H, W = size_hr
    scale = grid.new_tensor([max(W - 1, 1), max(H - 1, 1)])
    return (grid + 1.0) * 0.5 * scale


def pixels_to_grid(pixels: torch.Tensor, size_hr: Size) -> torch.Tensor:
    H, W = size_hr
    scale = pixels.new_tensor([max(W - 1, 1), max(H - 1, 1)])
    return pixels / scale * 2.0 - 1.0


def is_uniform(grid: torch.Tensor, atol: float = 1e-5) -> bool:
    B, h, w, _ = grid.shape
    return bool(torch.allclose(grid, uniform_grid(B, (h, w), grid.device, grid.dtype), atol=atol))


def resample(image: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Sample ``image`` ``(B, C, H, W)`` at ``grid`` ``(B, h, w, 2)`` -> ``(B, C, h, w)``.

    ``mode`` is ``bilinear`` (default) or ``nearest`` (the pixel whose centre is closest).
    Differentiable in both the image and the grid (bilinear).
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"resample mode {mode!r}: use bilinear, nearest or bicubic")
    if grid.dtype != image.dtype:
        grid = grid.to(image.dtype)
    return F.grid_sample(image, grid, mode=mode, padding_mode="border", align_corners=ALIGN_CORNERS)


def nearest_pixel_index(grid: torch.Tensor, size_hr: Size) -> Tuple[torch.Tensor, torch.Tensor]:
    """Row and column index ``(B, h, w)`` of the pixel centre closest to each grid point."""
    H, W = size_hr
    px = grid_to_pixels(grid.float(), size_hr)
    col = torch.round(px[..., 0]).long().clamp_(0, W - 1)
    row = torch.round(px[..., 1]).long().clamp_(0, H - 1)
    return row, col


def _labels_nearest(labels: torch.Tensor, grid: torch.Tensor, **_: object) -> torch.Tensor:
    B, H, W = labels.shape
    row, col = nearest_pixel_index(grid, (H, W))
    flat = labels.reshape(B, H * W)
    index = (row * W + col).reshape(B, -1)
    return torch.gather(flat, 1, index).reshape(row.shape)  # (B, h, w) class ids


# Label samplers by mode. Each takes (labels (B,H,W) int64, grid (B,h,w,2), **options) and
# returns int64 ids (B,h,w) for hard modes or float probabilities (B,K,h,w) for soft modes.
# Further modes register themselves (benchmark.ops.soft_labels); importing benchmark.ops loads them.
LABEL_SAMPLERS = Registry("label mode", key_pattern=MODE_KEY)
LABEL_SAMPLERS.register("nearest", _labels_nearest)


def downsample_labels(
    labels: torch.Tensor,
    grid_or_size: Union[torch.Tensor, Size],
    mode: str = "nearest",
    **options: object,
) -> torch.Tensor:
    """Downsample a label map by a grid or to a uniform size.

    ``labels`` are integer ids ``(B, H, W)``, or, for soft modes only, class probabilities
    ``(B, K, H, W)`` (so augmentation and grid sampling chain). Never interpolates class ids as
    numbers: ``nearest`` copies the id of the closest pixel; soft modes resample one-hot maps.
    """
    soft_input = labels.dim() == 4 and labels.is_floating_point()
    if soft_input and mode == "nearest":
        raise TypeError("nearest label sampling needs integer ids (B, H, W); probability maps need a soft mode")
    if not soft_input and labels.dim() != 3:
        raise ValueError(f"labels must be ids (B, H, W) or probabilities (B, K, H, W), got {tuple(labels.shape)}")
    if not soft_input and labels.is_floating_point():
        raise TypeError("labels must hold integer class ids, not floats (or (B, K, H, W) probabilities)")
    if isinstance(grid_or_size, torch.Tensor):
        grid = grid_or_size
    else:
        grid = uniform_grid(labels.shape[0], check_size(grid_or_size), labels.device)
    return LABEL_SAMPLERS.get(mode)(labels if soft_input else labels.long(), grid, **options)


def _unsample_bilinear(logits: torch.Tensor, grid: torch.Tensor, size_hr: Size) -> torch.Tensor:
    # Bilinear upscaling is the exact inverse only for the uniform grid; for any other grid it
    # would silently misplace every prediction.
    if not is_uniform(grid):
        raise ValueError("bilinear unsampling assumes a uniform grid; use mode='barycentric' or 'nearest'")
    return F.interpolate(logits, size=size_hr, mode="bilinear", align_corners=ALIGN_CORNERS)


# Unsamplers by mode: (logits_lr (B,C,h,w), grid_lr (B,h,w,2), size_hr) -> (B,C,H,W). Further
# modes register themselves (benchmark.ops.barycentric, benchmark.ops.nearest_unsample).
UNSAMPLERS = Registry("unsample mode")
UNSAMPLERS.register("bilinear", _unsample_bilinear)


def unsample(logits: torch.Tensor, grid: torch.Tensor, size_hr: Size, mode: str = "bilinear") -> torch.Tensor:
    """Bring low-res predictions ``(B, C, h, w)`` sampled at ``grid`` back to ``size_hr``."""
    unsampler = UNSAMPLERS.get(mode)
    if logits.shape[-2:] != grid.shape[1:3]:
        raise ValueError(f"logits {tuple(logits.shape)} do not match grid {tuple(grid.shape)}")
    return unsampler(logits, grid, tuple(size_hr))
