"""Shared fixtures: one tiny synthcity generated once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.data.synthcity import make_synthcity

TINY_SIZE = (64, 128)
TINY_SPLITS = {"train": 3, "val": 2}


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthcity")
    make_synthcity(root, TINY_SPLITS, size=TINY_SIZE, seed=7)
    return root
