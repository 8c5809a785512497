"""Run these tests single-threaded: the tensors are tiny, and with two intra-op threads on a
busy 2-core machine every op waits on thread hand-offs (measured: ~700x slower backward)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
