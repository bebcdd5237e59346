"""The board's serial protocol: framing, commands, checksum — one module for the board top's
generator, the testbenches and the host's serial backend.

Like compile/stream.py it depends on the standard library and numpy only, and the host imports
it from here (compile never imports host). The bridge that speaks it on the board is
hw_templates/rtl/uart_axis_bridge.sv; its constants (sync bytes, command codes, status codes,
the hello block) are emitted from this module into the generated board top.

Packets (both directions have the same shape; all integers little-endian)::

    SYNC  CMD  SEQ  N_LO N_HI  payload ...  [STATUS]  CRC_LO CRC_HI

- host → board: SYNC = 0xA5; CMD = HELLO (payload empty, N = 0) or RUN (N frames, payload =
  N · in_frame_bytes: each frame's input beats as compile/stream.py packs them); the CRC is
  CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over CMD .. the last payload byte.
- board → host: SYNC = 0x5A; CMD = the command | 0x80; SEQ echoed; N = the reply's payload
  count (HELLO: the hello block's length in bytes; RUN: the same N frames, payload =
  N · out_frame_bytes); then one STATUS byte, then the CRC over CMD .. STATUS.

The board sends the reply's header as soon as it has the command's header and streams the
results while the frames are still arriving, so the checksum of the command is known only at
the end: STATUS says whether the payload it just sent can be trusted (OK) or not (BAD_CRC:
the input was corrupted; TIMEOUT: the input stopped mid-packet; OVERRUN: bytes were lost;
BAD_CMD: an unknown command). A reply always carries exactly the payload its header promised
(on TIMEOUT the missing results are zeros), so the host never loses its place.

Recovery. The board's receiver drops a packet in which no byte arrives for `timeout_ms`
(the accelerator is reset and the reply is completed with STATUS TIMEOUT); bytes that are not
SYNC while it waits for a packet are ignored; it takes the next packet only once the reply of
the last is sent (stop and wait). A host that lost its place waits `resync_s(...)`, flushes
its input and says HELLO again.

The hello block (HELLO_LEN bytes): magic b"XNF", protocol version, the IR fingerprint
(compile/interface.ir_fingerprint, 8 bytes), in_beats, in_beat_bytes, out_beats,
out_beat_bytes (u16 each), the accelerator clock in kHz (u32), the baud rate (u32), the
largest batch (u16). The host compares the fingerprint and the geometry with its build folder
and refuses a board that holds another network.
"""

from __future__ import annotations

import dataclasses
import struct

VERSION = 1
SYNC_HOST = 0xA5  # host → board
SYNC_BOARD = 0x5A  # board → host
CMD_HELLO = 0x01
CMD_RUN = 0x02
REPLY = 0x80  # reply CMD = command | REPLY

STATUS_OK = 0
STATUS_BAD_CRC = 1
STATUS_TIMEOUT = 2
STATUS_OVERRUN = 3
STATUS_BAD_CMD = 4
STATUS_NAMES = {STATUS_OK: "ok", STATUS_BAD_CRC: "bad checksum (the input was corrupted)",
                STATUS_TIMEOUT: "timeout (the input stopped in the middle of a packet)",
                STATUS_OVERRUN: "overrun (the board lost input bytes)",
                STATUS_BAD_CMD: "unknown command"}

HEADER_LEN = 5  # SYNC CMD SEQ N_LO N_HI
MAGIC = b"XNF"
HELLO_FORMAT = "<3sB8sHHHHIIH"
HELLO_LEN = struct.calcsize(HELLO_FORMAT)  # 30
MAX_BATCH = 0xFFFF  # N is 16 bits
DEFAULT_BAUD = 3_000_000
DEFAULT_TIMEOUT_MS = 20
BITS_PER_BYTE = 10  # 8N1: start, 8 data, stop


class ProtocolError(RuntimeError):
    """A reply that is malformed, out of order, or reports an error."""


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, MSB first, no reflection, no final XOR
    (check value of b"123456789": 0x29B1). The bridge computes the same, a byte per cycle."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


@dataclasses.dataclass(frozen=True)
class Hello:
    """What a board says of itself: the build it holds and its stream geometry."""

    fingerprint: str  # 16 hex digits (compile/interface.ir_fingerprint)
    in_beats: int
    in_beat_bytes: int
    out_beats: int
    out_beat_bytes: int
    clock_khz: int
    baud: int
    max_batch: int = MAX_BATCH
    version: int = VERSION

    @property
    def in_frame_bytes(self) -> int:
        return self.in_beats * self.in_beat_bytes

    @property
    def out_frame_bytes(self) -> int:
        return self.out_beats * self.out_beat_bytes

    def to_bytes(self) -> bytes:
        try:
            fp = bytes.fromhex(self.fingerprint)
        except ValueError:
            fp = b""
        if len(fp) != 8:
            raise ValueError(f"fingerprint {self.fingerprint!r} is not 16 hex digits")
        return struct.pack(HELLO_FORMAT, MAGIC, self.version, fp, self.in_beats,
                           self.in_beat_bytes, self.out_beats, self.out_beat_bytes,
                           self.clock_khz, self.baud, self.max_batch)

    @staticmethod
    def from_bytes(data: bytes) -> Hello:
        if len(data) != HELLO_LEN:
            raise ProtocolError(f"hello block of {len(data)} bytes, expected {HELLO_LEN}")
        magic, version, fp, ib, ibb, ob, obb, khz, baud, mb = struct.unpack(HELLO_FORMAT, data)
        if magic != MAGIC:
            raise ProtocolError(f"hello block starts with {magic!r}, not {MAGIC!r}: this board "
                                "does not hold an xnorflow bitstream")
        return Hello(fingerprint=fp.hex(), in_beats=ib, in_beat_bytes=ibb, out_beats=ob,
                     out_beat_bytes=obb, clock_khz=khz, baud=baud, max_batch=mb,
                     version=version)

    def geometry(self) -> dict[str, int]:
        return {"in_beats": self.in_beats, "in_beat_bytes": self.in_beat_bytes,
                "out_beats": self.out_beats, "out_beat_bytes": self.out_beat_bytes}


