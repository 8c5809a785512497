"""TrimapAccuracy against a brute-force nearest-boundary loop, and its limiting cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.errors import DsbenchError
from benchmark.metrics import ConfusionMatrix, TrimapAccuracy, boundary_mask

from conftest import blocky_labels, noisy_prediction


def brute_force_trimap(pred: np.ndarray, labels: np.ndarray, widths) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel loops: boundary by 4-neighbours, then the nearest boundary pixel by exhaustive search."""
    h, w = labels.shape
    boundary = []
    for y in range(h):
        for x in range(w):
            if labels[y, x] == 255:
                continue
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and labels[ny, nx] != 255 and labels[ny, nx] != labels[y, x]:
                    boundary.append((y, x))
                    break
    correct = np.zeros(len(widths), np.int64)
    total = np.zeros(len(widths), np.int64)
    for y in range(h):
        for x in range(w):
            if labels[y, x] == 255 or not boundary:
                continue
            d = min(math.hypot(y - by, x - bx) for by, bx in boundary)
            for i, width in enumerate(widths):
                if d <= width:
                    total[i] += 1
                    correct[i] += int(pred[y, x] == labels[y, x])
    return correct, total


def test_matches_brute_force(rng):
    widths = (0, 1, 2, 3, 5)
    labels = blocky_labels(rng, (2, 13, 15), 3, block=5, ignore_fraction=0.15)
    pred = noisy_prediction(rng, labels, 3, flip=0.4)
    trimap = TrimapAccuracy(widths)
    trimap.process(pred, labels)
    correct = np.zeros(len(widths), np.int64)
    total = np.zeros(len(widths), np.int64)
    for p, l in zip(pred, labels):
        c, t = brute_force_trimap(p, l, widths)
        correct += c
        total += t
    np.testing.assert_array_equal(trimap.correct, correct)
    np.testing.assert_array_equal(trimap.total, total)
    assert 0 < total[0] < total[-1]  # bands actually grow


def test_wide_band_equals_pixel_accuracy(rng):
    labels = blocky_labels(rng, (3, 12, 20), 4, block=4)
    pred = noisy_prediction(rng, labels, 4)
    diagonal = math.ceil(math.hypot(12, 20))
    trimap = TrimapAccuracy((1, diagonal))
    trimap.process(pred, labels)
    cm = ConfusionMatrix(4)
    cm.process(pred, labels)
    assert trimap.evaluate()[diagonal] == pytest.approx(cm.evaluate()["pixel_accuracy"], abs=1e-12)
    assert trimap.total[-1] == int((labels != 255).sum())


def test_ignore_pixels_excluded():
    # Two classes separated by an ignore column: no boundary at all, so no band.
    labels = np.array([[0, 0, 255, 1, 1]] * 3)
    assert not boundary_mask(labels).any()
    trimap = TrimapAccuracy((1, 100))
    trimap.process(np.zeros_like(labels), labels)
    assert trimap.total.tolist() == [0, 0]
    assert all(math.isnan(v) for v in trimap.evaluate().values())
    # Touching classes: the boundary is the two middle columns; ignore pixels never enter a band,
    # whatever is predicted there.
    labels = np.array([[0, 0, 1, 1, 255]] * 2)
    trimap = TrimapAccuracy((0, 1))
    pred = np.array([[0, 0, 1, 1, 7]] * 2)
    trimap.process(pred, labels)
    assert trimap.total.tolist() == [4, 8]
    assert trimap.correct.tolist() == [4, 8]


def test_bad_widths_raise():
    with pytest.raises(DsbenchError, match="band_widths"):
        TrimapAccuracy((1, -2))
    with pytest.raises(DsbenchError, match="band_widths"):
        TrimapAccuracy(())
