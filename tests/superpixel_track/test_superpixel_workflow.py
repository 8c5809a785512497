"""The superpixel track in the DAG: the deep methods are trained (rule superpixel_train) before
they segment in the default run; the ci experiment stays classical (its committed reference);
superpixels_bsds500 trains every deep method on BSDS500 train."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmark.matrix import build_matrix
from tests.workflows.test_workflow import snakemake

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "workflows/config.yaml").read_text())
DEEP = {"ssn", "scn", "pcnet", "hcssn"}


def superpixel_methods(experiment=""):
    matrix = build_matrix({**CONFIG, "experiment": experiment} if experiment else CONFIG)
    return {label: entry for label, entry in matrix["superpixels"]["methods"].items()}


def test_the_default_run_trains_each_deep_method_briefly_and_segments_at_400():
    methods = superpixel_methods()
    deep = {label: entry for label, entry in methods.items() if entry["method"] in DEEP}
    assert set(deep) == DEEP
    for entry in deep.values():
        assert entry["train"]["iters"] <= 30 and 400 in entry["n"]  # the 20-minute budget


def test_the_ci_experiment_stays_classical():
    assert {e["method"] for e in superpixel_methods("ci").values()} == {"slic", "seeds", "lsc"}


def test_superpixels_bsds500_trains_every_deep_method_on_train():
    matrix = build_matrix({**CONFIG, "experiment": "superpixels_bsds500"})
    trained = {e["method"] for e in matrix["superpixels"]["methods"].values() if "train" in e}
    assert trained == DEEP
    assert matrix["superpixels"]["datasets"]["bsds500"]["train_split"] == "train"


@pytest.mark.slow  # one Snakemake dry run (~10 s)
def test_the_default_dry_run_trains_before_it_segments(tmp_path):
    proc = snakemake("-n", "--cores", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert out.count("rule superpixel_train:") == len(DEEP)
    for method in DEEP:
        assert f"results/runs/synthcity-superpixels-{method}-train/model.pt" in out
    assert "rule superpixel_resolution:" in out
