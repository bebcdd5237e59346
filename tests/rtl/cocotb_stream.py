"""cocotb test of one stream module (a template, or a generated single-layer top).

Run through cocotb_tools.runner by tests/layers/harness.py (each layer kind) and
tests/rtl/test_templates.py (the stream glue); the case comes from the JSON file named by
$XNF_CASE: input frames and expected output frames as lists of tdata integers
(compile/stream.py beats, computed from the layer's reference()), and the analytic cycles per
frame. Crossed over {no pause, periodic pause, seeded random pause} on the source side and
the same on the sink side; every run ends with the sink empty; the run without pauses also
checks that the measured cycles per frame match exp_cycles(). TLAST: frames are sent one per
AXI frame (TLAST on each frame's last beat), or, in the runs with pauses when the case has
"packets" (frames per packet), in packets of several frames with TLAST on the packet's last
beat only; each packet must come out as one AXI frame (TLAST on its last beat and nowhere
else).
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
    packets = [1] * len(frames_in)
    if (idle or backpressure) and "packets" in CASE:
        packets = CASE["packets"]
        assert sum(packets) == len(frames_in)
    elif idle or backpressure:  # fewer frames where only correctness is checked
        frames_in, frames_out, packets = frames_in[:3], frames_out[:3], packets[:3]
    starts = [sum(packets[:i]) for i in range(len(packets))]
    for s, k in zip(starts, packets, strict=True):
        await tb.source.send(AxiStreamFrame([w for f in frames_in[s:s + k] for w in f]))
    has_tlast = hasattr(dut, "m_axis_tlast")  # the stream glue (dwc, fifo) has none
    stamps = []
    for s, k in zip(starts, packets, strict=True):
        want = [w for f in frames_out[s:s + k] for w in f]
        if has_tlast:
            got = [int(v) for v in (await tb.sink.recv()).tdata]  # the beats up to TLAST
        else:
            got = []  # without TLAST every beat is a frame to the sink
            while len(got) < len(want):
                got.extend(int(v) for v in (await tb.sink.recv()).tdata)
        assert got == want, (
            f"packet of frames {s}..{s + k - 1} differs from the reference or does not end with "
            f"TLAST where it should (idle={idle}, bp={backpressure})")
        stamps.append(get_sim_time("ns") / 10)
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
