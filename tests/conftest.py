"""Suite-wide test settings."""
import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    # The tensors in tests are tiny; with two intra-op threads on a busy 2-core machine every op
    # waits on thread hand-offs (measured: hundreds of times slower backward passes).
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
