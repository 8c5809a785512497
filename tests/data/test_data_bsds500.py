"""BSDS500 loader on a tiny fixture written in the release's layout, on the real data when it is
present, and ground-truth regions from class / instance maps."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from benchmark.data.bsds500 import bsds500_split, iter_bsds500, read_ground_truth, regions_from_labels
from benchmark.errors import DsbenchError

ROOT = Path(__file__).resolve().parents[2]
REAL_BSDS500 = ROOT.parent / "shared" / "data" / "BSDS500" / "data"


def write_ground_truth(path: Path, segmentations) -> None:
    """A .mat like the release's: ``groundTruth`` a 1xN cell of structs (Segmentation, Boundaries)."""
    cell = np.empty((1, len(segmentations)), dtype=object)
    for k, seg in enumerate(segmentations):
        seg = np.asarray(seg, dtype=np.uint16)
        boundaries = np.zeros(seg.shape, np.uint8)
        boundaries[:-1][seg[1:] != seg[:-1]] = 1
        cell[0, k] = {"Segmentation": seg, "Boundaries": boundaries}
    scipy.io.savemat(str(path), {"groundTruth": cell})


def write_image(path: Path, rng: np.random.Generator, shape) -> np.ndarray:
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=100, subsampling=0)
    return np.asarray(Image.open(path).convert("RGB"))  # what the loader must return, JPEG loss included


@pytest.fixture
def tiny_bsds(tmp_path: Path):
    """Three test images (ids sort numerically: 2 < 10 < 101) with 2, 3 and 1 annotators."""
    rng = np.random.default_rng(0)
    expected = {}
    for split in ("train", "val", "test"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "groundTruth" / split).mkdir(parents=True)
    shapes = {"10": (6, 8), "2": (8, 6), "101": (5, 7)}
    for image_id, annotators in (("10", 2), ("2", 3), ("101", 1)):
        shape = shapes[image_id]
        image = write_image(tmp_path / "images" / "test" / f"{image_id}.jpg", rng, shape)
        # 1-based labels 1..3+k, every one present (contiguous like the release's).
        segs = [rng.permutation(np.arange(shape[0] * shape[1]) % (3 + k) + 1).reshape(shape)
                for k in range(annotators)]
        write_ground_truth(tmp_path / "groundTruth" / "test" / f"{image_id}.mat", segs)
        expected[image_id] = (image, segs)
    return tmp_path, expected


def test_fixture_mat_has_the_release_structure(tiny_bsds):
    root, expected = tiny_bsds
    loaded = scipy.io.loadmat(str(root / "groundTruth" / "test" / "10.mat"))["groundTruth"]
    assert loaded.shape == (1, 2) and loaded.dtype == object
    assert set(loaded[0, 0].dtype.names) == {"Segmentation", "Boundaries"}
    np.testing.assert_array_equal(loaded[0, 1]["Segmentation"][0, 0], expected["10"][1][1])


def test_loads_sorted_samples_with_labels_from_zero(tiny_bsds):
    root, expected = tiny_bsds
    samples = bsds500_split(root, "test")
    assert [s[0] for s in samples] == ["2", "10", "101"]
    for image_id, image, segs in samples:
        want_image, want_segs = expected[image_id]
        assert image.dtype == np.uint8 and image.shape == (*want_segs[0].shape, 3)
        np.testing.assert_array_equal(image, want_image)
        assert len(segs) == len(want_segs)
        for seg, want in zip(segs, want_segs):
            assert seg.dtype == np.int64
            np.testing.assert_array_equal(seg, want.astype(np.int64) - 1)  # shifted, not renumbered
    assert [s[0] for s in iter_bsds500(root, "test")] == ["2", "10", "101"]


def test_gaps_in_labels_are_closed(tmp_path):
    seg = np.array([[2, 2, 5], [9, 5, 2]])
    write_ground_truth(tmp_path / "gt.mat", [seg])
    (loaded,) = read_ground_truth(tmp_path / "gt.mat")
    np.testing.assert_array_equal(loaded, [[0, 0, 1], [2, 1, 0]])


