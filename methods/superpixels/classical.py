"""Library-backed classical superpixel baselines: SLIC, Felzenszwalb-Huttenlocher, SEEDS, LSC.

Contract for every function: ``image`` (H, W, 3) uint8 RGB and ``n_superpixels`` (the requested
count) in; (H, W) int64 ids contiguous from 0 out, after the shared
:func:`~methods.superpixels.connectivity.enforce_connectivity` (0.06 / 3 x the nominal size), so
that every method's superpixels are 4-connected under one convention. The libraries' own
connectivity post-processing is switched off or not called for that reason.

PCNet (Sec. 4) ran SLIC, LSC and SEEDS through OpenCV; SLIC here is scikit-image's (same algorithm,
the track's reference implementation) and FH is scikit-image's (the only maintained Python one).
OpenCV and scikit-image are imported inside the functions so that importing this module is cheap.
"""
from __future__ import annotations

import math

import numpy as np

from benchmark.errors import DsbenchError
from methods.superpixels.connectivity import enforce_connectivity, register_classical


def check_image(image: np.ndarray, n_superpixels: int, method: str) -> np.ndarray:
    """The track's input contract; returns the image as a C-contiguous uint8 array."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DsbenchError(f"{method}: image must be (H, W, 3) uint8 RGB, got shape {image.shape} "
                           f"dtype {image.dtype}")
    if isinstance(n_superpixels, bool) or not isinstance(n_superpixels, (int, np.integer)) \
            or not 1 <= n_superpixels <= image.shape[0] * image.shape[1]:
        raise DsbenchError(f"{method}: n_superpixels must be an integer in [1, H*W], got {n_superpixels!r}")
    return np.ascontiguousarray(image)


def slic(image: np.ndarray, n_superpixels: int, compactness: float = 10.0,
         max_num_iter: int = 10) -> np.ndarray:
    """SLIC (Achanta et al., TPAMI 2012) via ``skimage.segmentation.slic`` in CIELAB.

    ``compactness=10`` weighs Lab colour against xy distance (scaled by the grid step): the SLIC
    paper's usual setting and scikit-image's default; ``max_num_iter=10`` (the paper's "10
    iterations suffice", scikit-image's default); no pre-smoothing (``sigma=0``, scikit-image's
    default). scikit-image's own connectivity enforcement (0.5 / 3 x) is off in favour of the shared one.
    """
    image = check_image(image, n_superpixels, "slic")
    from skimage.segmentation import slic as skimage_slic

    labels = skimage_slic(image, n_segments=int(n_superpixels), compactness=compactness,
                          max_num_iter=max_num_iter, sigma=0, convert2lab=True,
                          enforce_connectivity=False, start_label=0, channel_axis=-1)
    return enforce_connectivity(labels, n_superpixels)


def felzenszwalb(image: np.ndarray, n_superpixels: int, sigma: float = 0.8, min_size: int = 20,
                 search_steps: int = 16) -> np.ndarray:
    """Felzenszwalb-Huttenlocher graph segmentation (IJCV 2004) via scikit-image, sized to a count.

    FH has no count parameter: its ``scale`` (k in the paper) sets how readily regions merge, and
    the number of regions falls as ``scale`` grows. ``scale`` is found by bisection on log(scale)
    over [1e-2, 1e5] for at most ``search_steps`` steps, measuring the count *after* the shared
    connectivity enforcement; the result is the segmentation whose count is closest to
    ``n_superpixels`` (ties: the smaller scale), and the search stops early on an exact hit.
    ``sigma=0.8`` (pre-smoothing; the FH paper's and scikit-image's value) and ``min_size=20``
    (scikit-image's default; FH's own code ships 20 too) are kept fixed.
    """
    image = check_image(image, n_superpixels, "felzenszwalb")
    from skimage.segmentation import felzenszwalb as skimage_fh

    def segment(scale: float) -> np.ndarray:
        raw = skimage_fh(image, scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1)
        return enforce_connectivity(raw, n_superpixels)

    low, high = math.log(1e-2), math.log(1e5)
    best, best_key = None, None
    for _ in range(search_steps):
        middle = 0.5 * (low + high)
        labels = segment(math.exp(middle))
        count = int(labels.max()) + 1
        key = (abs(count - n_superpixels), middle)
        if best_key is None or key < best_key:
            best, best_key = labels, key
        if count == n_superpixels:
            break
        if count > n_superpixels:
            low = middle  # too many regions: merge more readily
        else:
            high = middle
    return best


def seeds(image: np.ndarray, n_superpixels: int, num_levels: int = 4, prior: int = 2,
          histogram_bins: int = 5, num_iterations: int = 4, double_step: bool = False) -> np.ndarray:
    """SEEDS (Van den Bergh et al., IJCV 2015) via ``cv2.ximgproc.createSuperpixelSEEDS`` in HSV.

    ``num_levels=4`` (block levels; OpenCV has no default, its SEEDS sample uses 4), ``prior=2``
    (3x3 shape smoothing, OpenCV's default), ``histogram_bins=5`` (per channel, OpenCV's default),
    ``num_iterations=4`` (OpenCV's ``iterate`` default), ``double_step=False`` (OpenCV's default).
    The image is converted to HSV as in OpenCV's SEEDS sample. OpenCV may return fewer superpixels
    than requested (its block grid must fit the image).
    """
    image = check_image(image, n_superpixels, "seeds")
    import cv2

    cv2.setNumThreads(1)  # OpenCV's parallel loops make LSC differ by a pixel from run to run

    h, w = image.shape[:2]
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    engine = cv2.ximgproc.createSuperpixelSEEDS(w, h, 3, int(n_superpixels), num_levels, prior,
                                                histogram_bins, double_step)
    engine.iterate(hsv, num_iterations)
    return enforce_connectivity(engine.getLabels(), n_superpixels)


def lsc(image: np.ndarray, n_superpixels: int, ratio: float = 0.075,
        num_iterations: int = 10) -> np.ndarray:
    """LSC, linear spectral clustering (Li and Chen, CVPR 2015) via ``cv2.ximgproc.createSuperpixelLSC``.

    ``region_size = round(sqrt(H*W / n_superpixels))`` (the grid step giving ``n`` seeds);
    ``ratio=0.075`` (compactness, OpenCV's default; the LSC paper's C = 0.075 x 20 colour/space
    balance), ``num_iterations=10`` (OpenCV's ``iterate`` default). As OpenCV's documentation
    recommends, the image is smoothed with a 3x3 Gaussian and converted to CIELAB first.
    OpenCV's ``enforceLabelConnectivity`` is not called (the shared enforcement replaces it).
    """
    image = check_image(image, n_superpixels, "lsc")
    import cv2

    cv2.setNumThreads(1)  # OpenCV's parallel loops make LSC differ by a pixel from run to run

    h, w = image.shape[:2]
    region_size = max(1, round(math.sqrt(h * w / n_superpixels)))
    lab = cv2.cvtColor(cv2.GaussianBlur(image, (3, 3), 0), cv2.COLOR_RGB2LAB)
    engine = cv2.ximgproc.createSuperpixelLSC(lab, region_size, ratio)
    engine.iterate(num_iterations)
    return enforce_connectivity(engine.getLabels(), n_superpixels)


register_classical("slic", slic)
register_classical("felzenszwalb", felzenszwalb)
register_classical("seeds", seeds)
register_classical("lsc", lsc)
