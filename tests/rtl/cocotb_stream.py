"""cocotb test of one stream module (a template, or a generated single-layer top).

Run by tests/rtl/test_templates.py through cocotb_tools.runner; the case comes from the JSON
file named by $XNF_CASE: input frames and expected output frames as lists of tdata integers
(host/packing.py beats, computed from the layer's reference()), and the analytic cycles per
frame. Crossed over {no pause, periodic pause, seeded random pause} on the source side and
the same on the sink side; every run ends with the sink empty; the run without pauses also
checks that the measured cycles per frame match exp_cycles().
"""

from __future__ import annotations

import itertools
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

CASE = json.loads(open(os.environ["XNF_CASE"]).read()) if "XNF_CASE" in os.environ else {}


def pauses(kind: str | None, seed: int):
    if kind == "periodic":
        return itertools.cycle([1, 1, 0, 0, 0])
    if kind == "random":
        rng = random.Random(seed)
        return iter(lambda: int(rng.random() < 0.4), 2)
    return None


class TB:
    def __init__(self, dut) -> None:
        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst,
                                      byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst,
                                  byte_lanes=1)

    def set_idle_generator(self, gen) -> None:
        if gen is not None:
            self.source.set_pause_generator(gen)

    def set_backpressure_generator(self, gen) -> None:
        if gen is not None:
            self.sink.set_pause_generator(gen)

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)


@cocotb.test()
@cocotb.parametrize(idle=[None, "periodic", "random"], backpressure=[None, "periodic", "random"])
async def run_stream(dut, idle, backpressure):
    tb = TB(dut)
    tb.set_idle_generator(pauses(idle, CASE["seed"]))
    tb.set_backpressure_generator(pauses(backpressure, CASE["seed"] + 1))
    await tb.reset()
    frames_in, frames_out = CASE["frames_in"], CASE["frames_out"]
    if idle or backpressure:  # fewer frames where only correctness is checked
        frames_in, frames_out = frames_in[:3], frames_out[:3]
    for frame in frames_in:
        await tb.source.send(AxiStreamFrame(frame))
    want = [w for frame in frames_out for w in frame]
    got, stamps = [], []
    per_frame = len(frames_out[0])
    while len(got) < len(want):
        rx = await tb.sink.recv()
        got.extend(int(v) for v in rx.tdata)
        if len(got) % per_frame == 0:
            stamps.append(get_sim_time("ns") / 10)
    assert got == want, f"output differs from the reference (idle={idle}, bp={backpressure})"
    await ClockCycles(dut.clk, 20)
    assert tb.sink.empty(), "the module sent more beats than the reference"
    assert tb.source.empty()
    if not idle and not backpressure and len(stamps) >= 4:
        j = len(stamps) // 2
        measured = (stamps[-1] - stamps[j]) / (len(stamps) - 1 - j)
        exp = CASE["exp_cycles"]
        dut._log.info("cycles/frame measured %.2f, exp_cycles %d", measured, exp)
        assert measured <= 1.05 * exp + 1, f"{measured} cycles/frame, expected {exp}"
        assert measured >= 0.95 * exp - 1, f"{measured} cycles/frame, expected {exp}"
