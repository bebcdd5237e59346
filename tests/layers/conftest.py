"""The cocotb builds of the layer templates are kept under pytest's cache dir."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def rtl_cache(request) -> Path:
    return Path(request.config.cache.mkdir("xnorflow_rtl_templates"))
