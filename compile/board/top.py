"""The board top of one build for one board: hw_templates/rtl/board/board_top.sv.in filled in
with the PLL's dividers, the UART's divisor, the hello block (compile/board_protocol.py) and
the stream geometry, beside copies of the board templates it instantiates.

`write_board_rtl(build, board, clock_mhz, ...)` writes a folder holding board_top.sv, the
templates and board.json (what was chosen, and the files in order: the accelerator's from
BUILD/rtl first). The accelerator's memory files are read relative to BUILD/rtl, so Yosys and
Verilator run with BUILD/rtl as their working directory, as for `xnorflow synth`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path
from typing import Any

from xnorflow.compile import board_protocol as proto
from xnorflow.compile.board.boards import Board
from xnorflow.compile.board.pll import PllSetting
from xnorflow.compile.errors import CompileError
from xnorflow.compile.interface import TOP
from xnorflow.compile.stream import RuntimeSpec
from xnorflow.compile.templating import render, template_path_of

BOARD_TEMPLATES = ("uart_rx.sv", "uart_tx.sv", "reset_sync.sv", "uart_axis_bridge.sv")
BOARD_TOP = "board_top"
FIFO_DEPTH = 64
MAX_BAUD_ERROR = 0.01  # the UART's bit period may be off by at most this (8N1 tolerates ~4 %)


@dataclasses.dataclass(frozen=True)
class BoardDesign:
    """The choices one board top is made of."""

    board: Board
    pll: PllSetting
    baud: int
    timeout_ms: float = proto.DEFAULT_TIMEOUT_MS

    @property
    def clock_mhz(self) -> float:
        return self.pll.f_out_mhz

    @property
    def div16(self) -> int:
        return round(16 * self.clock_mhz * 1e6 / self.baud)

    @property
    def baud_error(self) -> float:
        return abs(16 * self.clock_mhz * 1e6 / self.div16 - self.baud) / self.baud

    @property
    def timeout_cycles(self) -> int:
        return max(16, round(self.timeout_ms * 1e-3 * self.clock_mhz * 1e6))

    def check(self) -> None:
        if self.div16 < 64:
            raise CompileError(f"{self.baud} baud needs a clock of at least "
                               f"{4 * self.baud / 1e6:g} MHz (4 cycles a bit); "
                               f"{self.clock_mhz:.4g} MHz is too slow: lower --baud")
        if self.baud_error > MAX_BAUD_ERROR:
            raise CompileError(f"{self.baud} baud from {self.clock_mhz:.4g} MHz is "
                               f"{100 * self.baud_error:.1f} % off")


def uart_ok(clock_mhz: float, baud: int) -> bool:
    """Whether the UART can run at `baud` from this clock (for the clock search)."""
    div16 = round(16 * clock_mhz * 1e6 / baud)
    return div16 >= 64 and abs(16 * clock_mhz * 1e6 / div16 - baud) / baud <= MAX_BAUD_ERROR


def hello_literal(data: bytes) -> str:
    """The hello block as a SystemVerilog literal, byte i at bits [8i+7:8i]."""
    return f"{8 * len(data)}'h{int.from_bytes(data, 'little'):0{2 * len(data)}x}"


def render_top(design: BoardDesign, spec: RuntimeSpec, io: dict[str, Any]) -> str:
    board = design.board
    hello = proto.hello_for(spec, round(design.clock_mhz * 1000), design.baud).to_bytes()
    invert = sum(1 << i for i, p in enumerate(board.leds) if p.invert)
    n_leds = max(1, len(board.leds))
    return render(
        "rtl/board", "board_top.sv.in",
        MODEL=spec.model, FINGERPRINT=spec.fingerprint, BOARD=board.name,
        DEVICE=f"{board.device} {board.package}", CLK_PIN_NAME=board.clk_resource,
        CLK_IN_MHZ=f"{board.clk_in_mhz:g}", CLK_MHZ=f"{design.clock_mhz:.6g}",
        BAUD=design.baud, DIV16=design.div16, TOP=TOP,
        PLL_PARAMS=design.pll.param_text(), N_LEDS=n_leds,
        HEARTBEAT_BIT=max(1, int(math.log2(design.clock_mhz * 1e6)) - 1),
        IN_W=8 * io["in_bytes"], OUT_W=8 * io["out_bytes"], IN_BYTES=io["in_bytes"],
        IN_BEATS=io["in_beats"], OUT_BYTES=io["out_bytes"], OUT_BEATS=io["out_beats"],
        HELLO_LEN=len(hello), HELLO=hello_literal(hello),
        TIMEOUT_CYCLES=design.timeout_cycles, FIFO_DEPTH=FIFO_DEPTH,
        LED_INVERT=f"{n_leds}'d{invert}",
    )


def write_board_rtl(rtl_dir: Path, spec: RuntimeSpec, design: BoardDesign, folder: Path,
                    sim: bool = False) -> dict[str, Any]:
    """Write the board top and its templates into `folder` (created); returns board.json's
    content. sim=True takes the PLL's simulation model (Verilator)."""
    design.check()
    rtl_dir = Path(rtl_dir).resolve()
    desc = json.loads((rtl_dir / "rtl.json").read_text())
    io = desc["interface"]
    if io.get("fingerprint") and io["fingerprint"] != spec.fingerprint:
        raise CompileError(f"{rtl_dir} was generated from another IR (fingerprint "
                           f"{io['fingerprint']}, the build's is {spec.fingerprint}): re-run "
                           "`xnorflow compile`")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pll_file = "board_pll_sim.sv" if sim else f"board_pll_{design.board.family}.sv"
    for name in (*BOARD_TEMPLATES, pll_file):
        shutil.copyfile(template_path_of("rtl/board", name), folder / name)
    (folder / f"{BOARD_TOP}.sv").write_text(render_top(design, spec, io))
    files = [str(rtl_dir / f) for f in desc["files"]]
    files += [str((folder / f).resolve()) for f in (*BOARD_TEMPLATES, pll_file,
                                                      f"{BOARD_TOP}.sv")]
    doc = {
        "generator": "xnorflow.compile.board.top", "model": spec.model,
        "fingerprint": spec.fingerprint, "board": design.board.name,
        "device": design.board.device, "package": design.board.package,
        "clock_in_mhz": design.board.clk_in_mhz, "clock_mhz": design.clock_mhz,
        "pll": dict(design.pll.params), "pll_vco_mhz": design.pll.f_vco_mhz,
        "baud": design.baud, "uart_div16": design.div16, "baud_error": design.baud_error,
        "timeout_ms": design.timeout_ms, "timeout_cycles": design.timeout_cycles,
        "fifo_depth": FIFO_DEPTH, "interface": io, "sim": sim,
        "leds": ["heartbeat", "ready", "busy", "error", "hello"][:len(design.board.leds)],
        "top": BOARD_TOP, "rtl_dir": str(rtl_dir), "files": files,
    }
    (folder / "board.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc
