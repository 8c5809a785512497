"""benchmark.regress: golden-reference comparison, report and refresh."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark.errors import DsbenchError
import yaml

from benchmark.regress import (MEAN_STAGE, TRAINED, TRAINING_FREE, compare, format_report, load_tolerances, provenance_path,
                               refresh_reference, regress, row_kinds)
from benchmark.results import METRICS, key_text, make_row, read_rows, to_frame, write_rows
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


def _per_run(report):
    """The report without the derived method means."""
    return report[report["stage"] != MEAN_STAGE]


def _verdicts(report):
    return _per_run(report)[_per_run(report)["verdict"] != "ok"]


def test_identical_rows_pass(tmp_path, rows):
    report, passed = regress(*_files(tmp_path, rows, _changed(rows, "miou", "uniform", 0.0)), TOLERANCES)
    assert passed
    assert set(report["verdict"]) == {"ok", "ignored"}
    assert len(_per_run(report)) == len(rows)
    assert len(report) == len(rows) + 2  # one mean over runs per method


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
    assert (_per_run(report)["verdict"] == "better").sum() == 2  # two resolutions, seed 0
    means = report[report["stage"] == MEAN_STAGE].set_index("method")
    assert means.loc["edge_based", "verdict"] == "better" and means.loc["edge_based", "delta"] == pytest.approx(0.01)


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
    assert list(_per_run(report).loc[~report["passed"], "verdict"]) == ["status ok->failed"]
    # The other way round (a failed row now has a number) is a recovery: reported, passes.
    report, passed = regress(*_files(tmp_path, current, rows), TOLERANCES)
    assert passed and "status failed->ok" in set(report["verdict"])


def test_default_tolerances_catch_a_002_drop_for_every_accuracy_metric():
    tolerances = load_tolerances(TOLERANCES)
    for metric, unit in METRICS.items():
        if unit == "fraction" and metric not in tolerances.ignore:
            for kind in (TRAINED, TRAINING_FREE):
                tol = tolerances.for_metric(metric, unit, kind)
                assert not tol.allows(0.6, 0.58), (metric, kind)
                assert not tol.allows(0.6, 0.62), (metric, kind)
    for metric in ("macs", "flops", "params", "unsupported_ops"):
        assert tolerances.for_metric(metric, METRICS[metric]).exact
    assert {"latency_ms", "train_iters_per_s", "eval_images_per_s", "peak_memory_mib"} <= tolerances.ignore


def test_bad_tolerance_files_are_clear_errors(tmp_path, rows):
    files = _files(tmp_path, rows, rows)
    cases = {
        "trained: {miuo: {abs: 0.005}}\n": "unknown metric 'miuo'; did you mean miou",
        "trained: {miou: {absolute: 0.005}}\n": "unknown key",
        "trained: {miou: {abs: lots}}\n": "not a number",
        "trained: {miou: {abs: yes}}\n": "is a boolean",
        "trained: {margin: true}\n": "is a boolean",
        "training_free: {default: {abs: -1}}\n": "finite number >= 0",
        "traned: {miou: {abs: 0.005}}\n": "did you mean trained",
        "ignore: latency_ms\n": "must be a list",
        "trained: {miou: [\n": "not valid YAML",
    }
    for text, message in cases.items():
        (tmp_path / "tol.yaml").write_text(text)
        with pytest.raises(DsbenchError, match=message):
            regress(*files, tmp_path / "tol.yaml")
    (tmp_path / "tol.yaml").write_text("trained: {default: {abs: 1e-4}}\n")  # YAML 1.1 reads 1e-4 as a string
    assert load_tolerances(tmp_path / "tol.yaml").trained_default.abs == pytest.approx(1e-4)
    with pytest.raises(DsbenchError, match="no such tolerance file"):
        regress(*files, tmp_path / "nope.yaml")


def _learned_sampler_rows():
    """Two runs, uniform (no sampler parameters) and deformation (a learned sampler)."""
    identity = {"dataset": "synthcity", "split": "val", "model": "unet", "height": 16, "width": 32, "seed": 0}
    out = []
    for method, sampler_params in (("uniform", 0), ("deformation", 6586)):
        ident = {**identity, "method": method, "run_id": f"r-{method}"}
        out += [make_row(ident, "params", sampler_params, "count", stage="sampler"),
                make_row(ident, "miou", 0.3, "fraction"),
                make_row(ident, "miou_intrinsic", 0.9, "fraction"),
                make_row(ident, "class_frequency", 0.2, "fraction", stage="sampled", class_name="road"),
                make_row(ident, "class_frequency", 0.2, "fraction", stage="original", class_name="road"),
                make_row(ident, "prior_discrepancy", 0.001, "fraction", stage="nearest@0.5", class_name="road")]
    return out


def test_row_kinds_follow_the_metric_and_whether_the_sampler_learns():
    df = to_frame(_learned_sampler_rows())
    kinds = {(r["method"], r["metric"], key_text(r["stage"])): k for r, k in zip(df.to_dict("records"), row_kinds(df))}
    assert kinds[("uniform", "miou", "")] == kinds[("deformation", "miou", "")] == TRAINED
    assert kinds[("uniform", "miou_intrinsic", "")] == TRAINING_FREE
    assert kinds[("deformation", "miou_intrinsic", "")] == TRAINED
    assert kinds[("uniform", "class_frequency", "sampled")] == TRAINING_FREE
    assert kinds[("deformation", "class_frequency", "sampled")] == TRAINED
    assert kinds[("deformation", "class_frequency", "original")] == TRAINING_FREE
    assert kinds[("deformation", "prior_discrepancy", "nearest@0.5")] == TRAINING_FREE
    assert kinds[("deformation", "params", "sampler")] == TRAINING_FREE


@pytest.mark.parametrize("metric, stage, delta", [
    ("miou_intrinsic", None, 1e-4),          # Jin's intrinsic error of a fixed sampler
    ("class_frequency", "sampled", 1e-5),    # sampled class frequency of a fixed sampler
    ("prior_discrepancy", "nearest@0.5", 1e-6),
])
def test_a_changed_training_free_quantity_fails(tmp_path, metric, stage, delta):
    rows = _learned_sampler_rows()
    changed = _changed(rows, metric, "uniform", delta, **({"stage": stage} if stage else {}))
    report, passed = regress(*_files(tmp_path, rows, changed), TOLERANCES)
    assert not passed
    bad = report[~report["passed"]]
    assert list(bad["metric"]) == [metric] and list(bad["kind"]) == [TRAINING_FREE]
    # The same change of a learned sampler's statistic is within its trained floor.
    relaxed = _changed(rows, metric, "deformation", delta, **({"stage": stage} if stage else {}))
    if metric != "prior_discrepancy":
        assert regress(*_files(tmp_path, rows, relaxed), TOLERANCES)[1]


def _calibration(tmp_path, **devs):
    path = tmp_path / "reference.calibration.yaml"
    path.write_text(yaml.safe_dump({"metrics": {m: {"kernel_max_abs_dev": d} for m, d in devs.items()}}))
    return path


def test_calibrated_variation_widens_trained_rows_only(tmp_path, rows):
    metrics, reference = _files(tmp_path, rows, _changed(rows, "miou", "uniform", 0.012, seed=0, height=32))
    assert not regress(metrics, reference, TOLERANCES)[1]          # floor 0.005
    _calibration(tmp_path, miou=0.008)                              # beside the reference: found by default
    report, passed = regress(metrics, reference, TOLERANCES)
    assert passed and report.attrs["calibration"].endswith("reference.calibration.yaml")
    assert "abs 0.016 (calibrated)" in set(report.loc[report["metric"] == "miou", "tolerance"])
    _, passed = regress(*_files(tmp_path, rows, _changed(rows, "miou", "uniform", 0.02, seed=0, height=32)),
                        TOLERANCES)
    assert not passed
    (tmp_path / "reference.calibration.yaml").write_text("metrics: {miou: {kernel_max_abs_dev: yes}}\n")
    with pytest.raises(DsbenchError, match="boolean"):
        regress(metrics, reference, TOLERANCES)


def test_not_finite_values_fail():
    reference = to_frame(_learned_sampler_rows())
    current = reference.copy()
    current.loc[(current["metric"] == "miou") & (current["method"] == "uniform"), "value"] = float("nan")
    report = compare(reference, current, load_tolerances(TOLERANCES))
    assert list(report.loc[~report["passed"], "verdict"]) == ["not finite"]


def test_the_gate_never_passes_without_comparing(tmp_path, rows):
    metrics, reference = _files(tmp_path, rows, rows)
    header_only = tmp_path / "empty.csv"
    header_only.write_text(reference.read_text().splitlines()[0] + "\n")
    with pytest.raises(DsbenchError, match="no rows; the .* holds nothing to compare"):
        regress(metrics, header_only, TOLERANCES)
    with pytest.raises(DsbenchError, match="no rows; the .* holds nothing to compare"):
        regress(header_only, reference, TOLERANCES)
    other = _files(tmp_path / "other", rows, [{**r, "dataset": "cityscapes"} for r in rows])[0]
    with pytest.raises(DsbenchError, match="none of its .* rows matches"):
        regress(other, reference, TOLERANCES)
    bad = tmp_path / "bad.csv"
    bad.write_text(reference.read_text().replace(",32,64,", ",sixteen,64,", 1))
    with pytest.raises(DsbenchError):
        regress(metrics, bad, TOLERANCES)


def test_calibrate_measures_trained_rows_and_rejects_moving_training_free_rows(tmp_path, rows):
    from benchmark.regress import calibrate, load_variation

    reference = tmp_path / "ref.csv"
    write_rows(reference, rows)
    kernel = tmp_path / "kernel.csv"
    write_rows(kernel, _changed(rows, "miou", "edge_based", 0.003, seed=0, height=32))
    seed = tmp_path / "seed.csv"
    write_rows(seed, [{**r, "seed": 5} for r in _changed(rows, "miou", "uniform", -0.04, seed=0) if r["seed"] == 0])
    single = tmp_path / "single.csv"   # calibration needs a single-seed reference
    write_rows(single, [r for r in rows if r["seed"] == 0])
    out = tmp_path / "single.calibration.yaml"
    data, summary = calibrate(single, {"k": kernel}, {"s": seed}, out, TOLERANCES, command="test")
    assert data["metrics"]["miou"]["kernel_max_abs_dev"] == pytest.approx(0.003)
    assert data["metrics"]["miou"]["seed_max_abs_dev"] == pytest.approx(0.04)
    assert load_variation(out)["miou"] == pytest.approx(0.003)
    assert "| miou |" in summary
    with pytest.raises(DsbenchError, match="single-seed"):
        calibrate(reference, {"k": kernel}, {}, out, TOLERANCES)
    moved = tmp_path / "moved.csv"
    write_rows(moved, _changed(rows, "fraction_pixels_sampled", "uniform", 0.01))
    with pytest.raises(DsbenchError, match="training-free row"):
        calibrate(single, {"k": moved}, {}, out, TOLERANCES)


def test_format_report_has_the_columns_and_the_verdict(tmp_path, rows):
    report, _ = regress(*_files(tmp_path, rows, _changed(rows, "miou", "uniform", -0.02, seed=0, height=32)),
                        TOLERANCES)
    text = format_report(report)
    header = text.splitlines()[0].split()
    assert header == ["row", "metric", "reference", "now", "delta", "tolerance", "verdict"]
    assert "worse (FAIL)" in text and "FAILED (2 rows)" in text  # the run and its method's mean
    assert len(text.splitlines()) == 5  # header, the failing row and mean, blank, summary
    assert "PASSED" in format_report(regress(*_files(tmp_path, rows, rows), TOLERANCES)[0])
    assert len(format_report(report, show_all=True).splitlines()) == len(report) + 3


def test_a_method_wide_drop_fails_through_its_mean(tmp_path, rows):
    # Every run of uniform 0.012 lower: within the per-run calibrated tolerance (2 x 0.008), not
    # within its mean's (2 x 0.003).
    metrics, reference = _files(tmp_path, rows, _changed(rows, "miou", "uniform", -0.012))
    _calibration(tmp_path, miou=0.008, **{"miou (mean over runs)": 0.003})
    report, passed = regress(metrics, reference, TOLERANCES)
    assert not passed
    bad = report[~report["passed"]]
    assert list(bad["stage"]) == [MEAN_STAGE] and list(bad["method"]) == ["uniform"]
    assert bad["tolerance"].iloc[0] == "abs 0.006 (calibrated)"


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
    assert "1 changed, 0 added, 4 removed" in diff and MEAN_STAGE not in diff
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
    assert "AVX2" in warning and "AVX512" in warning and "calibrated" in warning and "\n" not in warning
    assert f"export {CI_NUMERICS}" in (ROOT / ".ci" / "run").read_text()


def test_a_changed_setting_under_the_same_label_fails(tmp_path, rows):
    reference = [{**r, "params": '{"method":"uniform","options":{"image_mode":"bilinear"}}'} for r in rows]
    current = [{**r, "run_id": r["run_id"] + "-rerun"} for r in reference]
    target = next(r for r in current if r["metric"] == "miou")
    target["params"] = '{"method":"uniform","options":{"image_mode":"bicubic"}}'
    report, passed = regress(*_files(tmp_path, reference, current), TOLERANCES)
    assert not passed
    assert list(_per_run(report).loc[~report["passed"], "verdict"]) == ["params changed"]


# Units of wall-time and memory measurements: they depend on the machine and its load.
TIMING_UNITS = {"s", "ms", "MiB", "img/s", "it/s"}


def test_every_timing_metric_of_the_committed_reference_is_ignored():
    # A timing compared with a tight tolerance fails the gate on any other machine (seen:
    # the superpixel track's seconds_per_image, compared at abs 1e-6).
    reference = pd.concat([read_rows(ROOT / "results" / "reference" / name) for name in ("ci.csv", "ci_weights.csv")])
    timings = set(reference.loc[reference["unit"].isin(TIMING_UNITS), "metric"])
    assert timings and timings <= set(load_tolerances(TOLERANCES).ignore), timings
