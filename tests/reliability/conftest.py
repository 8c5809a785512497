"""Shared inputs of the fault probes: a tiny synthcity and one tiny run trained and evaluated
on it (copy the run before changing it: the fixtures are shared by the whole session)."""
import shutil

import pytest

from benchmark.cli import main
from benchmark.data.synthcity import make_synthcity

TINY_RUN = ["--method", "uniform", "--model", "unet", "--encoder", "mobilenetv3_small_050", "--resolution", "16x32",
            "--iters", "2", "--batch-size", "2", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="session")
def tiny_city(tmp_path_factory):
    """Four training and two validation images of 64x128: the probes train for a few iterations."""
    root = tmp_path_factory.mktemp("synthcity")
    make_synthcity(root, split_sizes={"train": 4, "val": 2}, size=(64, 128), seed=0)
    return root


@pytest.fixture(scope="session")
def trained_run(tiny_city, tmp_path_factory):
    """A finished and evaluated run folder: run.json, model.pt, train.csv, metrics.csv, counts."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "--dataset", "synthcity", "--root", str(tiny_city), "--out", str(run), *TINY_RUN]) == 0
    assert main(["evaluate", "--run", str(run), "--device", "cpu", "--quiet"]) == 0
    return run


@pytest.fixture
def run_copy(trained_run, tmp_path):
    """A private copy of the trained and evaluated run."""
    return shutil.copytree(trained_run, tmp_path / "run")
