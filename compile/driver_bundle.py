"""The runtime description of a compiled model and the board bundle (BUILD/driver/).

`write_driver` (a compile backend) writes BUILD/driver/, with the RuntimeSpec that
compile/interface.py derives from the IR:

    driver.py       the board's command line (host/board_driver.py)
    stream.py       compile/stream.py: the stream contract (beats, quantize, unpack, labels)
    pynq_driver.py  host/pynq_driver.py: the PYNQ DMA loop
    runtime.json    the RuntimeSpec of this model, with the IR's fingerprint
    xnorflow.bit / .hwh   written here by BUILD/hls/build_bitstream.tcl (Vivado), when built

The modules are byte-for-byte copies of the ones xnorflow itself uses (with a header
line), so the board runs the very code the tests run. Weights stay inside the bitstream.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from xnorflow import __version__
from xnorflow.compile.interface import ir_fingerprint, runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.stream import RuntimeSpec, RuntimeSpecError

__all__ = ["BITFILE", "BUNDLE_MODULES", "ensure_driver", "ir_fingerprint", "runtime_spec",
           "write_driver"]

BUNDLE_MODULES = {  # file in the bundle: the module of xnorflow it copies
    "stream.py": "compile/stream.py",
    "pynq_driver.py": "host/pynq_driver.py",
    "driver.py": "host/board_driver.py",
}
BITFILE = "xnorflow.bit"


def _module_source(name: str) -> str:
    """The text of xnorflow's module `name` ("host/pynq_driver.py"), found without importing
    its package (compile does not import host)."""
    package, file = name.split("/")
    spec = importlib.util.find_spec(f"xnorflow.{package}")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"xnorflow.{package} is not installed")
    return (Path(next(iter(spec.submodule_search_locations))) / file).read_text()


def write_driver(ir: DataflowIR, folder: Path, options: Any = None) -> None:
    """Write the board bundle into `folder` (BUILD/driver); a bitstream already there is kept.

    Files are written to a temporary folder first and moved in, so a failure leaves no
    half-written bundle.
    """
    folder = Path(folder)
    check_bitstream_matches(ir, folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = runtime_spec(ir, folder.parent)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".writing-") as tmp:
        tmp_path = Path(tmp)
        for dest, src in BUNDLE_MODULES.items():
            header = (f"# Copied by xnorflow {__version__} from xnorflow/{src} for model "
                      f"{ir.name!r} (fingerprint {spec.fingerprint}); do not edit.\n")
            (tmp_path / dest).write_text(header + _module_source(src))
        spec.save(tmp_path / "runtime.json")
        for dest in [*BUNDLE_MODULES, "runtime.json"]:
            (tmp_path / dest).replace(folder / dest)


def bundle_is_current(ir: DataflowIR, folder: Path) -> bool:
    """True if `folder` holds a bundle for this IR written by this version of xnorflow."""
    folder = Path(folder)
    if not all((folder / f).is_file() for f in [*BUNDLE_MODULES, "runtime.json"]):
        return False
    try:
        spec = RuntimeSpec.load(folder / "runtime.json")
    except RuntimeSpecError:
        return False
    return spec == runtime_spec(ir, folder.parent) and all(
        (folder / dest).read_text().split("\n", 1)[1] == _module_source(src)
        for dest, src in BUNDLE_MODULES.items()
    )


def check_bitstream_matches(ir: DataflowIR, folder: Path) -> None:
    """Raise if `folder` holds a bitstream next to a runtime.json made from another model.

    runtime.json is the bitstream's record: both are made from the same build folder.
    """
    folder = Path(folder)
    if not (folder / BITFILE).is_file() or not (folder / "runtime.json").is_file():
        return
    old = RuntimeSpec.load(folder / "runtime.json")
    fingerprint = ir_fingerprint(ir)
    if old.fingerprint != fingerprint:
        raise RuntimeSpecError(
            f"{folder / BITFILE} was built for model {old.model!r} (fingerprint "
            f"{old.fingerprint}), but the IR in {folder.parent} is {ir.name!r} (fingerprint "
            f"{fingerprint}): this build folder mixes two models. Rebuild the bitstream with "
            f"{folder.parent / 'hls' / 'build_bitstream.tcl'} or use the build folder it came from."
        )


def ensure_driver(ir: DataflowIR, build: Path) -> Path:
    """BUILD/driver, (re)written when missing or stale; returns the folder."""
    folder = Path(build) / "driver"
    check_bitstream_matches(ir, folder)
    if not bundle_is_current(ir, folder):
        write_driver(ir, folder)
    return folder


def copy_bundle(folder: Path, dest: Path) -> None:
    """Copy a bundle (for tests and users who want it elsewhere)."""
    shutil.copytree(folder, dest, dirs_exist_ok=True)
