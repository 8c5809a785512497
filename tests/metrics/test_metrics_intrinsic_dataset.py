"""Jin's intrinsic error over a dataset (benchmark.metrics.intrinsic.dataset_intrinsic_miou) and
`dsbench intrinsic`: against a brute-force nearest-sample reconstruction, a hand-checked case,
full resolution = 1.0, --json, and the declined methods."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import methods  # noqa: F401  registers every method
from benchmark.cli import main
from benchmark.metrics.intrinsic import dataset_intrinsic_miou
from benchmark.registry import METHODS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_data_card_runs import H, W, make_card_dataset  # noqa: E402  the card fixture dataset


def sample(labels):
    labels = torch.as_tensor(labels, dtype=torch.long)
    return {"image": torch.zeros(3, *labels.shape), "labels": labels}


def brute_force_miou(label_maps, size_lr, num_classes):
    """Uniform grid (align_corners=True), each sample the id under it, every pixel the id of the
    nearest sample (sizes chosen without ties), mIoU over classes present in labels or predictions."""
    tp, fp, fn = np.zeros(num_classes), np.zeros(num_classes), np.zeros(num_classes)
    for labels in label_maps:
        (H_, W_), (h, w) = labels.shape, size_lr
        ys, xs = np.arange(h) * (H_ - 1) / (h - 1), np.arange(w) * (W_ - 1) / (w - 1)
        pred = np.empty_like(labels)
        for r in range(H_):
            for c in range(W_):
                i, j = np.abs(ys - r).argmin(), np.abs(xs - c).argmin()
                pred[r, c] = labels[int(round(ys[i])), int(round(xs[j]))]
        valid = labels != 255
        for k in range(num_classes):
            tp[k] += np.sum(valid & (labels == k) & (pred == k))
            fp[k] += np.sum(valid & (labels != k) & (pred == k))
            fn[k] += np.sum(valid & (labels == k) & (pred != k))
    iou = tp / np.where(tp + fp + fn > 0, tp + fp + fn, np.nan)
    return float(np.nanmean(iou))


def test_uniform_matches_brute_force_nearest_reconstruction():
    rng = np.random.default_rng(3)
    maps = []
    for _ in range(3):  # blocky random labels with an ignore patch; spacing 3 px: no ties
        labels = np.kron(rng.integers(0, 3, (4, 6)), np.ones((3, 3), np.int64))[:10, :16]
        labels[0:2, 0:3] = 255
        maps.append(labels)
    scores = dataset_intrinsic_miou(METHODS.get("uniform")(), map(sample, maps), (4, 6), 3)
    assert scores["miou_intrinsic"] == pytest.approx(brute_force_miou(maps, (4, 6), 3), abs=1e-12)


def test_hand_checked_case():
    # 4x7 labels, class 1 in columns 4..6; uniform 2x3 grid samples columns 0, 3, 6. Nearest:
    # columns 0-1 <- 0, 2-4 <- 3, 5-6 <- 6, so column 4 is lost: IoU(0) = 4/5, IoU(1) = 2/3.
    labels = np.zeros((4, 7), np.int64)
    labels[:, 4:] = 1
    scores = dataset_intrinsic_miou(METHODS.get("uniform")(), [sample(labels)], (2, 3), 2)
    assert scores["miou_intrinsic"] == pytest.approx((4 / 5 + 2 / 3) / 2)


@pytest.mark.parametrize("method", ["uniform", "edge_sim", "edge_based_oracle"])
def test_full_resolution_grid_loses_nothing_and_json_names_both_metrics(tmp_path, capsys, method):
    card = make_card_dataset(tmp_path, f"intrinsic_{method}")
    assert main(["intrinsic", "--dataset-card", str(card), "--split", "train", "--method", method,
                 "--resolution", f"{H}x{W}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == f"intrinsic_{method}" and report["images"] == 2
    assert (report["height"], report["width"]) == (H, W)
    if method == "uniform":  # the uniform grid at full resolution hits every pixel centre
        assert report["miou_intrinsic"] == 1.0 and report["miou_intrinsic_own_unsampler"] == 1.0
    assert report["unsample_mode"] == METHODS.get(method)().unsample_mode
    assert 0.5 < report["miou_intrinsic"] <= 1.0


def test_text_output_and_options(tmp_path, capsys):
    card = make_card_dataset(tmp_path, "intrinsic_text")
    assert main(["intrinsic", "--dataset-card", str(card), "--method", "edge_based_oracle", "--resolution", "8x16",
                 "--option", "lam=0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("miou_intrinsic ") and "nearest" in lines[0]
    assert lines[1].startswith("miou_intrinsic_own_unsampler ") and "barycentric" in lines[1]


@pytest.mark.parametrize("method,needle", [
    ("deformation", "'deformation' learns its sampler with the network"),
    ("hierarchical_clustering", "is a network_downsampling method"),
    ("slic", "is a superpixels method"),
    ("uniformm", "unknown method 'uniformm'; did you mean uniform"),
    ("edge_based", "edge_based needs a trained auxiliary net: set option aux_checkpoint"),
])
def test_declined_methods_are_one_line_errors(tmp_path, capsys, method, needle):
    card = make_card_dataset(tmp_path, f"intrinsic_bad_{method}")
    assert main(["intrinsic", "--dataset-card", str(card), "--method", method, "--resolution", "8x16"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and needle in captured.err
