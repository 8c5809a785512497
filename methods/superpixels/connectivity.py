"""Connectivity enforcement shared by every superpixel method.

SSN, SCN and PCNet post-process their label maps the way SLIC does (scikit-image's
``_enforce_label_connectivity_cython``, with SSN's factors 0.06 and 3): with the nominal superpixel
size ``S = H*W / n_nominal``, a 4-connected piece of a label is its own superpixel; pieces smaller
than ``min_fraction * S`` are merged into a neighbour and no piece may grow beyond
``max_fraction * S`` by flood fill (the flood stops there and the rest of the piece starts a new
superpixel). This module reimplements that convention with two deliberate differences, both
deterministic:

* a small piece joins the adjacent piece it shares the longest border with (4-neighbour pixel
  pairs; ties: the larger neighbour, then the lower id) instead of whichever neighbour the raster
  scan met first, and small pieces are absorbed smallest first, so a merge of two small pieces that
  is still too small is absorbed again;
* oversized pieces are split before small pieces are merged, so a split's small remnant is absorbed
  like any other small piece.
"""
from __future__ import annotations

import heapq
import inspect
from collections import deque

from typing import Any, Callable, ClassVar, Dict

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from benchmark.errors import DsbenchError
from benchmark.registry import SUPERPIXEL_METHODS
from methods.base import SuperpixelMethod


def enforce_connectivity(labels: np.ndarray, n_nominal: int, min_fraction: float = 0.06,
                         max_fraction: float | None = 3.0) -> np.ndarray:
    """Make every superpixel one 4-connected component of a sensible size.

    ``labels``: (H, W) integer map (any ids). ``n_nominal``: the requested number of superpixels,
    which fixes the nominal size ``S = H*W / n_nominal``. Components with fewer than
    ``min_fraction * S`` pixels are merged into the neighbour sharing the longest border; components
    with more than ``max_fraction * S`` pixels are cut into flood-fill pieces of at most that size
    (``max_fraction=None`` keeps them whole). Returns (H, W) int64 ids, contiguous from 0 and
    numbered in raster order of each superpixel's first pixel.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0:
        raise DsbenchError(f"enforce_connectivity: labels must be a non-empty (H, W) map, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DsbenchError(f"enforce_connectivity: labels must be integers, got dtype {labels.dtype}")
    if int(n_nominal) < 1:
        raise DsbenchError(f"enforce_connectivity: n_nominal must be >= 1, got {n_nominal}")
    if min_fraction < 0 or (max_fraction is not None and max_fraction <= min_fraction):
        raise DsbenchError("enforce_connectivity: need 0 <= min_fraction < max_fraction, "
                           f"got {min_fraction} and {max_fraction}")
    nominal = labels.size / int(n_nominal)
    components, count = label_components(labels)
    if max_fraction is not None:
        # At least one pixel per piece, whatever the factors.
        components, count = _split_oversized(components, count, max(1, int(max_fraction * nominal)))
    components = _merge_small(components, count, min_fraction * nominal)
    return _raster_order(components)


def label_components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of equal-label pixels: (H, W) int64 ids in raster order, and their count."""
    h, w = labels.shape
    index = np.arange(h * w).reshape(h, w)
    same_right = labels[:, :-1] == labels[:, 1:]
    same_down = labels[:-1, :] == labels[1:, :]
    rows = np.concatenate([index[:, :-1][same_right], index[:-1, :][same_down]])
    cols = np.concatenate([index[:, 1:][same_right], index[1:, :][same_down]])
    graph = sparse.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(h * w, h * w))
    count, components = connected_components(graph, directed=False)
    return _raster_order(components.reshape(h, w)), int(count)


def _raster_order(ids: np.ndarray) -> np.ndarray:
    # Contiguous ids ordered by each id's first pixel: independent of how the input was numbered.
    _, first, inverse = np.unique(ids.ravel(), return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()].reshape(ids.shape)


