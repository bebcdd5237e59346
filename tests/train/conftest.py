"""Shared fixtures for the training tests: one torch thread (the shared_data fixture is in tests/conftest.py)."""

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
