"""Drive the accelerator on a PYNQ board (PYNQ-Z1/Z2, KV260) through an AXI DMA in simple mode.

Uses exactly this subset of PYNQ's API: `pynq.Overlay(bitfile)`, `overlay.<dma>.sendchannel`
and `.recvchannel` `.transfer(buffer)` / `.wait()`, `pynq.allocate(shape, dtype)`,
`buffer.flush()` / `.invalidate()` / `.freebuffer()`, and — only when the accelerator IP has an
AXI-lite control interface — `overlay.<ip>.write(offset, value)`. `pynq` is imported only when a
driver is opened without an injected module (tests inject host/pynq_emulation.py).

The accelerator (RTL and HLS alike) ends every output frame with TLAST, and an AXI DMA S2MM
transfer in simple mode ends at TLAST: one receive transfer gets one frame. So, per chunk of
frames (the chunk fits the DMA's maximum transfer length): copy the packed input beats into the
send buffer and flush it, start one send transfer for the chunk, then for each frame start and
wait for a receive transfer into that frame's buffer (the accelerator is back-pressured in
between, nothing is lost), wait for the send, invalidate the receive buffers, copy the output
beats out. Python's per-frame cost on the board is one receive transfer + wait (see
benchmarks/host.py); a frame-count register in the IP (TLAST per batch) would remove it.

numpy + pynq only: `xnorflow compile` copies this file into BUILD/driver/.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

try:
    from xnorflow.host import runtime_io
except ImportError:  # inside the board bundle (BUILD/driver/)
    import runtime_io  # type: ignore[no-redef]

# Xilinx AXI DMA: the buffer length register is 14..26 bits wide (set in Vivado); PYNQ's
# images and our block design use 26 bits.
MAX_TRANSFER_BYTES = (1 << 26) - 1
DEFAULT_CHUNK_FRAMES = 1024


class BitstreamMissingError(FileNotFoundError):
    """The pynq backend needs a bitstream that has not been built."""


class BoardError(RuntimeError):
    """The overlay does not hold what the driver expects (DMA or IP missing)."""


def missing_bitstream_message(bitfile: Path) -> str:
    build = Path(bitfile).resolve().parent.parent
    return (
        f"bitstream {bitfile} not found. Build it with Vivado on a machine that has it: "
        f"`vivado -mode batch -source {build / 'hls' / 'build_bitstream.tcl'}` (writes "
        f"driver/xnorflow.bit and driver/xnorflow.hwh), then copy {Path(bitfile).parent} to "
        "the board. Vivado is not available on the xnorflow CI machines; use --backend sim or "
        "reference there."
    )


class PynqDriver:
    """The accelerator behind one AXI DMA; `run_beats` streams whole batches through it."""

    def __init__(self, spec: runtime_io.RuntimeSpec, bitfile: str | Path,
                 pynq_module: Any = None, chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> None:
        self.spec = spec
        bitfile = Path(bitfile)
        if not bitfile.is_file():
            raise BitstreamMissingError(missing_bitstream_message(bitfile))
        if pynq_module is None:
            try:
                pynq_module = importlib.import_module("pynq")
            except ImportError as err:
                raise BoardError(
                    f"the pynq backend runs on a PYNQ board (PYNQ-Z1/Z2, KV260) with the `pynq` "
                    f"package, which cannot be imported here ({err}); on this machine use "
                    "--backend sim or reference"
                ) from err
        self.pynq = pynq_module
        try:
            self.overlay = self.pynq.Overlay(str(bitfile))
        except (OSError, ValueError, RuntimeError) as err:
            raise BoardError(f"cannot load the bitstream {bitfile} ({err})") from err
        try:
            self.dma = getattr(self.overlay, spec.dma_name)
        except AttributeError as err:
            raise BoardError(
                f"the overlay {bitfile} has no DMA named {spec.dma_name!r}; was the bitstream "
                f"built for model {spec.model!r}? ({err})"
            ) from err
        if spec.ip_control == "ap_ctrl_hs":
            # free-running: ap_start with auto-restart (bit 7) in the control register at 0x00
            try:
                ip = getattr(self.overlay, spec.ip_name)
            except AttributeError as err:
                raise BoardError(f"the overlay {bitfile} has no IP named {spec.ip_name!r}") from err
            ip.write(0x00, 0x81)
        per_frame = max(spec.dma_in_frame_bytes, spec.dma_out_frame_bytes)
        self.chunk = max(1, min(chunk_frames, MAX_TRANSFER_BYTES // per_frame))
        self._send: dict[int, Any] = {}  # frames → send buffer
        self._recv: list[Any] = []  # one receive buffer per frame of a chunk

    def _buffers(self, frames: int) -> tuple[Any, list[Any]]:
        spec = self.spec
        if frames not in self._send:
            self._send[frames] = self.pynq.allocate(shape=(frames * spec.dma_in_frame_bytes,),
                                                    dtype=np.uint8)
        while len(self._recv) < frames:
            self._recv.append(self.pynq.allocate(shape=(spec.dma_out_frame_bytes,),
                                                 dtype=np.uint8))
        return self._send[frames], self._recv[:frames]

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        """(N, in_beats, in_beat_bytes) uint8 → (N, out_beats, out_beat_bytes) uint8."""
        spec = self.spec
        in_beats = runtime_io.check_input_beats(spec, in_beats)
        n = in_beats.shape[0]
        out = np.empty((n, spec.out_beats, spec.out_beat_bytes), dtype=np.uint8)
        for s in range(0, n, self.chunk):
            k = min(self.chunk, n - s)
            send, recv = self._buffers(k)
            send[:] = runtime_io.beats_to_dma(spec, in_beats[s : s + k]).reshape(-1)
            send.flush()
            self.dma.sendchannel.transfer(send)
            for buf in recv:  # one S2MM transfer per frame: each ends at the frame's TLAST
                self.dma.recvchannel.transfer(buf)
                self.dma.recvchannel.wait()
            self.dma.sendchannel.wait()
            received = np.empty((k, spec.dma_out_frame_bytes), dtype=np.uint8)
            for i, buf in enumerate(recv):
                buf.invalidate()
                received[i] = buf
            out[s : s + k] = runtime_io.dma_to_beats(spec, received)
        return out

    def close(self) -> None:
        for buf in [*self._send.values(), *self._recv]:
            buf.freebuffer()
        self._send.clear()
        self._recv.clear()
