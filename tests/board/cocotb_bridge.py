"""cocotb tests of the UART ↔ AXI4-Stream bridge (hw_templates/rtl/board/uart_axis_bridge.sv)
with its UART receiver and transmitter (tests/board/uart_link_tb.sv), run by
tests/board/test_bridge.py.

The host side is cocotbext-uart on the pins, speaking compile/board_protocol.py's packets; the
accelerator is a model on the bridge's streams (cocotbext-axi sink and source, with idle and
back-pressure generators): each input frame's output frame is a function of the frame
(`model_frame`), so every reply can be checked byte for byte. Random frames and batch sizes;
each test is crossed over no pause / a periodic pause / a seeded random pause.
"""

from __future__ import annotations

import itertools
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource
from cocotbext.uart import UartSink, UartSource

from xnorflow.compile import board_protocol as proto

CASE = json.loads(open(os.environ["XNF_CASE"]).read()) if "XNF_CASE" in os.environ else {}
CLK_NS = 10


def model_frame(frame: bytes, out_frame_bytes: int) -> bytes:
    """The accelerator model's output frame: bytes of a running sum mixed with the length."""
    acc, out = len(frame), bytearray()
    for k in range(out_frame_bytes):
        acc = (acc * 31 + sum(frame[k::out_frame_bytes]) + k) & 0xFF
        out.append(acc)
    return bytes(out)


def pauses(kind: str, seed: int):
    if kind == "none":
        return None
    if kind == "periodic":
        return itertools.cycle([1, 1, 0, 0, 0])
    rng = random.Random(seed)
    return iter(lambda: int(rng.random() < 0.5), None)


class TB:
    def __init__(self, dut, pause: str, seed: int):
        self.dut = dut
        self.c = CASE
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
        baud = 1e9 / (CLK_NS * CASE["div16"] / 16)
        self.uart_in = UartSource(dut.rxd, baud=baud, bits=8, stop_bits=1)
        self.uart_out = UartSink(dut.txd, baud=baud, bits=8, stop_bits=1)
        # the accelerator model is reset with the accelerator (acc_rst: after a cut batch)
        self.acc_in = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk,
                                    dut.acc_rst, byte_lanes=1)
        self.acc_out = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk,
                                       dut.acc_rst, byte_lanes=1)
        self.acc_in.set_pause_generator(pauses(pause, seed))
        self.acc_out.set_pause_generator(pauses(pause, seed + 1))
        self.in_frame = CASE["in_bytes"] * CASE["in_beats"]
        self.out_frame = CASE["out_bytes"] * CASE["out_beats"]
        self.hello = proto.Hello.from_bytes(bytes.fromhex(CASE["hello"]))
        cocotb.start_soon(self.accelerator())

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 5)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 5)

    async def accelerator(self):
        """Frames in → model frames out. The sink hands over a batch at its TLAST (the bridge
        raises it on the batch's last beat), so this also checks the bridge's TLAST."""
        c = self.c
        buf = bytearray()
        while True:
            packet = await self.acc_in.recv()  # the beats up to TLAST: a whole batch
            for word in packet.tdata:
                buf += int(word).to_bytes(c["in_bytes"], "little")
                if len(buf) == self.in_frame:
                    out = model_frame(bytes(buf), self.out_frame)
                    buf.clear()
                    for b in range(c["out_beats"]):
                        chunk = out[b * c["out_bytes"]:(b + 1) * c["out_bytes"]]
                        await self.acc_out.send([int.from_bytes(chunk, "little")])

    async def read_reply(self, cmd: int, n: int) -> proto.Reply:
        length = proto.reply_length(cmd, n, self.hello)
        data = bytearray()
        while len(data) < length:
            data += await self.uart_out.read(1)  # waits for a byte (read(n) does not wait)
            data += self.uart_out.read_nowait(min(self.uart_out.count(), length - len(data)))
        assert self.uart_out.empty(), "the bridge sent more than the reply"
        return proto.parse_reply(bytes(data))

    def frames(self, rng: random.Random, n: int) -> bytes:
        return bytes(rng.getrandbits(8) for _ in range(n * self.in_frame))

    def expected(self, frames: bytes, n: int) -> bytes:
        return b"".join(model_frame(frames[k * self.in_frame:(k + 1) * self.in_frame],
                                    self.out_frame) for k in range(n))


