"""cocotb tests of uart_rx.sv and uart_tx.sv (tests/board/uart_pair_tb.sv), run by
tests/board/test_bridge.py: random bytes through each at a fractional bit period, from and to
cocotbext-uart; the transmitter fed by an AXI4-Stream source with pauses; a byte whose stop
bit is 0 is dropped and flagged; a short low glitch is not a start bit."""

from __future__ import annotations

import itertools
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotbext.axi import AxiStreamBus, AxiStreamSource
from cocotbext.uart import UartSink, UartSource

CASE = json.loads(open(os.environ["XNF_CASE"]).read()) if "XNF_CASE" in os.environ else {}
CLK_NS = 10


async def start(dut):
    cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
    dut.rxd.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


def bit_ns() -> float:
    return CLK_NS * CASE["div16"] / 16


async def collect(dut, into: list, errors: list):
    while True:
        await RisingEdge(dut.clk)
        if int(dut.rx_tvalid.value):
            into.append(int(dut.rx_tdata.value))
        if int(dut.rx_error.value):
            errors.append(1)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def receives(dut):
    rng = random.Random(CASE["seed"])
    await start(dut)
    got, errors = [], []
    cocotb.start_soon(collect(dut, got, errors))
    src = UartSource(dut.rxd, baud=1e9 / bit_ns())
    data = bytes(rng.getrandbits(8) for _ in range(CASE["n"]))
    await src.write(data)
    await src.wait()
    await Timer(int(2 * bit_ns()), unit="ns")
    assert bytes(got) == data and not errors

    # a frame with a 0 stop bit: flagged and dropped; then a glitch; then a good byte
    got.clear()
    bit = int(bit_ns())
    for level in [0, 1, 0, 1, 0, 1, 0, 1, 0, 0]:  # start, 0x55, stop = 0
        dut.rxd.value = level
        await Timer(bit, unit="ns")
    dut.rxd.value = 1
    await Timer(3 * bit, unit="ns")
    dut.rxd.value = 0
    await Timer(CLK_NS * 2, unit="ns")  # shorter than half a bit
    dut.rxd.value = 1
    await Timer(3 * bit, unit="ns")
    assert got == [] and errors == [1]
    src2 = UartSource(dut.rxd, baud=1e9 / bit_ns())
    await src2.write(b"\xa7")
    await src2.wait()
    await Timer(2 * bit, unit="ns")
    assert got == [0xA7]


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def transmits(dut):
    rng = random.Random(CASE["seed"] + 1)
    await start(dut)
    src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst,
                          byte_lanes=1)
    src.set_pause_generator(itertools.cycle([0, 0, 1, 1, 1, 0, 1]))
    sink = UartSink(dut.txd, baud=1e9 / bit_ns())
    data = [rng.getrandbits(8) for _ in range(CASE["n"])]
    for b in data:
        await src.send([b])  # one beat per frame: no TLAST needed
    got = bytearray()
    while len(got) < len(data):
        got += await sink.read(1)
    assert list(got) == data
    await Timer(int(3 * bit_ns()), unit="ns")
    assert sink.empty() and int(dut.txd.value) == 1
