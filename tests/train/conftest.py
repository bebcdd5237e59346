"""Training tests run torch on one thread (shared_data comes from tests/conftest.py)."""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
