"""Verdicts on synthetic per-image counts with a known effect, in each direction."""
import numpy as np
import pandas as pd
import pytest

from benchmark.report import evaluate_claims, load_claims
from benchmark.report.verdicts import kendall_tau, overall

from report_helpers import claim_text, write_claims


def verdicts(tmp_path, toy, *texts, runs=True, resamples=300):
    runs_dir, rows = toy
    claims = load_claims(write_claims(tmp_path / "claims.yaml", "".join(texts)))
    return evaluate_claims(claims, rows, runs_dir if runs else None, resamples=resamples, seed=0).set_index("claim")


def test_a_known_effect_gets_the_right_verdict_in_each_direction(tmp_path, toy):
    v = verdicts(tmp_path, toy,
                 claim_text(id="up"),                                    # better > baseline: true
                 claim_text(id="down", direction="<"),                   # better < baseline: false
                 claim_text(id="none", treatment="same"),                # no effect, only pixel noise
                 claim_text(id="trimap", metric="trimap_accuracy, band_px: 1"))
    assert v.loc["up", "verdict"] == "reproduced" and v.loc["up", "ci_low"] > 0
    assert v.loc["down", "verdict"] == "not reproduced" and v.loc["down", "ci_low"] > 0
    assert v.loc["none", "verdict"] == "inconclusive" and v.loc["none", "ci_low"] < 0 < v.loc["none", "ci_high"]
    assert "includes 0" in v.loc["none", "reason"]
    assert v.loc["trimap", "verdict"] == "reproduced"
    # the measured difference is the stored rows' difference
    rows = toy[1]
    miou = rows[rows["metric"] == "miou"].set_index("method")["value"]
    assert v.loc["up", "measured"] == pytest.approx(miou["better"] - miou["baseline"], abs=1e-12)
    assert v.loc["up", "images"] == 24 and v.loc["up", "seeds"] == 1


def test_equivalence_claims_inside_and_outside_the_margin(tmp_path, toy):
    v = verdicts(tmp_path, toy,
                 claim_text(id="inside", treatment="same", direction="~", extra="margin: 0.3"),
                 claim_text(id="outside", direction="~", extra="margin: 0.01"),
                 claim_text(id="crossing", treatment="same", direction="~", extra="margin: 0.001"))
    assert v.loc["inside", "verdict"] == "reproduced"
    assert v.loc["outside", "verdict"] == "not reproduced" and v.loc["outside", "ci_low"] > 0.01
    assert v.loc["crossing", "verdict"] == "inconclusive"


def test_missing_rows_and_missing_counts_are_inconclusive_with_the_reason(tmp_path, toy):
    v = verdicts(tmp_path, toy, claim_text(id="aerial", dataset="synthaerial"),
                 claim_text(id="gone", treatment="absent_method"))
    assert v.loc["aerial", "verdict"] == "inconclusive"
    assert v.loc["aerial", "reason"] == "no rows for dataset synthaerial"
    assert "no rows for" in v.loc["gone", "reason"] and "absent_method" in v.loc["gone", "reason"]
    v = verdicts(tmp_path, toy, claim_text(id="up"), runs=False)
    assert v.loc["up", "verdict"] == "inconclusive" and "no per-image counts" in v.loc["up", "reason"]
    assert np.isfinite(v.loc["up", "measured"]) and np.isnan(v.loc["up", "ci_low"])


def test_same_seed_same_numbers(tmp_path, toy):
    a = verdicts(tmp_path, toy, claim_text(id="up"), claim_text(id="none", treatment="same"))
    b = verdicts(tmp_path, toy, claim_text(id="up"), claim_text(id="none", treatment="same"))
    pd.testing.assert_frame_equal(a, b)


