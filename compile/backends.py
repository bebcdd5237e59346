"""Code generators that `xnorflow compile` runs after the IR is saved.

Each backend is a function `write(ir, folder, options)` writing one sub-folder of the build
(BUILD/rtl, BUILD/hls). Backends add themselves to BACKENDS; the compiler knows no more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.parts import DEFAULT_BOARD, DEFAULT_PART


@dataclasses.dataclass(frozen=True)
class BackendOptions:
    clock_mhz: float = 100.0
    part: str = DEFAULT_PART
    board: str = DEFAULT_BOARD


Writer = Callable[[DataflowIR, Path, BackendOptions], None]

# (sub-folder name, writer); filled in by the backends' modules below
BACKENDS: list[tuple[str, Writer]] = []


def write_backends(ir: DataflowIR, build: Path, options: BackendOptions) -> dict[str, Path]:
    written = {}
    for name, write in BACKENDS:
        folder = Path(build) / name
        write(ir, folder, options)
        written[name] = folder
    return written


from xnorflow.compile.rtl import codegen as rtl_codegen  # noqa: E402  (SystemVerilog top)

BACKENDS.append(("rtl", rtl_codegen.write))

from xnorflow.compile.hls import codegen as hls_codegen  # noqa: E402  (HLS C++, Tcl)

BACKENDS.append(("hls", hls_codegen.write))  # before "driver": it reads BUILD/hls/bd.json

from xnorflow.compile.driver_bundle import write_driver  # noqa: E402  (host runtime's board bundle)

BACKENDS.append(("driver", write_driver))