def hello_for(spec: object, clock_khz: int, baud: int) -> Hello:
    """The hello block of a design: a compile/stream.RuntimeSpec (fingerprint, geometry)."""
    return Hello(fingerprint=spec.fingerprint, in_beats=spec.in_beats,  # type: ignore[attr-defined]
                 in_beat_bytes=spec.in_beat_bytes, out_beats=spec.out_beats,  # type: ignore[attr-defined]
                 out_beat_bytes=spec.out_beat_bytes, clock_khz=int(clock_khz),  # type: ignore[attr-defined]
                 baud=int(baud))


# --- host → board --------------------------------------------------------------------------
def command(cmd: int, seq: int, n: int, payload: bytes = b"") -> bytes:
    """One host packet: SYNC CMD SEQ N payload CRC."""
    if not 0 <= n <= MAX_BATCH:
        raise ValueError(f"N = {n} does not fit 16 bits (at most {MAX_BATCH} frames a batch)")
    body = struct.pack("<BBH", cmd, seq & 0xFF, n) + payload
    return bytes([SYNC_HOST]) + body + struct.pack("<H", crc16(body))


def hello_command(seq: int = 0) -> bytes:
    return command(CMD_HELLO, seq, 0)


def run_command(seq: int, frames: bytes, n: int) -> bytes:
    return command(CMD_RUN, seq, n, frames)


# --- board → host --------------------------------------------------------------------------
def reply(cmd: int, seq: int, n: int, payload: bytes, status: int) -> bytes:
    """One board packet (what the bridge sends; the tests' model of it)."""
    body = struct.pack("<BBH", cmd | REPLY, seq & 0xFF, n) + payload + bytes([status])
    return bytes([SYNC_BOARD]) + body + struct.pack("<H", crc16(body))


def reply_length(cmd: int, n: int, hello: Hello | None) -> int:
    """Bytes of the whole reply to a command with count n."""
    if cmd == CMD_HELLO:
        return HEADER_LEN + HELLO_LEN + 3
    if hello is None:
        raise ValueError("the length of a RUN reply needs the board's hello")
    return HEADER_LEN + n * hello.out_frame_bytes + 3


@dataclasses.dataclass(frozen=True)
class Reply:
    cmd: int
    seq: int
    n: int
    payload: bytes
    status: int


def parse_header(data: bytes) -> tuple[int, int, int]:
    """A reply's 5 header bytes → (command, seq, n); ProtocolError if it is not one."""
    if len(data) != HEADER_LEN:
        raise ProtocolError(f"reply header cut short: {len(data)} of {HEADER_LEN} bytes "
                            "(no board, a board without an xnorflow bitstream, or wrong baud?)")
    sync, cmd, seq, n = struct.unpack("<BBBH", data)
    if sync != SYNC_BOARD or not cmd & REPLY:
        raise ProtocolError(f"reply header {data.hex()} does not start with {SYNC_BOARD:#04x} "
                            "and a reply command (wrong baud, or another program on the port?)")
    return cmd & ~REPLY, seq, n


def parse_reply(data: bytes) -> Reply:
    """A whole reply → Reply; ProtocolError on a bad header or checksum."""
    cmd, seq, n = parse_header(data[:HEADER_LEN])
    body, crc = data[1:-2], struct.unpack("<H", data[-2:])[0]
    if crc16(body) != crc:
        raise ProtocolError(f"reply to command {cmd} (seq {seq}) has a bad checksum: the link "
                            "corrupted it")
    return Reply(cmd=cmd, seq=seq, n=n, payload=bytes(data[HEADER_LEN:-3]), status=data[-3])


def resync_s(timeout_ms: float) -> float:
    """How long a host waits so that the board has dropped any half-received packet."""
    return 2.5 * timeout_ms / 1000.0


def link_frames_per_s(hello: Hello, batch: int) -> float:
    """Frames/s the UART link carries at the hello's baud rate for batches of `batch` frames:
    both directions run at once (the results stream back while frames arrive), so the longer
    of the two packets per batch sets the pace."""
    up = HEADER_LEN + batch * hello.in_frame_bytes + 2
    down = HEADER_LEN + batch * hello.out_frame_bytes + 3
    return batch * hello.baud / (BITS_PER_BYTE * max(up, down))
