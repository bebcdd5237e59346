"""The serial backend: an xnorflow board top (compile/board/) behind a UART, spoken to with the
protocol of compile/board_protocol.py through pyserial.

`port` is anything pyserial's serial_for_url opens: /dev/ttyUSB0 (a ULX3S's FT231X, the
iCEBreaker's FT2232H second interface), COM3, or socket://127.0.0.1:PORT — the board top in
Verilator (`--backend board-sim`, compile/board/sim.py), which runs this very code.

Before the first frame it says HELLO and compares the board's build identity (the IR
fingerprint) and stream geometry with the build folder: a board that holds another network is
refused (BoardMismatchError). Frames go in batches (one RUN packet each, stop and wait); a
reply with a bad checksum or an error status is retried after a resynchronisation (wait for
the board's receive timeout, flush, HELLO) up to `retries` times.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from xnorflow.compile import board_protocol as proto
from xnorflow.compile import stream
from xnorflow.compile.stream import RuntimeSpec

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.25  # a batch is about this much link time (USB-UART latency is ~1-16 ms)
MAX_BATCH_FRAMES = 4096


class SerialBackendError(RuntimeError):
    """The port cannot be opened or the board does not answer: the message says what to check."""


class BoardMismatchError(SerialBackendError):
    """The board holds a bitstream of another network (or another geometry)."""


class SerialBackend:
    """A board running an xnorflow board top, at the end of a serial port."""

    def __init__(self, spec: RuntimeSpec, port: str, baud: int | None = None,
                 timeout_s: float = 5.0, resync_s: float | None = None,
                 batch_frames: int | None = None, retries: int = 2,
                 serial_module: Any = None) -> None:
        self.spec, self.port = spec, port
        self.timeout_s = timeout_s
        self.retries = retries
        self._resync_s = resync_s
        if serial_module is None:
            try:
                import serial as serial_module  # pyserial
            except ImportError as err:
                raise SerialBackendError("the serial backend needs pyserial: `make setup` "
                                         "installs it") from err
        self._serial_module = serial_module
        try:
            self.ser = serial_module.serial_for_url(port, baudrate=baud or proto.DEFAULT_BAUD,
                                                    timeout=timeout_s, write_timeout=timeout_s)
        except (serial_module.SerialException, OSError, ValueError) as err:
            raise SerialBackendError(
                f"cannot open the serial port {port}: {err}. Is the board plugged in and "
                "powered? (ls /dev/ttyUSB* /dev/ttyACM*; the user needs access: the dialout "
                "group)") from err
        self.seq = 0
        self.frames = 0
        self.batches = 0
        self.retried = 0
        self.link_seconds = 0.0
        try:
            self.hello = self.say_hello()
            self.check_identity(self.hello)
        except BaseException:
            self.close()  # the port is free again for whoever tries next
            raise
        self.batch = batch_frames or self._default_batch()

    # --- protocol ---------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    def _read(self, n: int, what: str) -> bytes:
        data = self.ser.read(n)
        if len(data) != n:
            raise proto.ProtocolError(
                f"{what}: {len(data)} of {n} bytes arrived from {self.port} within "
                f"{self.timeout_s:g} s")
        return bytes(data)

    def _exchange(self, packet: bytes, cmd: int, seq: int, n: int, hello: proto.Hello | None,
                  ) -> proto.Reply:
        self.ser.write(packet)
        self.ser.flush()
        head = self._read(proto.HEADER_LEN, f"reply to command {cmd}")
        rcmd, rseq, rn = proto.parse_header(head)
        if rcmd != cmd or rseq != seq:
            raise proto.ProtocolError(f"reply to command {rcmd} seq {rseq} received, waiting "
                                      f"for command {cmd} seq {seq}: out of order")
        want = n if cmd == proto.CMD_RUN else proto.HELLO_LEN
        if rn != want:
            raise proto.ProtocolError(f"reply announces {rn} items, {want} expected")
        rest = proto.reply_length(cmd, n, hello) - proto.HEADER_LEN
        return proto.parse_reply(head + self._read(rest, f"reply to command {cmd} seq {seq}"))

    def resync(self) -> None:
        """Wait until the board has dropped any half-received packet, then flush our input."""
        wait = self._resync_s if self._resync_s is not None else proto.resync_s(
            proto.DEFAULT_TIMEOUT_MS)
        time.sleep(wait)
        self.ser.reset_input_buffer()

    def say_hello(self) -> proto.Hello:
        """HELLO → the board's identity; retried after a resync. SerialBackendError if the board
        never answers."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.resync()
            seq = self._next_seq()
            try:
                reply = self._exchange(proto.hello_command(seq), proto.CMD_HELLO, seq, 0, None)
                if reply.status != proto.STATUS_OK:
                    raise proto.ProtocolError(
                        f"HELLO answered with status {proto.STATUS_NAMES.get(reply.status)}")
                return proto.Hello.from_bytes(reply.payload)
            except proto.ProtocolError as err:
                last = err
                log.info("hello to %s failed (%s), resynchronising", self.port, err)
        raise SerialBackendError(
            f"no xnorflow board answers on {self.port}: {last}. Check that the bitstream is "
            "loaded (`xnorflow flash BUILD --board NAME`), that the port is the board's UART and "
            "that nothing else holds it")

    def check_identity(self, hello: proto.Hello) -> None:
        spec = self.spec
        mine = {"in_beats": spec.in_beats, "in_beat_bytes": spec.in_beat_bytes,
                "out_beats": spec.out_beats, "out_beat_bytes": spec.out_beat_bytes}
        if hello.version != proto.VERSION:
            raise BoardMismatchError(f"the board speaks protocol version {hello.version}, this "
                                     f"host {proto.VERSION}: rebuild the bitstream")
        if hello.fingerprint != spec.fingerprint or hello.geometry() != mine:
            raise BoardMismatchError(
                f"the board on {self.port} holds another network (build identity "
                f"{hello.fingerprint}, stream {hello.geometry()}); this build folder is "
                f"{spec.model!r} ({spec.fingerprint}, stream {mine}). Flash this build's "
                "bitstream (`xnorflow flash BUILD --board NAME`) or open the matching build")

    def _default_batch(self) -> int:
        if self.hello.out_frame_bytes > self.hello.in_frame_bytes:
            return 1  # results larger than frames: the UART back would fall behind, one a time
        per_s = self.hello.baud / proto.BITS_PER_BYTE / max(1, self.hello.in_frame_bytes)
        return int(max(1, min(MAX_BATCH_FRAMES, self.hello.max_batch, per_s * BATCH_SECONDS)))

    def run_batch(self, frames: bytes, n: int) -> bytes:
        """One RUN packet of n frames → n output frames (bytes); retried on a bad reply."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                self.resync()
            seq = self._next_seq()
            try:
                reply = self._exchange(proto.run_command(seq, frames, n), proto.CMD_RUN, seq, n,
                                       self.hello)
            except proto.ProtocolError as err:
                last = err
                continue
            if reply.status == proto.STATUS_OK:
                return reply.payload
            last = proto.ProtocolError(f"batch {seq}: the board answered "
                                       f"{proto.STATUS_NAMES.get(reply.status, reply.status)}")
        raise SerialBackendError(f"a batch of {n} frames failed {self.retries + 1} times on "
                                 f"{self.port}: {last}")

    # --- the Backend protocol of host/accelerator.py ---------------------------------------
    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        spec = self.spec
        in_beats = stream.check_input_beats(spec, in_beats)
        n = in_beats.shape[0]
        out = np.zeros((n, spec.out_beats, spec.out_beat_bytes), np.uint8)
        t0 = time.perf_counter()
        for s in range(0, n, self.batch):
            e = min(n, s + self.batch)
            payload = self.run_batch(np.ascontiguousarray(in_beats[s:e]).tobytes(), e - s)
            out[s:e] = np.frombuffer(payload, np.uint8).reshape(e - s, spec.out_beats,
                                                               spec.out_beat_bytes)
            self.batches += 1
        self.link_seconds += time.perf_counter() - t0
        self.frames += n
        return out

    def stats(self) -> dict[str, Any]:
        return {"frames": self.frames, "batches": self.batches, "batch_frames": self.batch,
                "retried_batches": self.retried, "port": self.port, "baud": self.hello.baud,
                "board_clock_mhz": self.hello.clock_khz / 1000.0,
                "fingerprint": self.hello.fingerprint,
                "link_frames_per_s_at_baud": proto.link_frames_per_s(self.hello, self.batch)}

    def close(self) -> None:
        ser, self.ser = getattr(self, "ser", None), None
        if ser is not None:
            ser.close()
