"""Fixtures of the modeling tests (the tiny configs and clips are in ``helpers.modeling``)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _few_threads_and_seed():
    """Two threads and seed 0 in every modeling test, whatever ran before; the thread count of
    the session is given back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
