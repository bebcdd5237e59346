"""Build folders for the board tests: the 8x8 digits MLP (tests/nets.digits_mlp) and a copy
with other weights and the same stream geometry (another build's identity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import nets
from xnorflow.compile.rtl import codegen as rtl_codegen


def make_build(root: Path, name: str, seed: int) -> Path:
    folder = root / name
    if not (folder / "rtl" / "rtl.json").is_file():
        ir = nets.digits_mlp(seed)
        ir.save(folder)
        rtl_codegen.write(ir, folder / "rtl")
    return folder


@pytest.fixture(scope="session")
def digits_build(request) -> Path:
    return make_build(Path(request.config.cache.mkdir("xnorflow_board_builds")), "digits", 0)


@pytest.fixture(scope="session")
def other_build(request) -> Path:
    return make_build(Path(request.config.cache.mkdir("xnorflow_board_builds")), "other", 1)