@cocotb.test(timeout_time=20, timeout_unit="ms")
@cocotb.parametrize(pause=["none", "periodic", "random"])
async def hello_and_batches(dut, pause):
    """HELLO returns the block; random batches come back exact; sequence numbers echoed;
    garbage before a packet's SYNC is ignored."""
    rng = random.Random(CASE["seed"])
    tb = TB(dut, pause, CASE["seed"])
    await tb.reset()
    await tb.uart_in.write(proto.hello_command(7))
    r = await tb.read_reply(proto.CMD_HELLO, 0)
    assert (r.cmd, r.seq, r.status) == (proto.CMD_HELLO, 7, proto.STATUS_OK)
    assert r.payload == bytes.fromhex(CASE["hello"])
    assert int(dut.hello_seen.value) == 1
    for k, n in enumerate(CASE["batches"]):
        frames = tb.frames(rng, n)
        if k == 1:
            await tb.uart_in.write(b"\x00\x13\x5a\xff")  # noise between packets: no SYNC
        await tb.uart_in.write(proto.run_command(k, frames, n))
        r = await tb.read_reply(proto.CMD_RUN, n)
        assert (r.cmd, r.seq, r.n, r.status) == (proto.CMD_RUN, k, n, proto.STATUS_OK), r
        assert r.payload == tb.expected(frames, n), f"batch {k}: wrong results"
    assert int(dut.error.value) == 0
    assert tb.acc_in.empty() and tb.uart_out.empty()


@cocotb.test(timeout_time=20, timeout_unit="ms")
@cocotb.parametrize(pause=["none", "random"])
async def corrupted_truncated_unknown(dut, pause):
    """A flipped payload bit → BAD_CRC (results still sent in full); a batch cut short →
    TIMEOUT with zero results and the accelerator reset; an unknown command → BAD_CMD; after
    each, a good batch is exact again."""
    rng = random.Random(CASE["seed"] + 1)
    tb = TB(dut, pause, CASE["seed"] + 1)
    await tb.reset()

    async def good(seq: int):
        n = rng.randint(1, 3)
        frames = tb.frames(rng, n)
        await tb.uart_in.write(proto.run_command(seq, frames, n))
        r = await tb.read_reply(proto.CMD_RUN, n)
        assert r.status == proto.STATUS_OK and r.payload == tb.expected(frames, n)

    # corrupted: flip one bit of the payload
    n = 2
    frames = tb.frames(rng, n)
    pkt = bytearray(proto.run_command(1, frames, n))
    pkt[proto.HEADER_LEN + rng.randrange(len(frames))] ^= 1 << rng.randrange(8)
    await tb.uart_in.write(bytes(pkt))
    r = await tb.read_reply(proto.CMD_RUN, n)
    assert r.status == proto.STATUS_BAD_CRC and len(r.payload) == n * tb.out_frame
    assert int(dut.error.value) == 1
    await good(2)
    assert int(dut.error.value) == 0

    # truncated: the packet stops in the middle of the second frame
    pkt = proto.run_command(3, frames, n)
    await tb.uart_in.write(pkt[:proto.HEADER_LEN + tb.in_frame + 1])
    r = await tb.read_reply(proto.CMD_RUN, n)
    assert r.status == proto.STATUS_TIMEOUT and r.seq == 3
    assert r.payload[tb.out_frame:] == bytes(tb.out_frame), "missing results must be zeros"
    await good(4)

    # a header cut short: no reply at all, and the next packet is taken normally
    await tb.uart_in.write(pkt[:3])
    await Timer(CLK_NS * (CASE["timeout_cycles"] + 200), unit="ns")
    assert tb.uart_out.empty()
    await good(5)

    # unknown command
    await tb.uart_in.write(proto.command(0x33, 6, 0))
    r = await tb.read_reply(0x33, 0)
    assert r.status == proto.STATUS_BAD_CMD and r.n == 0
    await good(7)
    await RisingEdge(dut.clk)
    assert tb.acc_in.empty() and tb.uart_out.empty()