def test_missing_folder_says_what_goes_where(tmp_path):
    with pytest.raises(DsbenchError) as info:
        bsds500_split(tmp_path, "test")
    message = str(info.value)
    assert "images" in message and "groundTruth/{train,val,test}/<id>.mat" in message and "\n" not in message


def test_missing_mat_names_the_image(tiny_bsds):
    root, _ = tiny_bsds
    (root / "groundTruth" / "test" / "10.mat").unlink()
    with pytest.raises(DsbenchError, match=r"image 10 .*has no ground truth"):
        bsds500_split(root, "test")


def test_unknown_split_and_empty_split(tiny_bsds):
    root, _ = tiny_bsds
    with pytest.raises(DsbenchError, match="unknown split 'testing'"):
        bsds500_split(root, "testing")
    with pytest.raises(DsbenchError, match="no .jpg images"):
        bsds500_split(root, "val")


def test_mismatched_sizes_are_an_error(tiny_bsds):
    root, _ = tiny_bsds
    write_ground_truth(root / "groundTruth" / "test" / "2.mat", [np.ones((3, 3))])
    with pytest.raises(DsbenchError, match="annotator 0 of image 2"):
        bsds500_split(root, "test")


@pytest.mark.skipif(not (REAL_BSDS500 / "images" / "test").is_dir(),
                    reason=f"real BSDS500 not found at {REAL_BSDS500} (see ../shared/data/README.md)")
def test_real_bsds500_test_split():
    ids, annotators = [], 0
    for image_id, image, segs in iter_bsds500(REAL_BSDS500, "test"):
        ids.append(image_id)
        assert image.dtype == np.uint8 and image.shape in ((321, 481, 3), (481, 321, 3))
        assert 4 <= len(segs) <= 9  # the README says 5 to 9; one test image has 4
        for seg in segs:
            assert seg.dtype == np.int64 and seg.shape == image.shape[:2]
            assert seg.min() == 0 and np.bincount(seg.ravel()).all()  # 0..K-1, none missing
        annotators += len(segs)
    assert len(ids) == 200 and ids == sorted(ids, key=int)
    assert annotators == 1063  # the sample count SCN / PCNet report for test
    # The fixture above has the structure of the real files.
    real = scipy.io.loadmat(str(REAL_BSDS500 / "groundTruth" / "test" / f"{ids[0]}.mat"))["groundTruth"]
    assert real.shape[0] == 1 and real.dtype == object
    assert set(real[0, 0].dtype.names) == {"Segmentation", "Boundaries"} and real[0, 0].shape == (1, 1)


# ---------------------------------------------------------------------------------------------
# regions_from_labels


def test_each_connected_component_of_a_class_is_a_segment():
    classes = np.array([
        [0, 0, 1, 0],
        [1, 1, 1, 0],
        [0, 255, 1, 2],
    ])
    regions = regions_from_labels(classes)
    # Components in raster order of their first pixel: the top-left 0s, the 1s, the right 0s,
    # the bottom-left 0 (cut off by 1s and the ignore pixel), the 2; ignore (255) -> -1.
    np.testing.assert_array_equal(regions, [
        [0, 0, 1, 2],
        [1, 1, 1, 2],
        [3, -1, 1, 4],
    ])
    assert regions.dtype == np.int64


def test_diagonal_contact_does_not_join():
    classes = np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(regions_from_labels(classes), [[0, 1], [2, 3]])


def test_instances_split_touching_objects_of_one_class():
    classes = np.full((3, 6), 7)
    classes[:, 1:5] = 13                      # one "car" class region...
    instances = classes.copy()
    instances[:, 1:3] = 13000                 # ...made of two touching instances
    instances[:, 3:5] = 13001
    assert len(np.unique(regions_from_labels(classes))) == 3      # road | cars | road
    regions = regions_from_labels(classes, instances)
    np.testing.assert_array_equal(regions[0], [0, 1, 1, 2, 2, 3])
    np.testing.assert_array_equal(regions, np.broadcast_to(regions[0], (3, 6)))


def test_regions_bad_input():
    with pytest.raises(DsbenchError, match="class_ids"):
        regions_from_labels(np.zeros((2, 2), np.float32))
    with pytest.raises(DsbenchError, match="instance_ids"):
        regions_from_labels(np.zeros((2, 2), np.int64), np.zeros((3, 2), np.int64))
