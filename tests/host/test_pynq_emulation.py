"""The PYNQ emulation behaves like the board where a driver could go wrong.

Each test drives the emulated DMA by hand the way a faulty driver would and checks that the
mistake shows (stale data, an error naming the sizes), so that the real driver passing
test_accelerator.py means its sizes, ordering and cache handling are right.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.nets import random_images
from xnorflow.compile import stream
from xnorflow.compile.interface import runtime_spec
from xnorflow.host import pynq_emulation as emu
from xnorflow.host.accelerator import Accelerator


@pytest.fixture
def board(emulated_builds, irs):
    """(overlay, dma, spec, images, reference scores) for the CNV build over the reference."""
    emu.configure(emulated_builds["cnv"], "reference")
    overlay = emu.Overlay(str(emulated_builds["cnv"] / "driver" / "xnorflow.bit"))
    spec = runtime_spec(irs["cnv"], emulated_builds["cnv"])
    x = random_images(irs["cnv"], 4, seed=11)
    yield overlay, overlay.axi_dma_0, spec, x, irs["cnv"].predict(x)[1]
    emu.configure(None, None)


def _send_buffer(spec, frames, images=None):
    send = emu.allocate(shape=(frames * spec.dma_in_frame_bytes,), dtype=np.uint8)
    if images is not None:
        send[:] = stream.beats_to_dma(spec, stream.pack_input(spec, images)).reshape(-1)
    return send


def _recv_buffer(spec, frames, nbytes=None):
    return emu.allocate(shape=(nbytes or frames * spec.dma_out_frame_bytes,), dtype=np.uint8)


def _run(dma, send, recv):
    """The driver's order: the receive first, then the send; wait for both."""
    dma.recvchannel.transfer(recv)
    dma.sendchannel.transfer(send)
    dma.sendchannel.wait()
    dma.recvchannel.wait()


def _scores(spec, recv, frames):
    data = np.asarray(recv).reshape(frames, -1)
    return stream.unpack_output(spec, stream.dma_to_beats(spec, data))


def test_correct_sequence(board):
    """One send transfer of 4 frames ends with TLAST: its 4 output frames are one packet."""
    overlay, dma, spec, x, ref = board
    send, recv = _send_buffer(spec, 4, x), _recv_buffer(spec, 4)
    send.flush()
    _run(dma, send, recv)
    recv.invalidate()
    np.testing.assert_array_equal(_scores(spec, recv, 4), ref)


def test_missing_flush_sends_stale_memory(board, irs):
    overlay, dma, spec, x, ref = board
    send, recv = _send_buffer(spec, 4, x), _recv_buffer(spec, 4)
    # written by the CPU, never flushed: the DMA reads DRAM, still zero
    _run(dma, send, recv)
    recv.invalidate()
    zeros = irs["cnv"].predict(np.zeros_like(x))[1]
    np.testing.assert_array_equal(_scores(spec, recv, 4), zeros)
    assert not np.array_equal(zeros, ref)


def test_missing_invalidate_reads_stale_cache(board):
    overlay, dma, spec, x, ref = board
    send, recv = _send_buffer(spec, 4, x), _recv_buffer(spec, 4)
    send.flush()
    _run(dma, send, recv)
    assert not np.asarray(recv).any()  # the CPU still sees its cached zeros
    recv.invalidate()
    np.testing.assert_array_equal(_scores(spec, recv, 4), ref)


@pytest.mark.parametrize("frames,error", [
    (5, "ends at TLAST after {packet} bytes"),  # a 5-frame buffer: the transfer ends after 4
    (1, r"the packet is {packet} bytes \(4 frames\); the DMA stops with an internal error"),
])
def test_receive_must_be_the_send_transfers_packet(board, frames, error):
    """A send of 4 frames is one packet: a receive buffer of any other size fails."""
    overlay, dma, spec, x, ref = board
    send, recv = _send_buffer(spec, 4, x), _recv_buffer(spec, frames)
    send.flush()
    dma.sendchannel.transfer(send)
    dma.recvchannel.transfer(recv)
    with pytest.raises(emu.EmulationError,
                       match=error.format(packet=4 * spec.dma_out_frame_bytes)):
        dma.recvchannel.wait()


def test_receive_shorter_than_a_frame(board):
    overlay, dma, spec, x, ref = board
    send = _send_buffer(spec, 1, x[:1])
    recv = _recv_buffer(spec, 1, nbytes=spec.dma_out_frame_bytes - 1)
    send.flush()
    dma.sendchannel.transfer(send)
    dma.recvchannel.transfer(recv)
    with pytest.raises(emu.EmulationError, match="internal error"):
        dma.recvchannel.wait()


def test_one_packet_per_send_transfer(board):
    """Two sends of 2 frames: two packets, each received by its own transfer."""
    overlay, dma, spec, x, ref = board
    sends = [_send_buffer(spec, 2, x[:2]), _send_buffer(spec, 2, x[2:])]
    recvs = [_recv_buffer(spec, 2), _recv_buffer(spec, 2)]
    for send, recv in zip(sends, recvs, strict=True):
        send.flush()
        _run(dma, send, recv)
        recv.invalidate()
    got = np.concatenate([_scores(spec, r, 2) for r in recvs])
    np.testing.assert_array_equal(got, ref)


def test_receive_with_nothing_coming_would_hang(board):
    overlay, dma, spec, x, ref = board
    recv = _recv_buffer(spec, 1)
    dma.recvchannel.transfer(recv)
    with pytest.raises(emu.EmulationError, match="would hang: no output packet is coming"):
        dma.recvchannel.wait()


