"""Build folders of whole generated accelerators, made once per test session.

Each design is a build folder (ir.json + rtl/) under pytest's cache dir; its Verilator testbench
is compiled by compile/rtl/sim.py into a cache keyed by the hash of the SystemVerilog
sources (weights are loaded at start-up, so networks of the same shapes share one binary), with
ccache (tool_env) for the C++.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests import nets
from tests.compile.layer_nets import COMPILED_DEFAULT, COMPILED_SLOW
from tests.nets import random_cnn, random_mlp
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.rtl import codegen as rtl_codegen

DESIGNS: dict[str, Callable[[], DataflowIR]] = {
    "tfc": nets.tfc_ir,
    "tfc_ram_styles": nets.tfc_ram_styles_ir,
    "small_cnv": nets.small_cnv_ir,
    **{f"random_mlp_{s}": (lambda s=s: random_mlp(s)) for s in range(12)},
    **{f"random_cnn_{s}": (lambda s=s: random_cnn(s)) for s in range(12)},
    "cnv": nets.cnv_ir,
    **COMPILED_DEFAULT,
    **COMPILED_SLOW,
}


@pytest.fixture(scope="session")
def design(request) -> Callable[[str], tuple[DataflowIR, Path]]:
    """name → (IR, build folder with ir.json and rtl/), written once per session."""
    root = Path(request.config.cache.mkdir("xnorflow_rtl_designs"))
    made: dict[str, tuple[DataflowIR, Path]] = {}

    def get(name: str) -> tuple[DataflowIR, Path]:
        if name not in made:
            ir = DESIGNS[name]()
            folder = root / name
            ir.save(folder)
            rtl_codegen.write(ir, folder / "rtl")
            made[name] = (ir, folder)
        return made[name]

    return get
