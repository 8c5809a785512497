"""ConfusionMatrix, IoU and mIoU: brute force, streaming, and the official Cityscapes script."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.errors import DsbenchError
from benchmark.metrics import (ConfusionMatrix, iou_from_confusion, miou_from_confusion,
                               pixel_accuracy_from_confusion)

from conftest import blocky_labels, noisy_prediction


def brute_force_confusion(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
    for p, l in zip(pred.ravel().tolist(), labels.ravel().tolist()):
        if l == 255:
            continue
        cm[l, p if 0 <= p < num_classes else num_classes] += 1
    return cm


def test_confusion_matches_brute_force_loop(rng):
    labels = blocky_labels(rng, (2, 12, 17), 5)
    pred = noisy_prediction(rng, labels, 5)
    pred[0, 0, :4] = [255, -3, 5, 99]  # out-of-range predictions
    labels[0, 0, :4] = [1, 2, 3, 4]
    cm = ConfusionMatrix(5)
    cm.process(pred, labels)
    np.testing.assert_array_equal(cm.counts, brute_force_confusion(pred, labels, 5))
    assert cm.counts.dtype == np.int64


def test_iou_by_hand():
    # rows gt, cols pred; class 2 absent from both -> NaN; class 3 only predicted -> 0.
    cm = np.array([[3, 1, 0, 0, 1],
                   [0, 2, 0, 1, 0],
                   [0, 0, 0, 0, 0],
                   [0, 0, 0, 0, 0]])
    iou = iou_from_confusion(cm)
    np.testing.assert_allclose(iou[[0, 1, 3]], [3 / 5, 2 / 4, 0.0])
    assert math.isnan(iou[2])
    assert miou_from_confusion(cm) == pytest.approx((3 / 5 + 2 / 4 + 0.0) / 3)
    assert miou_from_confusion(cm, classes=[0, 1, 2]) == pytest.approx((3 / 5 + 2 / 4) / 2)
    assert pixel_accuracy_from_confusion(cm) == pytest.approx(5 / 8)
    # Square form: same as dropping the extra column's pixels.
    np.testing.assert_allclose(iou_from_confusion(cm[:, :4])[[0, 1]], [3 / 4, 2 / 4])


def test_streaming_equals_one_batch(rng):
    labels = blocky_labels(rng, (6, 10, 14), 7)
    pred = noisy_prediction(rng, labels, 7)
    whole = ConfusionMatrix(7)
    whole.process(pred, labels)
    streamed = ConfusionMatrix(7)
    for i in range(0, 6, 4):
        streamed.process(torch.from_numpy(pred[i:i + 4]), torch.from_numpy(labels[i:i + 4]))
    streamed_single = ConfusionMatrix(7)
    for i in range(6):
        streamed_single.process(pred[i], labels[i].astype(np.uint8))  # (H, W) and uint8 accepted
    np.testing.assert_array_equal(streamed.counts, whole.counts)
    np.testing.assert_array_equal(streamed_single.counts, whole.counts)
    whole.reset()
    assert whole.counts.sum() == 0


def test_ignore_pixels_do_not_count(rng):
    labels = blocky_labels(rng, (1, 8, 8), 3)
    pred = noisy_prediction(rng, labels, 3)
    cm = ConfusionMatrix(3)
    cm.process(pred, labels)
    changed = pred.copy()
    changed[labels == 255] = (changed[labels == 255] + 1) % 3
    cm2 = ConfusionMatrix(3)
    cm2.process(changed, labels)
    np.testing.assert_array_equal(cm.counts, cm2.counts)
    assert cm.counts.sum() == int((labels != 255).sum())


def test_evaluated_and_target_classes():
    labels = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 2, 1, 1]])  # class 2 never in the ground truth but predicted -> IoU 0
    cm = ConfusionMatrix(4, evaluated_classes=[0, 1], target_classes=[1, 2])
    cm.process(pred, labels)
    res = cm.evaluate()
    assert res["miou"] == pytest.approx((0.5 + 1.0) / 2)  # class 2 excluded, class 3 NaN
    assert res["miou_target"] == pytest.approx(1.0)       # target ∩ evaluated = {1}
    assert miou_from_confusion(cm.counts) == pytest.approx((0.5 + 1.0 + 0.0) / 3)  # official rule
    assert res["pixel_accuracy"] == pytest.approx(0.75)


def test_bad_inputs_raise():
    cm = ConfusionMatrix(3)
    with pytest.raises(DsbenchError, match="outside"):
        cm.process(np.zeros((2, 2), int), np.full((2, 2), 7))
    with pytest.raises(DsbenchError, match="shape"):
        cm.process(np.zeros((2, 3), int), np.zeros((2, 2), int))
    with pytest.raises(DsbenchError, match="dtype"):
        cm.process(np.zeros((2, 2)), np.zeros((2, 2), int))
    with pytest.raises(DsbenchError, match="evaluated_classes"):
        ConfusionMatrix(3, evaluated_classes=[5])


# ---------------------------------------------------------------- official Cityscapes script
def _labels_table():
    from cityscapesscripts.helpers.labels import labels

    return [l for l in labels if l.id >= 0]


def test_matches_official_cityscapes_evaluation(tmp_path, rng, monkeypatch):
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    # The script's pixel-accuracy path calls np.in1d, removed in numpy 2.4; isin is its successor.
    monkeypatch.setattr(np, "in1d", np.isin, raising=False)

    table = _labels_table()
    label_to_train = np.full(256, 255, dtype=np.int64)
    for l in table:
        if 0 <= l.trainId < 255:
            label_to_train[l.id] = l.trainId
    eval_ids = [l.id for l in table if not l.ignoreInEval]
    void_ids = [l.id for l in table if l.ignoreInEval]
    # Ground truth uses a subset of classes plus void ids; predictions another, overlapping subset
    # plus a few void ids, so some classes are NaN, some predicted-only (IoU 0).
    gt_pool = eval_ids[:12] + void_ids[:5]
    pred_pool = eval_ids[4:16] + [0, 4]

    ours = ConfusionMatrix(19)
    gt_files, pred_files = [], []
    for i in range(3):
        gt = np.asarray(gt_pool)[blocky_labels(rng, (20, 28), len(gt_pool), block=5, ignore_fraction=0)]
        pred = np.where(rng.random(gt.shape) < 0.4, rng.choice(pred_pool, size=gt.shape), gt)
        pred = np.where(np.isin(pred, pred_pool), pred, rng.choice(pred_pool, size=gt.shape)).astype(np.uint8)
        name = f"testcity_{i:06d}_000019"
        gt_dir = tmp_path / "gtFine" / "val" / "testcity"
        gt_dir.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pred").mkdir(exist_ok=True)
        gt_files.append(str(gt_dir / f"{name}_gtFine_labelIds.png"))
        pred_files.append(str(tmp_path / "pred" / f"{name}_pred.png"))
        Image.fromarray(gt.astype(np.uint8)).save(gt_files[-1])
        Image.fromarray(pred).save(pred_files[-1])
        ours.process(label_to_train[pred], label_to_train[gt])

    args = SimpleNamespace(cityscapesPath=str(tmp_path), predictionPath=str(tmp_path / "pred"), predictionWalk=None,
                           evalInstLevelScore=False, evalPixelAccuracy=True, evalLabels=[], printRow=5,
                           normalized=True, colorized=False, bold="", nocol="", JSONOutput=False, quiet=True,
                           exportFile=str(tmp_path / "result.json"), avgClassSize=official.args.avgClassSize)
    result = official.evaluateImgLists(pred_files, gt_files, args)

    res = ours.evaluate()
    names = {l.trainId: l.name for l in table if not l.ignoreInEval}
    n_nan = 0
    for train_id in range(19):
        expected = result["classScores"][names[train_id]]
        if math.isnan(expected):
            n_nan += 1
            assert math.isnan(res["iou"][train_id]), names[train_id]
        else:
            assert res["iou"][train_id] == pytest.approx(expected, abs=1e-6), names[train_id]
    assert n_nan > 0  # the averaging rule for absent classes was exercised
    assert res["miou"] == pytest.approx(result["averageScoreClasses"], abs=1e-6)
