"""cocotb tests of the residual- and dense-network stream templates: the fork
(duplicate_streams.sv) and the joins by addition (add_streams.sv) and by concatenation
(concat_streams.sv).

Run through cocotb_tools.runner by tests/layers/test_fork_join_templates.py; the case comes
from the JSON file named by $XNF_CASE: its "kind" ("fork", "add" or "concat") picks the tests
of this module that run, its beats and expected beats (tdata integers) come from the pytest
side's Python reference. The two joins share one test body (two sources, one sink); a
concat case's inputs hold whole pixels (A_BEATS beats on input 0 and B_BEATS on input 1 a
pixel). Each test is crossed over stall patterns on every stream: none (then the output must
move one beat per cycle), periodic, seeded random, and "long" (stalled for hundreds of cycles
at a time while the other streams keep going). Every run ends with each output carrying
exactly the expected beats and nothing more. A separate test flips the output tready(s)
between clock edges and checks that no input tready follows (no combinational path), and the
fork's run-ahead test checks that a free output takes exactly DEPTH beats while another is
stalled.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Iterator

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

CASE = json.loads(open(os.environ["XNF_CASE"]).read()) if "XNF_CASE" in os.environ else {}


def pauses(kind: str | None, seed: int) -> Iterator[int] | None:
    """A pause generator (1 = idle / not ready this cycle) of the given kind."""
    rng = random.Random(seed)
    if kind == "periodic":
        return itertools.cycle([1, 1, 0, 0, 0])
    if kind == "random":
        return iter(lambda: int(rng.random() < 0.4), 2)
    if kind == "long":
        def gen():
            while True:  # long stalls, then short stretches of light random pauses
                yield from [1] * rng.randint(150, 400)
                yield from (int(rng.random() < 0.3) for _ in range(rng.randint(20, 80)))
        return gen()
    return None


async def start(dut) -> None:
    """Clock, idle outputs' ready low, a 4-cycle reset."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.m_axis_tready.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def handshakes(dut, valid, ready, n: int, out: list[int]) -> None:
    """Append the cycle number of every handshake on bit `n` of valid/ready to `out`."""
    cycle = 0
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if (int(valid.value) >> n) & 1 and (int(ready.value) >> n) & 1:
            out.append(cycle)
        cycle += 1


def assert_full_rate(cycles: list[int], n: int, what: str) -> None:
    assert len(cycles) == n, f"{what}: {len(cycles)} handshakes, expected {n}"
    span = cycles[-1] - cycles[0] + 1
    assert span == n, f"{what}: {n} beats took {span} cycles, expected one beat per cycle"


# ---------------------------------------------------------------------------------------------
# fork: duplicate_streams
# ---------------------------------------------------------------------------------------------

class ForkSinks:
    """The fork's N_OUT outputs (packed vectors, which cocotbext's buses do not slice): each
    with its own pause generator for its m_axis_tready bit; collects each output's beats."""

    def __init__(self, dut, n_out: int, width: int) -> None:
        self.dut, self.n_out, self.width = dut, n_out, width
        self.gens: list[Iterator[int] | None] = [None] * n_out
        self.got: list[list[int]] = [[] for _ in range(n_out)]
        self.probe = False  # flip tready between edges and check s_axis_tready (see run)
        self.probes = 0

    async def run(self) -> None:
        dut, mask = self.dut, (1 << self.width) - 1
        while True:
            ready = 0
            for k, gen in enumerate(self.gens):
                if gen is None or not next(gen):
                    ready |= 1 << k
            dut.m_axis_tready.value = ready
            if self.probe:
                await Timer(2, unit="ns")
                before = int(dut.s_axis_tready.value)
                dut.m_axis_tready.value = ready ^ ((1 << self.n_out) - 1)
                await Timer(2, unit="ns")
                assert int(dut.s_axis_tready.value) == before, \
                    "s_axis_tready follows m_axis_tready combinationally"
                dut.m_axis_tready.value = ready
                self.probes += 1
            await ReadOnly()
            valid, data = int(dut.m_axis_tvalid.value), int(dut.m_axis_tdata.value)
            for k in range(self.n_out):
                if (valid >> k) & 1 and (ready >> k) & 1:
                    self.got[k].append((data >> (k * self.width)) & mask)
            await RisingEdge(dut.clk)


