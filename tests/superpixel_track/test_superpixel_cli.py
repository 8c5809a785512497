"""The two superpixel verbs: exit 0 with their files, one-line errors with exit 2, and a run on the
real BSDS500 (skipped with the reason when it is missing)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.data.bsds500 import iter_bsds500
from benchmark.engine.superpixels import write_label_map
from benchmark.results import read_rows

REAL_BSDS500 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "BSDS500" / "data"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_segment_then_evaluate_with_exit_zero(capsys, tiny_synthcity, tmp_path):
    out = tmp_path / "run"
    code, printed, _ = run_cli(capsys, "segment-superpixels", "--method", "slic", "--dataset", "synthcity",
                               "--root", tiny_synthcity, "--split", "val", "--n", 20, 40, "--out", out,
                               "--option", "compactness=20")
    assert code == 0 and f"wrote 18 rows to {out}/metrics.csv" in printed
    assert printed.splitlines()[0].split()[:3] == ["n_superpixels", "BR", "BP"]
    assert len(list((out / "40").glob("*.png"))) == 2 and (out / "pairs.csv").is_file()
    assert set(read_rows(out / "metrics.csv")["n_superpixels"]) == {20, 40}

    pairs_csv = tmp_path / "pairs.csv"
    code, printed, _ = run_cli(capsys, "evaluate-superpixels", "--segmentations", out / "20", "--dataset",
                               "synthcity", "--root", tiny_synthcity, "--split", "val", "--out", pairs_csv, "--json")
    means = json.loads(printed[:printed.rindex("}") + 1])
    assert code == 0 and means["evaluated_pairs"] == 2 and 0 < means["boundary_recall"] <= 1
    assert len(pd.read_csv(pairs_csv)) == 2
    code, printed, _ = run_cli(capsys, "evaluate-superpixels", "--segmentations", out / "20", "--dataset",
                               "synthcity", "--root", tiny_synthcity, "--split", "val")
    assert code == 0 and printed.split()[:2] == ["BR", "BP"]


def test_untrained_deep_member_says_it_was_skipped(capsys, tiny_synthcity, tmp_path):
    code, printed, _ = run_cli(capsys, "segment-superpixels", "--method", "pcnet", "--dataset", "synthcity",
                               "--root", tiny_synthcity, "--split", "val", "--n", 20, "--out", tmp_path)
    assert code == 0 and "skipped pcnet: untrained: train it first" in printed


@pytest.mark.parametrize("argv,needle", [
    (["segment-superpixels", "--method", "slik"], "did you mean slic"),
    (["segment-superpixels", "--method", "slic", "--option", "compactness"], "must be KEY=VALUE"),
    (["segment-superpixels", "--method", "slic", "--weights", "w.pt"], "has no weights to load"),
    (["evaluate-superpixels", "--segmentations", "nowhere"], "no such folder"),
])
def test_errors_are_one_line_with_exit_two(capsys, tiny_synthcity, tmp_path, argv, needle):
    common = ["--dataset", "synthcity", "--root", tiny_synthcity, "--split", "val"]
    if argv[0] == "segment-superpixels":
        common += ["--n", 20, "--out", tmp_path / "out"]
    code, _, err = run_cli(capsys, *argv, *common)
    assert code == 2 and err.startswith("error: ") and "\n" not in err and needle in err, err
    assert not (tmp_path / "out").exists()


def test_a_missing_label_map_is_exit_two_naming_it(capsys, tiny_synthcity, tmp_path):
    write_label_map(tmp_path / "synthval_000000_000019.png", [[0]])
    code, _, err = run_cli(capsys, "evaluate-superpixels", "--segmentations", tmp_path, "--dataset", "synthcity",
                           "--root", tiny_synthcity, "--split", "val")
    assert code == 2 and "1 of 2 images have no label map (synthval_000001_000019)" in err


@pytest.mark.skipif(not (REAL_BSDS500 / "images" / "test").is_dir(),
                    reason=f"real BSDS500 not found at {REAL_BSDS500} (see ../shared/data/README.md)")
def test_slic_on_two_real_bsds500_test_images(capsys, tmp_path):
    code, _, err = run_cli(capsys, "segment-superpixels", "--method", "slic", "--dataset", "bsds500", "--root",
                           REAL_BSDS500, "--split", "test", "--n", 200, "--limit", 2, "--out", tmp_path)
    assert code == 0, err
    rows = read_rows(tmp_path / "metrics.csv").set_index("metric")["value"]
    assert 0.5 < rows["boundary_recall"] <= 1.0 and 0.0 < rows["boundary_precision"] < 1.0
    assert 100 < rows["measured_superpixels"] < 400
    expected = [(image_id, k) for (image_id, _, segs), _ in zip(iter_bsds500(REAL_BSDS500, "test"), range(2))
                for k in range(len(segs))]
    pairs = pd.read_csv(tmp_path / "pairs.csv", dtype={"image_id": str})
    assert list(zip(pairs["image_id"], pairs["annotator"])) == expected  # every annotator, once
    assert rows["evaluated_pairs"] == len(expected)
