"""cocotb test of reset_sync.sv, run by tests/board/test_bridge.py: rst rises at once when
arst_n falls (between clock edges), and falls STAGES clock edges after arst_n rises, in step
with the clock."""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer

CASE = json.loads(open(os.environ["XNF_CASE"]).read()) if "XNF_CASE" in os.environ else {}


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def asserts_at_once_releases_in_step(dut):
    stages = CASE["stages"]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.arst_n.value = 0
    await ClockCycles(dut.clk, 3)
    await ReadOnly()
    assert int(dut.rst.value) == 1
    for trial in range(3):
        await RisingEdge(dut.clk)
        await Timer(3, unit="ns")  # between edges: an asynchronous release
        dut.arst_n.value = 1
        for k in range(stages):
            await RisingEdge(dut.clk)
            await ReadOnly()
            assert int(dut.rst.value) == (1 if k < stages - 1 else 0), (trial, k)
        await ClockCycles(dut.clk, 5 + trial)
        await Timer(4, unit="ns")
        dut.arst_n.value = 0  # the PLL lost lock: reset at once, no clock edge needed
        await Timer(1, unit="ns")
        assert int(dut.rst.value) == 1
