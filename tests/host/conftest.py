"""Build folders for the host tests: TFC- and CNV-shaped IRs with random weights.

Each build holds ir.json + ir_arrays.npz and the driver bundle (BUILD/driver/). `emulated`
copies also hold a stand-in `xnorflow.bit` (a text file, never a real bitstream: Vivado is not
available here) so that the pynq backend can open them through host/pynq_emulation.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.nets import affine_tfc_ir, uint2_cnv_ir
from xnorflow.compile.driver_bundle import write_driver
from xnorflow.compile.ir import DataflowIR

MODELS = {"tfc": affine_tfc_ir, "cnv": uint2_cnv_ir}
STAND_IN_BITSTREAM = "xnorflow pynq-emulation stand-in; not a bitstream\n"


def make_build(ir: DataflowIR, folder: Path, bitstream: bool = False) -> Path:
    ir.save(folder)
    write_driver(ir, folder / "driver")
    if bitstream:
        (folder / "driver" / "xnorflow.bit").write_text(STAND_IN_BITSTREAM)
    return folder


@pytest.fixture(scope="session")
def irs() -> dict[str, DataflowIR]:
    return {name: make() for name, make in MODELS.items()}


@pytest.fixture(scope="session")
def builds(tmp_path_factory, irs) -> dict[str, Path]:
    """Build folders without a bitstream."""
    root = tmp_path_factory.mktemp("host_builds")
    return {name: make_build(ir, root / name) for name, ir in irs.items()}


@pytest.fixture(scope="session")
def emulated_builds(tmp_path_factory, irs) -> dict[str, Path]:
    """Build folders with a stand-in bitstream, for the emulated pynq backend."""
    root = tmp_path_factory.mktemp("host_emulated")
    return {name: make_build(ir, root / name, bitstream=True) for name, ir in irs.items()}


@pytest.fixture
def fresh_build(tmp_path, builds):
    """A private copy of a build folder a test may change."""
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(builds[name], dest)
        return dest
    return copy


@pytest.fixture(scope="session")
def sim_builds(tmp_path_factory, irs) -> dict[str, Path]:
    """Build folders with BUILD/rtl (the RTL backend's codegen) and a stand-in bitstream.

    The Verilator simulators themselves are compiled once per source hash by
    compile/rtl/sim.py (cached under ~/.cache/xnorflow/verilator, with ccache).
    """
    from xnorflow.compile.rtl import codegen as rtl_codegen

    root = tmp_path_factory.mktemp("host_sim")
    out = {}
    for name, ir in irs.items():
        build = make_build(ir, root / name, bitstream=True)
        rtl_codegen.write(ir, build / "rtl")
        out[name] = build
    return out
