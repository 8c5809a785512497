"""The superpixel track in the DAG: the deep methods are trained (rule superpixel_train) before
they segment in the default run; the ci experiment stays classical (its committed reference);
superpixels_bsds500 trains every deep method on BSDS500 train."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmark.matrix import build_matrix
from tests.workflows.test_workflow import snakemake, write_experiment

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
    for method in DEEP:  # the config's seeds, [0]: one run each, its seed in its folder
        assert f"results/runs/synthcity-superpixels-{method}-s0-train/model.pt" in out
        assert f"results/runs/synthcity-superpixels-{method}-s0/metrics.csv" in out
    assert "rule superpixel_resolution:" in out


@pytest.mark.slow  # one Snakemake dry run (~10 s)
def test_deep_entries_train_once_per_seed_on_the_runs_device_classical_ones_stay_on_the_cpu(tmp_path):
    overlay = write_experiment(
        tmp_path / "seeds.yaml", "seeds", methods={}, device="cuda", threads_per_job=2, seeds=[0, 1],
        resources={"mem_mb": 16000},
        # synthcity alone: the default's synthaerial entry names methods this experiment has not
        datasets={"synthcity": {"generate": True, "split_sizes": {"train": 48, "val": 12}, "size": "256x512", "seed": 0}},
        superpixels={"n": [20], "seeds": [4, 5], "datasets": {"synthcity": {"split": "val"}}, "methods": {
            "slic": {"method": "slic"},
            "scn": {"method": "scn", "train": {"iters": 2}},
            "pcnet": {"method": "pcnet", "train": {"iters": 2, "seed": 7}}}})
    proc = snakemake("-n", "--cores", "2", "--configfile", str(overlay), "--config", "experiment=seeds",
                     "--printshellcmds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    # the track's seeds replace the config's; a train.seed pins one
    assert out.count("rule superpixel_train:") == 3 and out.count("rule superpixels_trained:") == 3
    for label, seed in (("scn", 4), ("scn", 5), ("pcnet", 7)):
        run = f"results/runs/synthcity-superpixels-{label}-s{seed}-train"
        assert f"--seed {seed}  --device cuda --out {run} " in out
        assert f"OMP_NUM_THREADS=2 dsbench segment-superpixels --method {label} " in out
        assert f"--run {run} --device cuda --out results/runs/synthcity-superpixels-{label}-s{seed} " in out
    assert "-s0-train" not in out and "-s1-train" not in out
    # the deep jobs ask for one GPU and the runs' resources; the classical one for neither
    blocks = {block.split(":", 1)[0]: block for block in out.split("rule ")[1:]}
    for rule in ("superpixel_train", "superpixels_trained"):
        resources = next(line for line in blocks[rule].splitlines() if "resources:" in line)
        assert "gpu=1" in resources and "mem_mb=16000" in resources, resources
    slic = blocks["superpixels"]
    assert "OMP_NUM_THREADS=1 dsbench" in slic and "--device" not in slic and "gpu=" not in slic
