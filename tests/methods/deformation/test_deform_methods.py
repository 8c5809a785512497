"""The registered methods: deformation, deformation_single, edge_sim, interpolation."""
import pytest
import torch
import torch.nn.functional as F

import methods  # noqa: F401  (registers every method)
from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import downsample_labels, is_uniform, resample, uniform_grid
from methods.deformation.method import Deformation, edge_loss, focal_loss


def batch(B=2, H=32, W=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(B, 3, H, W, generator=g)
    labels = torch.zeros(B, H, W, dtype=torch.long)
    labels[:, H // 2:, :] = 1
    labels[:, 4:10, 10:20] = 2
    labels[:, 0:2, 0:3] = 255
    return image, labels


def test_registered_with_paper_defaults():
    for key in ("deformation", "deformation_single", "edge_sim", "interpolation"):
        assert key in METHODS
    assert METHODS.create("deformation").config.gamma == 100.0
    assert METHODS.create("deformation_single").config.gamma == 0.0
    assert METHODS.create("deformation").unsample_mode == "nearest"
    assert METHODS.create("deformation", unsample="barycentric").unsample_mode == "barycentric"
    assert METHODS.create("interpolation").unsample_mode == "bilinear"


@pytest.mark.parametrize("options", [{"seg_loss": "dice"}, {"unsample": "bilinear"}, {"map_scale": 3},
                                     {"sigma_frac": 0.0}, {"module_kernel": 4}, {"no_such_option": 1}])
def test_bad_options_are_user_errors(options):
    with pytest.raises(DsbenchError):
        METHODS.get("deformation").from_options(options)


def test_deformation_grid_shape_range_and_determinism():
    image, _ = batch()
    torch.manual_seed(3)
    a = Deformation().eval()
    torch.manual_seed(3)
    b = Deformation().eval()
    ga, gb = a.sampler(image, (8, 12)), b.sampler(image, (8, 12))
    assert ga.shape == (2, 8, 12, 2) and torch.equal(ga, gb)
    assert ga.min() >= -1 and ga.max() <= 1
    assert torch.allclose(ga[:, :, 0, 0], torch.full((2, 8), -1.0), atol=1e-6)   # covers the image
    d = a._last_density
    assert d.shape == (2, 1, 16, 24) and torch.allclose(d.sum((1, 2, 3)), torch.ones(2), atol=1e-5)


def test_constant_module_output_gives_the_uniform_grid():
    method = Deformation().eval()
    for p in method.deformation_module.body[-1].parameters():
        torch.nn.init.zeros_(p)  # final 1x1 conv outputs 0 everywhere: d is uniform
    image, _ = batch()
    assert is_uniform(method.sampler(image, (8, 12)), atol=1e-5)


@pytest.mark.parametrize("key", ["deformation", "deformation_single"])
def test_gradients_reach_the_deformation_module(key):
    torch.manual_seed(0)
    method = METHODS.create(key)
    image, labels = batch()
    grid = method.sampler(image, (8, 12))
    image_lr = method.downsample_image(image, grid)
    logits = torch.nn.Conv2d(3, 3, 1)(image_lr)
    loss = method.loss(logits, downsample_labels(labels, grid), {"labels_hr": labels, "grid_lr": grid})
    loss.backward()
    grads = [p.grad for p in method.deformation_module.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    assert ("edge" in method.extra_loss_terms()) == (key == "deformation")


def test_edge_loss_alone_pulls_the_density_towards_the_edges():
    torch.manual_seed(0)
    method = Deformation(gamma=1.0)
    image, labels = batch(B=1, H=16, W=24)
    image = image * 0.2 + 0.4 * (labels.clamp(max=2).float() / 2).unsqueeze(1)  # edges visible in the image
    optimiser = torch.optim.Adam(method.parameters(), lr=2e-2)
    losses = []
    for _ in range(15):
        method.sampler(image, (6, 8))
        loss = edge_loss(method._last_density, labels, 3)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_focal_loss_reference_and_cross_entropy_limit():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3, 5)
    labels = torch.randint(0, 4, (2, 3, 5))
    labels[0, 0, 0] = 255
    ce = F.cross_entropy(logits, labels, ignore_index=255)
    assert torch.allclose(focal_loss(logits, labels, gamma=0.0), ce, atol=1e-6)
    p = F.softmax(logits, 1)
    total, count = 0.0, 0
    for b in range(2):
        for i in range(3):
            for j in range(5):
                if labels[b, i, j] != 255:
                    pt = float(p[b, labels[b, i, j], i, j])
                    total += -((1 - pt) ** 2) * torch.log(torch.tensor(pt))
                    count += 1
    assert torch.allclose(focal_loss(logits, labels, gamma=2.0), total / count, atol=1e-5)


def test_edge_sim_is_an_oracle_and_uniform_without_edges():
    method = METHODS.create("edge_sim")
    assert method.uses_labels_at_train and method.uses_labels_at_eval
    image, labels = batch()
    with pytest.raises(DsbenchError):
        method.sampler(image, (8, 12))
    grid = method.sampler(image, (8, 12), labels)
    assert grid.shape == (2, 8, 12, 2) and not is_uniform(grid)
    flat = torch.full_like(labels, 4)
    assert is_uniform(method.sampler(image, (8, 12), flat), atol=1e-5)
    assert list(method.parameters()) == []  # nothing is learned


def test_interpolation_starts_as_bilinear_and_learns():
    torch.manual_seed(0)
    method = METHODS.create("interpolation", blocks=2, filters=8)
    image, labels = batch()
    grid = method.sampler(image, (8, 12))
    assert is_uniform(grid)
    image_lr = method.downsample_image(image, grid)
    assert torch.allclose(image_lr, resample(image, uniform_grid(2, (8, 12))), atol=1e-6)
    image_lr.square().sum().backward()
    assert method.resizer.tail.weight.grad.abs().sum() > 0
