"""evaluate_segmentations: label maps from any tool (PNG or CSV, one per image id) scored against
BSDS500's annotators or synthcity's instance-aware regions, with the metrics module's numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.data import build_dataset
from benchmark.data.bsds500 import regions_from_labels
from benchmark.engine.superpixels import (PAIR_COLUMNS, evaluate_segmentations, read_label_map, summarise_pairs,
                                          write_label_map)
from benchmark.errors import DsbenchError
from benchmark.metrics.superpixels import superpixel_metrics


def write_csv(path, labels):
    np.savetxt(path, labels, fmt="%d", delimiter=",")


def test_a_map_equal_to_the_ground_truth_scores_perfectly(tiny_bsds, tmp_path):
    root, truth = tiny_bsds
    maps = tmp_path / "maps"
    for image_id, segs in truth.items():
        write_label_map(maps / f"{image_id}.png", segs[0])  # annotator 0's segmentation as the superpixels
    pairs = evaluate_segmentations(maps, "bsds500", root, "test")
    assert list(pairs.columns) == PAIR_COLUMNS
    # one row per (image, annotator), in id order
    assert list(zip(pairs["image_id"], pairs["annotator"])) == [("3", 0), ("3", 1), ("12", 0)]
    first = pairs[pairs["annotator"] == 0]
    assert (first["boundary_recall"] == 1.0).all() and (first["undersegmentation_error"] == 0.0).all()
    assert (first["asa"] == 1.0).all() and (first["boundary_precision"] == 1.0).all()
    assert list(first["measured_superpixels"]) == [4, 6]
    # the other annotator's numbers are the metrics module's
    other = pairs[(pairs["image_id"] == "3") & (pairs["annotator"] == 1)].iloc[0]
    from benchmark.data.bsds500 import read_image
    image = read_image(root / "images" / "test" / "3.jpg")
    expected = superpixel_metrics(truth["3"][0], truth["3"][1], image)
    for metric in ("boundary_recall", "boundary_precision", "asa", "undersegmentation_error", "compactness",
                   "explained_variation"):
        assert other[metric] == pytest.approx(expected[metric]), metric
    assert other["boundary_recall"] < 1.0  # 3x4 blocks have boundaries the 2x2 ones miss


def test_csv_and_png_label_maps_read_the_same(tiny_bsds, tmp_path):
    root, truth = tiny_bsds
    rng = np.random.default_rng(1)
    for image_id, segs in truth.items():
        labels = rng.integers(0, 300, segs[0].shape)  # ids above 255: the PNG must be 16-bit
        write_label_map(tmp_path / "png" / f"{image_id}.png", labels)
        (tmp_path / "csv").mkdir(exist_ok=True)
        write_csv(tmp_path / "csv" / f"{image_id}.csv", labels)
        np.testing.assert_array_equal(read_label_map(tmp_path / "png" / f"{image_id}.png"), labels)
        np.testing.assert_array_equal(read_label_map(tmp_path / "csv" / f"{image_id}.csv"), labels)
    from_png = evaluate_segmentations(tmp_path / "png", "bsds500", root, "test")
    from_csv = evaluate_segmentations(tmp_path / "csv", "bsds500", root, "test")
    pd.testing.assert_frame_equal(from_png, from_csv)


def test_images_without_a_label_map_are_named(tiny_bsds, tmp_path):
    root, truth = tiny_bsds
    write_label_map(tmp_path / "maps" / "3.png", truth["3"][0])
    with pytest.raises(DsbenchError, match=r"1 of 2 images have no label map \(12\)"):
        evaluate_segmentations(tmp_path / "maps", "bsds500", root, "test")


def test_a_label_map_of_the_wrong_shape_names_the_file_and_both_shapes(tiny_bsds, tmp_path):
    root, truth = tiny_bsds
    write_label_map(tmp_path / "maps" / "3.png", truth["3"][0])
    write_csv(tmp_path / "maps" / "12.csv", np.zeros((24, 32), np.int64))  # "12" is 32x24
    with pytest.raises(DsbenchError, match=r"12\.csv: label map is 24x32 but image 12 is 32x24"):
        evaluate_segmentations(tmp_path / "maps", "bsds500", root, "test")


def test_two_files_for_one_image_and_unreadable_csv_are_errors(tiny_bsds, tmp_path):
    root, truth = tiny_bsds
    maps = tmp_path / "maps"
    for image_id, segs in truth.items():
        write_label_map(maps / f"{image_id}.png", segs[0])
    write_csv(maps / "3.csv", truth["3"][0])
    with pytest.raises(DsbenchError, match="image 3 has both 3.png and 3.csv"):
        evaluate_segmentations(maps, "bsds500", root, "test")
    (maps / "3.png").unlink()
    (maps / "3.csv").write_text("1,2,x\n")
    with pytest.raises(DsbenchError, match="3.csv: not a CSV label map of integers"):
        evaluate_segmentations(maps, "bsds500", root, "test")
    with pytest.raises(DsbenchError, match="no such folder"):
        evaluate_segmentations(tmp_path / "nowhere", "bsds500", root, "test")
    with pytest.raises(DsbenchError, match="unknown dataset 'bsds'"):
        evaluate_segmentations(maps, "bsds", root, "test")


def test_synthcity_ground_truth_is_one_annotator_of_instance_aware_regions(tiny_synthcity, tmp_path):
    samples = build_dataset("synthcity", tiny_synthcity, "val")
    for sample in samples:
        regions = regions_from_labels(sample["labels"].numpy(), sample["instances"].numpy(), ignore=-1)
        write_label_map(tmp_path / f"{sample['id']}.png", regions)
    pairs = evaluate_segmentations(tmp_path, "synthcity", tiny_synthcity, "val")
    assert list(pairs["image_id"]) == samples.ids and (pairs["annotator"] == 0).all()
    assert (pairs["boundary_recall"] == 1.0).all() and (pairs["undersegmentation_error"] == 0.0).all()
    # instances split a class into more segments than its components alone
    sample = samples[0]
    assert len(np.unique(regions_from_labels(sample["labels"].numpy(), ignore=-1))) < pairs["measured_superpixels"][0]


def test_summary_averages_metrics_over_pairs_and_counts_over_images():
    pairs = pd.DataFrame({"n_superpixels": [10, 10, 10, 20], "image_id": ["a", "a", "b", "a"],
                          "annotator": [0, 1, 0, 0], "boundary_recall": [0.2, 0.4, 0.9, 1.0],
                          "boundary_precision": 0.5, "asa": 0.9, "undersegmentation_error": 0.1,
                          "compactness": 0.3, "explained_variation": [np.nan, np.nan, 0.6, 0.7],
                          "measured_superpixels": [8, 8, 14, 21], "seconds": [1.0, 1.0, 3.0, 2.0]})
    summary = summarise_pairs(pairs, ["n_superpixels"]).set_index("n_superpixels")
    assert summary.loc[10, "boundary_recall"] == pytest.approx(0.5)        # (0.2 + 0.4 + 0.9) / 3 pairs
    assert summary.loc[10, "measured_superpixels"] == pytest.approx(11.0)  # (8 + 14) / 2 images
    assert summary.loc[10, "seconds_per_image"] == pytest.approx(2.0)
    assert summary.loc[10, "explained_variation"] == pytest.approx(0.6)    # a constant image's NaN is left out
    assert summary.loc[10, "evaluated_pairs"] == 3 and summary.loc[20, "evaluated_pairs"] == 1
    overall = summarise_pairs(pairs.drop(columns=["n_superpixels", "seconds"]))
    assert len(overall) == 1 and "seconds_per_image" not in overall.columns
