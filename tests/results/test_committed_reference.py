"""The committed CI reference, its calibration and the committed weights' reference catch what
the gate must catch: a 0.02 mIoU drop of any method, one MAC, a changed training-free number."""
from pathlib import Path

import pytest

from benchmark.regress import MEAN_STAGE, calibration_path, compare, load_tolerances, load_variation
from benchmark.results import read_rows

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference" / "ci.csv"
WEIGHTS_REFERENCE = ROOT / "results" / "reference" / "ci_weights.csv"
TOLERANCES = ROOT / "workflows" / "tolerances.yaml"


def gate(reference_csv):
    reference = read_rows(reference_csv)
    tolerances = load_tolerances(TOLERANCES, known_metrics=sorted(set(reference["metric"])))
    tolerances.variation = load_variation(calibration_path(reference_csv))
    return reference, tolerances


def moved(df, where, delta):
    out = df.copy()
    out.loc[where(out), "value"] += delta
    out["run_id"] = out["run_id"] + "-now"
    return out


def test_the_unchanged_reference_passes():
    for csv in (REFERENCE, WEIGHTS_REFERENCE):
        reference, tolerances = gate(csv)
        assert compare(reference, moved(reference, lambda d: d["metric"] == "none", 0), tolerances)["passed"].all()


@pytest.mark.parametrize("method", sorted(set(read_rows(REFERENCE)["method"]) - {"edge_based_aux"}))
def test_a_002_miou_drop_of_any_method_fails(method):
    reference, tolerances = gate(REFERENCE)
    if not ((reference["method"] == method) & (reference["metric"] == "miou")).any():
        pytest.skip(f"{method} has no mIoU row")
    # trained: the drop of the whole method shows in its mean over runs
    report = compare(reference, moved(reference, lambda d: (d["method"] == method) & (d["metric"] == "miou"), -0.02),
                     tolerances)
    mean = report[(report["method"] == method) & (report["stage"] == MEAN_STAGE)]
    assert len(mean) == 1 and not mean["passed"].any()
    # committed weights: a single run's drop fails on its own row
    weights, weight_tolerances = gate(WEIGHTS_REFERENCE)
    report = compare(weights, moved(weights, lambda d: (d["method"] == method) & (d["metric"] == "miou"), -0.02),
                     weight_tolerances)
    rows = report[(report["method"] == method) & (report["metric"] == "miou") & (report["stage"] != MEAN_STAGE)]
    assert len(rows) == 1 and not rows["passed"].any()


def test_one_mac_and_a_changed_intrinsic_error_of_a_fixed_sampler_fail():
    reference, tolerances = gate(REFERENCE)
    macs = lambda d: (d["metric"] == "macs") & (d["stage"] == "total") & (d["method"] == "edge_based") & (d["height"] == 16)
    report = compare(reference, moved(reference, macs, 1), tolerances)
    assert list(report.loc[~report["passed"], "metric"]) == ["macs"]
    intrinsic = lambda d: (d["metric"] == "miou_intrinsic") & (d["method"] == "uniform") & (d["height"] == 16)
    report = compare(reference, moved(reference, intrinsic, 1e-3), tolerances)
    assert list(report.loc[~report["passed"], "kind"]) == ["training_free"]
