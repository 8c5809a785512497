"""The committed CI reference holds under every CPU kernel setting this machine offers.

Each setting runs, in a subprocess with its own environment, what the ci DAG runs for a few of
the reference's runs: the committed weights' evaluation (two methods, one with a learned
sampler) and one full training + evaluation + cost of the ci configuration. The rows must pass
`dsbench regress` against the matching part of the committed reference, with the committed
tolerances and calibration. Unpinned is what a user runs; the pins are what .ci/run exports.
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from benchmark.regress import MATCH_KEY, calibration_path, regress
from benchmark.results import read_rows, write_rows

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference" / "ci.csv"
WEIGHTS_REFERENCE = ROOT / "results" / "reference" / "ci_weights.csv"
WEIGHTS = ROOT / "results" / "reference" / "ci_weights"
TOLERANCES = ROOT / "workflows" / "tolerances.yaml"
PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
# The pinned setting is what .ci/run itself gates (the ci DAG under PINS, then `dsbench regress`),
# so this test adds the two others: what a user runs, and the portable scalar kernels.
SETTINGS = {
    "unpinned": {},
    "aten_default": {**PINS, "ATEN_CPU_CAPABILITY": "default"},
}
TRAINED_RUN = ("uniform", (16, 32))
FROZEN_RUNS = ("synthcity-uniform-unet-16x32-s0", "synthcity-deformation-unet-16x32-s0")


def dsbench(*args, env_extra, cwd):
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    env.update(env_extra, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "benchmark", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"dsbench {' '.join(map(str, args))}: {proc.stderr[-2000:]}"


def subset(reference_csv, rows_csv, out_csv):
    """The reference rows whose run (MATCH_KEY less the measurement) appears in ``rows_csv``."""
    reference, rows = read_rows(reference_csv), read_rows(rows_csv)
    run_cols = ["dataset", "method", "model", "height", "width", "seed"]
    present = {tuple(str(v) for v in r) for r in rows[run_cols].itertuples(index=False)}
    keep = [tuple(str(v) for v in r) in present for r in reference[run_cols].itertuples(index=False)]
    write_rows(out_csv, reference[keep])
    return out_csv


def run_setting(name, env_extra, data, tmp_path, ci):
    work = tmp_path / name
    weights = work / "weights"
    weights.mkdir(parents=True)
    for run in FROZEN_RUNS:
        os.symlink(WEIGHTS / run, weights / run)
    targets = ci["target_classes"]
    dsbench("evaluate-weights", "--weights", weights, "--root", data, "--out", work / "frozen", "--quiet",
            "--target-classes", *targets, env_extra=env_extra, cwd=work)
    method, (h, w) = TRAINED_RUN
    run = work / "runs" / f"synthcity-{method}-unet-{h}x{w}-s0"
    train = ci["train"]
    dsbench("train", "--dataset", "synthcity", "--root", data, "--method", method, "--label", method,
            "--model", "unet", "--encoder", ci["encoder"], "--resolution", f"{h}x{w}", "--seed", 0,
            "--iters", train["iters"], "--batch-size", train["batch_size"], "--lr", train["lr"],
            "--checkpoint-every", train["checkpoint_every"], "--device", "cpu", "--out", run, "--quiet",
            env_extra=env_extra, cwd=work)
    dsbench("evaluate", "--run", run, "--device", "cpu", "--cost", "--target-classes", *targets, "--quiet",
            env_extra=env_extra, cwd=work)  # --cost: as the ci DAG's evaluate rule
    dsbench("aggregate", "--runs", work / "runs", "--out", work / "metrics.csv", env_extra=env_extra, cwd=work)
    return work


def ci_settings():
    config = yaml.safe_load((ROOT / "workflows" / "config.yaml").read_text())
    ci = {**config, **config["experiments"]["ci"]}
    return {"train": ci["train"], "target_classes": ci["target_classes"],
            "encoder": ci["models"]["unet"]["encoder"], "data": ci["datasets"]["synthcity"]}


@pytest.mark.slow
def test_the_committed_reference_passes_under_every_kernel_setting(tmp_path):
    ci = ci_settings()
    data = tmp_path / "synthcity"
    sizes = ",".join(f"{k}={v}" for k, v in ci["data"]["split_sizes"].items())
    dsbench("make-data", "--dataset", "synthcity", "--root", data, "--split-sizes", sizes, "--size",
            ci["data"]["size"], "--seed", ci["data"]["seed"], env_extra={}, cwd=tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        works = dict(zip(SETTINGS, pool.map(lambda item: run_setting(*item, data, tmp_path, ci), SETTINGS.items())))
    for name, work in works.items():
        frozen = work / "frozen" / "metrics.csv"
        report, passed = regress(frozen, subset(WEIGHTS_REFERENCE, frozen, work / "weights_reference.csv"),
                                 TOLERANCES, calibration_path(WEIGHTS_REFERENCE))
        assert passed, (name, report[~report["passed"]][MATCH_KEY[:3] + ["metric", "reference", "now"]])
        assert (report["verdict"] == "ok").sum() > 100, name  # the rows were compared
        trained = work / "metrics.csv"
        report, passed = regress(trained, subset(REFERENCE, trained, work / "reference.csv"), TOLERANCES,
                                 calibration_path(REFERENCE))
        assert passed, (name, report[~report["passed"]][MATCH_KEY[:3] + ["metric", "reference", "now", "tolerance"]])
        assert {"trained", "training_free"} <= set(report.loc[report["verdict"] == "ok", "kind"]), name
