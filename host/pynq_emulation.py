"""PYNQ's board API, emulated on top of the simulated accelerator — for tests, not for boards.

Implements exactly the subset host/pynq_driver.py uses, with the behaviour of the real thing
where it matters to a driver:

- `allocate(shape, dtype)` returns a buffer with two copies of its bytes: the CPU's view (the
  array itself) and "DRAM" (what the DMA reads and writes). `flush()` copies CPU → DRAM,
  `invalidate()` DRAM → CPU, as on the Zynq's non-coherent ports: a driver that forgets either
  sends stale bytes or reads stale results, and the tests see it.
- `Overlay(bitfile)` needs the file to exist (as PYNQ does) and exposes the DMA under the name
  the block design gives it (BUILD/hls/bd.json, default axi_dma_0) and the accelerator IP when
  it has a control interface (`write(0x00, 0x81)` starts it).
- The DMA's MM2S channel (`sendchannel.transfer(buf)`) feeds the buffer's DRAM bytes, byte for
  byte, into the accelerator's input stream, with TLAST on the transfer's last byte (as AXI
  DMA does); whole frames are run through the hardware model (the Verilator simulation, or
  the reference executor) as they complete. The accelerator (RTL and HLS tops alike) puts
  TLAST on the last beat of each output frame whose input frame ended with TLAST, and ignores
  TLAST inside a frame: so its output is a queue of packets, one per send transfer that ended
  on a frame boundary. The S2MM channel (`recvchannel.transfer(buf)`) receives one packet:
  the transfer ends at TLAST, as AXI DMA's simple mode does.
- Sizes and ordering are checked as the hardware would fail: a transfer longer than the DMA's
  length register, of a buffer not made by `allocate`, a second transfer on a channel whose
  previous one was not waited on (simple mode runs one at a time), a send waited on while
  frames' outputs remain that no receive will drain (the accelerator back-pressures: it would
  hang), a receive waited on when no packet will come (it would hang), a receive buffer smaller
  than the packet (the DMA's internal error) or larger (the transfer ends at TLAST with the rest
  of the buffer unwritten: a driver that reads it gets garbage) — each raises `EmulationError`
  naming the sizes.

Which build and which hardware model: `configure(build, backend)` in-process, or the
environment variables XNORFLOW_PYNQ_EMULATION_BUILD (default: the bitstream's folder's parent)
and XNORFLOW_PYNQ_EMULATION_BACKEND ("sim" or "reference", default "sim") when this module is
imported as `pynq` by a driver in a subprocess (see `write_pynq_shim`).
"""

from __future__ import annotations

import os
import site
import weakref
from pathlib import Path
from typing import Any

import numpy as np

MAX_TRANSFER_BYTES = (1 << 26) - 1  # the block design's 26-bit buffer length register

_config: dict[str, Any] = {"build": None, "backend": None}


class EmulationError(RuntimeError):
    """The driver did something the real board would fail on (hang, corrupt data, DMA error)."""


def configure(build: str | Path | None = None, backend: str | None = None) -> None:
    """Choose the build folder and hardware model ("sim" or "reference") for new Overlays."""
    _config["build"] = None if build is None else Path(build)
    _config["backend"] = backend


class PynqBuffer(np.ndarray):
    """A contiguous buffer "in DRAM": the array is the CPU's cached view, `_dram` the memory."""

    _next_address = 0x1000_0000

    def __array_finalize__(self, obj: Any) -> None:
        self._dram = None  # views and copies are not DMA-able buffers
        self.physical_address = 0

    def flush(self) -> None:
        self._check_owner("flush")
        self._dram[:] = self.view(np.ndarray).reshape(-1).view(np.uint8)

    def invalidate(self) -> None:
        self._check_owner("invalidate")
        self.view(np.ndarray).reshape(-1).view(np.uint8)[:] = self._dram

    def freebuffer(self) -> None:
        self._check_owner("freebuffer")
        self._freed = True

    def _check_owner(self, what: str) -> None:
        if self._dram is None:
            raise EmulationError(f"{what}() on a view or copy of a buffer; call it on the buffer "
                                 "returned by allocate()")
        if getattr(self, "_freed", False):
            raise EmulationError(f"{what}() on a freed buffer")


def allocate(shape: Any, dtype: Any = np.uint8, **_: Any) -> PynqBuffer:
    """pynq.allocate: a physically contiguous, zeroed buffer."""
    base = np.zeros(shape, dtype=dtype)
    buf = base.view(PynqBuffer)
    buf._dram = np.zeros(base.nbytes, dtype=np.uint8)
    buf._freed = False
    buf.physical_address = PynqBuffer._next_address
    PynqBuffer._next_address += (base.nbytes + 0xFFF) & ~0xFFF
    return buf


