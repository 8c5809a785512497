"""Training the deep superpixel networks by the engine: the loss falls, an interrupted run resumes
to the same weights bit for bit, one seed gives one set of weights, the run's settings are kept,
and segment-superpixels with the trained run gives real rows."""
from __future__ import annotations

import json

import pytest
import torch

from benchmark.cli import main
from benchmark.engine.superpixel_train import superpixel_run_config
from benchmark.engine.superpixels import segment_split
from benchmark.engine.train import CHECKPOINT, FINAL, train
from benchmark.registry import SUPERPIXEL_METHODS

# Small networks so that each training takes a second or two on one core.
TINY_OPTIONS = {"ssn": {"channels": 8, "feature_dim": 10}, "hcssn": {"channels": 8, "feature_dim": 10},
                "scn": {"base_channels": 4}, "pcnet": {"base_channels": 4, "embed_dim": 4, "patch_size": 32}}


def tiny_config(method, root, out, iters=6, seed=0, **settings):
    return superpixel_run_config(method, "synthcity", str(root), "train", str(out), iters=iters, batch_size=2,
                                 crop=(32, 64), lr=1e-2, seed=seed, checkpoint_every=2,
                                 options=TINY_OPTIONS[method], device="cpu", **settings)


def weights(run_dir):
    return torch.load(run_dir / FINAL, weights_only=True)["pipeline"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow  # 16 iterations: ~5 s
def test_the_loss_decreases_on_a_tiny_fixture(tiny_synthcity, tmp_path, method="pcnet"):
    cfg = tiny_config(method, tiny_synthcity, tmp_path / "run", iters=16)
    train(cfg, progress=False, stop_after=4)  # the checkpoint keeps the losses logged so far
    first = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=True)["losses"]
    result = train(tiny_config(method, tiny_synthcity, tmp_path / "run", iters=16), progress=False)
    assert result["status"] == "ok" and len(first) == 4
    assert result["final_loss"] < sum(first) / len(first)  # the mean of the last 10 of 16


@pytest.mark.parametrize("method", ["ssn", pytest.param("hcssn", marks=pytest.mark.slow), "scn", "pcnet"])
def test_an_interrupted_run_resumes_to_bit_equal_weights(tiny_synthcity, tmp_path, method):
    whole = tiny_config(method, tiny_synthcity, tmp_path / "whole")
    train(whole, progress=False)
    parted = tiny_config(method, tiny_synthcity, tmp_path / "parted")
    assert train(parted, progress=False, stop_after=3)["status"] == "interrupted"
    assert (tmp_path / "parted" / CHECKPOINT).is_file() and not (tmp_path / "parted" / FINAL).exists()
    assert train(tiny_config(method, tiny_synthcity, tmp_path / "parted"), progress=False)["status"] == "ok"
    assert_same_weights(weights(tmp_path / "whole"), weights(tmp_path / "parted"))


def test_one_seed_one_set_of_weights_and_another_seed_others(tiny_synthcity, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(tiny_config("scn", tiny_synthcity, tmp_path / name, seed=seed), progress=False)
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    a, c = weights(tmp_path / "a"), weights(tmp_path / "c")
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_the_papers_settings_are_the_defaults_and_the_run_records_them(tiny_synthcity, tmp_path):
    cfg = superpixel_run_config("pcnet", "synthcity", str(tiny_synthcity), "train", str(tmp_path / "r"))
    assert (cfg.optimizer, cfg.lr, cfg.lr_policy, cfg.batch_size, cfg.iters, cfg.crop) == (
        "adam", 5e-5, "step", 8, 4000, (512, 512))
    assert SUPERPIXEL_METHODS.get("ssn").paper_training["lr"] == 1e-4
    assert SUPERPIXEL_METHODS.get("scn").paper_training["crop"] == (208, 208)
    train(tiny_config("scn", tiny_synthcity, tmp_path / "run"), progress=False)
    stored = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (stored["method"], stored["optimizer"], stored["crop"], stored["train_split"]) == (
        "scn", "adam", [32, 64], "train")


def test_cli_refuses_other_settings_in_a_run_folder_and_bad_input_in_one_line(tiny_synthcity, tmp_path, capsys):
    base = ["train-superpixels", "--method", "scn", "--dataset", "synthcity", "--root", str(tiny_synthcity),
            "--split", "train", "--batch-size", "2", "--crop", "32x64", "--option", "base_channels=4",
            "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")]
    assert main([*base, "--iters", "2"]) == 0
    capsys.readouterr()
    assert main([*base, "--iters", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other settings: iters 2 -> 3" in err
    bad = tmp_path / "bad"
    assert main([*base[:-1], str(bad), "--crop", "64x256"]) == 2
    err = capsys.readouterr().err
    assert "crop 64x256 is larger than the 64x128 images" in err and "Traceback" not in err
    assert not bad.exists()  # nothing written for a refused config
    assert main([*base[:2], "slic", *base[3:-1], str(bad)]) == 2
    assert "'slic' is not trainable" in capsys.readouterr().err


def test_segment_with_a_trained_run_gives_real_rows(tiny_synthcity, tmp_path):
    run = tmp_path / "run"
    train(tiny_config("pcnet", tiny_synthcity, run, seed=3), progress=False)
    rows = segment_split("pcnet", None, "synthcity", tiny_synthcity, "val", [32], tmp_path / "seg", run=run,
                         device="auto")
    assert (rows["status"] == "ok").all()
    # the run's training seed is in every row and in the run id, as in the other tracks
    assert set(rows["seed"]) == {3} and rows["run_id"].str.fullmatch(r"synthcity-pcnet-val-[0-9a-f]{8}-s3").all()
    recall = rows.loc[rows["metric"] == "boundary_recall", "value"]
    assert len(recall) == 1 and 0 < float(recall.iloc[0]) <= 1
    params = json.loads(rows["params"].iloc[0])
    assert params["train"]["iters"] == 6 and params["options"]["base_channels"] == 4
    with pytest.raises(Exception, match="a run of 'pcnet', not of 'scn'"):
        segment_split("scn", None, "synthcity", tiny_synthcity, "val", [32], tmp_path / "other", run=run)
    untrained = segment_split("pcnet", None, "synthcity", tiny_synthcity, "val", [32], tmp_path / "none")
    assert (untrained["status"] == "skipped").all()


def test_a_superpixel_network_trains_on_bsds500(tiny_bsds, tmp_path):
    """BSDS500 is a superpixel dataset only (no classes): the engine's segmentation settings (class
    weights) must not look it up among the segmentation datasets (regression: a wang_bsds500 run
    failed with "unknown dataset 'bsds500'")."""
    root, _ = tiny_bsds
    cfg = superpixel_run_config("scn", "bsds500", str(root), "test", str(tmp_path / "run"), iters=2, batch_size=2,
                                crop=(16, 16), lr=1e-3, seed=0, checkpoint_every=2, options=TINY_OPTIONS["scn"],
                                device="cpu")
    assert train(cfg, progress=False)["status"] == "ok"
    assert (tmp_path / "run" / FINAL).is_file()
