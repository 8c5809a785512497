"""Shared helpers for the metrics tests: tiny random label maps with a fixed seed."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def blocky_labels(rng: np.random.Generator, shape: tuple[int, ...], num_classes: int, block: int = 4,
                  ignore_fraction: float = 0.1) -> np.ndarray:
    """Piecewise-constant labels (blocks of ``block`` px) with some ignore (255) pixels."""
    *lead, h, w = shape
    coarse = rng.integers(0, num_classes, size=(*lead, -(-h // block), -(-w // block)))
    labels = coarse.repeat(block, axis=-2).repeat(block, axis=-1)[..., :h, :w]
    labels = np.where(rng.random(labels.shape) < ignore_fraction, 255, labels)
    return labels.astype(np.int64)


def noisy_prediction(rng: np.random.Generator, labels: np.ndarray, num_classes: int,
                     flip: float = 0.3) -> np.ndarray:
    """Labels with a fraction of pixels replaced by random classes (ignore pixels get a class too)."""
    noise = rng.integers(0, num_classes, size=labels.shape)
    base = np.where(labels == 255, noise, labels)
    return np.where(rng.random(labels.shape) < flip, noise, base).astype(np.int64)