class ForkTB:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.n_out, self.width = CASE["n_out"], CASE["width"]
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst,
                                      byte_lanes=1)
        self.sinks = ForkSinks(dut, self.n_out, self.width)

    def set_idle_generator(self, gen) -> None:
        if gen is not None:
            self.source.set_pause_generator(gen)

    def set_backpressure_generator(self, k: int, gen) -> None:
        self.sinks.gens[k] = gen

    async def reset(self) -> None:
        await start(self.dut)
        cocotb.start_soon(self.sinks.run())

    async def finish(self, beats: list[int], scenario: str) -> None:
        """Wait until every output has all beats, then 20 cycles more: exactly `beats` each."""
        cycles = 0
        while min(len(g) for g in self.sinks.got) < len(beats):
            await RisingEdge(self.dut.clk)
            cycles += 1
            assert cycles < 200 * len(beats) + 5000, (
                f"outputs have {[len(g) for g in self.sinks.got]} of {len(beats)} beats after "
                f"{cycles} cycles: lost or stalled ({scenario})")
        await ClockCycles(self.dut.clk, 20)
        for k, got in enumerate(self.sinks.got):
            assert got == beats, f"output {k} differs from the input ({scenario})"
        assert self.source.empty()


async def fork_stream(dut, idle, backpressure, probe=False):
    tb = ForkTB(dut)
    seed, n_out = CASE["seed"], CASE["n_out"]
    tb.set_idle_generator(pauses(idle, seed))
    for k in range(n_out):
        if backpressure == "long":  # the last output stalls for long runs, the others run free
            tb.set_backpressure_generator(k, pauses("long", seed + 7) if k == n_out - 1 else None)
        else:
            tb.set_backpressure_generator(k, pauses(backpressure, seed + 1 + k))
    tb.sinks.probe = probe
    stamps: list[list[int]] = [[] for _ in range(n_out)]
    await tb.reset()
    for k in range(n_out):
        cocotb.start_soon(handshakes(dut, dut.m_axis_tvalid, dut.m_axis_tready, k, stamps[k]))
    beats = CASE["beats"]
    await tb.source.send(AxiStreamFrame(beats))
    await tb.finish(beats, f"idle={idle}, bp={backpressure}")
    if probe:
        assert tb.sinks.probes > len(beats)
    if not idle and not backpressure:
        for k in range(n_out):
            assert_full_rate(stamps[k], len(beats), f"fork output {k}")


@cocotb.test(timeout_time=2, timeout_unit="ms")
@cocotb.parametrize(idle=[None, "random", "long"],
                    backpressure=[None, "periodic", "random", "long"])
async def fork_streams(dut, idle, backpressure):
    await fork_stream(dut, idle, backpressure)


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def fork_ready_paths(dut):
    """Random pauses everywhere; between clock edges every output's tready is flipped, and
    s_axis_tready must not change."""
    await fork_stream(dut, "random", "random", probe=True)


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def fork_run_ahead(dut):
    """Input always valid; output 0 stalled for 200 cycles while the others are ready: the
    others take exactly DEPTH beats (output 0's FIFO is full), then all catch up."""
    tb = ForkTB(dut)
    n_out, depth = CASE["n_out"], CASE["depth"]
    tb.set_backpressure_generator(0, itertools.chain([1] * 200, itertools.repeat(0)))
    await tb.reset()
    beats = CASE["beats"]
    await tb.source.send(AxiStreamFrame(beats))
    await ClockCycles(dut.clk, 150)
    assert tb.sinks.got[0] == []
    for k in range(1, n_out):
        assert tb.sinks.got[k] == beats[:depth], \
            f"output {k} took {len(tb.sinks.got[k])} beats while output 0 stalled, not {depth}"
    assert int(dut.s_axis_tready.value) == 0
    await tb.finish(beats, "run ahead")


# ---------------------------------------------------------------------------------------------
# joins: add_streams, concat_streams
# ---------------------------------------------------------------------------------------------

class JoinTB:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.sources = [AxiStreamSource(AxiStreamBus.from_prefix(dut, f"s{i}_axis"), dut.clk,
                                        dut.rst, byte_lanes=1) for i in (0, 1)]
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst,
                                  byte_lanes=1)

    def set_idle_generator(self, i: int, gen) -> None:
        if gen is not None:
            self.sources[i].set_pause_generator(gen)

    def set_backpressure_generator(self, gen) -> None:
        if gen is not None:
            self.sink.set_pause_generator(gen)

    async def reset(self) -> None:
        await start(self.dut)


