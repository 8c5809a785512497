import pytest

from benchmark.data.synthcity import make_synthcity


@pytest.fixture(scope="session")
def tiny_city(tmp_path_factory):
    """A very small synthcity (32x64 images): the fault tests train for a few iterations."""
    root = tmp_path_factory.mktemp("synthcity_faults")
    make_synthcity(root, split_sizes={"train": 4, "val": 2}, size=(32, 64), seed=0)
    return root
