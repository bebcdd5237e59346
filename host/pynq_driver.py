"""Drive the accelerator on a PYNQ board (PYNQ-Z1/Z2, KV260) through an AXI DMA in simple mode.

Uses exactly this subset of PYNQ's API: `pynq.Overlay(bitfile)`, `overlay.<dma>.sendchannel`
and `.recvchannel` `.transfer(buffer)` / `.wait()`, `pynq.allocate(shape, dtype)`,
`buffer.flush()` / `.invalidate()` / `.freebuffer()`, and — only when the accelerator IP has an
AXI-lite control interface — `overlay.<ip>.write(offset, value)`. `pynq` is imported only when a
driver is opened without an injected module (tests inject host/pynq_emulation.py).

The AXI DMA ends each send (MM2S) transfer with TLAST on its last beat; the accelerator (RTL
and HLS alike) puts TLAST on the last beat of the output frame whose input frame ended with it,
and an S2MM transfer in simple mode ends at TLAST: so one receive transfer gets all the frames
of one send transfer. Per chunk of frames (the chunk fits the DMA's maximum transfer length):
copy the packed input beats into the send buffer and flush it, start the receive transfer of
the chunk's outputs, start the send transfer, wait for both, invalidate the receive buffer and
copy the output beats out. Python's cost is per chunk (two transfers and two waits), not per
frame.

numpy + pynq only: `xnorflow compile` copies this file into BUILD/driver/.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

try:
    from xnorflow.compile import stream
except ImportError:  # inside the board bundle (BUILD/driver/)
    import stream  # type: ignore[no-redef]

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

    def __init__(self, spec: stream.RuntimeSpec, bitfile: str | Path,
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
        self._buffers_of: dict[int, tuple[Any, Any]] = {}  # frames → (send, receive) buffers

    def _buffers(self, frames: int) -> tuple[Any, Any]:
        spec = self.spec
        if frames not in self._buffers_of:
            self._buffers_of[frames] = (
                self.pynq.allocate(shape=(frames * spec.dma_in_frame_bytes,), dtype=np.uint8),
                self.pynq.allocate(shape=(frames * spec.dma_out_frame_bytes,), dtype=np.uint8),
            )
        return self._buffers_of[frames]

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        """(N, in_beats, in_beat_bytes) uint8 → (N, out_beats, out_beat_bytes) uint8."""
        spec = self.spec
        in_beats = stream.check_input_beats(spec, in_beats)
        n = in_beats.shape[0]
        out = np.empty((n, spec.out_beats, spec.out_beat_bytes), dtype=np.uint8)
        for s in range(0, n, self.chunk):
            k = min(self.chunk, n - s)
            send, recv = self._buffers(k)
            send[:] = stream.beats_to_dma(spec, in_beats[s : s + k]).reshape(-1)
            send.flush()
            # the receive first: the chunk's outputs end at the TLAST of its last frame
            self.dma.recvchannel.transfer(recv)
            self.dma.sendchannel.transfer(send)
            self.dma.sendchannel.wait()
            self.dma.recvchannel.wait()
            recv.invalidate()
            received = np.asarray(recv).reshape(k, spec.dma_out_frame_bytes)
            out[s : s + k] = stream.dma_to_beats(spec, received)
        return out

    def close(self) -> None:
        for send, recv in self._buffers_of.values():
            send.freebuffer()
            recv.freebuffer()
        self._buffers_of.clear()