def _split_oversized(components: np.ndarray, count: int, max_size: int) -> tuple[np.ndarray, int]:
    sizes = np.bincount(components.ravel(), minlength=count)
    oversized = np.flatnonzero(sizes > max_size)
    if oversized.size == 0:
        return components, count
    h, w = components.shape
    flat = components.ravel().copy()
    next_id = count
    for component in oversized.tolist():
        pixels = np.flatnonzero(flat == component).tolist()  # raster order
        remaining = set(pixels)
        first_piece = True  # keeps the component's id; later pieces get new ids
        for start in pixels:
            if start not in remaining:
                continue
            # Flood fill from the first unassigned pixel, stopping at max_size; a pixel belongs to
            # the piece when discovered, so every piece is connected.
            remaining.discard(start)
            piece, queue = [start], deque([start])
            while queue and len(piece) < max_size:
                p = queue.popleft()
                x = p % w
                for q in (p - w, p + w, p - 1 if x > 0 else -1, p + 1 if x < w - 1 else -1):
                    if q in remaining:
                        remaining.discard(q)
                        piece.append(q)
                        queue.append(q)
                        if len(piece) == max_size:
                            break
            if first_piece:
                first_piece = False
            else:
                flat[piece] = next_id
                next_id += 1
    return flat.reshape(h, w), next_id


def _merge_small(components: np.ndarray, count: int, min_size: float) -> np.ndarray:
    sizes = np.bincount(components.ravel(), minlength=count).tolist()
    small = [c for c in range(count) if sizes[c] < min_size]
    if not small or count == 1:
        return components
    # Border length between adjacent components: the number of 4-neighbour pixel pairs.
    a = np.concatenate([components[:, :-1].ravel(), components[:-1, :].ravel()])
    b = np.concatenate([components[:, 1:].ravel(), components[1:, :].ravel()])
    differ = a != b
    low, high = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
    pairs, borders = np.unique(low * count + high, return_counts=True)
    neighbours: list[dict[int, int]] = [{} for _ in range(count)]
    for i, j, border in zip((pairs // count).tolist(), (pairs % count).tolist(), borders.tolist()):
        neighbours[i][j] = border
        neighbours[j][i] = border

    merged_into = np.arange(count)
    heap = [(sizes[c], c) for c in small]
    heapq.heapify(heap)
    while heap:
        size, c = heapq.heappop(heap)
        if merged_into[c] != c or size != sizes[c] or not neighbours[c]:
            continue  # stale entry, or the only component left
        around = neighbours[c]
        target = max(around, key=lambda k: (around[k], sizes[k], -k))
        merged_into[c] = target
        sizes[target] += sizes[c]
        target_around = neighbours[target]
        del target_around[c]
        for k, border in around.items():
            if k != target:
                del neighbours[k][c]
                neighbours[k][target] = neighbours[k].get(target, 0) + border
                target_around[k] = target_around.get(k, 0) + border
        neighbours[c] = {}
        if sizes[target] < min_size:
            heapq.heappush(heap, (sizes[target], target))
    # Follow merge chains to their surviving component.
    while True:
        hop = merged_into[merged_into]
        if np.array_equal(hop, merged_into):
            break
        merged_into = hop
    return merged_into[components]


class ClassicalSuperpixels(SuperpixelMethod):
    """A classical algorithm ``function(image (H, W, 3) uint8, n) -> (H, W) int64`` under the
    track's tensor contract. Subclasses set ``function`` (a staticmethod) and register."""

    function: ClassVar[Callable[..., np.ndarray]]

    def __init__(self, **options: Any):
        # The function's keyword parameters (compactness, ...) are the method's options.
        self.options = type(self).full_options(options)

    @classmethod
    def option_defaults(cls) -> Dict[str, Any]:
        return {name: p.default for name, p in inspect.signature(cls.function).parameters.items()
                if p.default is not inspect.Parameter.empty}

    def segment(self, image: torch.Tensor, n_superpixels: int) -> torch.Tensor:
        rgb = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        labels = type(self).function(rgb, int(n_superpixels), **self.options)
        return torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))


def register_classical(name: str, function: Callable[[np.ndarray, int], np.ndarray]) -> type:
    """Register ``function`` as the superpixel method ``name``."""
    cls = type(name.upper(), (ClassicalSuperpixels,), {"name": name, "function": staticmethod(function),
                                                        "__doc__": function.__doc__})
    return SUPERPIXEL_METHODS.register(name, cls)
