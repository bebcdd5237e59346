"""cocotb test of a generated top under long stalls (tests/rtl/test_residual_holds.py): the
sink holds its tready low for long stretches (hundreds of cycles, longer than a frame) with
short bursts between, the source pauses at random; every frame must come out bit-exact and
the run must finish: a residual block whose join is held this way must not deadlock.
The case comes from $XNF_CASE as in cocotb_stream.py."""

from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import AxiStreamFrame

from tests.rtl.cocotb_stream import CASE, TB, pauses


def long_holds(seed: int, hold: int):
    """tready low for `hold`..2·`hold` cycles, then high for 1..hold/4 cycles, repeated."""
    rng = random.Random(seed)
    while True:
        yield from [1] * rng.randint(hold, 2 * hold)
        yield from [0] * rng.randint(1, max(1, hold // 4))


@cocotb.test()
async def run_long_holds(dut):
    tb = TB(dut)
    tb.set_idle_generator(pauses("random", CASE["seed"]))
    tb.set_backpressure_generator(long_holds(CASE["seed"] + 1, CASE["hold"]))
    await tb.reset()
    frames_in, frames_out = CASE["frames_in"], CASE["frames_out"]
    for f in frames_in:
        await tb.source.send(AxiStreamFrame(f))
    limit = CASE["cycle_limit"]
    for k, want in enumerate(frames_out):
        frame = await with_timeout(tb.sink.recv(), limit * 10, "ns")
        assert [int(v) for v in frame.tdata] == want, f"frame {k} differs from the reference"
    await ClockCycles(dut.clk, 20)
    assert tb.sink.empty() and tb.source.empty()
