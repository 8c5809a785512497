"""The edge_based method: aux net shapes, checkpoints, training, sampler contract."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import methods  # noqa: F401  (registers every method)
from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import downsample_labels, is_uniform, unsample
from methods.edge_based.method import (
    DoubleUNet,
    EdgeBased,
    ground_truth_tensors,
    load_aux_checkpoint,
    make_untrained_checkpoint,
    resolve_target_classes,
    train_aux_net_on_tensors,
)


def scenes(n: int = 4, H: int = 32, W: int = 64):
    """Disks of class 11 (person) on road (0): image brightness follows the labels."""
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    labels = torch.zeros(n, H, W, dtype=torch.long)
    for i in range(n):
        labels[i][(yy - 8 - 4 * i) ** 2 + (xx - 12 - 10 * i) ** 2 < 36] = 11
    images = 0.2 + 0.6 * (labels == 11).float().unsqueeze(1).expand(n, 3, H, W).clone()
    return images, labels


@pytest.mark.parametrize("size_in,size_out", [((32, 32), (8, 8)), ((32, 64), (8, 16)), ((16, 32), (8, 16))])
def test_aux_net_output_shape(size_in, size_out):
    net = DoubleUNet(size_in, size_out, features=8)
    out = net(torch.rand(2, 3, *size_in))
    assert out.shape == (2, 2, *size_out)


def test_aux_net_rejects_incompatible_sizes():
    with pytest.raises(DsbenchError, match="aux_input"):
        DoubleUNet((32, 64), (8, 8), features=8)
    with pytest.raises(DsbenchError, match="aux_input"):
        DoubleUNet((24, 48), (8, 16), features=8)


def test_paper_width_is_256_features():
    net = DoubleUNet((32, 32), (8, 8))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].in_channels == 3 and convs[-1].out_channels == 2
    assert all(c.out_channels == 256 for c in convs[:-1])
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == sum(
        c.kernel_size == (3, 3) for c in convs)


def test_refuses_without_checkpoint():
    method = METHODS.get("edge_based")()
    images, _ = scenes(1)
    with pytest.raises(DsbenchError, match="aux_checkpoint.*dsbench prepare edge_based"):
        method.sampler(images, (8, 16))
    with pytest.raises(DsbenchError, match="does not exist"):
        EdgeBased.from_options({"aux_checkpoint": "/nonexistent/aux.pt"})
    with pytest.raises(DsbenchError, match="no option"):
        EdgeBased.from_options({"lambda": 1.0})


def test_untrained_checkpoint_samples_uniformly(tmp_path):
    path = make_untrained_checkpoint(tmp_path / "aux.pt")
    method = EdgeBased.from_options({"aux_checkpoint": path})
    images, labels = scenes(2)
    grid = method.sampler(images, (8, 16))
    assert grid.shape == (2, 8, 16, 2) and is_uniform(grid)
    assert method.unsample_mode == "barycentric" and method.label_mode == "nearest"
    # the frozen aux net stays out of the optimiser's way and in eval mode
    method.train()
    assert not method.aux_net.training
    assert all(not p.requires_grad for p in method.parameters())
    with pytest.raises(DsbenchError, match="has no option aux_input"):  # sizes come from the checkpoint
        EdgeBased.from_options({"aux_checkpoint": path, "aux_input": (32, 32)})


def test_corrupt_checkpoint_is_a_user_error(tmp_path):
    bad = tmp_path / "aux.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DsbenchError, match="not a readable"):
        EdgeBased.from_options({"aux_checkpoint": str(bad)})


def test_training_is_deterministic_and_checkpoint_round_trips(tmp_path):
    images, labels = scenes(4)
    kwargs = dict(size_in=(16, 32), size_out=(8, 16), iters=6, batch_size=2, seed=3, features=8, lr=1e-2)
    m1 = train_aux_net_on_tensors(images, labels, tmp_path / "a.pt", **kwargs)
    m2 = train_aux_net_on_tensors(images, labels, tmp_path / "b.pt", **kwargs)
    assert m1["loss_curve"] == m2["loss_curve"] and m1["final_loss"] == m2["final_loss"]
    assert m1["uniform_loss"] > 0
    net, meta = load_aux_checkpoint(tmp_path / "a.pt")
    assert meta["final_loss"] == m1["final_loss"]
    targets = ground_truth_tensors(labels, (8, 16))
    with torch.no_grad():
        loss = torch.nn.functional.mse_loss(net(torch.nn.functional.interpolate(
            images, (16, 32), mode="bilinear", align_corners=True)), targets)
    assert abs(float(loss) - m1["final_loss"]) < 1e-5


def test_training_lowers_the_loss(tmp_path):
    images, labels = scenes(2)
    metrics = train_aux_net_on_tensors(images, labels, tmp_path / "aux.pt", size_in=(16, 32), size_out=(8, 16),
                                       iters=40, batch_size=2, features=8, lr=3e-3, log_every=1)
    first = metrics["loss_curve"][0][1]
    assert metrics["final_loss"] < first


def test_sampler_grid_satisfies_covering_constraints(tmp_path):
    images, labels = scenes(3)
    train_aux_net_on_tensors(images, labels, tmp_path / "aux.pt", size_in=(16, 32), size_out=(8, 16),
                             iters=5, batch_size=2, features=8, lr=1e-2)
    for mode in ("bilinear", "nearest"):
        method = EdgeBased.from_options({"aux_checkpoint": str(tmp_path / "aux.pt"), "image_mode": mode})
        grid = method.sampler(images, (12, 20))
        assert grid.shape == (3, 12, 20, 2)
        assert grid.abs().max() <= 1
        assert (grid[:, :, 0, 0] == -1).all() and (grid[:, :, -1, 0] == 1).all()
        assert (grid[:, 0, :, 1] == -1).all() and (grid[:, -1, :, 1] == 1).all()
        image_lr = method.downsample_image(images, grid)
        labels_lr = downsample_labels(labels, grid, method.label_mode)
        logits_hr = unsample(torch.randn(3, 5, 12, 20), grid, (32, 64), method.unsample_mode)
        assert image_lr.shape == (3, 3, 12, 20) and labels_lr.shape == (3, 12, 20)
        assert logits_hr.shape == (3, 5, 32, 64) and torch.isfinite(logits_hr).all()


def test_target_classes_and_crop():
    assert resolve_target_classes(None) is None
    assert resolve_target_classes(["person", "car", 11]) == [11, 13]
    with pytest.raises(DsbenchError, match="unknown class"):
        resolve_target_classes(["persn"])
    _, labels = scenes(1)
    only_person = ground_truth_tensors(labels, (8, 16), target_classes=[11])
    none = ground_truth_tensors(labels, (8, 16), target_classes=[13])
    assert not np.allclose(only_person.numpy(), none.numpy())
    assert np.allclose(none[0, 0, :, 0].numpy(), np.linspace(0, 1, 8))  # no car boundary: uniform
