"""cocotb test of hw_templates/rtl/tlast_tracker.sv, with a model of the layers between its ends.

Run by tests/rtl/test_templates.py. The "core" model accepts input beats when it likes (random
core_s_tready) and may put a frame's output out as soon as the frame's first input beat is in,
before the frame's input is complete — the case where the tracker must hold the frame's last
output beat until it knows whether that frame ended a packet. Packets of random length (TLAST
on each packet's last input beat, plus stray TLASTs inside frames, which must be ignored),
random input gaps and random output back-pressure; the output's TLAST must be high on exactly
the last beat of each packet's last frame, and nothing may stall for long (no deadlock, also
with DEPTH 2 and one-frame packets, which fill the flag queue).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

CASE = json.loads(open(os.environ["XNF_CASE"]).read()) if "XNF_CASE" in os.environ else {}


@cocotb.test()
@cocotb.parametrize(busy=[0.0, 0.5])
async def tracks_tlast(dut, busy):
    rng = random.Random(CASE["seed"] + int(busy * 10))
    in_beats, out_beats = CASE["in_beats"], CASE["out_beats"]
    packets = CASE["packets"]
    frames = sum(packets)
    ends = set()  # frames that end a packet
    for k in range(len(packets)):
        ends.add(sum(packets[: k + 1]) - 1)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for sig in ("s_axis_tvalid", "s_axis_tlast", "core_s_tready", "core_m_tvalid",
                "m_axis_tready"):
        getattr(dut, sig).value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0

    in_done = 0  # input beats accepted
    out_done = 0  # output beats taken
    src_valid = src_last = core_valid = False
    lasts = []  # m_axis_tlast of every output beat
    idle = 0
    while out_done < frames * out_beats:
        # this cycle's inputs; a raised tvalid (and its tlast) holds until the handshake
        if not src_valid and in_done < frames * in_beats and rng.random() >= busy:
            src_valid = True
            frame_end = in_done % in_beats == in_beats - 1
            src_last = (frame_end and in_done // in_beats in ends) or (
                not frame_end and rng.random() < 0.2)  # stray TLAST inside a frame: ignored
        started = -(-in_done // in_beats)  # the core has output for every frame begun
        if not core_valid and out_done < started * out_beats:
            core_valid = True
        dut.s_axis_tvalid.value = int(src_valid)
        dut.s_axis_tlast.value = int(src_valid and src_last)
        dut.core_s_tready.value = int(rng.random() >= busy)
        dut.core_m_tvalid.value = int(core_valid)
        dut.m_axis_tready.value = int(rng.random() >= busy)
        await ReadOnly()
        in_fire = src_valid and dut.s_axis_tready.value == 1
        out_fire = dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1
        core_fire = core_valid and dut.core_m_tready.value == 1
        assert core_fire == out_fire, "the core's output handshake differs from the top's"
        if in_fire:
            assert dut.core_s_tready.value == 1, "input accepted while the core was not ready"
        if out_fire:
            lasts.append(int(dut.m_axis_tlast.value))
        await RisingEdge(dut.clk)
        if in_fire:
            in_done += 1
            src_valid = False
        if out_fire:
            out_done += 1
            core_valid = False
        idle = 0 if in_fire or out_fire else idle + 1
        assert idle < 200, f"no handshake for 200 cycles: {in_done} input, {out_done} output beats"
    want = [int(b == out_beats - 1 and f in ends) for f in range(frames) for b in range(out_beats)]
    bad = [i for i, (g, w) in enumerate(zip(lasts, want, strict=True)) if g != w]
    assert not bad, f"m_axis_tlast wrong on output beats {bad[:10]} (busy={busy})"