async def probe_ready_paths(dut, cycles: int) -> int:
    """For `cycles` cycles: between clock edges, flip m_axis_tready and check that neither
    s0_axis_tready nor s1_axis_tready follows; restore it before the edge."""
    n = 0
    for _ in range(cycles):
        await RisingEdge(dut.clk)
        await Timer(3, unit="ns")  # after the sink has written this cycle's tready
        ready = int(dut.m_axis_tready.value)
        before = (int(dut.s0_axis_tready.value), int(dut.s1_axis_tready.value))
        dut.m_axis_tready.value = 1 - ready
        await Timer(2, unit="ns")
        after = (int(dut.s0_axis_tready.value), int(dut.s1_axis_tready.value))
        assert after == before, "s*_axis_tready follows m_axis_tready combinationally"
        dut.m_axis_tready.value = ready
        n += 1
    return n


JOIN_SCENARIOS = [  # (input 0 idle, input 1 idle, output back-pressure)
    (None, None, None),
    ("random", "random", "random"),
    ("periodic", "random", "periodic"),
    ("long", None, "random"),  # input 0 stalls for long runs, input 1 waits on it
    ("random", "long", None),  # input 1 stalls for long runs, input 0 waits on it
    (None, None, "long"),  # the output stalls for long runs
    ("long", "random", "long"),
]


async def join_stream(dut, idle0, idle1, backpressure, probe=False):
    """CASE's s0 and s1 beats into the join under the given pauses: exactly CASE's out beats
    come out; with no pauses anywhere, one beat per cycle."""
    tb = JoinTB(dut)
    seed = CASE["seed"]
    tb.set_idle_generator(0, pauses(idle0, seed))
    tb.set_idle_generator(1, pauses(idle1, seed + 1))
    tb.set_backpressure_generator(pauses(backpressure, seed + 2))
    stamps: list[int] = []
    await tb.reset()
    cocotb.start_soon(handshakes(dut, dut.m_axis_tvalid, dut.m_axis_tready, 0, stamps))
    if probe:
        prober = cocotb.start_soon(probe_ready_paths(dut, 400))
    await tb.sources[0].send(AxiStreamFrame(CASE["s0"]))
    await tb.sources[1].send(AxiStreamFrame(CASE["s1"]))
    want = CASE["out"]
    scenario = f"idle0={idle0}, idle1={idle1}, bp={backpressure}"
    got: list[int] = []
    while len(got) < len(want):  # without TLAST every beat is a frame to the sink
        got.extend(int(v) for v in (await tb.sink.recv()).tdata)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"beat {i}: {g:#x}, expected {w:#x} ({scenario})"
    await ClockCycles(dut.clk, 20)
    assert tb.sink.empty(), f"the join sent more beats than expected ({scenario})"
    assert tb.sources[0].empty() and tb.sources[1].empty()
    if probe:
        assert await prober == 400
    if not idle0 and not idle1 and not backpressure:
        assert_full_rate(stamps, len(want), "join output")


@cocotb.test(timeout_time=2, timeout_unit="ms")
@cocotb.parametrize((("idle0", "idle1", "backpressure"), JOIN_SCENARIOS))
async def add_streams(dut, idle0, idle1, backpressure):
    await join_stream(dut, idle0, idle1, backpressure)


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def add_ready_paths(dut):
    """Random pauses on all three streams; between clock edges m_axis_tready is flipped, and
    neither input's tready may change."""
    await join_stream(dut, "random", "random", "random", probe=True)


@cocotb.test(timeout_time=2, timeout_unit="ms")
@cocotb.parametrize((("idle0", "idle1", "backpressure"), JOIN_SCENARIOS))
async def concat_streams(dut, idle0, idle1, backpressure):
    """Each pixel's input 0 beats, then its input 1 beats; with no pauses the inputs take
    turns without a gap (one output beat per cycle)."""
    await join_stream(dut, idle0, idle1, backpressure)


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def concat_ready_paths(dut):
    """As add_ready_paths: neither input's tready follows m_axis_tready."""
    await join_stream(dut, "random", "random", "random", probe=True)


# only the tests of the case's kind run
if CASE.get("kind") != "fork":
    del fork_streams, fork_ready_paths, fork_run_ahead
if CASE.get("kind") != "add":
    del add_streams, add_ready_paths
if CASE.get("kind") != "concat":
    del concat_streams, concat_ready_paths
