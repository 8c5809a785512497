"""One intra-op thread for these tests: the tensors are tiny, and on a shared 2-core machine
OpenMP threads of concurrent processes make each op orders of magnitude slower."""
from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