def test_several_seeds_are_resampled(tmp_path):
    from report_helpers import toy_images, toy_run
    from benchmark.results import to_frame

    runs = tmp_path / "runs"
    images = toy_images(10)
    difficulty = np.zeros(len(images))
    rows = []
    for seed in (0, 1, 2):
        rows += toy_run(runs, "better", 0.8, difficulty, images, seed=seed, noise_seed=10 + seed)
        rows += toy_run(runs, "baseline", 0.6, difficulty, images, seed=seed, noise_seed=20 + seed)
    claims = load_claims(write_claims(tmp_path / "claims.yaml", claim_text(id="up")))
    v = evaluate_claims(claims, to_frame(rows), runs, resamples=100)
    assert v["seeds"].tolist() == [3] and v["verdict"].tolist() == ["reproduced"]
    frame = to_frame(rows)
    miou = frame[frame["metric"] == "miou"].groupby("method")["value"].mean()
    assert v["measured"].iloc[0] == pytest.approx(miou["better"] - miou["baseline"], abs=1e-12)


def test_deterministic_quantities_have_no_interval(tmp_path):
    from benchmark.results import make_row, to_frame

    def row(method, value):
        identity = dict(run_id=f"r-{method}", dataset="toy", split="val", track="input_downsampling", method=method,
                        params="{}", model="net", height=16, width=32, seed=0)
        return make_row(identity, "macs", value, "MAC", stage="total")

    claims = load_claims(write_claims(tmp_path / "claims.yaml",
                                      claim_text(id="cheaper", direction="<", metric="macs, stage: total")))
    v = evaluate_claims(claims, to_frame([row("better", 10), row("baseline", 40)]), None)
    assert v["verdict"].tolist() == ["reproduced"] and np.isnan(v["ci_low"].iloc[0])
    assert "deterministic" in v["reason"].iloc[0] and v["measured"].iloc[0] == -30


def test_kendall_tau_and_overall():
    assert kendall_tau([1, 2, 3], [1, 2, 3]) == 1 and kendall_tau([1, 2, 3], [3, 2, 1]) == -1
    assert overall(["reproduced", "reproduced"]) == "reproduced"
    assert overall(["reproduced", "inconclusive"]) == "inconclusive"
    assert overall(["reproduced", "not reproduced"]) == "not reproduced"


def test_the_superpixel_track_resamples_its_image_annotator_pairs(tmp_path):
    """Its rows are means over (image, annotator) pairs (pairs.csv): images are resampled, pairs follow."""
    from benchmark.engine.superpixels import PAIR_METRICS
    from benchmark.results import make_row, to_frame

    runs = tmp_path / "runs"
    rng = np.random.default_rng(0)
    rows = []
    for method, asa in (("hcssn", 0.9), ("ssn", 0.8)):
        pairs = pd.DataFrame([{"method": method, "n_superpixels": 400, "image_id": f"img{i}", "annotator": a,
                               "height": 32, "width": 32, **{m: 0.5 for m in PAIR_METRICS},
                               "asa": asa + rng.normal(0, 0.02), "measured_superpixels": 390, "seconds": 0.1}
                              for i in range(8) for a in range(2)])
        (runs / f"toy-superpixels-{method}").mkdir(parents=True)
        pairs.to_csv(runs / f"toy-superpixels-{method}" / "pairs.csv", index=False)
        identity = dict(run_id=f"toy-{method}-val", dataset="toy", split="val", track="superpixels", method=method,
                        params="{}", model="", height=None, width=None, seed=None)
        rows.append(make_row(identity, "asa", pairs["asa"].mean(), "fraction", n_superpixels=400))
    claims = load_claims(write_claims(tmp_path / "claims.yaml", claim_text(id="asa", treatment="hcssn",
                                                                           control="ssn", metric="asa")))
    v = evaluate_claims(claims, to_frame(rows), runs, resamples=100)
    assert v["verdict"].tolist() == ["reproduced"] and v["images"].tolist() == [8]
    assert v["scope"].tolist() == ["n_superpixels=400"]
    assert v["measured"].iloc[0] == pytest.approx(rows[0]["value"] - rows[1]["value"])


def test_an_interval_of_exactly_zero_is_inconclusive_not_a_refutation():
    from benchmark.report.verdicts import interval_verdict

    class Directional:  # the two fields interval_verdict reads
        direction, margin = ">", 0.0

    verdict, reason = interval_verdict(Directional(), 0.0, 0.0, 0.0)
    assert verdict == "inconclusive" and "no resample shows any difference" in reason
    assert interval_verdict(Directional(), -0.1, -0.2, -0.05)[0] == "not reproduced"
    assert interval_verdict(Directional(), 0.1, 0.05, 0.2)[0] == "reproduced"
