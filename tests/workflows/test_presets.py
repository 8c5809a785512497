"""Paper-scale presets (workflows/experiments/*.yaml): each is one `--configfile`, dry-run on a
tiny fixture in its dataset's layout; one per paper trains for real (2 iterations, CPU)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted((ROOT / "workflows" / "experiments").glob("*.yaml"))


def snakemake(*args, cwd, timeout=1200):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(cwd), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def cityscapes_fixture(root: Path) -> Path:
    from benchmark.data.synthcity import make_synthcity  # synthcity is written in the Cityscapes layout

    make_synthcity(root, split_sizes={"train": 2, "val": 1}, size=(64, 128), seed=0)
    return root


def ade20k_fixture(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for folder, stem in (("training", "ADE_train_00000001"), ("validation", "ADE_val_00000001")):
        for kind, array, suffix in (("images", rng.integers(0, 255, (64, 64, 3), np.uint8), ".jpg"),
                                    ("annotations", rng.integers(0, 151, (64, 64)).astype(np.uint8), ".png")):
            path = root / kind / folder / f"{stem}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(path)
    return root


FIXTURES = {"cityscapes": cityscapes_fixture, "ade20k": ade20k_fixture}


def preset_on_fixture(preset: Path, tmp_path: Path, **overrides) -> Path:
    """The preset with its dataset root pointed at a fixture (and ``overrides`` of its experiment)."""
    config = yaml.safe_load(preset.read_text())
    name = config["experiment"]
    experiment = config["experiments"][name]
    for dataset, entry in experiment["datasets"].items():
        entry["root"] = str(FIXTURES[dataset](tmp_path / "data" / dataset))
    experiment.update(overrides)
    path = tmp_path / preset.name
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_preset_names_itself():
    assert {p.stem for p in PRESETS} >= {"marin_cityscapes", "jin_cityscapes", "alcover_cityscapes",
                                         "suzuki_cityscapes", "suzuki_ade20k"}
    for preset in PRESETS:
        config = yaml.safe_load(preset.read_text())
        assert config["experiment"] == preset.stem and list(config["experiments"]) == [preset.stem]
        experiment = config["experiments"][preset.stem]
        assert experiment["device"] == "cuda" and experiment["seeds"] == [0, 1, 2]


# One preset's dry run by default; the others (about 12 s each) with the slow tests.
@pytest.mark.parametrize("preset", [p if p.stem == "jin_cityscapes" else pytest.param(p, marks=pytest.mark.slow)
                                    for p in PRESETS], ids=lambda p: p.stem)
def test_preset_dry_run_on_a_fixture(tmp_path, preset):
    config = preset_on_fixture(preset, tmp_path)
    proc = snakemake("-n", "--cores", "2", "--configfile", str(config), "--printshellcmds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    experiment = yaml.safe_load(preset.read_text())["experiments"][preset.stem]
    train = experiment["train"]
    assert f"--iters {train['iters']} --batch-size {train['batch_size']}" in out
    assert "--device cuda" in out
    if "optimizer" in train:
        assert f"--optimizer {train['optimizer']}" in out
    for model in experiment["models"].values():
        assert f"--encoder {model['encoder']}" in out
        assert f"--encoder-weights {model['encoder_weights']}" in out


# One preset per paper for real: 2 iterations on the fixture, small encoders instead of the
# papers' (ResNet-50/101, HRNet-W48 take minutes per CPU step); schedules and methods as set.
REAL_RUNS = {
    "marin_cityscapes": {"models": {"pspnet": {"encoder": "resnet10t"}}, "resolutions": ["16x16"],
                         "prepare_override": {"iters": 2, "batch_size": 2, "features": 8}},
    "jin_cityscapes": {"models": {"hrnetv2": {"encoder": "hrnet_w18_small"}}, "resolutions": ["16x32"]},
    "alcover_cityscapes": {"models": {"hrnetv2": {"encoder": "hrnet_w18_small"}}, "resolutions": ["16x32"]},
    "suzuki_cityscapes": {"models": {"fcn32": {"encoder": "resnet10t"}}, "resolutions": ["64x128"]},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REAL_RUNS))
def test_preset_trains_for_real_on_a_fixture(tmp_path, name):
    overrides = dict(REAL_RUNS[name], seeds=[0], device="cpu", threads_per_job=1)
    preset = ROOT / "workflows" / "experiments" / f"{name}.yaml"
    train = yaml.safe_load(preset.read_text())["experiments"][name]["train"]
    overrides["train"] = dict(train, iters=2, batch_size=2, checkpoint_every=2)
    if "crop" in train:
        overrides["train"]["crop"] = "32x64"  # the fixture's images are 64x128
    config = preset_on_fixture(preset, tmp_path, **overrides)
    proc = snakemake("--cores", "2", "--configfile", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    import pandas as pd

    df = pd.read_csv(tmp_path / "results" / name / "metrics.csv")
    assert {"miou", "macs", "train_loss"} <= set(df["metric"])
