"""BSDS500 (Berkeley Segmentation Data Set 500) in its official BSR layout, and ground-truth
segments from class/instance maps for the embedded synthetic dataset.

Layout under ``root`` (the ``BSR/BSDS500/data`` folder of the January 2013 release)::

    images/{train,val,test}/<id>.jpg          RGB, 481x321 or 321x481
    groundTruth/{train,val,test}/<id>.mat     MATLAB v5: ``groundTruth``, a 1xN cell, one struct per
                                              annotator with ``Segmentation`` (uint16, labels 1..K)
                                              and ``Boundaries`` (uint8 0/1)

Conventions
-----------
* A sample is ``(image_id, image, segmentations)``: ``image`` uint8 ``(H, W, 3)`` RGB,
  ``segmentations`` a list of int64 ``(H, W)`` maps, one per annotator in file order.
* Labels are SHIFTED to start at 0: BSDS500's 1-based ids ``1..K`` become ``0..K-1``. Should a
  file's ids have gaps, they are renumbered by rank, so every returned map uses ``0..K-1``
  contiguously (all 1,063 test pairs of the release are contiguous, so this is the plain shift).
* ``Boundaries`` is not returned: the superpixel metrics derive boundaries from ``Segmentation``.
* Samples are sorted by image id (numerically where ids are numbers, as in the release).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np
from scipy import ndimage

from benchmark.errors import DsbenchError

SPLITS = ("train", "val", "test")
BSDS500_HINT = ("download the BSR release (BSR_bsds500.tgz, or a mirror such as BIDS/BSDS500) and pass "
                "its BSDS500/data folder, which holds images/{train,val,test}/<id>.jpg and "
                "groundTruth/{train,val,test}/<id>.mat")

Sample = Tuple[str, np.ndarray, List[np.ndarray]]
PathLike = Union[str, "os.PathLike[str]"]


def _sort_key(image_id: str) -> Tuple[int, Union[int, str]]:
    return (0, int(image_id)) if image_id.isdigit() else (1, image_id)


def bsds500_files(root: PathLike, split: str) -> List[Tuple[str, Path, Path]]:
    """``(image_id, jpg, mat)`` per image of ``split``, sorted by id; checks the layout first."""
    if split not in SPLITS:
        raise DsbenchError(f"BSDS500: unknown split {split!r}; use one of {', '.join(SPLITS)}")
    base = Path(root)
    images_dir = base / "images" / split
    truth_dir = base / "groundTruth" / split
    for folder in (images_dir, truth_dir):
        if not folder.is_dir():
            raise DsbenchError(f"BSDS500: {folder} is missing; {BSDS500_HINT}")
    jpgs = {p.stem: p for p in images_dir.glob("*.jpg")}
    if not jpgs:
        raise DsbenchError(f"BSDS500: no .jpg images in {images_dir}; {BSDS500_HINT}")
    files = []
    for image_id in sorted(jpgs, key=_sort_key):
        mat = truth_dir / f"{image_id}.mat"
        if not mat.is_file():
            raise DsbenchError(f"BSDS500: image {image_id} ({jpgs[image_id]}) has no ground truth {mat}; "
                               "restore it from the release or remove the image")
        files.append((image_id, jpgs[image_id], mat))
    return files


def _contiguous_from_zero(segmentation: np.ndarray) -> np.ndarray:
    labels = segmentation.astype(np.int64)
    labels -= labels.min()
    present = np.bincount(labels.ravel()) > 0
    if present.all():
        return labels
    return (np.cumsum(present) - 1)[labels]


def read_ground_truth(mat_path: PathLike) -> List[np.ndarray]:
    """The annotators' segmentations of one ``.mat`` file, int64, labels ``0..K-1``."""
    from scipy.io import loadmat

    try:
        cells = loadmat(str(mat_path))["groundTruth"]
    except Exception as error:  # noqa: BLE001 - scipy raises many types for a corrupt file
        raise DsbenchError(f"BSDS500: cannot read {mat_path} ({type(error).__name__}: {error}); "
                           "expected a MATLAB file with a 1xN 'groundTruth' cell") from None
    segmentations = []
    for k in range(cells.size):
        entry = cells.flat[k]
        try:
            segmentation = np.asarray(entry["Segmentation"].flat[0])
        except (ValueError, KeyError, IndexError, TypeError):
            raise DsbenchError(f"BSDS500: annotator {k} of {mat_path} has no 'Segmentation' field") from None
        if segmentation.ndim != 2 or not np.issubdtype(segmentation.dtype, np.integer):
            raise DsbenchError(f"BSDS500: annotator {k} of {mat_path} has a {segmentation.dtype} Segmentation of "
                               f"shape {segmentation.shape}; expected an integer (H, W) map")
        segmentations.append(_contiguous_from_zero(segmentation))
    if not segmentations:
        raise DsbenchError(f"BSDS500: {mat_path} has an empty 'groundTruth' cell")
    return segmentations


