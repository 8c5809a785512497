"""Soft label samplers: valid mass, one-hot cases, chunking, brute-force references."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from benchmark.errors import DsbenchError
from benchmark.ops.sampling import IGNORE_INDEX, LABEL_SAMPLERS, grid_to_pixels, uniform_grid
from benchmark.ops.soft_labels import (
    SOFT_MODES,
    area_weights,
    cell_centred_grid,
    sample_labels,
    soft_area,
    soft_downsample,
)

K = 5


def random_labels(shape=(2, 24, 36), seed=0, ignore_fraction=0.1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, K, shape, generator=g)
    labels[torch.rand(shape, generator=g) < ignore_fraction] = IGNORE_INDEX
    return labels


def onehot_np(labels: np.ndarray, k: int = K) -> np.ndarray:
    """(H, W) ids -> (k, H, W) float64 one-hot, ignore pixels all-zero."""
    return np.stack([(labels == c).astype(np.float64) for c in range(k)])


def test_modes_are_registered():
    for mode in SOFT_MODES:
        assert mode in LABEL_SAMPLERS


@pytest.mark.parametrize("mode", SOFT_MODES)
@pytest.mark.parametrize("size", [(6, 9), (5, 7), (12, 18)])
def test_soft_labels_sum_to_valid_fraction(mode, size):
    labels = random_labels()
    soft = soft_downsample(labels, size, mode, num_classes=K, valid_threshold=0.0)
    assert soft.shape == (2, K, *size) and soft.dtype == torch.float32
    assert float(soft.min()) >= 0.0 and float(soft.max()) <= 1.0 + 1e-6
    # The valid fraction is the same kernel applied to the valid mask: one class "valid".
    valid = torch.where(labels == IGNORE_INDEX, labels, torch.zeros_like(labels))
    valid_fraction = soft_downsample(valid, size, mode, num_classes=1, valid_threshold=0.0)[:, 0]
    torch.testing.assert_close(soft.sum(1), valid_fraction, atol=2e-6, rtol=0)
    # ... and it is strictly below one somewhere (ignore pixels exist) and above zero everywhere here.
    assert float(valid_fraction.min()) < 1.0


@pytest.mark.parametrize("mode", SOFT_MODES)
def test_one_class_image_gives_one_hot(mode):
    labels = torch.full((1, 16, 20), 3)
    soft = soft_downsample(labels, (5, 7), mode, num_classes=K)
    expected = torch.zeros(1, K, 5, 7)
    expected[:, 3] = 1.0
    torch.testing.assert_close(soft, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", SOFT_MODES)
def test_threshold_zeroes_low_mass_pixels(mode):
    labels = torch.zeros(1, 16, 16, dtype=torch.long)
    labels[:, :, :9] = IGNORE_INDEX  # left cells mostly ignore
    soft = soft_downsample(labels, (4, 4), mode, num_classes=K, valid_threshold=0.5)
    mass = soft.sum(1)
    assert bool(((mass == 0) | (mass >= 0.5 - 1e-5)).all())
    assert float(mass[..., 0].max()) == 0.0 and float(mass[..., 3].min()) > 0.99


@pytest.mark.parametrize("mode", SOFT_MODES)
@pytest.mark.parametrize("grid_kind", ["uniform", "warped"])
@pytest.mark.parametrize("as_probabilities", [False, True])
def test_chunked_equals_unchunked(mode, grid_kind, as_probabilities):
    labels = random_labels((2, 20, 28))
    if as_probabilities:
        labels = torch.from_numpy(np.stack([onehot_np(l.numpy()) for l in labels])).float()
    grid = uniform_grid(2, (7, 9))
    if grid_kind == "warped":
        grid = (grid + 0.05 * torch.sin(3 * grid.flip(-1))).clamp(-1, 1)
    one_chunk = LABEL_SAMPLERS[mode](labels, grid, num_classes=K, chunk_bytes=10**12)
    per_class = LABEL_SAMPLERS[mode](labels, grid, num_classes=K, chunk_bytes=1)
    torch.testing.assert_close(one_chunk, per_class, atol=1e-6, rtol=0)


def brute_force_area(labels: np.ndarray, size) -> np.ndarray:
    """Loops: class fraction of each of the h x w equal cells, fractional pixel overlaps."""
    H, W = labels.shape
    h, w = size
    onehot = onehot_np(labels)
    out = np.zeros((K, h, w))
    for i in range(h):
        y0, y1 = i * H / h, (i + 1) * H / h
        for j in range(w):
            x0, x1 = j * W / w, (j + 1) * W / w
            for r in range(H):
                oy = max(0.0, min(r + 1, y1) - max(r, y0))
                for c in range(W):
                    ox = max(0.0, min(c + 1, x1) - max(c, x0))
                    if oy * ox:
                        out[:, i, j] += oy * ox * onehot[:, r, c]
            out[:, i, j] /= (y1 - y0) * (x1 - x0)
    return out


@pytest.mark.parametrize("size", [(4, 6), (5, 7), (3, 11), (12, 18)])
def test_soft_area_matches_brute_force_block_average(size):
    labels = random_labels((1, 12, 18))
    soft = soft_downsample(labels, size, "soft-area", num_classes=K, valid_threshold=0.0)
    np.testing.assert_allclose(soft[0].numpy(), brute_force_area(labels[0].numpy(), size), atol=1e-6)


def test_soft_area_integer_factor_is_block_mean():
    labels = random_labels((1, 32, 48))
    soft = soft_downsample(labels, (4, 6), "soft-area", num_classes=K, valid_threshold=0.0)
    blocks = onehot_np(labels[0].numpy()).reshape(K, 4, 8, 6, 8).mean(axis=(2, 4))
    np.testing.assert_allclose(soft[0].numpy(), blocks, atol=1e-7)


def test_soft_area_probability_input_equals_id_input():
    labels = random_labels((2, 12, 18))
    probs = torch.from_numpy(np.stack([onehot_np(l.numpy()) for l in labels])).float()
    for size in [(5, 7), (12, 18), (20, 30)]:  # down, identity, up
        from_ids = soft_downsample(labels, size, "soft-area", num_classes=K, valid_threshold=0.0)
        from_probs = soft_downsample(probs, size, "soft-area", num_classes=K, valid_threshold=0.0)
        torch.testing.assert_close(from_ids, from_probs, atol=1e-6, rtol=0)
    # identity size returns the probabilities unchanged, for every soft mode (chained sampling)
    for mode in SOFT_MODES:
        torch.testing.assert_close(soft_downsample(probs, (12, 18), mode, num_classes=K, valid_threshold=0.0),
                                   probs, atol=1e-5, rtol=0)


def test_area_weights_rows_and_columns():
    for n_in, n_out in [(12, 5), (5, 12), (16, 4), (7, 7)]:
        A = area_weights(n_in, n_out)
        np.testing.assert_allclose(A.sum(1).numpy(), 1.0, atol=1e-12)
        np.testing.assert_allclose(A.sum(0).numpy(), n_out / n_in, atol=1e-12)


def test_soft_area_cell_centred_grid_uses_general_path_consistently():
    labels = random_labels((2, 24, 36))
    fast = soft_downsample(labels, (8, 12), "soft-area", num_classes=K, valid_threshold=0.0)
    general = soft_area(labels, cell_centred_grid(2, (8, 12), (24, 36)), num_classes=K, valid_threshold=0.0)
    torch.testing.assert_close(fast, general, atol=1e-6, rtol=0)


def test_soft_area_general_grid_matches_brute_force_boxes():
    labels = random_labels((1, 14, 20), seed=3)
    h, w = 4, 5
    # A separable non-uniform grid (denser on the left and top).
    xs = torch.tensor([-1.0, -0.7, -0.3, 0.2, 1.0])
    ys = torch.tensor([-1.0, -0.5, 0.4, 1.0])
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack((gx, gy), -1).unsqueeze(0)
    soft = soft_area(labels, grid, num_classes=K, valid_threshold=0.0)[0].numpy()

    px = grid_to_pixels(grid.double(), (14, 20))[0].numpy() + 0.5  # edge coordinates

    def boxes(c, limit):
        mids = (c[:-1] + c[1:]) / 2
        lo = np.concatenate([[2 * c[0] - mids[0]], mids])
        hi = np.concatenate([mids, [2 * c[-1] - mids[-1]]])
        half = np.maximum((hi - lo) / 2, 0.5)
        return np.clip((lo + hi) / 2 - half, 0, limit), np.clip((lo + hi) / 2 + half, 0, limit)

    x_lo, x_hi = boxes(px[0, :, 0], 20)
    y_lo, y_hi = boxes(px[:, 0, 1], 14)
    onehot = onehot_np(labels[0].numpy())
    for i in range(h):
        for j in range(w):
            acc = np.zeros(K)
            for r in range(14):
                oy = max(0.0, min(r + 1, y_hi[i]) - max(r, y_lo[i]))
                for c in range(20):
                    ox = max(0.0, min(c + 1, x_hi[j]) - max(c, x_lo[j]))
                    acc += oy * ox * onehot[:, r, c]
            np.testing.assert_allclose(soft[:, i, j], acc / ((y_hi[i] - y_lo[i]) * (x_hi[j] - x_lo[j])), atol=1e-6)


def test_soft_bilinear_matches_scipy_map_coordinates():
    labels = random_labels((1, 15, 21), seed=5)
    grid = uniform_grid(1, (4, 6))
    grid = (grid + 0.1 * torch.cos(5 * grid)).clamp(-1, 1)  # arbitrary grid
    soft = LABEL_SAMPLERS["soft-bilinear"](labels, grid, num_classes=K, valid_threshold=0.0)[0].numpy()
    px = grid_to_pixels(grid.double(), (15, 21))[0].numpy()
    onehot = onehot_np(labels[0].numpy())
    for c in range(K):
        ref = ndimage.map_coordinates(onehot[c], [px[..., 1], px[..., 0]], order=1, mode="nearest")
        np.testing.assert_allclose(soft[c], ref, atol=1e-6)


def test_soft_bicubic_is_clamped_and_differs_from_bilinear():
    labels = random_labels((1, 24, 24), seed=2, ignore_fraction=0.0)
    grid = uniform_grid(1, (10, 10))
    bicubic = LABEL_SAMPLERS["soft-bicubic"](labels, grid, num_classes=K, valid_threshold=0.0)
    bilinear = LABEL_SAMPLERS["soft-bilinear"](labels, grid, num_classes=K, valid_threshold=0.0)
    assert float(bicubic.min()) >= 0 and float(bicubic.max()) <= 1 + 1e-6
    torch.testing.assert_close(bicubic.sum(1), torch.ones(1, 10, 10), atol=1e-5, rtol=0)
    assert float((bicubic - bilinear).abs().max()) > 0.01


def test_large_factor_soft_area_is_antialiased():
    # Stripes one pixel wide: at 1/8 every cell holds half of each class exactly.
    labels = (torch.arange(64).view(1, 1, 64) % 2).expand(1, 64, 64).clone()
    soft = soft_downsample(labels, (8, 8), "soft-area", num_classes=2, valid_threshold=0.0)
    torch.testing.assert_close(soft, torch.full((1, 2, 8, 8), 0.5))


def test_bad_labels_raise_dsbench_error():
    with pytest.raises(DsbenchError, match="outside 0..4"):
        soft_downsample(torch.full((1, 4, 4), 7), (2, 2), "soft-area", num_classes=K)
    with pytest.raises(DsbenchError, match="unknown"):
        soft_downsample(torch.zeros(1, 4, 4, dtype=torch.long), (2, 2), "soft-linear", num_classes=K)
    with pytest.raises(DsbenchError, match="nearest"):
        sample_labels(torch.zeros(1, K, 4, 4), (2, 2), "nearest", num_classes=K)
    with pytest.raises(DsbenchError, match="probabilities"):
        soft_downsample(torch.zeros(1, 3, 4, 4), (2, 2), "soft-bilinear", num_classes=K)


@pytest.mark.parametrize("grid_kind", ["uniform", "warped"])
def test_soft_bilinear_splat_of_ids_equals_resampled_one_hot(grid_kind):
    # Ids take the splat path (no one-hot), probabilities the chunked resample path.
    labels = random_labels((2, 17, 23), seed=7)
    probs = torch.from_numpy(np.stack([onehot_np(l.numpy()) for l in labels])).float()
    grid = uniform_grid(2, (6, 8))
    if grid_kind == "warped":
        grid = (grid + 0.07 * torch.sin(4 * grid.flip(-1))).clamp(-1, 1)
    from_ids = LABEL_SAMPLERS["soft-bilinear"](labels, grid, num_classes=K, valid_threshold=0.0)
    from_probs = LABEL_SAMPLERS["soft-bilinear"](probs, grid, num_classes=K, valid_threshold=0.0)
    torch.testing.assert_close(from_ids, from_probs, atol=2e-6, rtol=0)
