"""UNSAMPLERS["nearest"] (Jin's Pi) against a brute-force loop."""
import numpy as np
import pytest
import torch

from methods.deformation.sampler import deformed_grid
from benchmark.ops.nearest_unsample import nearest_sample_index
from benchmark.ops.sampling import UNSAMPLERS, uniform_grid, unsample


def brute_force_distances(grid: torch.Tensor, size_hr):
    """(B, H*W, h*w) squared distances from each pixel centre to each sample, by loops."""
    H, W = size_hr
    B, h, w, _ = grid.shape
    g = grid.double().numpy()
    out = np.zeros((B, H * W, h * w))
    for b in range(B):
        for r in range(H):
            for c in range(W):
                for i in range(h):
                    for j in range(w):
                        px = (g[b, i, j, 0] + 1) / 2 * (W - 1)
                        py = (g[b, i, j, 1] + 1) / 2 * (H - 1)
                        out[b, r * W + c, i * w + j] = (px - c) ** 2 + (py - r) ** 2
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_each_pixel_takes_the_nearest_sample(seed):
    torch.manual_seed(seed)
    d = torch.rand(2, 1, 8, 10, dtype=torch.float64) ** 3 + 0.01
    grid = deformed_grid(d, 2.0, (4, 5))
    size_hr = (9, 13)
    dist = brute_force_distances(grid, size_hr)
    index = nearest_sample_index(grid, size_hr).numpy()
    chosen = np.take_along_axis(dist, index[..., None], axis=2)[..., 0]
    np.testing.assert_allclose(chosen, dist.min(axis=2), atol=1e-9)  # ties-safe: compare distances
    logits = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    out = unsample(logits, grid, size_hr, "nearest")
    unique = (np.sort(dist, axis=2)[..., 1] - dist.min(axis=2)) > 1e-9
    expected = logits.reshape(2, 3, -1).numpy()[np.arange(2)[:, None, None], np.arange(3)[None, :, None],
                                                dist.argmin(axis=2)[:, None, :]]
    got = out.reshape(2, 3, -1).numpy()
    mask = np.broadcast_to(unique[:, None, :], got.shape)
    np.testing.assert_array_equal(got[mask], expected[mask])


def test_identity_grid_returns_the_input():
    logits = torch.randn(1, 4, 6, 7)
    assert torch.equal(unsample(logits, uniform_grid(1, (6, 7)), (6, 7), "nearest"), logits)


def test_uniform_downsampling_by_two_exact_blocks():
    # Samples on every other pixel of a 5x5 image: pixel (r, c) takes sample (round-half-any(r/2), ...).
    logits = torch.arange(9.0).reshape(1, 1, 3, 3)
    out = unsample(logits, uniform_grid(1, (3, 3)), (5, 5), "nearest")[0, 0]
    assert out[0, 0] == 0 and out[4, 4] == 8 and out[2, 2] == 4 and out[0, 4] == 2


def test_registered_and_differentiable():
    assert "nearest" in UNSAMPLERS
    logits = torch.randn(1, 2, 3, 4, requires_grad=True)
    unsample(logits, uniform_grid(1, (3, 4)), (7, 9), "nearest").sum().backward()
    # Every sample is the nearest point of at least its own pixel, so every logit gets gradient.
    assert torch.all(logits.grad > 0)