def _dma_buffer(buf: Any, channel: str) -> PynqBuffer:
    if not isinstance(buf, PynqBuffer) or buf._dram is None:
        raise EmulationError(f"{channel}.transfer() needs a buffer from pynq.allocate(), got "
                             f"{type(buf).__name__} (a view or a plain array is not DMA-able)")
    if getattr(buf, "_freed", False):
        raise EmulationError(f"{channel}.transfer() of a freed buffer")
    if buf.nbytes == 0 or buf.nbytes > MAX_TRANSFER_BYTES:
        raise EmulationError(f"{channel}.transfer() of {buf.nbytes} bytes: the DMA moves 1.."
                             f"{MAX_TRANSFER_BYTES} bytes per transfer")
    return buf


class _Hardware:
    """The accelerator behind the DMA: byte streams in and out, whole frames at a time."""

    def __init__(self, build: Path, backend: str) -> None:
        from xnorflow.compile.driver_bundle import runtime_spec
        from xnorflow.host.accelerator import load_ir, open_backend

        ir = load_ir(build)
        self.spec = runtime_spec(ir, build)  # the hardware's own sizes, not the driver's
        self.model = open_backend(backend, build, ir, self.spec)
        self.started = self.spec.ip_control == "none"
        self.in_bytes = bytearray()  # input not yet run: less than a frame, or not started
        self.in_offset = 0  # stream position of in_bytes[0]
        self.tlast_ends: set[int] = set()  # stream positions just after a beat with TLAST
        self.open_packet: list[bytes] = []  # output frames since the last TLAST
        self.packets: list[tuple[int, bytes]] = []  # (frames, bytes) of output packets
        self.frames = 0

    def feed(self, data: np.ndarray, tlast: bool = False) -> None:
        """Append a transfer's bytes to the input stream (TLAST on its last byte if `tlast`)."""
        spec = self.spec
        self.in_bytes += data.tobytes()
        if tlast and len(data):
            self.tlast_ends.add(self.in_offset + len(self.in_bytes))
        size = spec.dma_in_frame_bytes
        whole = len(self.in_bytes) // size
        if whole and self.started:
            chunk = np.frombuffer(bytes(self.in_bytes[: whole * size]), dtype=np.uint8)
            del self.in_bytes[: whole * size]
            # the stream's tdata is the low bytes of each DMA-width word
            words = chunk.reshape(whole, spec.in_beats, -1)
            out = self.model.run_beats(np.ascontiguousarray(words[..., : spec.in_beat_bytes]))
            padded = np.zeros((whole, spec.out_beats, spec.dma_out_frame_bytes // spec.out_beats),
                              dtype=np.uint8)
            padded[..., : spec.out_beat_bytes] = out
            for frame in padded:
                self.in_offset += size
                self.open_packet.append(frame.tobytes())
                if self.in_offset in self.tlast_ends:  # TLAST on the frame's last beat
                    self.tlast_ends.discard(self.in_offset)
                    self.packets.append((len(self.open_packet), b"".join(self.open_packet)))
                    self.open_packet = []
            self.frames += whole
            # TLAST inside a frame is ignored by the accelerator
            self.tlast_ends = {t for t in self.tlast_ends if t > self.in_offset}


class _Channel:
    def __init__(self, dma: DMA, name: str) -> None:
        self.dma, self.name = dma, name
        self.buffer: PynqBuffer | None = None

    @property
    def idle(self) -> bool:
        return self.buffer is None

    @property
    def running(self) -> bool:
        return True


class _SendChannel(_Channel):
    def transfer(self, buf: Any, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise EmulationError("sendchannel.transfer(): only whole-buffer transfers are emulated")
        if self.buffer is not None:
            raise EmulationError("sendchannel.transfer() while the previous send is not waited on")
        self.buffer = _dma_buffer(buf, "sendchannel")
        # the DMA reads DRAM (not the CPU's cache) as the transfer runs, and ends it with TLAST
        self.dma.hw.feed(self.buffer._dram.copy(), tlast=True)

    def wait(self) -> None:
        if self.buffer is None:
            raise EmulationError("sendchannel.wait() with no send transfer started")
        hw = self.dma.hw
        if not hw.started and hw.in_bytes:
            raise EmulationError("sendchannel.wait() would hang: the accelerator IP was never "
                                 f"started (write 0x81 to {hw.spec.ip_name}'s register 0x00)")
        # the accelerator's output FIFOs hold a few beats: anything more back-pressures the input
        pending = hw.packets[1:] if self.dma.recvchannel.buffer is not None else hw.packets
        if pending:
            frames = sum(k for k, _ in pending)
            raise EmulationError(
                f"sendchannel.wait() would hang: {frames} output frames ({len(pending)} packets) "
                "of the frames sent are still in the accelerator and no receive transfer will "
                "drain them; start the receive transfer of a send's packet (one packet per "
                "send transfer, ended by TLAST) before waiting on the send"
            )
        self.buffer = None


class _RecvChannel(_Channel):
    def transfer(self, buf: Any, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise EmulationError("recvchannel.transfer(): only whole-buffer transfers are emulated")
        if self.buffer is not None:
            raise EmulationError(
                "recvchannel.transfer() while the previous receive is not waited on"
            )
        self.buffer = _dma_buffer(buf, "recvchannel")

    def wait(self) -> None:
        if self.buffer is None:
            raise EmulationError("recvchannel.wait() with no receive transfer started")
        hw, want = self.dma.hw, self.buffer.nbytes
        if not hw.packets:
            partial = (f"; {len(hw.in_bytes)} bytes of an incomplete input frame were sent"
                       if hw.in_bytes else "")
            opened = (f"; {len(hw.open_packet)} output frames wait for an input frame that ends "
                      "with TLAST" if hw.open_packet else "")
            raise EmulationError(
                f"recvchannel.wait() would hang: no output packet is coming (the accelerator takes "
                f"{hw.spec.dma_in_frame_bytes} bytes per input frame{partial}{opened})"
            )
        frames, packet = hw.packets[0]
        if want < len(packet):
            raise EmulationError(
                f"recvchannel transfer of {want} bytes: the packet is {len(packet)} bytes "
                f"({frames} frames); the DMA stops with an internal error (S2MM buffer shorter "
                "than the packet)"
            )
        if want > len(packet):
            raise EmulationError(
                f"recvchannel transfer of {want} bytes ends at TLAST after {len(packet)} bytes "
                f"({frames} frames, one send transfer's); the other {want - len(packet)} bytes of "
                "the buffer are never written: receive one send transfer's frames per transfer"
            )
        hw.packets.pop(0)
        self.buffer._dram[:] = np.frombuffer(packet, dtype=np.uint8)
        self.buffer = None


class DMA:
    """pynq.lib.dma.DMA in simple mode: one MM2S (send) and one S2MM (receive) channel."""

    def __init__(self, hw: _Hardware) -> None:
        self.hw = hw
        self.sendchannel = _SendChannel(self, "sendchannel")
        self.recvchannel = _RecvChannel(self, "recvchannel")


class _ControlledIP:
    """An HLS IP with an ap_ctrl_hs AXI-lite control register at 0x00."""

    def __init__(self, hw: _Hardware) -> None:
        self.hw = hw
        self.registers: dict[int, int] = {}

    def write(self, offset: int, value: int) -> None:
        self.registers[offset] = value
        if offset == 0x00 and value & 0x1:
            if not value & 0x80:
                raise EmulationError("ap_start without auto-restart (0x81) runs one frame only")
            self.hw.started = True
            self.hw.feed(np.zeros(0, np.uint8))

    def read(self, offset: int) -> int:
        return self.registers.get(offset, 0)


class Overlay:
    """pynq.Overlay(bitfile): the emulated programmable logic of one build folder."""

    def __init__(self, bitfile: str, download: bool = True, **_: Any) -> None:
        path = Path(bitfile)
        if not path.is_file():
            raise OSError(f"Bitstream file {bitfile} does not exist.")  # PYNQ's own wording
        build = (_config["build"] or os.environ.get("XNORFLOW_PYNQ_EMULATION_BUILD")
                 or path.parent.parent)
        backend = _config["backend"] or os.environ.get("XNORFLOW_PYNQ_EMULATION_BACKEND", "sim")
        self.bitfile_name = str(path)
        self._hw = _Hardware(Path(build), backend)
        self._ip = {self._hw.spec.dma_name: DMA(self._hw)}
        if self._hw.spec.ip_control != "none":
            self._ip[self._hw.spec.ip_name] = _ControlledIP(self._hw)
        self.ip_dict = {name: {"type": type(v).__name__} for name, v in self._ip.items()}
        # the simulated hardware (a Verilator process) ends with the overlay
        weakref.finalize(self, self._hw.model.close)

    def __getattr__(self, name: str) -> Any:
        ips = self.__dict__.get("_ip", {})
        if name in ips:
            return ips[name]
        raise AttributeError(f"Could not find IP or hierarchy {name} in overlay.")

    def free(self) -> None:
        self._hw.model.close()

    @property
    def frames(self) -> int:
        return self._hw.frames


def write_pynq_shim(folder: Path) -> Path:
    """Write folder/pynq.py: a `pynq` module that is this emulation, for a driver subprocess.

    The shim makes xnorflow importable (the emulated hardware needs it) only when `pynq` is
    imported, so a driver that imports its own modules first still proves it needs no xnorflow.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dirs = [p for p in site.getsitepackages() if Path(p).is_dir()]
    shim = folder / "pynq.py"
    shim.write_text(
        '"""Test shim: the xnorflow PYNQ emulation as the `pynq` module (not for boards)."""\n'
        "import site\n"
        f"for _d in {dirs!r}:\n"
        "    site.addsitedir(_d)\n"
        "from xnorflow.host.pynq_emulation import *  # noqa: F401,F403\n"
        "from xnorflow.host.pynq_emulation import Overlay, allocate  # noqa: F401\n"
    )
    return shim



def site_packages() -> list[str]:
    """Site directories to put on PYTHONPATH under `python -S`: numpy is importable from them,
    xnorflow is not (its editable install is found through a .pth file, which only `site`
    processes)."""
    return [p for p in site.getsitepackages() if Path(p).is_dir()]
