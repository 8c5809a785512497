"""Engine: deterministic training, exact resume, NaN stop, evaluation at full resolution."""
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import methods.uniform
from benchmark.engine.evaluate import evaluate_run
from benchmark.engine.run_config import RunConfig
from benchmark.engine.train import CHECKPOINT, FINAL, train
from benchmark.errors import DsbenchError
from benchmark.results import read_rows

ENCODER = "mobilenetv3_small_050"


def config(root, out, **kw):
    base = dict(dataset="synthcity", root=str(root), method="uniform", model="unet", encoder=ENCODER,
                resolution=(16, 32), seed=0, out=str(out), iters=6, batch_size=2, checkpoint_every=2, device="cpu")
    base.update(kw)
    return RunConfig(**base)


def weights(run_dir):
    return torch.load(Path(run_dir) / FINAL, weights_only=True)["pipeline"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_same_seed_same_weights_and_resume_is_exact(tiny_city, tmp_path):
    train(config(tiny_city, tmp_path / "a"), progress=False)
    train(config(tiny_city, tmp_path / "b"), progress=False)
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))

    interrupted = train(config(tiny_city, tmp_path / "c"), progress=False, stop_after=3)
    assert interrupted == {"status": "interrupted", "iteration": 3}
    assert (tmp_path / "c" / CHECKPOINT).is_file() and not (tmp_path / "c" / FINAL).exists()
    train(config(tiny_city, tmp_path / "c"), progress=False)  # the re-run resumes at iteration 3
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "c"))

    # a finished run is not retrained; a different config in the same folder is refused
    assert train(config(tiny_city, tmp_path / "a"), progress=False)["status"] == "done"
    with pytest.raises(DsbenchError, match="another config"):
        train(config(tiny_city, tmp_path / "a", lr=0.5), progress=False)


def test_other_seed_other_weights(tiny_city, tmp_path):
    train(config(tiny_city, tmp_path / "a", iters=2), progress=False)
    train(config(tiny_city, tmp_path / "b", iters=2, seed=1), progress=False)
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


def test_nan_loss_stops_with_a_clear_error(tiny_city, tmp_path, monkeypatch):
    def nan_loss(self, logits_lr, labels_lr, extras):
        return logits_lr.sum() * float("nan")

    monkeypatch.setattr(methods.uniform.Uniform, "loss", nan_loss)
    with pytest.raises(DsbenchError, match="loss became nan at iteration 1"):
        train(config(tiny_city, tmp_path / "nan"), progress=False)
    assert not (tmp_path / "nan" / FINAL).exists()


def test_evaluate_at_original_resolution_matches_official_cityscapes(tiny_city, tmp_path, monkeypatch):
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    run = tmp_path / "run"
    train(config(tiny_city, run), progress=False)
    out = evaluate_run(run, device="cpu", save_predictions=tmp_path / "pred", progress=False)
    rows = read_rows(out)
    assert set(rows["split"]) == {"val"}
    for metric in ("miou", "pixel_accuracy", "miou_intrinsic", "eval_images_per_s"):
        assert len(rows.query("metric == @metric and status == 'ok'")) == 1, metric
    assert (run / "counts.npz").is_file()

    # predictions are full-resolution labelIds PNGs that the official script reads unchanged
    monkeypatch.setattr(np, "in1d", np.isin, raising=False)  # the script predates numpy 2.4
    preds = sorted((tmp_path / "pred").glob("*_labelIds.png"))
    gts = sorted(Path(tiny_city).glob("gtFine/val/*/*_gtFine_labelIds.png"))
    assert len(preds) == len(gts) == 2
    args = SimpleNamespace(cityscapesPath=str(tiny_city), predictionPath=str(tmp_path / "pred"), predictionWalk=None,
                           evalInstLevelScore=False, evalPixelAccuracy=True, evalLabels=[], printRow=5,
                           normalized=True, colorized=False, bold="", nocol="", JSONOutput=False, quiet=True,
                           exportFile=str(tmp_path / "result.json"), avgClassSize=official.args.avgClassSize)
    result = official.evaluateImgLists([str(p) for p in preds], [str(g) for g in gts], args)
    ours = rows.query("metric == 'iou'").set_index("class_name")["value"]
    checked = 0
    for class_name, value in ours.items():
        expected = result["classScores"][class_name]
        if not math.isnan(expected):
            assert value == pytest.approx(expected, abs=1e-6), class_name
            checked += 1
    assert checked >= 3


