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


# The loaders' own fixture writers (tests/data), each in its dataset's real layout.
sys.path.insert(0, str(ROOT / "tests" / "data"))
from test_data_public_loaders import (H, W, write_apolloscape, write_deepglobe,  # noqa: E402
                                      write_mapillary, write_supervisely_person)


def apolloscape_fixture(root: Path) -> Path:
    stems = ("170908_061502408_Camera_5", "170908_061502547_Camera_5")
    return write_apolloscape(root, stems, np.full((H, W), 33, np.uint8), {"train": stems[:1], "val": stems[1:]})


def deepglobe_fixture(root: Path) -> Path:
    mask = np.zeros((H, W, 3), np.uint8)
    mask[:, : W // 2] = (0, 255, 255)  # urban beside unknown
    for folder in ("train", "val"):
        write_deepglobe(root, folder, "119" if folder == "train" else "207", mask)
    return root


def bsds500_fixture(root: Path) -> Path:
    """BSDS500 in the release's layout (the superpixel track's fixture writers): two train images
    (both orientations, two annotators each) and one test image, large enough for 32x32 crops."""
    from tests.superpixel_track.conftest import blocks, write_ground_truth

    rng = np.random.default_rng(0)
    for split, images in (("train", (("2092", (64, 96)), ("8049", (96, 64)))), ("test", (("3063", (64, 96)),))):
        (root / "images" / split).mkdir(parents=True)
        (root / "groundTruth" / split).mkdir(parents=True)
        for image_id, shape in images:
            segs = [blocks(shape, 2, 3), blocks(shape, 4, 3)][: 1 if split == "test" else 2]
            colours = rng.integers(0, 256, (int(segs[-1].max()) + 1, 3))
            pixels = np.clip(colours[segs[-1]] + rng.normal(0, 4, (*shape, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / "images" / split / f"{image_id}.jpg", quality=100)
            write_ground_truth(root / "groundTruth" / split / f"{image_id}.mat", segs)
    return root


FIXTURES = {"cityscapes": cityscapes_fixture, "ade20k": ade20k_fixture, "apolloscape": apolloscape_fixture,
            "supervisely_person": write_supervisely_person, "deepglobe_landcover": deepglobe_fixture,
            "mapillary_v1_2": write_mapillary, "bsds500": bsds500_fixture}


def preset_on_fixture(preset: Path, tmp_path: Path, **overrides) -> Path:
    """The preset with its dataset roots (and its superpixel track's) pointed at fixtures, and
    ``overrides`` of its experiment."""
    config = yaml.safe_load(preset.read_text())
    name = config["experiment"]
    experiment = config["experiments"][name]
    experiment.update(overrides)
    for dataset, entry in experiment.get("datasets", {}).items():
        if not entry.get("generate"):  # a generated (embedded) dataset is written by make_data
            entry["root"] = str(FIXTURES[dataset](tmp_path / "data" / dataset))
    for dataset, entry in (experiment.get("superpixels") or {}).get("datasets", {}).items():
        entry["root"] = str(FIXTURES[dataset](tmp_path / "data" / dataset))
    path = tmp_path / preset.name
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_preset_names_itself():
    assert {p.stem for p in PRESETS} >= {"marin_cityscapes", "marin_apolloscape", "marin_supervisely_person",
                                         "jin_cityscapes", "jin_deepglobe", "alcover_cityscapes", "alcover_mapillary",
                                         "suzuki_cityscapes", "suzuki_cityscapes_multiscale", "suzuki_ade20k",
                                         "wang_bsds500"}
    for preset in PRESETS:
        config = yaml.safe_load(preset.read_text())
        assert config["experiment"] == preset.stem and list(config["experiments"]) == [preset.stem]
        experiment = config["experiments"][preset.stem]
        assert experiment["device"] == "cuda" and experiment["seeds"] == [0, 1, 2]


def preset_matrix(preset: Path):
    """The matrix Snakemake builds from workflows/config.yaml with ``--configfile preset`` (nested
    keys merged, as Snakemake merges a config file over the one the Snakefile names)."""
    from benchmark.matrix import build_matrix

    def merged(base, over):
        return {k: merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                for k, v in {**base, **over}.items()}

    base = yaml.safe_load((ROOT / "workflows" / "config.yaml").read_text())
    return build_matrix(merged(base, yaml.safe_load(preset.read_text())))


# In-process, every preset (a Snakemake dry run costs about 10 s; this about 0.1 s): the matrix
# validates, every name is registered, and every run's settings pass the engine's own check.
@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_validates_and_every_run_is_a_valid_run_config(preset):
    import methods  # noqa: F401  registers every method
    from benchmark.data import DATASETS
    from benchmark.engine.run_config import RunConfig
    from benchmark.engine.evaluate import check_eval_scales
    from benchmark.matrix import entry_models, run_keys, run_train_settings
    from benchmark.models import MODELS
    from benchmark.tracks import find_method

    matrix = preset_matrix(preset)
    keys = run_keys(matrix)
    trained_superpixels = check_superpixel_runs(matrix)
    assert keys or trained_superpixels  # segmentation networks, or the superpixel track alone (Wang)
    if keys:
        assert {seed for *_, seed in keys} == {0, 1, 2}
    for dataset, label, model, resolution, seed in keys:
        spec = DATASETS.get(dataset)
        assert set(matrix.get("target_classes", [])) <= set(spec.class_names), dataset
        MODELS.get(model)
        entry = matrix["methods"][label]
        cls = find_method(entry["method"])[1]
        if cls.preparation is not None:  # e.g. Marin's aux net: its settings and target classes
            settings = cls.preparation.settings(entry.get("prepare", {}), where=f"methods.{label}.prepare")
            assert set(settings.get("target_classes") or []) <= set(spec.class_names)
        train = run_train_settings(matrix, label, resolution)
        model_entry = entry_models(matrix, label)[model]
        h, w = (int(v) for v in resolution.split("x"))
        RunConfig(dataset=dataset, root="unused", method=entry["method"], model=model, resolution=(h, w), seed=seed,
                  encoder=model_entry["encoder"], encoder_weights=model_entry.get("encoder_weights"),
                  iters=train["iters"], batch_size=train["batch_size"], lr=train["lr"],
                  checkpoint_every=train["checkpoint_every"], weight_decay=train.get("weight_decay", 1e-4),
                  optimizer=train.get("optimizer", "adamw"), momentum=train.get("momentum", 0.9),
                  lr_policy=train.get("lr_policy", "poly"), crop=train.get("crop") and
                  tuple(int(v) for v in train["crop"].split("x")),
                  scale_range=train.get("scale_range", (0.75, 1.25)), label=label,
                  method_options=entry.get("options", {}))
    if "eval" in matrix:
        check_eval_scales(matrix["eval"].get("scales", [1.0]), "eval.scales")


BSDS500_SIZE = (321, 481)  # its images' short and long sides (both orientations occur)


def check_superpixel_runs(matrix) -> int:
    """Every superpixel method is registered, and every deep entry's run at each of its seeds
    (0-2) is a valid run config whose crop fits the dataset; returns the number of trained runs."""
    import methods  # noqa: F401  registers every superpixel method
    from benchmark.engine.superpixel_train import superpixel_run_config
    from benchmark.registry import SUPERPIXEL_METHODS

    track = matrix.get("superpixels") or {}
    runs = 0
    for label, entry in track.get("methods", {}).items():
        SUPERPIXEL_METHODS.get(entry["method"])
        if "train" not in entry:
            continue
        train = dict(entry["train"])
        crop = tuple(int(v) for v in train.pop("crop").split("x")) if "crop" in train else None
        assert track.get("seeds", matrix["seeds"]) == [0, 1, 2], label
        for dataset, where in track["datasets"].items():
            for seed in track.get("seeds", matrix["seeds"]):
                cfg = superpixel_run_config(entry["method"], dataset, "unused", where.get("train_split", "train"),
                                            "unused", crop=crop, seed=seed, device=matrix["device"],
                                            options=entry.get("options"), **train)
                if dataset == "bsds500":
                    assert max(cfg.crop) <= BSDS500_SIZE[0], (label, cfg.crop)  # crops never pad
                runs += 1
    return runs


def test_wang_trains_pcnet_and_scn_with_their_papers_schedules():
    from methods.superpixels.pcnet import PCNet
    from methods.superpixels.scn import SCN

    track = preset_matrix(ROOT / "workflows" / "experiments" / "wang_bsds500.yaml")["superpixels"]
    entries = track["methods"]
    assert {"slic", "snic", "seeds", "ers"} <= {e["method"] for e in entries.values() if "train" not in e}
    for label, cls in (("pcnet", PCNet), ("scn", SCN)):
        train, paper = entries[label]["train"], cls.paper_training
        assert (train["iters"], train["batch_size"], train["lr"]) == (paper["iters"], paper["batch_size"], paper["lr"])
    assert entries["scn"]["train"]["crop"] == "208x208"  # SCN's own; PCNet's 512 cut to fit BSDS500
    assert entries["pcnet"]["train"]["crop"] == "320x320"
    assert track["datasets"]["bsds500"] == {"root": "../shared/data/BSDS500/data", "split": "test",
                                            "train_split": "train"}


def test_a_train_by_resolution_entry_no_run_has_is_named_with_the_fix(tmp_path):
    from benchmark.errors import DsbenchError

    preset = tmp_path / "marin_apolloscape.yaml"
    config = yaml.safe_load((ROOT / "workflows" / "experiments" / preset.name).read_text())
    config["experiments"]["marin_apolloscape"]["train_by_resolution"]["1024x1024"] = {"batch_size": 4}
    preset.write_text(yaml.safe_dump(config))
    with pytest.raises(DsbenchError, match=r"^experiments\.marin_apolloscape\.train_by_resolution\.1024x1024: "
                                           r"no run has resolution 1024x1024; use one of .*512x512"):
        preset_matrix(preset)


# Snakemake dry runs (about 10 s each): one preset by default; with the slow tests, one per other
# dataset layout (the DAG reads each root) and the multi-scale preset (its evaluate flags). The other
# presets share these layouts and are covered in-process above.
DRY_RUNS = {"jin_cityscapes": (), "suzuki_ade20k": (pytest.mark.slow,), "marin_apolloscape": (pytest.mark.slow,),
            "marin_supervisely_person": (pytest.mark.slow,), "jin_deepglobe": (pytest.mark.slow,),
            "suzuki_cityscapes_multiscale": (pytest.mark.slow,), "alcover_mapillary": (pytest.mark.slow,),
            "wang_bsds500": (pytest.mark.slow,)}


@pytest.mark.parametrize("preset", [pytest.param(ROOT / "workflows" / "experiments" / f"{name}.yaml", marks=marks,
                                                 id=name) for name, marks in DRY_RUNS.items()])
def test_preset_dry_run_on_a_fixture(tmp_path, preset):
    config = preset_on_fixture(preset, tmp_path)
    proc = snakemake("-n", "--cores", "2", "--configfile", str(config), "--printshellcmds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    experiment = yaml.safe_load(preset.read_text())["experiments"][preset.stem]
    if not experiment.get("methods"):  # the superpixel track alone (Wang)
        check_superpixel_dry_run(experiment, out)
        return
    train = experiment["train"]
    assert f"--iters {train['iters']} --batch-size {train['batch_size']}" in out
    for resolution, settings in experiment.get("train_by_resolution", {}).items():
        assert f"--resolution {resolution} " in out
        assert f"--iters {settings['iters']} --batch-size {settings['batch_size']}" in out
    assert "--device cuda" in out
    if "optimizer" in train:
        assert f"--optimizer {train['optimizer']}" in out
    for model in experiment["models"].values():
        assert f"--encoder {model['encoder']}" in out
        if "encoder_weights" in model:
            assert f"--encoder-weights {model['encoder_weights']}" in out
    if "eval" in experiment:
        scales = " ".join(str(float(s)) for s in experiment["eval"]["scales"])
        assert f"--scales {scales}" in out and "metrics-multiscale.csv" in out
    else:
        assert "--scales" not in out and "--flip" not in out


def check_superpixel_dry_run(experiment, out):
    """Each deep entry trains and segments once per seed with its settings, on cuda with one GPU;
    each classical one segments once, on the CPU."""
    track = experiment["superpixels"]
    seeds = track.get("seeds", experiment["seeds"])
    for label, entry in track["methods"].items():
        for dataset in track["datasets"]:
            if "train" not in entry:
                assert f"--method {entry['method']} --dataset {dataset} " in out
                assert f"--out {experiment['runs_dir']}/{dataset}-superpixels-{label} " in out
                continue
            train = entry["train"]
            flags = f"--iters {train['iters']} --batch-size {train['batch_size']} --crop {train['crop']} --lr {train['lr']}"
            for seed in seeds:
                run = f"{experiment['runs_dir']}/{dataset}-superpixels-{label}-s{seed}"
                assert f"{flags} --checkpoint-every {train['checkpoint_every']} --seed {seed}  --device cuda " \
                       f"--out {run}-train " in out
                assert f"--run {run}-train --device cuda --out {run} " in out
    deep = sum("train" in e for e in track["methods"].values()) * len(seeds) * len(track["datasets"])
    assert out.count("rule superpixel_train:") == deep == out.count("rule superpixels_trained:")
    assert out.count("gpu=1") == 2 * deep  # the classical jobs ask for no GPU


# One preset per paper for real: 2 iterations on the fixture, small encoders instead of the
# papers' (ResNet-50/101, HRNet-W48 take minutes per CPU step); schedules as set. Methods: the
# preset's own, less those that run through the same rules elsewhere (the ci DAG's variants of
# Jin and Alcover-Couso; Wang's classical baselines, which share one rule with SEEDS and are tested
# in-process): each costs one or two jobs of ~10 s, and CI has 20 minutes for all of .ci/run.
SKIPPED_METHODS = {"jin_cityscapes": {"deformation_single", "interpolation"},
                   "alcover_cityscapes": {"soft_labels_mc_off"},
                   "wang_bsds500": {"slic", "felzenszwalb", "lsc", "snic", "ers"}}
REAL_RUNS = {
    "marin_cityscapes": {"models": {"pspnet": {"encoder": "resnet10t"}}, "resolutions": ["16x16"],
                         "prepare_override": {"iters": 2, "batch_size": 2, "features": 8}},
    "jin_cityscapes": {"models": {"hrnetv2": {"encoder": "hrnet_w18_small"}}, "resolutions": ["16x32"]},
    "alcover_cityscapes": {"models": {"hrnetv2": {"encoder": "hrnet_w18_small"}}, "resolutions": ["16x32"],
                           "train_by_resolution": {}},  # its sizes are not run here
    "suzuki_cityscapes": {"models": {"fcn32": {"encoder": "resnet10t"}}, "resolutions": ["64x128"]},
    "wang_bsds500": {},  # the superpixel track alone: its entries are cut down below
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REAL_RUNS))
def test_preset_trains_for_real_on_a_fixture(tmp_path, name):
    overrides = dict(REAL_RUNS[name], seeds=[0], device="cpu", threads_per_job=1)
    preset = ROOT / "workflows" / "experiments" / f"{name}.yaml"
    experiment = yaml.safe_load(preset.read_text())["experiments"][name]
    if not experiment.get("methods"):  # the superpixel track alone (Wang): every entry, one seed, 2 steps
        track = experiment["superpixels"]
        methods = {label: dict(e, train=dict(e["train"], iters=2, batch_size=2, crop="32x32", checkpoint_every=2))
                   if "train" in e else e for label, e in track["methods"].items()
                   if label not in SKIPPED_METHODS.get(name, ())}
        overrides["superpixels"] = dict(track, n=[20], seeds=[0], methods=methods)
        config = preset_on_fixture(preset, tmp_path, **overrides)
        proc = snakemake(experiment["metrics_csv"], "--cores", "2", "--configfile", str(config), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        import pandas as pd

        df = pd.read_csv(tmp_path / "results" / name / "metrics.csv")
        ok = df[df["status"] == "ok"]
        assert {"boundary_recall", "asa"} <= set(ok["metric"]) and set(ok["method"]) == set(methods)
        trained = ok[ok["method"].isin([label for label, e in methods.items() if "train" in e])]
        assert set(trained["seed"]) == {0} and trained["run_id"].str.endswith("-s0").all()
        return
    train = experiment["train"]
    # Entries with their own models (Marin's DeepLabv3+-Xception65) keep paper-size encoders: not on CPU.
    overrides["methods"] = {label: e for label, e in experiment["methods"].items()
                            if "models" not in e and label not in SKIPPED_METHODS.get(name, ())}
    overrides["train"] = dict(train, iters=2, batch_size=2, checkpoint_every=2)
    if "crop" in train:
        overrides["train"]["crop"] = "32x64"  # the fixture's images are 64x128
    config = preset_on_fixture(preset, tmp_path, **overrides)
    # Up to the metrics: the figures rule (~25 s) is exercised by the smoke DAG and the ci DAG.
    target = experiment["metrics_csv"]
    proc = snakemake(target, "--cores", "2", "--configfile", str(config), cwd=tmp_path)  # before --configfile, which takes a list
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    import pandas as pd

    df = pd.read_csv(tmp_path / "results" / name / "metrics.csv")
    assert {"miou", "macs", "train_loss"} <= set(df["metric"])
