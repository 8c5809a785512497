"""segment_split on a tiny synthcity: label maps on disk, the per-pair table, tidy rows per requested
count with the measured count recorded, skipped rows for untrained deep members, no partial output."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from benchmark.engine.superpixels import (PAIRS_FILE, UNTRAINED, evaluate_segmentations, read_label_map,
                                          segment_split)
from benchmark.errors import DsbenchError
from benchmark.results import read_rows

COUNTS = (20, 50)
IDS = ["synthval_000000_000019", "synthval_000001_000019"]
MEANS = ["boundary_recall", "boundary_precision", "asa", "undersegmentation_error", "compactness",
         "explained_variation", "measured_superpixels", "seconds_per_image", "evaluated_pairs"]


@pytest.fixture(scope="module", params=["slic", "felzenszwalb"])
def run(request, tiny_synthcity, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    rows = segment_split(request.param, None, "synthcity", tiny_synthcity, "val", COUNTS, out)
    return request.param, out, rows


def test_every_label_map_is_written_per_requested_count(run):
    _, out, _ = run
    for n in COUNTS:
        assert sorted(p.stem for p in (out / str(n)).glob("*.png")) == IDS
        labels = read_label_map(out / str(n) / f"{IDS[0]}.png")
        assert labels.shape == (64, 128) and labels.min() == 0
    assert not list(out.rglob(".*"))  # no temporary files


def test_rows_are_the_means_of_the_pairs_with_the_measured_count(run):
    method, out, rows = run
    stored = read_rows(out / "metrics.csv")
    key = ["metric", "n_superpixels"]
    assert stored[key].astype(str).equals(rows[key].astype(str))
    np.testing.assert_allclose(stored["value"].to_numpy(float), rows["value"].to_numpy(float))
    assert (rows["status"] == "ok").all() and set(rows["metric"]) == set(MEANS)
    assert set(rows["n_superpixels"]) == set(COUNTS) and len(rows) == len(COUNTS) * len(MEANS)
    first = rows.iloc[0]
    assert (first["track"], first["method"], first["model"], first["dataset"], first["split"]) == \
        ("superpixels", method, "", "synthcity", "val")
    assert (first["height"], first["width"]) == (64, 128)
    assert json.loads(first["params"])["method"] == method and json.loads(first["params"])["options"]
    pairs = pd.read_csv(out / PAIRS_FILE)
    assert len(pairs) == len(COUNTS) * len(IDS)  # one annotator per synthcity image
    for n in COUNTS:
        mine = rows[rows["n_superpixels"] == n].set_index("metric")["value"]
        measured = [len(np.unique(read_label_map(out / str(n) / f"{i}.png"))) for i in IDS]
        assert mine["measured_superpixels"] == pytest.approx(np.mean(measured))
        of_n = pairs[pairs["n_superpixels"] == n]
        assert mine["boundary_recall"] == pytest.approx(of_n["boundary_recall"].mean())
        assert mine["seconds_per_image"] > 0 and mine["evaluated_pairs"] == 2
    assert rows.set_index(["metric", "n_superpixels"])["value"]["measured_superpixels"].is_monotonic_increasing


def test_the_maps_on_disk_score_as_the_run_scored_them(run, tiny_synthcity):
    _, out, _ = run
    again = evaluate_segmentations(out / str(COUNTS[0]), "synthcity", tiny_synthcity, "val")
    pairs = pd.read_csv(out / PAIRS_FILE)
    pairs = pairs[pairs["n_superpixels"] == COUNTS[0]].reset_index(drop=True)
    for column in again.columns.drop("image_id"):
        np.testing.assert_allclose(again[column].to_numpy(float), pairs[column].to_numpy(float), err_msg=column)


def test_untrained_deep_members_are_skipped_with_the_reason(tiny_synthcity, tmp_path):
    rows = segment_split("ssn", None, "synthcity", tiny_synthcity, "val", COUNTS, tmp_path)
    assert (rows["status"] == "skipped").all() and (rows["reason"] == UNTRAINED).all()
    assert set(rows["n_superpixels"]) == set(COUNTS)
    assert not list(tmp_path.glob("*/*.png")) and not (tmp_path / PAIRS_FILE).exists()


@pytest.mark.parametrize("kwargs,needle", [
    ({"method": "slick"}, "did you mean slic"),
    ({"options": {"compactnes": 1.0}}, "has no option compactnes; its options are compactness, max_num_iter"),
    ({"n_values": [0]}, "positive integers"),
    ({"n_values": [20, 20]}, "repeat"),
    ({"limit": 0}, "limit"),
    ({"split": "test"}, "test"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tiny_synthcity, tmp_path, kwargs, needle):
    args = {"method": "slic", "options": None, "dataset": "synthcity", "root": tiny_synthcity, "split": "val",
            "n_values": [20], "out_dir": tmp_path / "out", **kwargs}
    with pytest.raises(DsbenchError, match=needle):
        segment_split(**args)
    assert not (tmp_path / "out").exists()


def test_a_run_that_fails_midway_leaves_no_label_map_and_no_rows(tiny_synthcity, tmp_path):
    # 20 works on the first image, 64 x 128 + 1 superpixels cannot: the maps written are removed.
    with pytest.raises(DsbenchError, match="n_superpixels must be an integer in"):
        segment_split("slic", None, "synthcity", tiny_synthcity, "val", [20, 64 * 128 + 1], tmp_path)
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.csv"))


def test_options_and_limit_reach_the_run(tiny_synthcity, tmp_path):
    (tmp_path / "20").mkdir()
    (tmp_path / "20" / "stale.png").write_bytes(b"")  # a map of an earlier run
    rows = segment_split("slic", {"compactness": 30.0}, "synthcity", tiny_synthcity, "val", [20], tmp_path, limit=1)
    assert json.loads(rows["params"][0])["options"] == {"compactness": 30.0, "max_num_iter": 10}
    assert rows["run_id"][0].startswith("synthcity-slic-val-")  # non-default options: their own run id
    assert sorted(p.stem for p in (tmp_path / "20").glob("*.png")) == IDS[:1]
    assert rows.set_index("metric")["value"]["evaluated_pairs"] == 1
