"""cocotb test of hw_templates/rtl/popcount.sv: random bit vectors a (and b: XNOR mode counts
the lanes where they agree; also all-agree and none-agree) every cycle with random valid gaps in
the side band; each count must come out with its own side band, the latency must be the
documented one, and m_user_pre must lead m_user by a cycle.

Run by tests/rtl/test_templates.py, which passes N, LEVELS_PER_STAGE and the expected latency
(its own model of the heap's levels) in the case file.
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
@cocotb.parametrize(busy=[0.0, 0.6])
async def counts_bits(dut, busy):
    rng = random.Random(CASE["seed"] + int(busy * 10))
    n, latency, uw, xnor = CASE["n"], CASE["latency"], CASE["uw"], CASE["xnor"]
    full = (1 << n) - 1
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.a.value = 0
    dut.b.value = 0
    dut.s_user.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0

    sent = []  # (cycle, count, user) of every valid input
    got = []  # (cycle, y, user) of every output with the valid bit set
    pre = {}  # cycle -> m_user_pre
    patterns = [full, 0]  # the counted lanes: all, none
    for cycle in range(400 + latency + 1):
        if cycle < 400 and rng.random() >= busy:
            lanes = patterns[len(sent)] if len(sent) < len(patterns) else rng.getrandbits(n)
            a = rng.getrandbits(n) if xnor else lanes
            b = ~(a ^ lanes) & full if xnor else rng.getrandbits(n)  # lanes: where a == b
            user = ((len(sent) << 1) | 1) & ((1 << uw) - 1)  # bit 0: valid, above: a tag
            sent.append((cycle, bin(lanes).count("1"), user))
            dut.a.value, dut.b.value, dut.s_user.value = a, b, user
        else:
            dut.a.value, dut.b.value, dut.s_user.value = rng.getrandbits(n), rng.getrandbits(n), 0
        await ReadOnly()  # the outputs of the registers loaded at the last edge
        pre[cycle] = int(dut.m_user_pre.value)
        user = int(dut.m_user.value)
        if user & 1:
            got.append((cycle, int(dut.y.value), user))
        assert cycle == 0 or pre[cycle - 1] == user, "m_user_pre does not lead m_user by a cycle"
        await RisingEdge(dut.clk)
    assert len(got) == len(sent), f"{len(sent)} counts sent, {len(got)} came out"
    for (c_in, count, u_in), (c_out, y, u_out) in zip(sent, got, strict=True):
        assert u_out == u_in, "side band out of order"
        assert c_out - c_in == latency, f"latency {c_out - c_in}, documented {latency}"
        assert y == count, f"count {y}, expected {count}"
