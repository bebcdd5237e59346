"""The whole board top in Verilator (compile/board/sim.py) driven by the host's serial backend
(host/serial_backend.py) over pyserial's socket:// on loopback — the code that drives a board.

Bit-exact against the reference on the real digits test images; the board refuses to run for a
build folder of another network; broken, truncated, corrupted and out-of-order exchanges are
recovered from; `xnorflow run --backend board-sim` end to end.
"""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from xnorflow.cli import app
from xnorflow.compile import board_protocol as proto
from xnorflow.compile import stream
from xnorflow.compile.board.sim import BoardSimulator
from xnorflow.compile.interface import runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.host.accelerator import Accelerator
from xnorflow.host.serial_backend import BoardMismatchError, SerialBackend
from xnorflow.train.data import load_dataset

pytestmark = pytest.mark.sim
BOARD = "icebreaker"


@pytest.fixture(scope="module")
def board(digits_build):
    with BoardSimulator(digits_build, BOARD, clock_mhz=30.0) as sim:
        yield sim


@pytest.fixture(scope="module")
def digits():
    images, labels = load_dataset("digits", None, "test")
    return images[:120], labels[:120]


def open_link(sim: BoardSimulator, build, **kw) -> SerialBackend:
    spec = runtime_spec(DataflowIR.load(build), build)
    return SerialBackend(spec, sim.url, timeout_s=60.0, resync_s=sim.resync_s(), **kw)


def link_and_batch(board: BoardSimulator, build, images: np.ndarray, n: int):
    """A link in batches of 8, the first n images as input beats, the reference's outputs."""
    link = open_link(board, build, batch_frames=8)
    _, ref = DataflowIR.load(build).predict(images[:n])
    return link, stream.pack_input(link.spec, images[:n]), ref


def test_bit_exact_on_digits(board, digits_build, digits):
    images, labels = digits
    ir = DataflowIR.load(digits_build)
    link = open_link(board, digits_build, batch_frames=50)
    try:
        assert link.hello.fingerprint == runtime_spec(ir).fingerprint
        assert link.hello.clock_khz == 30000 and link.hello.baud == proto.DEFAULT_BAUD
        spec = link.spec
        before = board.stats()
        out = link.run_beats(stream.pack_input(spec, images))
        after = board.stats()
    finally:
        link.close()
    _, ref = ir.predict(images)
    assert np.array_equal(stream.unpack_output(spec, out), ref)
    assert link.batches == 3  # 120 frames in batches of 50
    # the bytes that crossed the modelled UART: frames in, results out, framing around them
    sent = after["bytes_to_board"] - before["bytes_to_board"]
    assert sent == 120 * spec.in_frame_bytes + 3 * (proto.HEADER_LEN + 2)
    got = after["bytes_from_board"] - before["bytes_from_board"]
    assert got == 120 * spec.out_frame_bytes + 3 * (proto.HEADER_LEN + 3)
    # the link's pace: cycles at the board's clock per frame = what the baud rate allows, once
    # the cycles the board waited for this host's next byte mid-packet are left out (the host
    # process shares the machine; a real host writes a packet at once)
    cycles = after["cycles"] - before["cycles"]
    starved = after["starved_cycles"] - before["starved_cycles"]
    fps = 120 / ((cycles - starved) / (board.clock_mhz * 1e6))
    assert 0.9 * proto.link_frames_per_s(link.hello, 50) < fps <= 1.01 * proto.link_frames_per_s(
        link.hello, 50)


