"""Intrinsic upsampling error mIoU(Y', Y) (Jin Sec. 2.1)."""
import numpy as np
import torch

from benchmark.metrics.confusion import miou_from_confusion
from benchmark.metrics.intrinsic import intrinsic_confusion, intrinsic_miou, reconstruct_labels
from benchmark.ops.sampling import uniform_grid
from methods.deformation.edge_sim import EdgeSim
from methods.uniform import Uniform


def scene(batch=2, H=48, W=64):
    labels = torch.zeros(batch, H, W, dtype=torch.long)
    labels[:, 30:, :] = 1
    labels[:, 10:22, 20:40] = 2
    labels[:, 5:7, :] = 3          # a thin 2-pixel stripe
    labels[0, 40:44, 50:60] = 255  # ignore
    return labels


def test_uniform_at_scale_one_is_perfect():
    labels = scene()
    assert intrinsic_miou(Uniform(), labels, (48, 64), 4) == 1.0


def test_nearest_reconstruction_matches_brute_force():
    labels = scene(batch=1, H=12, W=16)
    torch.manual_seed(0)
    grid = (uniform_grid(1, (4, 5)) + 0.15 * torch.randn(1, 4, 5, 2)).clamp(-1, 1)
    got = reconstruct_labels(labels, grid, 4, "nearest")[0]
    px = ((grid[0, ..., 0] + 1) / 2 * 15).reshape(-1).double()
    py = ((grid[0, ..., 1] + 1) / 2 * 11).reshape(-1).double()
    for r in range(12):
        for c in range(16):
            dist = (px - c) ** 2 + (py - r) ** 2
            k = int(dist.argmin())
            assert float(torch.sort(dist).values[1] - dist[k]) > 1e-9  # no tie in this case
            sample_label = labels[0, int(torch.round(py[k])), int(torch.round(px[k]))]
            assert got[r, c] == sample_label


def test_samples_on_ignore_count_as_misses():
    labels = torch.zeros(1, 3, 3, dtype=torch.long)
    labels[0, 1, 1] = 255
    counts = intrinsic_confusion(Uniform(), labels, (3, 3), 2)
    assert counts.shape == (2, 3) and counts[0, 0] == 8 and counts[:, 2].sum() == 0
    # A single sample at the centre, an ignore pixel: every valid pixel is reconstructed as 255.
    grid = torch.zeros(1, 1, 1, 2)
    pred = reconstruct_labels(labels, grid, 2, "nearest")
    assert torch.all(pred == 255)


def test_edge_sim_keeps_the_thin_stripe_that_uniform_loses():
    labels = scene()
    uniform_counts = intrinsic_confusion(Uniform(), labels, (6, 8), 4)
    edge_counts = intrinsic_confusion(EdgeSim(radius=1.0), labels, (6, 8), 4)
    stripe_iou = lambda cm: cm[3, 3] / (cm[3].sum() + cm[:, 3].sum() - cm[3, 3])
    assert stripe_iou(uniform_counts) == 0.0
    assert stripe_iou(edge_counts) > 0.1
    assert miou_from_confusion(edge_counts) > miou_from_confusion(uniform_counts)


def test_learned_sampler_is_evaluated_in_eval_mode_and_mode_restored():
    from methods.deformation.method import Deformation

    torch.manual_seed(0)
    method = Deformation()
    method.train()
    labels = scene(batch=1, H=24, W=32)
    image = torch.rand(1, 3, 24, 32)
    before = method.deformation_module.body[1].running_mean.clone()
    value = intrinsic_miou(method, labels, (6, 8), 4, image)
    assert method.training and 0.0 < value <= 1.0
    assert torch.equal(before, method.deformation_module.body[1].running_mean)  # no BatchNorm update


def test_sampled_class_counts():
    from benchmark.metrics.intrinsic import sampled_class_counts

    labels = scene()
    original, sampled = sampled_class_counts(Uniform(), labels, (48, 64), 4)
    assert np.array_equal(original, sampled)
    assert original.sum() == int((labels != 255).sum())
    original, uniform = sampled_class_counts(Uniform(), labels, (6, 8), 4)
    _, edge = sampled_class_counts(EdgeSim(radius=1.0), labels, (6, 8), 4)
    assert uniform.sum() <= 2 * 6 * 8 and edge[3] > uniform[3] == 0  # the thin stripe gets samples