def test_waiting_on_send_before_receiving_would_hang(board):
    overlay, dma, spec, x, ref = board
    send = _send_buffer(spec, 4, x)
    send.flush()
    dma.sendchannel.transfer(send)
    with pytest.raises(emu.EmulationError, match="4 output frames .* still in the accelerator"):
        dma.sendchannel.wait()


def test_one_transfer_at_a_time_per_channel(board):
    overlay, dma, spec, x, ref = board
    a, b = _recv_buffer(spec, 1), _recv_buffer(spec, 1)
    dma.recvchannel.transfer(a)
    with pytest.raises(emu.EmulationError, match="previous receive is not waited on"):
        dma.recvchannel.transfer(b)


def test_partial_frames_complete_across_transfers(board):
    """The stream has no frame boundaries: half a frame, then the rest, is one frame; the first
    transfer's TLAST falls inside the frame and is ignored, the second's ends the packet."""
    overlay, dma, spec, x, ref = board
    data = stream.beats_to_dma(spec, stream.pack_input(spec, x[:1])).reshape(-1)
    half = len(data) // 2
    a = emu.allocate(shape=(half,), dtype=np.uint8)
    b = emu.allocate(shape=(len(data) - half,), dtype=np.uint8)
    recv = _recv_buffer(spec, 1)
    a[:], b[:] = data[:half], data[half:]
    a.flush()
    b.flush()
    dma.sendchannel.transfer(a)
    dma.sendchannel.wait()  # nothing out yet: half a frame
    _run(dma, b, recv)
    recv.invalidate()
    np.testing.assert_array_equal(_scores(spec, recv, 1), ref[:1])


def test_only_allocated_buffers_are_dma_able(board):
    overlay, dma, spec, x, ref = board
    with pytest.raises(emu.EmulationError, match="needs a buffer from pynq.allocate"):
        dma.sendchannel.transfer(np.zeros(spec.dma_in_frame_bytes, np.uint8))
    send = _send_buffer(spec, 2)
    with pytest.raises(emu.EmulationError, match="view"):
        dma.sendchannel.transfer(send[: spec.dma_in_frame_bytes])


def test_overlay_errors(emulated_builds, tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        emu.Overlay(str(tmp_path / "missing.bit"))
    emu.configure(None, "reference")
    try:  # the build is found from the bitstream's place: BUILD/driver/xnorflow.bit
        overlay = emu.Overlay(str(emulated_builds["tfc"] / "driver" / "xnorflow.bit"))
        with pytest.raises(AttributeError, match="axi_dma_1"):
            overlay.axi_dma_1  # noqa: B018
        assert overlay._hw.spec.model == "tfc_random_0"
    finally:
        emu.configure(None, None)


def _with_block_design(tmp_path, emulated_builds, name, bd):
    build = tmp_path / name
    shutil.copytree(emulated_builds[name], build)
    (build / "hls").mkdir(exist_ok=True)
    (build / "hls" / "bd.json").write_text(json.dumps(bd))
    (build / "driver" / "runtime.json").unlink()  # re-written from the block design
    return build


def test_wide_dma_streams_and_named_instances(tmp_path, emulated_builds, irs):
    """bd.json (HLS backend) names the DMA and the IP and may give wider DMA streams: each beat
    then sits in the low bytes of a DMA word; results stay bit-exact."""
    spec = runtime_spec(irs["cnv"])
    bd = {"dma_name": "dma_x", "ip_name": "accel_0", "ip_control": "none",
          "in_stream": {"tdata_width": 32}, "out_stream": {"tdata_width": 64}}
    assert spec.in_beat_bytes == 3 and spec.out_beat_bytes == 4
    build = _with_block_design(tmp_path, emulated_builds, "cnv", bd)
    x = random_images(irs["cnv"], 6)
    emu.configure(build, "reference")
    try:
        with Accelerator.open(build, backend="pynq", pynq_module=emu, chunk_frames=4) as acc:
            assert acc.spec.dma_in_frame_bytes == spec.in_beats * 4
            assert acc.spec.dma_out_frame_bytes == spec.out_beats * 8
            labels, scores = acc.predict(x)
            send, recv = acc.backend.driver._buffers(2)
            assert send.nbytes == 2 * spec.in_beats * 4
            assert recv.nbytes == 2 * spec.out_beats * 8
    finally:
        emu.configure(None, None)
    np.testing.assert_array_equal(scores, irs["cnv"].predict(x)[1])


def test_ip_with_control_register_is_started(tmp_path, emulated_builds, irs):
    bd = {"ip_name": "accel_0", "ip_control": "ap_ctrl_hs"}
    build = _with_block_design(tmp_path, emulated_builds, "tfc", bd)
    x = random_images(irs["tfc"], 3)
    emu.configure(build, "reference")
    try:
        with Accelerator.open(build, backend="pynq", pynq_module=emu) as acc:
            np.testing.assert_array_equal(acc.predict(x)[1], irs["tfc"].predict(x)[1])
            assert acc.backend.driver.overlay.accel_0.read(0) == 0x81
        overlay = emu.Overlay(str(build / "driver" / "xnorflow.bit"))  # never started
        spec = runtime_spec(irs["tfc"], build)
        send = _send_buffer(spec, 3, x)
        send.flush()
        overlay.axi_dma_0.sendchannel.transfer(send)
        with pytest.raises(emu.EmulationError, match="never started"):
            overlay.axi_dma_0.sendchannel.wait()
    finally:
        emu.configure(None, None)