def test_link_cycles_leave_out_a_late_host(board, digits_build, digits):
    """A host that stops mid-packet (as this machine's scheduler may stop the test's process):
    the board waits, the testbench counts those cycles as starved, and the rest is what the
    modelled UART takes for the batch."""
    link, beats, ref = link_and_batch(board, digits_build, digits[0], 8)
    spec = link.spec
    try:
        pkt = proto.run_command(5, np.ascontiguousarray(beats).tobytes(), 8)
        before = board.stats()
        link.ser.write(pkt[:len(pkt) // 2])
        link.ser.flush()
        # the rest once the board has waited a while for it (far below its 20 ms timeout)
        deadline = time.monotonic() + 30
        while board.stats()["starved_cycles"] - before["starved_cycles"] < 20_000:
            assert time.monotonic() < deadline, "the board never waited for the packet's rest"
        link.ser.write(pkt[len(pkt) // 2:])
        n = proto.reply_length(proto.CMD_RUN, 8, link.hello)
        reply = proto.parse_reply(link._read(n, "reply"))
        after = board.stats()
    finally:
        link.close()
    assert (reply.seq, reply.status) == (5, proto.STATUS_OK)
    out = np.frombuffer(reply.payload, dtype=np.uint8).reshape(8, -1)
    assert np.array_equal(stream.unpack_output(spec, out), ref)
    starved = after["starved_cycles"] - before["starved_cycles"]
    link_cycles = after["cycles"] - before["cycles"] - starved
    expected = 8 / proto.link_frames_per_s(link.hello, 8) * board.clock_mhz * 1e6
    assert starved >= 20_000
    assert 0.9 * expected < link_cycles < 1.1 * expected


def test_refuses_another_network(board, other_build):
    with pytest.raises(BoardMismatchError, match="holds another network"):
        open_link(board, other_build)


def test_recovers_from_broken_transfers(board, digits_build, digits):
    link, beats, ref = link_and_batch(board, digits_build, digits[0], 16)
    spec = link.spec
    try:
        # a transfer cut short by a host that died: the board times out, the next host's
        # batch meets a half-received packet and is answered wrongly, then retried
        frames = np.ascontiguousarray(beats[:4]).tobytes()
        link.ser.write(proto.run_command(200, frames, 4)[:100])
        out = link.run_beats(beats)
        assert np.array_equal(stream.unpack_output(spec, out), ref)
        assert link.retried >= 1

        # a stale reply waiting in the input (an unread HELLO reply): out of order, retried
        link.retried = 0
        link.ser.write(proto.hello_command(77))
        time.sleep(1.0)
        out = link.run_beats(beats)
        assert np.array_equal(stream.unpack_output(spec, out), ref)
        assert link.retried == 1

        # corrupted on the way: the board says BAD_CRC and the host may not use the results
        pkt = bytearray(proto.run_command(9, frames, 4))
        pkt[proto.HEADER_LEN + 10] ^= 0x10
        link.ser.write(bytes(pkt))
        head = link._read(proto.HEADER_LEN, "reply")
        rest = link._read(proto.reply_length(proto.CMD_RUN, 4, link.hello) - proto.HEADER_LEN,
                          "reply")
        reply = proto.parse_reply(head + rest)
        assert (reply.seq, reply.status) == (9, proto.STATUS_BAD_CRC)
        # the iCEBreaker's two LEDs (active low) are the heartbeat and "ready": lit
        assert board.stats()["leds"] & 0b10 == 0

        # an unknown command
        link.ser.write(proto.command(0x40, 3, 0))
        raw = link._read(proto.HEADER_LEN + 3, "reply")
        assert proto.parse_reply(raw).status == proto.STATUS_BAD_CMD
        out = link.run_beats(beats[:3])
        assert np.array_equal(stream.unpack_output(spec, out), ref[:3])
    finally:
        link.close()


def test_accelerator_api_and_cli(digits_build, digits, tmp_path):
    images, labels = digits
    with Accelerator.open(digits_build, backend="board-sim", board=BOARD,
                          batch_frames=40) as acc:
        pred, scores = acc.predict(images[:40])
        stats = acc.backend.stats()
    ir = DataflowIR.load(digits_build)
    ref_labels, ref_scores = ir.predict(images[:40])
    assert np.array_equal(scores, ref_scores) and np.array_equal(pred, ref_labels)
    assert stats["link_frames_per_s_simulated"] > 1000 and stats["board_cycles"] > 0

    out = tmp_path / "run.json"
    res = CliRunner().invoke(app, ["run", str(digits_build), "--backend", "board-sim",
                                   "--board", BOARD, "--dataset", "digits", "--n", "60",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["mismatches_vs_reference"]["frames"] == 0 and doc["frames"] == 60
    assert doc["link"]["link_frames_per_s_simulated"] > 0
    assert "over the modelled link" in res.output


def test_serial_errors_are_clear(digits_build):
    res = CliRunner().invoke(app, ["run", str(digits_build), "--backend", "serial", "--port",
                                   "/dev/ttyXNF-none"])
    assert res.exit_code == 2
    assert "cannot open the serial port /dev/ttyXNF-none" in res.output
    res = CliRunner().invoke(app, ["run", str(digits_build), "--backend", "serial"])
    assert res.exit_code == 2 and "needs the port" in res.output
    res = CliRunner().invoke(app, ["run", str(digits_build), "--backend", "board-sim"])
    assert res.exit_code == 2 and "--board NAME" in res.output


def test_silent_port_is_not_a_board(tmp_path, digits_build):
    """A port where nothing answers (a loopback socket that never replies)."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    spec = runtime_spec(DataflowIR.load(digits_build), digits_build)
    try:
        with pytest.raises(Exception, match="no xnorflow board answers"):
            SerialBackend(spec, f"socket://127.0.0.1:{port}", timeout_s=0.3, resync_s=0.05,
                          retries=1)
    finally:
        srv.close()
    assert struct.calcsize("<H") == 2


@pytest.mark.slow
def test_tangnano9k_board_sim(digits_build, digits):
    """The Tang Nano 9K's board top (the rPLL's parameters on the simulation model, the BL702's
    115200-baud UART) bit-exact on a few digits (a Verilator build of its own: slow)."""
    images, _ = digits
    images = images[:8]
    ir = DataflowIR.load(digits_build)
    with BoardSimulator(digits_build, "tangnano9k", clock_mhz=27.0) as sim:
        assert sim.baud == 115_200 and sim.clock_mhz == 27.0
        link = open_link(sim, digits_build, batch_frames=8)
        try:
            assert link.hello.baud == 115_200 and link.hello.clock_khz == 27000
            out = link.run_beats(stream.pack_input(link.spec, images))
        finally:
            link.close()
    _, ref = ir.predict(images)
    assert np.array_equal(stream.unpack_output(link.spec, out), ref)
