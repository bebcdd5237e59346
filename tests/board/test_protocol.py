"""The serial protocol (compile/board_protocol.py): checksum, packets, the hello block, what a
reply must look like, and the link-rate model."""

from __future__ import annotations

import random

import pytest

from xnorflow.compile import board_protocol as proto


def test_crc16_ccitt_false_check_value():
    assert proto.crc16(b"123456789") == 0x29B1  # the catalogue's check value
    assert proto.crc16(b"") == 0xFFFF


def test_crc_catches_every_single_bit_flip():
    rng = random.Random(0)
    data = bytes(rng.getrandbits(8) for _ in range(200))
    crc = proto.crc16(data)
    for i in range(len(data)):
        for b in range(8):
            flipped = bytearray(data)
            flipped[i] ^= 1 << b
            assert proto.crc16(bytes(flipped)) != crc


def test_hello_round_trip_and_size():
    h = proto.Hello(fingerprint="5e01bce316a45e53", in_beats=8, in_beat_bytes=8, out_beats=10,
                    out_beat_bytes=1, clock_khz=33750, baud=3_000_000)
    data = h.to_bytes()
    assert len(data) == proto.HELLO_LEN == 30
    assert data[:3] == b"XNF"
    back = proto.Hello.from_bytes(data)
    assert back == h and back.in_frame_bytes == 64 and back.out_frame_bytes == 10
    with pytest.raises(proto.ProtocolError, match="not b'XNF'"):
        proto.Hello.from_bytes(b"ABC" + data[3:])
    with pytest.raises(proto.ProtocolError, match="29 bytes"):
        proto.Hello.from_bytes(data[:29])
    with pytest.raises(ValueError, match="16 hex digits"):
        proto.Hello(fingerprint="abc", in_beats=1, in_beat_bytes=1, out_beats=1,
                    out_beat_bytes=1, clock_khz=1, baud=1).to_bytes()


def test_command_layout():
    frames = bytes(range(12))
    pkt = proto.run_command(300, frames, 3)  # seq wraps to 8 bits
    assert pkt[0] == proto.SYNC_HOST and pkt[1] == proto.CMD_RUN and pkt[2] == 300 & 0xFF
    assert int.from_bytes(pkt[3:5], "little") == 3
    assert pkt[5:-2] == frames
    assert int.from_bytes(pkt[-2:], "little") == proto.crc16(pkt[1:-2])
    assert proto.hello_command(9) == bytes([0xA5, 1, 9, 0, 0]) + proto.crc16(
        bytes([1, 9, 0, 0])).to_bytes(2, "little")
    with pytest.raises(ValueError, match="16 bits"):
        proto.command(proto.CMD_RUN, 0, 70000)


def test_reply_parse_and_errors():
    h = proto.Hello(fingerprint="00" * 8, in_beats=1, in_beat_bytes=4, out_beats=2,
                    out_beat_bytes=1, clock_khz=1, baud=1)
    payload = bytes([7, 8, 9, 10])
    data = proto.reply(proto.CMD_RUN, 5, 2, payload, proto.STATUS_BAD_CRC)
    assert len(data) == proto.reply_length(proto.CMD_RUN, 2, h)
    r = proto.parse_reply(data)
    assert (r.cmd, r.seq, r.n, r.payload, r.status) == (proto.CMD_RUN, 5, 2, payload, 1)
    bad = bytearray(data)
    bad[6] ^= 0x40
    with pytest.raises(proto.ProtocolError, match="bad checksum"):
        proto.parse_reply(bytes(bad))
    with pytest.raises(proto.ProtocolError, match="does not start"):
        proto.parse_header(bytes([0xA5, 0x82, 0, 0, 0]))
    with pytest.raises(proto.ProtocolError, match="cut short"):
        proto.parse_header(b"\x5a\x82")
    with pytest.raises(ValueError, match="hello"):
        proto.reply_length(proto.CMD_RUN, 1, None)


def test_link_rate_model():
    # digits: 64-byte frames at 3 Mbaud, 10 bits a byte: 300 kB/s → ~4.69 k frames/s
    h = proto.Hello(fingerprint="00" * 8, in_beats=8, in_beat_bytes=8, out_beats=10,
                    out_beat_bytes=1, clock_khz=1, baud=3_000_000)
    rate = proto.link_frames_per_s(h, 1000)
    assert 4600 < rate < 3_000_000 / 10 / 64
    assert proto.link_frames_per_s(h, 1) < rate  # header and checksum per batch
    assert proto.resync_s(20) > 0.02
