import pytest

from benchmark.data.synthcity import make_synthcity

@pytest.fixture(scope="session")
def tiny_city(tmp_path_factory):
    """A small synthcity (64x128 images) shared by the engine tests."""
    root = tmp_path_factory.mktemp("synthcity")
    make_synthcity(root, split_sizes={"train": 6, "val": 2}, size=(64, 128), seed=0)
    return root

@pytest.fixture(scope="session")
def small_city(tmp_path_factory):
    """Large enough to learn from: 128x256 images."""
    root = tmp_path_factory.mktemp("synthcity_small")
    make_synthcity(root, split_sizes={"train": 24, "val": 6}, size=(128, 256), seed=1)
    return root
