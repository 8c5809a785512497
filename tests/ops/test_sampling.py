"""Properties of the sampling-grid interface (benchmark/ops/sampling.py) and the uniform method."""
import pytest
import torch
import torch.nn.functional as F

import methods  # noqa: F401  registers methods
from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import (
    downsample_labels, grid_to_pixels, grid_to_tensor, identity_grid, nearest_pixel_index, pixels_to_grid,
    resample, tensor_to_grid, uniform_grid, unsample,
)


def test_uniform_grid_matches_marin_tensor():
    # u_ij = (i-1)/(h-1): first and last samples on the first and last pixel centres.
    grid = uniform_grid(1, (3, 5))
    phi = grid_to_tensor(grid)
    assert torch.allclose(phi[0, 0, :, 0], torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(phi[0, 1, 0, :], torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.allclose(tensor_to_grid(phi), grid)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_identity_grid_is_identity(mode):
    image = torch.rand(2, 3, 7, 11, dtype=torch.float64)
    out = resample(image, identity_grid(2, (7, 11), dtype=torch.float64), mode)
    assert torch.allclose(out, image, atol=1e-10)


@pytest.mark.parametrize("size_lr", [(4, 8), (5, 3), (16, 32)])
def test_uniform_grid_equals_interpolate_align_corners(size_lr):
    image = torch.rand(2, 3, 32, 64, dtype=torch.float64)
    ours = resample(image, uniform_grid(2, size_lr, dtype=torch.float64))
    ref = F.interpolate(image, size=size_lr, mode="bilinear", align_corners=True)
    assert torch.allclose(ours, ref, atol=1e-10)


def test_unsample_after_sample_of_smooth_field_is_close():
    H, W = 64, 96
    y, x = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    field = torch.stack([torch.sin(2 * x + y), torch.cos(3 * y) * x]).unsqueeze(0)  # (1, 2, H, W)
    grid = uniform_grid(1, (16, 24))
    back = unsample(resample(field, grid), grid, (H, W), "bilinear")
    assert back.shape == field.shape
    assert (back - field).abs().max() < 0.01


def test_nearest_labels_copy_ids_never_blend():
    labels = torch.randint(0, 5, (2, 9, 13))
    labels[:, 0, 0] = 255
    grid = uniform_grid(2, (4, 6))
    out = downsample_labels(labels, grid, "nearest")
    # brute force: the closest pixel centre for each grid point
    px = grid_to_pixels(grid, (9, 13))
    for b in range(2):
        for i in range(4):
            for j in range(6):
                r, c = int(round(px[b, i, j, 1].item())), int(round(px[b, i, j, 0].item()))
                assert out[b, i, j] == labels[b, r, c]
    assert set(out.unique().tolist()) <= set(labels.unique().tolist())


def test_downsample_labels_by_size_equals_by_uniform_grid():
    labels = torch.randint(0, 19, (1, 32, 64))
    assert torch.equal(downsample_labels(labels, (8, 16)), downsample_labels(labels, uniform_grid(1, (8, 16))))


def test_labels_must_be_integer_ids():
    with pytest.raises(TypeError):
        downsample_labels(torch.rand(1, 8, 8), (4, 4))


def test_bilinear_unsample_refuses_non_uniform_grid():
    grid = uniform_grid(1, (4, 4)).clone()
    grid[0, 1, 1] += 0.1
    with pytest.raises(ValueError, match="uniform"):
        unsample(torch.rand(1, 3, 4, 4), grid, (8, 8), "bilinear")


def test_pixel_grid_round_trip_and_nearest_index():
    grid = torch.rand(1, 3, 4, 2) * 2 - 1
    assert torch.allclose(pixels_to_grid(grid_to_pixels(grid, (10, 20)), (10, 20)), grid, atol=1e-6)
    row, col = nearest_pixel_index(uniform_grid(1, (2, 2)), (10, 20))
    assert row.tolist() == [[[0, 0], [9, 9]]] and col.tolist() == [[[0, 19], [0, 19]]]


def test_non_positive_resolution_is_a_user_error():
    with pytest.raises(DsbenchError, match="positive"):
        downsample_labels(torch.zeros(1, 4, 4, dtype=torch.long), (0, 4))


def test_uniform_method_grid_and_gradients():
    method = METHODS.create("uniform")
    image = torch.rand(2, 3, 20, 30, requires_grad=True)
    grid = method.sampler(image, (5, 6))
    assert torch.equal(grid, uniform_grid(2, (5, 6)))
    method.downsample_image(image, grid).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert method.label_mode == "nearest" and method.unsample_mode == "bilinear"
