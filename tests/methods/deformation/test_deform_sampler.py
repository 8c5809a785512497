"""Deformed sampler (Jin eq. 3): brute-force reference, uniform map, border rule, gradients."""
import numpy as np
import pytest
import torch

from methods.deformation.sampler import auto_sigma, deformed_grid, gaussian_kernel1d
from benchmark.errors import DsbenchError
from benchmark.ops.sampling import resample, uniform_grid


def _mirror(i: int, n: int) -> int:
    # Reflection about the end pixel centres, applied until the index is inside (a loop, not a formula).
    while i < 0 or i > n - 1:
        i = -i if i < 0 else 2 * (n - 1) - i
    return i


def brute_force_grid(d: np.ndarray, sigma: float) -> np.ndarray:
    """Eq. 3 by explicit loops: mirrored density, linearly extended coordinates. d (hd, wd) -> (hd, wd, 2)."""
    hd, wd = d.shape
    r = max(1, int(round(sigma)))
    out = np.zeros((hd, wd, 2))
    for i in range(hd):
        for j in range(wd):
            num_x = num_y = den = 0.0
            for a in range(i - r, i + r + 1):
                for b in range(j - r, j + r + 1):
                    k = np.exp(-((a - i) ** 2 + (b - j) ** 2) / (2 * sigma ** 2))
                    weight = d[_mirror(a, hd), _mirror(b, wd)] * k
                    num_x += weight * (-1 + 2 * b / (wd - 1))
                    num_y += weight * (-1 + 2 * a / (hd - 1))
                    den += weight
            out[i, j] = (num_x / den, num_y / den)
    return out


@pytest.mark.parametrize("shape,sigma", [((6, 9), 2.0), ((5, 7), 1.3), ((4, 5), 6.0)])
def test_matches_brute_force_loop(shape, sigma):
    rng = np.random.default_rng(0)
    d = rng.random(shape) + 0.05
    grid = deformed_grid(torch.from_numpy(d)[None, None], sigma)[0].numpy()
    np.testing.assert_allclose(grid, brute_force_grid(d, sigma), atol=1e-10)


def test_interior_points_need_no_border_rule():
    # Away from the border eq. 3 is a plain truncated weighted average of in-image neighbours.
    rng = np.random.default_rng(1)
    d = rng.random((11, 13)) + 0.1
    sigma, r = 2.0, 2
    grid = deformed_grid(torch.from_numpy(d)[None, None], sigma)[0].numpy()
    ys, xs = np.mgrid[0:11, 0:13]
    i, j = 5, 6
    window = (abs(ys - i) <= r) & (abs(xs - j) <= r)
    w = d * np.exp(-((ys - i) ** 2 + (xs - j) ** 2) / (2 * sigma ** 2)) * window
    expected_x = (w * (-1 + 2 * xs / 12)).sum() / w.sum()
    expected_y = (w * (-1 + 2 * ys / 10)).sum() / w.sum()
    np.testing.assert_allclose(grid[i, j], [expected_x, expected_y], atol=1e-12)


@pytest.mark.parametrize("map_size,sigma,out", [((8, 12), 2.0, None), ((16, 32), 4.0, (8, 16)),
                                                ((5, 9), 30.0, None), ((32, 64), 8.0, (16, 32))])
def test_uniform_map_gives_uniform_grid_everywhere(map_size, sigma, out):
    d = torch.full((2, 1, *map_size), 0.37, dtype=torch.float64)
    grid = deformed_grid(d, sigma, out)
    expected = uniform_grid(2, out or map_size, dtype=torch.float64)
    assert torch.allclose(grid, expected, atol=1e-12)


def test_border_rows_and_columns_stay_on_the_border_for_any_map():
    torch.manual_seed(0)
    d = torch.rand(3, 1, 10, 14, dtype=torch.float64) ** 4 + 1e-3
    grid = deformed_grid(d, 3.0, (7, 9))
    assert torch.allclose(grid[:, :, 0, 0], torch.full_like(grid[:, :, 0, 0], -1.0), atol=1e-12)
    assert torch.allclose(grid[:, :, -1, 0], torch.full_like(grid[:, :, -1, 0], 1.0), atol=1e-12)
    assert torch.allclose(grid[:, 0, :, 1], torch.full_like(grid[:, 0, :, 1], -1.0), atol=1e-12)
    assert torch.allclose(grid[:, -1, :, 1], torch.full_like(grid[:, -1, :, 1], 1.0), atol=1e-12)
    assert grid.min() >= -1.0 and grid.max() <= 1.0


def test_samples_concentrate_where_density_is_high():
    d = torch.full((1, 1, 20, 20), 1.0, dtype=torch.float64)
    d[..., 5:9, 5:9] = 50.0  # dense block in the upper-left quadrant
    grid = deformed_grid(d, 3.0)
    pixels = (grid[0] + 1) / 2 * 19  # map pixel units (x, y)
    inside = ((pixels[..., 0] >= 4.5) & (pixels[..., 0] <= 8.5) & (pixels[..., 1] >= 4.5) & (pixels[..., 1] <= 8.5))
    assert int(inside.sum()) > 2 * 16  # uniform puts 16 samples there


def test_scale_of_density_does_not_matter():
    d = torch.rand(1, 1, 7, 9, dtype=torch.float64) + 0.1
    assert torch.allclose(deformed_grid(d, 2.0), deformed_grid(d * 1234.5, 2.0), atol=1e-12)


def test_gradcheck_through_the_sampler():
    d = (torch.rand(1, 1, 5, 6, dtype=torch.float64) + 0.2).requires_grad_()
    assert torch.autograd.gradcheck(lambda m: deformed_grid(m, 1.5, (4, 4)), (d,))


def test_gradient_reaches_density_through_grid_sample():
    image = torch.rand(1, 3, 20, 30, dtype=torch.float64)
    d = (torch.rand(1, 1, 8, 12, dtype=torch.float64) + 0.2).requires_grad_()
    resample(image, deformed_grid(d, 2.0, (4, 6))).square().sum().backward()
    assert d.grad is not None and d.grad.abs().sum() > 0


def test_kernel_and_sigma_validation():
    k = gaussian_kernel1d(2.0)
    assert k.numel() == 5 and abs(float(k.sum()) - 1) < 1e-6 and torch.allclose(k, k.flip(0))
    with pytest.raises(DsbenchError):
        gaussian_kernel1d(0.0)
    with pytest.raises(DsbenchError):
        auto_sigma((8, 8), -1.0)
    assert auto_sigma((32, 64), 0.125) == 4.0 and auto_sigma((2, 2), 0.1) == 1.0
