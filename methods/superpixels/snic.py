"""SNIC: simple non-iterative clustering (Achanta and Susstrunk, CVPR 2017), implemented here.

Seeds sit on a regular grid with step ``S = sqrt(H*W / n)``. One priority queue holds candidate
assignments ``(distance, pixel, superpixel)``; popping the closest one assigns the pixel if it is
still free, updates that superpixel's centroid online (running mean of Lab colour and xy), and
pushes the pixel's free 4-neighbours with their distance to the updated centroid. The distance is
the paper's ``|dLab|^2 + (m / S)^2 |dxy|^2`` with compactness ``m``. Every superpixel grows from
its seed through 4-neighbours, so it is connected by construction.

The queue loop is pure Python (heapq over flat Python lists); ``pysnic`` (PyPI) was not used: it is
pure Python too and its list-of-lists interface needs more glue than this file.
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from methods.superpixels.classical import check_image
from methods.superpixels.connectivity import enforce_connectivity, register_classical


def grid_seeds(height: int, width: int, n_superpixels: int) -> tuple[np.ndarray, float]:
    """Flat indices of grid seeds (cell centres of a ny x nx grid with ny*nx ~ n) and the step S."""
    step = math.sqrt(height * width / n_superpixels)
    ny = max(1, min(height, round(height / step)))
    nx = max(1, min(width, round(width / step)))
    ys = ((np.arange(ny) + 0.5) * height / ny).astype(np.int64)
    xs = ((np.arange(nx) + 0.5) * width / nx).astype(np.int64)
    return (ys[:, None] * width + xs[None, :]).ravel(), step


def snic(image: np.ndarray, n_superpixels: int, compactness: float = 10.0) -> np.ndarray:
    """SNIC superpixels of an (H, W, 3) uint8 RGB image: (H, W) int64 contiguous ids from 0.

    ``compactness=10`` is the paper's default m (its public code's default differs; the paper's
    value is used); colour is CIELAB (scikit-image's conversion), as in the paper. The output goes
    through the shared connectivity enforcement, which here only absorbs tiny superpixels.
    """
    image = check_image(image, n_superpixels, "snic")
    from skimage.color import rgb2lab

    h, w = image.shape[:2]
    lab = rgb2lab(image).reshape(-1, 3)
    light, green_red, blue_yellow = (lab[:, c].tolist() for c in range(3))
    seeds, step = grid_seeds(h, w, n_superpixels)
    spatial = (compactness / step) ** 2

    k = seeds.size
    # Running centroids (mean colour and position) and member counts per superpixel.
    mean_l, mean_a, mean_b = [0.0] * k, [0.0] * k, [0.0] * k
    mean_x, mean_y, members = [0.0] * k, [0.0] * k, [0] * k
    label = [-1] * (h * w)
    heap = [(0.0, int(p), i) for i, p in enumerate(seeds.tolist())]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        _, p, s = pop(heap)
        if label[p] >= 0:
            continue
        label[p] = s
        y, x = divmod(p, w)
        n = members[s] + 1
        members[s] = n
        mean_l[s] += (light[p] - mean_l[s]) / n
        mean_a[s] += (green_red[p] - mean_a[s]) / n
        mean_b[s] += (blue_yellow[p] - mean_b[s]) / n
        mean_x[s] += (x - mean_x[s]) / n
        mean_y[s] += (y - mean_y[s]) / n
        cl, ca, cb, cx, cy = mean_l[s], mean_a[s], mean_b[s], mean_x[s], mean_y[s]
        for q, qx, qy in ((p - 1, x - 1, y), (p + 1, x + 1, y), (p - w, x, y - 1), (p + w, x, y + 1)):
            if 0 <= qx < w and 0 <= qy < h and label[q] < 0:
                dl, da, db = light[q] - cl, green_red[q] - ca, blue_yellow[q] - cb
                dx, dy = qx - cx, qy - cy
                push(heap, (dl * dl + da * da + db * db + spatial * (dx * dx + dy * dy), q, s))
    return enforce_connectivity(np.asarray(label, dtype=np.int64).reshape(h, w), n_superpixels)


register_classical("snic", snic)
