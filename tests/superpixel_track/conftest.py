"""Fixtures of the superpixels track's tests: a tiny BSDS500 in the release's layout, a tiny synthcity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from benchmark.data.synthcity import make_synthcity

TINY_SYNTHCITY_SIZE = (64, 128)


def write_ground_truth(path: Path, segmentations) -> None:
    """A .mat like the release's: ``groundTruth`` a 1xN cell of structs (Segmentation, Boundaries)."""
    cell = np.empty((1, len(segmentations)), dtype=object)
    for k, seg in enumerate(segmentations):
        seg = np.asarray(seg, dtype=np.uint16)
        cell[0, k] = {"Segmentation": seg, "Boundaries": np.zeros(seg.shape, np.uint8)}
    scipy.io.savemat(str(path), {"groundTruth": cell})


def blocks(shape, rows: int, cols: int) -> np.ndarray:
    """1-based ids of a rows x cols grid of rectangles covering ``shape`` (BSDS500's numbering)."""
    r = np.arange(shape[0]) * rows // shape[0]
    c = np.arange(shape[1]) * cols // shape[1]
    return (r[:, None] * cols + c[None, :] + 1).astype(np.uint16)


@pytest.fixture
def tiny_bsds(tmp_path: Path):
    """Test images "3" (24x32, annotators: 2x2 and 3x4 blocks) and "12" (32x24, one: 2x3 blocks);
    returns the root and ``{image_id: [0-based segmentations]}``."""
    rng = np.random.default_rng(0)
    truth = {}
    for split in ("train", "val", "test"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "groundTruth" / split).mkdir(parents=True)
    for image_id, shape, grids in (("3", (24, 32), ((2, 2), (3, 4))), ("12", (32, 24), ((2, 3),))):
        segs = [blocks(shape, *grid) for grid in grids]
        # Each segment one colour plus noise, so the superpixels have something to follow.
        colours = rng.integers(0, 256, (int(segs[-1].max()) + 1, 3))
        pixels = np.clip(colours[segs[-1]] + rng.normal(0, 4, (*shape, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / "images" / "test" / f"{image_id}.jpg", quality=100, subsampling=0)
        write_ground_truth(tmp_path / "groundTruth" / "test" / f"{image_id}.mat", segs)
        truth[image_id] = [s.astype(np.int64) - 1 for s in segs]
    return tmp_path, truth


@pytest.fixture(scope="session")
def tiny_synthcity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two val images of 64x128 (and one train image)."""
    root = tmp_path_factory.mktemp("synthcity")
    make_synthcity(root, {"train": 1, "val": 2}, size=TINY_SYNTHCITY_SIZE, seed=0)
    return root
