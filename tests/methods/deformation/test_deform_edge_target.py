"""Edge-loss target of Jin eq. 4 (footnote 4): scipy reference, one-class labels, ignore pixels."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from methods.deformation.sampler import edge_target, fill_ignore_nearest, label_boundaries, simulated_edge_map
from methods.deformation.method import edge_loss

EDGE = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64)


def scipy_target(labels: np.ndarray, num_classes: int, delta: float = 1.0) -> np.ndarray:
    """Independent reference for a label without ignore pixels: per-class one-hot, scipy Gaussian
    blur (border replicated, truncated at 3 sigma), the 3x3 edge kernel (border replicated)."""
    response = np.zeros(labels.shape)
    for c in range(num_classes):
        blurred = ndimage.gaussian_filter((labels == c).astype(np.float64), delta, mode="nearest", truncate=3.0)
        response += np.abs(ndimage.convolve(blurred, EDGE, mode="nearest"))
    return response / response.sum() if response.sum() > 0 else response


def test_matches_scipy_reference():
    rng = np.random.default_rng(0)
    labels = np.zeros((12, 20), dtype=np.int64)
    labels[3:8, 4:11] = 2
    labels[:, 15:] = 1
    labels[rng.random(labels.shape) < 0.05] = 3
    target, valid = edge_target(torch.from_numpy(labels)[None], 4)
    assert valid.all()
    np.testing.assert_allclose(target[0, 0].double().numpy(), scipy_target(labels, 4), atol=1e-6)


def test_matches_scipy_reference_with_a_few_of_many_classes_present():
    # Only present classes are one-hot encoded: absent ones must not change the target.
    rng = np.random.default_rng(1)
    labels = np.full((2, 40, 64), 7, dtype=np.int64)
    labels[0, 10:25, 5:40] = 11
    labels[1, :, 30:] = 18
    labels[rng.random(labels.shape) < 0.02] = 2
    target, _ = edge_target(torch.from_numpy(labels), 19)
    for b in range(2):
        np.testing.assert_allclose(target[b, 0].double().numpy(), scipy_target(labels[b], 19), atol=1e-6)


@pytest.mark.parametrize("class_id", [0, 5, 18])
def test_one_class_label_gives_zero_target(class_id):
    labels = torch.full((2, 9, 14), class_id, dtype=torch.long)
    labels[1, 2:5, 3:7] = 255  # ignore pixels create no edge either
    target, valid = edge_target(labels, 19)
    assert torch.equal(target, torch.zeros_like(target))
    assert not valid[1, 0, 3, 4] and valid[0].all()


def test_independent_of_class_numbering():
    labels = torch.zeros(1, 10, 16, dtype=torch.long)
    labels[:, 2:6, 3:9] = 1
    labels[:, 7:, :] = 2
    permuted = torch.tensor([4, 0, 7])[labels]
    assert torch.allclose(edge_target(labels, 8)[0], edge_target(permuted, 8)[0], atol=1e-7)


def test_target_is_a_distribution_near_the_edge():
    labels = torch.zeros(1, 8, 16, dtype=torch.long)
    labels[..., 8:] = 1  # vertical boundary between columns 7 and 8
    target, _ = edge_target(labels, 2)
    assert abs(float(target.sum()) - 1) < 1e-6
    columns = target[0, 0].sum(0)
    assert torch.all(columns[:3] < 1e-6) and torch.all(columns[-3:] < 1e-6)  # beyond blur + filter reach
    assert torch.allclose(columns, columns.flip(0), atol=1e-7)                # symmetric about the edge


def test_ignore_pixels_take_nearest_valid_label_and_are_masked():
    labels = torch.zeros(1, 6, 10, dtype=torch.long)
    labels[..., 5:] = 1
    labels[..., 4:6] = 255  # an ignore band over the boundary
    filled = fill_ignore_nearest(labels)
    assert filled[0, 0, 4] == 0 and filled[0, 0, 5] == 1
    target, valid = edge_target(labels, 2)
    assert torch.all(target[~valid] == 0) and float(target.sum()) > 0.99


def test_edge_loss_zero_at_the_target_and_positive_elsewhere():
    labels_hr = torch.zeros(1, 16, 32, dtype=torch.long)
    labels_hr[..., 10:, :] = 1
    target, _ = edge_target(labels_hr, 2)
    assert float(edge_loss(target, labels_hr, 2)) < 1e-12
    uniform = torch.full_like(target, 1.0 / target.numel())
    assert float(edge_loss(uniform, labels_hr, 2)) > 1e-4


def test_label_boundaries_and_simulated_map():
    labels = torch.tensor([[[0, 0, 1, 1], [0, 255, 1, 1], [2, 2, 2, 2]]])
    edges = label_boundaries(labels)[0, 0]  # (2,1) touches only ignore and its own class
    expected = torch.tensor([[0, 1, 1, 0], [1, 0, 1, 1], [1, 0, 1, 1]], dtype=torch.float32)
    assert torch.equal(edges, expected)
    flat = simulated_edge_map(torch.full((1, 8, 8), 3), (4, 4), radius=1.0)
    assert torch.allclose(flat, torch.full_like(flat, flat[0, 0, 0, 0]))  # no edge: constant map