def read_image(jpg_path: PathLike) -> np.ndarray:
    """uint8 ``(H, W, 3)`` RGB."""
    from PIL import Image

    try:
        with Image.open(jpg_path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except OSError as error:
        raise DsbenchError(f"BSDS500: cannot read image {jpg_path} ({error})") from None


def iter_bsds500(root: PathLike, split: str) -> Iterator[Sample]:
    """Like :func:`bsds500_split`, one sample at a time (a whole split as int64 is ~1.3 GB)."""
    for image_id, jpg, mat in bsds500_files(root, split):
        image = read_image(jpg)
        segmentations = read_ground_truth(mat)
        for k, segmentation in enumerate(segmentations):
            if segmentation.shape != image.shape[:2]:
                raise DsbenchError(f"BSDS500: annotator {k} of image {image_id} is {segmentation.shape}, the "
                                   f"image {image.shape[:2]}; the .mat does not belong to {jpg}")
        yield image_id, image, segmentations


def bsds500_split(root: PathLike, split: str) -> List[Sample]:
    """Every ``(image_id, image, [segmentation, ...])`` of ``split``, sorted by id (module doc)."""
    return list(iter_bsds500(root, split))


def regions_from_labels(class_ids: np.ndarray, instance_ids: Optional[np.ndarray] = None,
                        ignore: int = 255) -> np.ndarray:
    """Ground-truth segments: every 4-connected component of one value becomes one segment.

    Without ``instance_ids`` the components are those of each class id; with them (e.g.
    Cityscapes' ``labelId*1000+k`` codes, stuff pixels holding their plain labelId) those of each
    instance code, so two touching cars stay two segments and a car split by a pole is two.
    Pixels whose class is ``ignore`` get -1 (no segment); all others get int64 ids ``0..K-1``,
    numbered in raster order of each component's first pixel.
    """
    classes = np.asarray(class_ids)
    if classes.ndim != 2 or not np.issubdtype(classes.dtype, np.integer):
        raise DsbenchError(f"regions_from_labels: class_ids has shape {classes.shape} and dtype {classes.dtype}; "
                           "expected an integer (H, W) map")
    key = classes
    if instance_ids is not None:
        key = np.asarray(instance_ids)
        if key.shape != classes.shape or not np.issubdtype(key.dtype, np.integer):
            raise DsbenchError(f"regions_from_labels: instance_ids {key.shape} {key.dtype} must be an integer map "
                               f"of the class map's shape {classes.shape}")
    valid = classes != ignore
    # ndimage.label joins any touching foreground pixels, so each value is labelled on its own
    # mask (values are few: classes or instances), and the ids are offset to stay distinct.
    regions = np.full(classes.shape, -1, dtype=np.int64)
    next_id = 0
    for value in np.unique(key[valid]):
        mask = valid & (key == value)
        components, count = ndimage.label(mask)
        regions[mask] = components[mask] - 1 + next_id
        next_id += count
    # Renumber in raster order of each component's first pixel, independent of the value order.
    flat = regions.ravel()
    labelled = np.flatnonzero(flat >= 0)
    if labelled.size:
        ids, first = np.unique(flat[labelled], return_index=True)
        rank = np.empty(next_id, dtype=np.int64)
        rank[ids[np.argsort(first)]] = np.arange(ids.size)
        flat[labelled] = rank[flat[labelled]]
    return regions