def test_uniform_intrinsic_miou_at_scale_one_is_one(tiny_city, tmp_path):
    run = tmp_path / "full"
    train(config(tiny_city, run, resolution=(64, 128), iters=1), progress=False)
    rows = read_rows(evaluate_run(run, device="cpu", progress=False))
    assert rows.query("metric == 'miou_intrinsic'")["value"].item() == pytest.approx(1.0)


def test_evaluate_stores_jins_intrinsic_miou_under_its_name_and_the_own_unsampler_beside_it(tiny_city, tmp_path):
    # Jin's mIoU(Y', Y) brings labels back by the nearest sampling point; uniform's own unsampler
    # is bilinear: the two differ at 16x32, and each equals the verb-free computation of its mode.
    from benchmark.data import build_dataset
    from benchmark.metrics.intrinsic import dataset_intrinsic_miou
    from benchmark.data import DATASETS

    run = tmp_path / "run"
    cfg = config(tiny_city, run, iters=1)
    train(cfg, progress=False)
    rows = read_rows(evaluate_run(run, device="cpu", progress=False)).set_index("metric")["value"]
    spec = DATASETS.get("synthcity")
    expected = dataset_intrinsic_miou(methods.uniform.Uniform(), build_dataset("synthcity", tiny_city, "val"),
                                      cfg.resolution, spec.num_classes, spec.evaluated_train_ids)
    assert rows["miou_intrinsic"] == pytest.approx(expected["miou_intrinsic"], abs=1e-12)
    assert rows["miou_intrinsic_own_unsampler"] == pytest.approx(expected["miou_intrinsic_own_unsampler"], abs=1e-12)
    assert rows["miou_intrinsic"] != pytest.approx(rows["miou_intrinsic_own_unsampler"], abs=1e-6)


@pytest.mark.slow
def test_uniform_unet_beats_majority_class_by_a_wide_margin(small_city, tmp_path):
    run = tmp_path / "learn"
    train(config(small_city, run, resolution=(32, 64), iters=150, batch_size=8, checkpoint_every=150), progress=False)
    rows = read_rows(evaluate_run(run, device="cpu", progress=False))
    freq = rows.query("metric == 'class_frequency' and stage == 'original'")["value"]
    majority_accuracy = freq.max()                          # always predicting the largest class
    majority_miou = majority_accuracy / len(freq)           # its IoU is its frequency; others 0
    miou = rows.query("metric == 'miou'")["value"].item()
    accuracy = rows.query("metric == 'pixel_accuracy'")["value"].item()
    assert accuracy > majority_accuracy + 0.25, (accuracy, majority_accuracy)
    assert miou > 4 * majority_miou, (miou, majority_miou)


def test_center_crop_evaluation_is_a_separate_split(tiny_city, tmp_path):
    run = tmp_path / "run"
    train(config(tiny_city, run, iters=1), progress=False)
    out = evaluate_run(run, device="cpu", center_crop=True, progress=False)
    assert out.name == "metrics-center.csv"
    rows = read_rows(out)
    assert set(rows["split"]) == {"val-center"}
    evaluate_run(run, device="cpu", progress=False)
    # the 64x128 images crop to their central 64x64 squares: half the pixels are evaluated
    center = np.load(run / "counts_intrinsic-center.npz")["original"].sum()
    full = np.load(run / "counts_intrinsic.npz")["original"].sum()
    assert 0.4 * full < center < 0.6 * full
