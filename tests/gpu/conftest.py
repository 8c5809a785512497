"""The GPU group: every test here is marked ``gpu`` (deselected by default, like ``slow``) and
skipped without CUDA. Run them with ``python3 -m pytest -m gpu tests/gpu``."""
import pytest
import torch

from benchmark.data.synthcity import make_synthcity


def pytest_collection_modifyitems(config, items):
    here = __file__.rsplit("/", 1)[0]
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.gpu)
            if not torch.cuda.is_available():
                item.add_marker(skip)


@pytest.fixture(scope="session")
def gpu_city(tmp_path_factory):
    """A small synthcity for the training tests (64x128 images)."""
    root = tmp_path_factory.mktemp("gpu_city")
    make_synthcity(root, split_sizes={"train": 4, "val": 2}, size=(64, 128), seed=0)
    return root
