"""Dataset cards through the CLI: --dataset-card on every verb that takes --dataset, a run trained
from a card and evaluated in a fresh process (run.json keeps the card), object recall of a card's
instances (its own label table), and the one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from benchmark.cli import main
from benchmark.engine.run_config import RunConfig
from benchmark.results import read_rows

ROOT = Path(__file__).resolve().parents[2]
H, W = 32, 64
ENCODER = "mobilenetv3_small_050"


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_card_dataset(folder: Path, name: str) -> Path:
    """A card beside its data (root: data, relative to the card): two train images, one val image
    with an instance map; classes road (value 0) and car (value 5), 9 is ignored."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 2), ("val", 1)):
        for index in range(count):
            labels = np.zeros((H, W), np.uint8)
            labels[8 + index: 20, 10: 30 + index] = 5
            labels[0, :] = 9
            objects = np.zeros((H, W), np.uint8)
            objects[labels == 5] = 1
            _save(folder / "data" / split / "img" / f"{index:03d}.png", rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
            _save(folder / "data" / split / "lab" / f"{index:03d}.png", labels)
            _save(folder / "data" / split / "obj" / f"{index:03d}.png", objects)
    card = {"name": name, "root": "data", "label_format": "ids", "image_size": [H, W],
            "splits": {split: {"images": f"{split}/img/*.png", "labels": f"{split}/lab/{{stem}}.png",
                               "instances": f"{split}/obj/{{stem}}.png"} for split in ("train", "val")},
            "classes": [{"name": "road", "value": 0}, {"name": "car", "value": 5}], "ignore_values": [9]}
    path = folder / "cards" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    card["root"] = "../data"
    path.write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    return path


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "benchmark", *argv], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.slow  # trains (in process) and evaluates in a fresh process: about 15 s
def test_card_run_trains_from_the_cli_and_evaluates_in_a_fresh_process(tmp_path, capsys):
    card = make_card_dataset(tmp_path, "card_run")
    run = tmp_path / "run"
    assert main(["train", "--dataset-card", str(card), "--method", "uniform", "--model", "unet",
                 "--encoder", ENCODER, "--resolution", "16x32", "--iters", "2", "--batch-size", "2",
                 "--checkpoint-every", "1", "--device", "cpu", "--out", str(run), "--quiet"]) == 0
    stored = json.loads((run / "run.json").read_text())
    assert stored["dataset"] == "card_run" and stored["dataset_card"] == str(card.resolve())
    assert stored["root"] == str((tmp_path / "data").resolve())
    # A fresh process has no card registered: loading run.json registers it again.
    proc = run_cli("evaluate", "--run", str(run), "--device", "cpu", "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(run / "metrics.csv")
    assert set(rows.query("metric == 'iou'")["class_name"]) == {"road", "car"}
    # The card's instance codes ((training id + 1) * 1000 + k) are read with its own table: the
    # car object is counted (with the Cityscapes table its code would name no evaluated class).
    recall = rows.query("metric == 'recall_by_size' and class_name == 'car'")
    assert len(recall) and (recall["status"] == "ok").any()


def test_run_config_records_the_card_by_file_name_only(tmp_path):
    card = make_card_dataset(tmp_path, "card_config")
    other = make_card_dataset(tmp_path / "elsewhere", "card_config_b")
    base = dict(method="uniform", model="unet", resolution=(16, 32), device="cpu")
    a = RunConfig(dataset="card_config", root=str(tmp_path / "data"), dataset_card=str(card), **base)
    settings = a.settings()
    assert settings["dataset_card"] == "card_config.yaml"  # paths do not count, the file name does
    assert str(tmp_path) not in json.dumps(settings)
    plain = RunConfig(dataset="synthcity", root="data/synthcity", **base)
    assert "dataset_card" not in plain.settings()  # runs without a card hash as before
    with pytest.raises(Exception, match="names the dataset 'card_config_b'"):
        RunConfig(dataset="card_config", root="x", dataset_card=str(other), **base)


def test_dataset_card_is_exclusive_with_dataset_and_root(tmp_path, capsys):
    card = make_card_dataset(tmp_path, "card_excl")
    common = ["--method", "uniform", "--model", "unet", "--resolution", "16x32", "--out", str(tmp_path / "r")]
    assert main(["train", "--dataset-card", str(card), "--root", str(tmp_path), *common]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "drop --root" in err and str(card) in err
    assert main(["train", *common]) == 2
    assert "--dataset and --root missing; give --dataset NAME --root DIR, or --dataset-card FILE" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # no partial output


def test_card_without_root_is_named_with_the_fix(tmp_path, capsys):
    card = make_card_dataset(tmp_path, "card_noroot")
    data = yaml.safe_load(card.read_text())
    data.pop("root")
    card.write_text(yaml.safe_dump(data))
    assert main(["intrinsic", "--dataset-card", str(card), "--method", "uniform", "--resolution", "8x8"]) == 2
    err = capsys.readouterr().err
    assert f"card {card.resolve()}: key root is missing" in err and "--dataset card_noroot --root DIR" in err


def test_flops_study_prepare_and_intrinsic_take_a_card(tmp_path, capsys):
    card = make_card_dataset(tmp_path, "card_verbs")
    assert main(["flops", "--dataset-card", str(card), "--model", "unet", "--encoder", ENCODER,
                 "--method", "uniform", "--resolution", "16x32", "--json", "--no-latency"]) == 0
    assert json.loads(capsys.readouterr().out)["macs"] > 0
    out = tmp_path / "priors.csv"
    assert main(["study", "priors", "--dataset-card", str(card), "--out", str(out)]) == 0
    assert set(read_rows(out)["dataset"]) == {"card_verbs"}
    assert main(["intrinsic", "--dataset-card", str(card), "--method", "uniform", "--resolution", f"{H}x{W}",
                 "--json"]) == 0
    capsys.readouterr()
    points = tmp_path / "points.csv"
    assert main(["sampling-points", "--dataset-card", str(card), "--out", str(points), "--size", "4x8"]) == 0
    assert set(read_rows(points)["dataset"]) == {"card_verbs"}
    # prepare takes the card too (its own settings are checked before any training)
    assert main(["prepare", "edge_based", "--dataset-card", str(card), "--out", str(tmp_path / "aux.pt"),
                 "--setting", "nope=1"]) == 2
    assert "unknown setting(s) nope" in capsys.readouterr().err
