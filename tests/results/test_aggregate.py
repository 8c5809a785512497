"""benchmark.aggregate: run folders -> one sorted tidy file."""
from __future__ import annotations

import pandas as pd
import pytest

from benchmark.aggregate import aggregate
from benchmark.errors import DsbenchError
from benchmark.results import COLUMNS, METRICS, make_row, read_rows, sort_rows, write_rows
from paper_figures.synthetic import PROVENANCE, synthetic_rows


def _write_runs(runs, rows, name="metrics.csv"):
    """One folder per run id (results/runs/<run_id>/<name>); returns the rows per folder."""
    by_run = {}
    for row in rows:
        by_run.setdefault(row["run_id"], []).append(row)
    for run_id, run_rows in by_run.items():
        write_rows(runs / run_id / name, run_rows)
    return by_run


def test_aggregate_equals_concatenation_of_run_files(tmp_path):
    rows_a = synthetic_rows(methods=("uniform",), resolutions=((32, 64),), seeds=(0,))
    rows_b = synthetic_rows(methods=("edge_based",), resolutions=((32, 64),), seeds=(0,))
    runs = tmp_path / "runs"
    _write_runs(runs, rows_a)
    # A second file kind, one level deeper, must be found too.
    _write_runs(runs / "nested", rows_b, name="cost.csv")
    out = tmp_path / "metrics.csv"
    df = aggregate(runs, out)
    expected = pd.concat([read_rows(p) for p in sorted(runs.rglob("*.csv"))], ignore_index=True)
    assert list(df.columns) == COLUMNS
    assert len(df) == len(rows_a) + len(rows_b)
    pd.testing.assert_frame_equal(read_rows(out), sort_rows(expected), check_dtype=False)
    # Written sorted: aggregating again gives the same bytes (diffs cleanly in review).
    first = out.read_bytes()
    aggregate(runs, out)
    assert out.read_bytes() == first


def test_aggregate_ignores_files_that_are_not_row_files(tmp_path):
    runs = tmp_path / "runs"
    _write_runs(runs, synthetic_rows(methods=("uniform",), resolutions=((32, 64),), seeds=(0,)))
    (runs / "run-uniform-32x64-s0" / "confusion.csv").write_text("0,1\n1,0\n")
    assert len(aggregate(runs, tmp_path / "m.csv")) > 0


def test_duplicate_rows_in_two_runs_name_both_files(tmp_path):
    rows = synthetic_rows(methods=("uniform",), resolutions=((32, 64),), seeds=(0,))
    write_rows(tmp_path / "runs" / "a" / "metrics.csv", rows)
    # The same configuration again under another run id: ambiguous.
    write_rows(tmp_path / "runs" / "b" / "metrics.csv", [{**r, "run_id": "other"} for r in rows])
    with pytest.raises(DsbenchError, match=r"duplicate result .*runs/a/metrics.csv and .*runs/b/metrics.csv"):
        aggregate(tmp_path / "runs", tmp_path / "metrics.csv")
    assert not (tmp_path / "metrics.csv").exists()


def test_duplicate_rows_within_one_file(tmp_path):
    identity = {"run_id": "r", "dataset": "synthcity", "split": "val", "method": "uniform", "model": "m",
                "height": 8, "width": 16, "seed": 0}
    rows = [make_row(identity, "miou", 0.5, METRICS["miou"], provenance=PROVENANCE)] * 2
    write_rows(tmp_path / "runs" / "r" / "metrics.csv", rows)
    with pytest.raises(DsbenchError, match="twice in"):
        aggregate(tmp_path / "runs", tmp_path / "metrics.csv")


def test_same_metric_at_different_keys_is_not_a_duplicate(tmp_path):
    identity = {"run_id": "r", "dataset": "synthcity", "split": "val", "method": "uniform", "model": "m",
                "height": 8, "width": 16, "seed": 0}
    rows = [make_row(identity, "macs", 10, "MAC", stage="network"),
            make_row(identity, "macs", 12, "MAC", stage="total"),
            make_row(identity, "trimap_accuracy", 0.5, "fraction", band_px=1),
            make_row(identity, "trimap_accuracy", 0.6, "fraction", band_px=2)]
    write_rows(tmp_path / "runs" / "r" / "metrics.csv", rows)
    assert len(aggregate(tmp_path / "runs", tmp_path / "metrics.csv")) == 4


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(DsbenchError, match="no such runs folder"):
        aggregate(tmp_path / "missing", tmp_path / "m.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DsbenchError, match="no run results"):
        aggregate(tmp_path / "empty", tmp_path / "m.csv")


def test_malformed_run_file_names_the_file(tmp_path):
    bad = tmp_path / "runs" / "r" / "metrics.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("run_id,metric\nr,miou\n")
    with pytest.raises(DsbenchError, match=r"runs/r/metrics.csv: missing column"):
        aggregate(tmp_path / "runs", tmp_path / "m.csv")
