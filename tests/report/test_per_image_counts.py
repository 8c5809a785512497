"""Per-image counts (counts format 2): their sums equal the totals exactly; format 1 still loads."""
import numpy as np
import pytest

from benchmark.errors import DsbenchError
from benchmark.metrics import ConfusionMatrix, MetricSuite
from benchmark.metrics.suite import COUNTS_FORMAT_VERSION

NAMES = ["road", "pole", "car"]


def filled_suite(n_images=6, seed=0):
    rng = np.random.default_rng(seed)
    suite = MetricSuite(3, NAMES, label_to_train={0: 0, 1: 1, 2: 2}, target_classes=[1, 2])
    labels = rng.integers(0, 3, size=(n_images, 16, 16))
    labels[:, :2] = 255                                            # ignored pixels
    pred = np.where(rng.random(labels.shape) < 0.7, labels, rng.integers(0, 4, size=labels.shape))
    instances = np.zeros_like(labels)
    for i in range(n_images):                                      # 0 to 3 cars per image
        for k in range(int(rng.integers(0, 4))):
            r, c = rng.integers(2, 12, size=2)
            instances[i, r:r + 3, c:c + 3] = 2000 + k
            labels[i, r:r + 3, c:c + 3] = 2
    ids = [f"img{i}" for i in range(n_images)]
    suite.process(pred[:2], labels[:2], instances[:2], ids=ids[:2])          # a batch
    for i in range(2, n_images):                                               # and single images
        suite.process(pred[i], labels[i], instances[i], ids=[ids[i]])
    return suite


def test_per_image_sums_equal_the_totals(tmp_path):
    suite = filled_suite()
    arrays = suite.per_image_arrays()
    assert arrays["image_confusion"].shape == (6, 3, 4) and arrays["image_confusion"].dtype == np.int64
    np.testing.assert_array_equal(arrays["image_confusion"].sum(0), suite.confusion.counts)
    np.testing.assert_array_equal(arrays["image_trimap_correct"].sum(0), suite.trimap.correct)
    np.testing.assert_array_equal(arrays["image_trimap_total"].sum(0), suite.trimap.total)
    assert len(arrays["instance_image"]) == len(suite.objects.table) > 0
    assert list(arrays["image_ids"]) == [f"img{i}" for i in range(6)]
    # each image's instances, alone, are that image's table
    solo = MetricSuite(3, NAMES, label_to_train={0: 0, 1: 1, 2: 2})
    path = tmp_path / "counts.npz"
    suite.save_counts(path)
    with np.load(path) as data:
        assert int(data["format_version"]) == COUNTS_FORMAT_VERSION == 2
        np.testing.assert_array_equal(data["image_confusion"].sum(0), data["confusion"])
        np.testing.assert_array_equal(np.bincount(data["instance_image"], minlength=6).sum(), len(data["instances"]))
    loaded = MetricSuite.load_counts(path)
    assert loaded.rows({"run_id": "r", "dataset": "d", "method": "m"}) == \
        suite.rows({"run_id": "r", "dataset": "d", "method": "m"})
    np.testing.assert_array_equal(loaded.per_image_arrays()["image_confusion"], arrays["image_confusion"])
    assert solo.n_images == 0 and loaded.n_images == 6


def test_format_1_files_still_load_with_totals_only(tmp_path):
    suite = filled_suite()
    path = tmp_path / "old.npz"
    suite.save_counts(path)
    with np.load(path) as data:
        old = {k: data[k] for k in data.files if not k.startswith(("image_", "instance_image"))}
    old["format_version"] = np.array(1)
    np.savez(tmp_path / "v1.npz", **old)
    loaded = MetricSuite.load_counts(tmp_path / "v1.npz")
    assert not loaded.has_per_image and loaded.per_image_arrays() == {}
    np.testing.assert_array_equal(loaded.confusion.counts, suite.confusion.counts)
    old["format_version"] = np.array(2)                 # format 2 without its per-image arrays: corrupt
    np.savez(tmp_path / "v2.npz", **old)
    with pytest.raises(DsbenchError, match="lacks image_confusion"):
        MetricSuite.load_counts(tmp_path / "v2.npz")


def test_intrinsic_per_image_counts_sum_to_the_totals():
    from benchmark.metrics.suite import intrinsic_arrays

    rng = np.random.default_rng(3)
    totals = {name: ConfusionMatrix(3) for name in ("miou_intrinsic", "miou_intrinsic_own_unsampler")}
    per_image = {name: [] for name in totals}
    class_counts = {"original": np.zeros(3, np.int64), "sampled": np.zeros(3, np.int64)}
    image_counts = {stage: [] for stage in class_counts}
    for _ in range(4):
        labels = rng.integers(0, 3, size=(8, 8))
        for name, cm in totals.items():
            before = cm.counts.copy()
            cm.process(rng.integers(0, 3, size=(8, 8)), labels)
            per_image[name].append(cm.counts - before)
        for stage in class_counts:
            counts = np.bincount(labels.ravel(), minlength=3)
            class_counts[stage] += counts
            image_counts[stage].append(counts)
    arrays = intrinsic_arrays(totals, per_image, class_counts, image_counts, [f"i{k}" for k in range(4)])
    np.testing.assert_array_equal(arrays["image_confusion"].sum(0), arrays["confusion"])
    np.testing.assert_array_equal(arrays["image_confusion_own_unsampler"].sum(0), arrays["confusion_own_unsampler"])
    np.testing.assert_array_equal(arrays["image_original"].sum(0), arrays["original"])
    np.testing.assert_array_equal(arrays["image_sampled"].sum(0), arrays["sampled"])
