"""`xnorflow bitstream` and `xnorflow flash`: the open board flow's commands."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from xnorflow.compile.board.boards import BOARD_NAMES

__all__ = ["bitstream", "flash"]


def bitstream(
    build: Path = typer.Argument(..., help="Build folder made by `xnorflow compile`."),
    board: str = typer.Option(..., "--board", help=" | ".join(BOARD_NAMES)),
    clock_mhz: float = typer.Option(None, "--clock-mhz", help="The accelerator's clock (the "
                                    "PLL must make it). Default: the fastest PLL clock that "
                                    "meets timing."),
    baud: int = typer.Option(None, "--baud", help="The UART's rate (default 3000000)."),
    allow_timing_fail: bool = typer.Option(False, "--allow-timing-fail", help="Write the "
                                           "bitstream even if it misses its clock."),
) -> None:
    """Board top (PLL, reset, UART bridge, accelerator, LEDs) → Yosys → nextpnr → bitstream.

    Writes BUILD/board/NAME/: board_top.sv, constraints, the bitstream, timing.json (Fmax per
    clock domain, utilisation, the clock chosen).
    """
    from rich.console import Console

    from xnorflow.compile.board.bitstream import build_bitstream
    from xnorflow.compile.errors import CompileError

    logging.basicConfig(level=logging.WARNING)
    console = Console(stderr=True)
    try:
        doc = build_bitstream(build, board, clock_mhz=clock_mhz, baud=baud,
                              allow_timing_fail=allow_timing_fail,
                              step=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    except CompileError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    util = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in doc["utilisation"].items()
                     if k in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "ICESTORM_LC",
                              "ICESTORM_RAM", "ICESTORM_PLL", "EHXPLLL", "MULT18X18D"))
    typer.echo(f"{doc['board']} ({doc['device']}): clock {doc['clock_mhz']:.4g} MHz "
               f"({doc['clock_source']}), Fmax {doc['fmax_mhz']:.1f} MHz, timing "
               f"{'met' if doc['timing_met'] else 'MISSED'}; {util}")
    typer.echo(f"accelerator {doc['accelerator_fps_at_clock']:,.0f} frames/s at the clock; "
               f"the {doc['baud']:,}-baud UART carries {doc['uart_link_frames_per_s']:,.0f} "
               f"frames/s; built in {doc['seconds']['total']:.0f} s")
    typer.echo(f"bitstream {Path(build) / 'board' / doc['board'] / doc['bitstream']}")


def flash(
    build: Path = typer.Argument(..., help="Build folder with BUILD/board/NAME/ "
                                 "(`xnorflow bitstream`)."),
    board: str = typer.Option(..., "--board", help=" | ".join(BOARD_NAMES)),
    to_flash: bool = typer.Option(False, "--flash", help="Write the SPI flash (kept across "
                                  "power cycles) instead of the FPGA's SRAM (iCE40 boards: "
                                  "always the flash)."),
    cable: str = typer.Option(None, "--cable", help="openFPGALoader cable instead of the "
                              "board's default."),
) -> None:
    """Load the bitstream onto the board with openFPGALoader."""
    from xnorflow.compile.board.flash import FlashError
    from xnorflow.compile.board.flash import flash as do_flash
    from xnorflow.compile.errors import CompileError

    try:
        res = do_flash(build, board, to_flash=to_flash, cable=cable)
    except (FlashError, CompileError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"programmed the {board}'s {res['target']}: {' '.join(res['command'])}")
