"""MetricSuite: tidy rows, raw counts save/load round trip, rows re-derived from counts."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from benchmark.errors import DsbenchError
from benchmark.metrics import MetricSuite, rows_from_counts
from benchmark.results import METRICS, read_rows, write_rows

from conftest import blocky_labels, noisy_prediction
from test_metrics_object_recall import hand_made_scene

NAMES = [f"class_{i}" for i in range(19)]
IDENTITY = {"run_id": "r1", "dataset": "synthcity", "split": "val", "method": "uniform", "model": "tiny",
            "height": 32, "width": 64, "seed": 0}


def filled_suite(rng, **kwargs) -> MetricSuite:
    suite = MetricSuite(19, NAMES, target_classes=[11, 13], band_widths=(1, 4), **kwargs)
    pred, labels, inst = hand_made_scene()
    suite.process(pred, labels, inst)
    labels = blocky_labels(rng, (2, 8, 12), 19)
    pred = noisy_prediction(rng, labels, 19)
    suite.process(pred, labels, np.zeros_like(labels))  # no instances in these images
    return suite


def test_rows_are_valid_tidy_rows(tmp_path, rng):
    suite = filled_suite(rng, evaluated_classes=[0, 11, 13, 5, 18])
    rows = suite.rows(IDENTITY, {"git_sha": "abc"})
    df = write_rows(tmp_path / "metrics.csv", rows)  # validates: ok rows finite, skipped rows have reasons
    assert set(df["metric"]) == {"miou", "miou_target", "pixel_accuracy", "iou", "trimap_accuracy",
                                 "recall_by_size"}
    for _, row in df.iterrows():
        assert row["unit"] == METRICS[row["metric"]]
    iou = df[df.metric == "iou"]
    assert sorted(iou.class_name) == sorted(NAMES[c] for c in (0, 5, 11, 13, 18))
    res = suite.evaluate()
    miou = df[df.metric == "miou"].value.item()
    assert miou == pytest.approx(np.nanmean(res["iou"][[0, 5, 11, 13, 18]]))
    assert sorted(df[df.metric == "trimap_accuracy"].band_px.tolist()) == [1, 4]
    recall = df[df.metric == "recall_by_size"]
    assert set(recall.class_name) == {"class_11", "class_13", "all"}
    assert set(recall.size_bin) == {"q1", "q2", "q3", "q4"}
    # class_11 has one instance: q1 is measured, q2..q4 are skipped with a reason.
    person = recall[recall.class_name == "class_11"].sort_values("size_bin")
    assert person.status.tolist() == ["ok", "skipped", "skipped", "skipped"]
    assert (df.git_sha == "abc").all()


def test_save_load_round_trip_gives_identical_rows(tmp_path, rng):
    suite = filled_suite(rng, evaluated_classes=[0, 11, 13])
    path = tmp_path / "run" / "counts.npz"
    suite.save_counts(path)
    assert os.listdir(path.parent) == ["counts.npz"]  # no temp file left behind
    loaded = MetricSuite.load_counts(path)
    np.testing.assert_array_equal(loaded.confusion.counts, suite.confusion.counts)
    np.testing.assert_array_equal(loaded.trimap.total, suite.trimap.total)
    np.testing.assert_array_equal(loaded.objects.table, suite.objects.table)
    prov = {"git_sha": "abc", "created": "2024-01-01T00:00:00Z"}
    original = pd.DataFrame(suite.rows(IDENTITY, prov))
    for rederived in (loaded.rows(IDENTITY, prov), rows_from_counts(path, IDENTITY, prov)):
        pd.testing.assert_frame_equal(pd.DataFrame(rederived), original)
    # Through the CSV store as well.
    write_rows(tmp_path / "a.csv", suite.rows(IDENTITY, prov))
    write_rows(tmp_path / "b.csv", rows_from_counts(path, IDENTITY, prov))
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert len(read_rows(tmp_path / "a.csv")) == len(original)


def test_without_instances_and_without_targets(tmp_path, rng):
    suite = MetricSuite(3, ["a", "b", "c"], with_instances=False)
    labels = blocky_labels(rng, (1, 8, 8), 3)
    suite.process(noisy_prediction(rng, labels, 3), labels)
    rows = suite.rows(IDENTITY)
    assert {r["metric"] for r in rows} == {"miou", "pixel_accuracy", "iou", "trimap_accuracy"}
    suite.save_counts(tmp_path / "c.npz")
    assert MetricSuite.load_counts(tmp_path / "c.npz").rows(IDENTITY) == rows


def test_user_errors(tmp_path):
    with pytest.raises(DsbenchError, match="class_names"):
        MetricSuite(3, ["a", "b"])
    with pytest.raises(DsbenchError, match="no such counts file"):
        MetricSuite.load_counts(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(DsbenchError, match="bad.npz"):
        MetricSuite.load_counts(tmp_path / "bad.npz")
