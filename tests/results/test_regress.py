"""benchmark.regress: golden-reference comparison, report and refresh."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark.errors import DsbenchError
from benchmark.regress import format_report, load_tolerances, provenance_path, refresh_reference, regress
from benchmark.results import METRICS, read_rows, write_rows
from paper_figures.synthetic import synthetic_rows

ROOT = Path(__file__).resolve().parents[2]
TOLERANCES = ROOT / "workflows" / "tolerances.yaml"


@pytest.fixture
def rows():
    return synthetic_rows(methods=("uniform", "edge_based"), resolutions=((32, 64), (64, 128)), seeds=(0, 1))


def _files(tmp_path, reference_rows, current_rows):
    write_rows(tmp_path / "reference.csv", reference_rows)
    write_rows(tmp_path / "metrics.csv", current_rows)
    return tmp_path / "metrics.csv", tmp_path / "reference.csv"


def _changed(rows, metric, method, delta, **where):
    """Copy of rows where ``metric`` of ``method`` (optionally filtered) moves by ``delta``; new run ids."""
    out = []
    for r in rows:
        r = {**r, "run_id": r["run_id"] + "-rerun"}  # run ids always differ between runs
        if r["metric"] == metric and r["method"] == method and all(r[k] == v for k, v in where.items()):
            r["value"] = r["value"] + delta
        out.append(r)
    return out


def _verdicts(report):
    return report[report["verdict"] != "ok"]


def test_identical_rows_pass(tmp_path, rows):
    report, passed = regress(*_files(tmp_path, rows, _changed(rows, "miou", "uniform", 0.0)), TOLERANCES)
    assert passed
    assert set(report["verdict"]) == {"ok", "ignored"}
    assert len(report) == len(rows)


@pytest.mark.parametrize("method", ["uniform", "edge_based"])
def test_a_002_miou_drop_fails_as_worse(tmp_path, rows, method):
    current = _changed(rows, "miou", method, -0.02, height=64, seed=1)
    report, passed = regress(*_files(tmp_path, rows, current), TOLERANCES)
    assert not passed
    bad = _verdicts(report[report["metric"] != "latency_ms"])
    assert list(bad["verdict"]) == ["worse"] and list(bad["method"]) == [method]
    assert bad["delta"].iloc[0] == pytest.approx(-0.02)


def test_a_002_miou_jump_fails_as_better(tmp_path, rows):
    report, passed = regress(*_files(tmp_path, rows, _changed(rows, "miou", "edge_based", +0.02, seed=0)),
                             TOLERANCES)
    assert not passed
    assert set(report.loc[~report["passed"], "verdict"]) == {"better"}
    assert (report["verdict"] == "better").sum() == 2  # two resolutions, seed 0


def test_drift_within_tolerance_passes(tmp_path, rows):
    _, passed = regress(*_files(tmp_path, rows, _changed(rows, "miou", "uniform", 0.004)), TOLERANCES)
    assert passed


def test_one_mac_difference_fails(tmp_path, rows):
    current = _changed(rows, "macs", "edge_based", 1, stage="total", height=32, seed=0)
    report, passed = regress(*_files(tmp_path, rows, current), TOLERANCES)
    assert not passed
    bad = report[~report["passed"]]
    assert list(bad["metric"]) == ["macs"] and list(bad["verdict"]) == ["worse"]
    assert list(bad["tolerance"]) == ["exact"]


def test_more_macs_is_worse_fewer_is_better(tmp_path, rows):
    report, _ = regress(*_files(tmp_path, rows, _changed(rows, "macs", "uniform", -5, stage="network")), TOLERANCES)
    assert set(report.loc[~report["passed"], "verdict"]) == {"better"}


def test_missing_reference_row_fails_and_new_row_passes(tmp_path, rows):
    dropped = [r for r in rows if not (r["metric"] == "miou" and r["method"] == "edge_based" and r["seed"] == 1)]
    report, passed = regress(*_files(tmp_path, rows, dropped), TOLERANCES)
    assert not passed
    missing = report[report["verdict"] == "missing"]
    assert len(missing) == 2 and not missing["passed"].any()

    report, passed = regress(*_files(tmp_path, dropped, rows), TOLERANCES)
    assert passed
    assert (report["verdict"] == "new").sum() == 2


def test_latency_is_ignored(tmp_path, rows):
    current = _changed(rows, "latency_ms", "uniform", 1000.0)
    report, passed = regress(*_files(tmp_path, rows, current), TOLERANCES)
    assert passed
    assert set(report.loc[report["metric"] == "latency_ms", "verdict"]) == {"ignored"}


def test_status_ok_to_failed_fails(tmp_path, rows):
    current = [dict(r) for r in rows]
    target = next(r for r in current if r["metric"] == "miou" and r["method"] == "edge_based")
    target.update(status="failed", reason="out of memory", value=None)
    report, passed = regress(*_files(tmp_path, rows, current), TOLERANCES)
    assert not passed
    assert list(report.loc[~report["passed"], "verdict"]) == ["status ok->failed"]
    # The other way round (a failed row now has a number) is a recovery: reported, passes.
    report, passed = regress(*_files(tmp_path, current, rows), TOLERANCES)
    assert passed and "status failed->ok" in set(report["verdict"])


def test_default_tolerances_catch_a_002_drop_for_every_accuracy_metric():
    tolerances = load_tolerances(TOLERANCES)
    for metric, unit in METRICS.items():
        if unit == "fraction" and metric not in tolerances.ignore:
            tol = tolerances.for_metric(metric, unit)
            assert not tol.allows(0.6, 0.58), metric
            assert not tol.allows(0.6, 0.62), metric
    for metric in ("macs", "flops", "params", "unsupported_ops"):
        assert tolerances.for_metric(metric, METRICS[metric]).exact
    assert {"latency_ms", "train_iters_per_s", "eval_images_per_s", "peak_memory_mib"} <= tolerances.ignore


def test_bad_tolerance_files_are_clear_errors(tmp_path, rows):
    files = _files(tmp_path, rows, rows)
    cases = {
        "miuo: {abs: 0.005}\n": "unknown metric 'miuo'; did you mean miou",
        "miou: {absolute: 0.005}\n": "unknown key",
        "miou: {abs: lots}\n": "not a number",
        "ignore: latency_ms\n": "must be a list",
        "miou: [\n": "not valid YAML",
    }
    for text, message in cases.items():
        (tmp_path / "tol.yaml").write_text(text)
        with pytest.raises(DsbenchError, match=message):
            regress(*files, tmp_path / "tol.yaml")
    (tmp_path / "tol.yaml").write_text("default: {abs: 1e-4}\n")  # YAML 1.1 reads 1e-4 as a string
    assert load_tolerances(tmp_path / "tol.yaml").default.abs == pytest.approx(1e-4)
    with pytest.raises(DsbenchError, match="no such tolerance file"):
        regress(*files, tmp_path / "nope.yaml")


def test_format_report_has_the_columns_and_the_verdict(tmp_path, rows):
    report, _ = regress(*_files(tmp_path, rows, _changed(rows, "miou", "uniform", -0.02, seed=0, height=32)),
                        TOLERANCES)
    text = format_report(report)
    header = text.splitlines()[0].split()
    assert header == ["row", "metric", "reference", "now", "delta", "tolerance", "verdict"]
    assert "worse (FAIL)" in text and "FAILED (1 rows)" in text
    assert len(text.splitlines()) == 4  # header, the failing row, blank, summary
    assert "PASSED" in format_report(regress(*_files(tmp_path, rows, rows), TOLERANCES)[0])
    assert len(format_report(report, show_all=True).splitlines()) == len(report) + 3


def test_refresh_reference_writes_rows_provenance_and_a_diff(tmp_path, rows):
    metrics, reference = tmp_path / "metrics.csv", tmp_path / "reference" / "metrics.csv"
    write_rows(metrics, rows)
    first = refresh_reference(metrics, reference)
    assert "New reference" in first
    pd.testing.assert_frame_equal(read_rows(reference), read_rows(metrics))
    sidecar = json.loads(provenance_path(reference).read_text())
    assert sidecar["commit"] == [rows[0]["git_sha"]]
    assert sidecar["device"] == [rows[0]["device"]] and sidecar["torch"] == [rows[0]["torch"]]
    assert sidecar["rows"] == len(rows) and sidecar["refreshed"]

    changed = _changed(rows, "miou", "edge_based", 0.01, seed=0, height=32)
    changed = [r for r in changed if not (r["metric"] == "latency_ms" and r["method"] == "uniform")]
    write_rows(metrics, changed)
    diff = refresh_reference(metrics, reference)
    assert "1 changed, 0 added, 4 removed" in diff
    assert "| row | old | new | delta | change |" in diff
    assert "edge_based" in diff and "better" in diff and "removed" in diff
    assert read_rows(reference)["value"].sum() == pytest.approx(read_rows(metrics)["value"].sum())


def test_different_devices_are_named_and_ci_pins_the_kernels(tmp_path, rows):
    from benchmark.regress import CI_NUMERICS, device_mismatch
    from benchmark.results import cpu_fingerprint

    assert cpu_fingerprint().startswith("cpu (")
    metrics, reference = _files(tmp_path, rows, _changed(rows, "miou", "uniform", 0.0))
    assert device_mismatch(read_rows(metrics), read_rows(reference)) is None
    other = [{**r, "device": "cpu (x86_64, AVX2)"} for r in rows]
    metrics, reference = _files(tmp_path, other, [{**r, "device": "cpu (x86_64, AVX512)"} for r in rows])
    warning = device_mismatch(read_rows(metrics), read_rows(reference))
    assert regress(metrics, reference, TOLERANCES)[0].attrs["device_note"] == warning
    assert "AVX2" in warning and "AVX512" in warning and CI_NUMERICS in warning and "\n" not in warning
    assert f"export {CI_NUMERICS}" in (ROOT / ".ci" / "run").read_text()
