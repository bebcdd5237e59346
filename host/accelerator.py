"""`Accelerator`: one host API over the reference model, the Verilator simulation and a PYNQ board.

    with Accelerator.open("build/", backend="sim") as acc:
        labels, scores = acc.predict(images)

Every backend sees the same thing the hardware sees: packed input beats in, packed output beats
out (compile/stream.py's format). Quantizing and packing the images, unpacking the output, the
final affine and the argmax are done once, here (compile/stream.py), for all backends:

- reference: the IR's bit-exact executor, fed with the frames unpacked from the input beats;
  its output frames are packed into beats the way the hardware sends them.
- sim: the accelerator RTL built with Verilator (compile/rtl/sim.py), kept alive across
  calls, streaming whole batches.
- pynq: the bitstream on a PYNQ board through AXI DMA (host/pynq_driver.py); `pynq` is imported
  only when this backend is opened. Tests pass `pynq_module=host.pynq_emulation`.
- serial: an open-flow board (`xnorflow bitstream`, compile/board/) through its UART
  (host/serial_backend.py, the protocol of compile/board_protocol.py); `port=` names it.
- board-sim: the same serial backend, talking to the whole board top in Verilator
  (compile/board/sim.py) through pyserial's socket:// on loopback; `board=` names the board.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from xnorflow.compile import stream
from xnorflow.compile.driver_bundle import BITFILE, ensure_driver, runtime_spec
from xnorflow.compile.ir import DataflowIR, IRError
from xnorflow.compile.stream import HostInputError, RuntimeSpec, RuntimeSpecError
from xnorflow.host.pynq_driver import (
    BitstreamMissingError,
    BoardError,
    PynqDriver,
    missing_bitstream_message,
)

BACKEND_NAMES = ("reference", "sim", "csim", "pynq", "serial", "board-sim")
SERIAL_OPTIONS = ("port", "baud", "timeout_s", "batch_frames", "retries", "serial_module")

__all__ = [
    "Accelerator", "BACKEND_NAMES", "BackendError", "BitstreamMissingError", "BoardError",
    "HostInputError", "RuntimeSpecError",
]


class BackendError(RuntimeError):
    """A backend cannot be opened (unknown name, missing build products or tools)."""


class Backend(Protocol):
    """What sits between the packed beats: the accelerator or a model of it."""

    spec: RuntimeSpec

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        """(N, in_beats, in_beat_bytes) uint8 → (N, out_beats, out_beat_bytes) uint8."""
        ...

    def stats(self) -> dict[str, Any]:
        ...

    def close(self) -> None:
        ...


class ReferenceBackend:
    """The IR executor behind the stream format: beats → frames → layers → frames → beats."""

    def __init__(self, ir: DataflowIR, spec: RuntimeSpec) -> None:
        self.ir, self.spec = ir, spec
        self.frames = 0

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        spec = self.spec
        in_beats = stream.check_input_beats(spec, in_beats)
        n = in_beats.shape[0]
        values = stream.unpack_beats(in_beats, spec.in_bits, spec.in_fold, spec.in_signed)
        frames = values.reshape(n, *self.ir.frame_shape())
        if n:
            out = self.ir.run_frames(frames)[-1].reshape(n, spec.n_out)
        else:
            out = np.zeros((0, spec.n_out), np.int64)
        self.frames += n
        return stream.pack_beats(out, spec.out_bits, spec.out_fold)

    def stats(self) -> dict[str, Any]:
        return {"frames": self.frames}

    def close(self) -> None:
        pass


class SimBackend:
    """The generated RTL in Verilator (compile/rtl/sim.py), one process for all calls."""

    def __init__(self, build: Path, spec: RuntimeSpec) -> None:
        self.spec = spec
        try:
            from xnorflow.compile.rtl.sim import (
                SimulationError,
                VerilatorAccelerator,
                load_rtl_desc,
            )
        except ImportError as err:
            raise BackendError(
                f"the sim backend is not available in this installation ({err})"
            ) from err
        rtl = Path(build) / "rtl"
        if not (rtl / "rtl.json").is_file():
            raise BackendError(
                f"{rtl}/rtl.json not found: the sim backend needs the RTL that `xnorflow compile` "
                "writes; re-run it on the model"
            )
        desc = load_rtl_desc(rtl)
        io = desc.get("interface", {})
        want = {"in_beats": spec.in_beats, "in_bytes": spec.in_beat_bytes,
                "out_beats": spec.out_beats, "out_bytes": spec.out_beat_bytes}
        same = (io.get("fingerprint") == spec.fingerprint if "fingerprint" in io  # the IR's hash
                else all(io.get(k) == v for k, v in want.items()))  # an older build: geometry
        if desc.get("model") != spec.model or not same:
            raise BackendError(
                f"{rtl} was generated for model {desc.get('model')!r} with stream "
                f"{ {k: io.get(k) for k in want} }, but {build}/ir.json is {spec.model!r} with "
                f"{want}: this build folder mixes two models; re-run `xnorflow compile`"
            )
        from xnorflow.tools import ToolError

        try:
            self.sim = VerilatorAccelerator(Path(build))
        except (SimulationError, ToolError) as err:
            raise BackendError(f"cannot start the simulation of {rtl}: {err}") from err
        self._last: dict[str, Any] = {}
        self._cycles = 0
        self._frames = 0

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        spec = self.spec
        in_beats = stream.check_input_beats(spec, in_beats)
        out, stats = self.sim.run(in_beats)
        out = np.asarray(out, dtype=np.uint8)
        want = (in_beats.shape[0], spec.out_beats, spec.out_beat_bytes)
        if out.shape != want:
            raise BackendError(
                f"the simulated accelerator returned output beats {out.shape}, the model "
                f"{spec.model!r} expects {want}: is {self.sim!r} built from another model?"
            )
        self._last = dict(stats or {})
        if self._last.get("tlast_errors"):
            raise BackendError(
                f"the simulated accelerator of {spec.model!r} put TLAST on the wrong beat "
                f"{self._last['tlast_errors']} times: a DMA would split its frames wrongly"
            )
        self._frames += in_beats.shape[0]
        self._cycles += int(self._last.get("cycles_total", 0))
        return out

    def stats(self) -> dict[str, Any]:
        """Frames and simulated cycles so far, and the last call's own statistics
        (cycles_per_frame_steady, latency_cycles, ... from compile/rtl/sim.py)."""
        return {"frames": self._frames, "cycles": self._cycles, "last_call": self._last}

    def close(self) -> None:
        self.sim.close()


class PynqBackend:
    """A PYNQ board (or its emulation): the same driver code the board bundle runs."""

    def __init__(self, build: Path, ir: DataflowIR, spec: RuntimeSpec, pynq_module: Any = None,
                 bitfile: Path | None = None, chunk_frames: int | None = None) -> None:
        self.spec = spec
        folder = ensure_driver(ir, build)
        bitfile = Path(bitfile) if bitfile is not None else folder / BITFILE
        if not bitfile.is_file():
            raise BitstreamMissingError(missing_bitstream_message(bitfile))
        kwargs = {} if chunk_frames is None else {"chunk_frames": chunk_frames}
        self.driver = PynqDriver(spec, bitfile, pynq_module=pynq_module, **kwargs)
        self._frames = 0

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        out = self.driver.run_beats(in_beats)
        self._frames += len(out)
        return out

    def stats(self) -> dict[str, Any]:
        return {"frames": self._frames, "chunk_frames": self.driver.chunk}

    def close(self) -> None:
        self.driver.close()


class CsimBackend:
    """The generated HLS C++ compiled with g++ (compile/hls/csim.py): its testbench streams
    the beats through the HLS top function, as Vitis HLS's C-simulation would."""

    def __init__(self, build: Path, ir: DataflowIR, spec: RuntimeSpec) -> None:
        from xnorflow.compile.hls.csim import CsimError, csim_beats, ensure_csim

        self.ir, self.spec, self._run = ir, spec, csim_beats
        try:
            self.binary = ensure_csim(build, ir)
        except CsimError as err:
            raise BackendError(f"cannot build the C-simulation of {build}/hls: {err}") from err
        self.frames = 0
        self.seconds = 0.0

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        in_beats = stream.check_input_beats(self.spec, in_beats)
        if not in_beats.shape[0]:
            return np.zeros((0, self.spec.out_beats, self.spec.out_beat_bytes), np.uint8)
        t0 = time.perf_counter()
        out = self._run(self.ir, self.binary, in_beats)
        self.seconds += time.perf_counter() - t0
        self.frames += in_beats.shape[0]
        return out

    def stats(self) -> dict[str, Any]:
        return {"frames": self.frames, "binary": str(self.binary),
                "csim_seconds": round(self.seconds, 4)}

    def close(self) -> None:
        pass


class BoardSimBackend:
    """The board top in Verilator (compile/board/sim.py) behind the serial backend: the bytes
    cross a TCP socket on loopback, framed, checksummed and identity-checked as on a board."""

    def __init__(self, build: Path, spec: RuntimeSpec, board: str | None = None,
                 baud: int | None = None, clock_mhz: float | None = None,
                 batch_frames: int | None = None) -> None:
        from xnorflow.compile.board.sim import BoardSimulator
        from xnorflow.compile.errors import CompileError
        from xnorflow.compile.rtl.sim import SimulationError
        from xnorflow.host.serial_backend import SerialBackend, SerialBackendError
        from xnorflow.tools import ToolError

        if not board:
            raise BackendError("the board-sim backend needs the board: --board NAME "
                               "(ulx3s-12f, ..., icebreaker)")
        self.spec = spec
        try:
            self.sim = BoardSimulator(build, board, baud=baud, clock_mhz=clock_mhz)
        except (CompileError, SimulationError, ToolError) as err:
            raise BackendError(f"cannot start the board simulation of {build}: {err}") from err
        try:
            self.link = SerialBackend(spec, self.sim.url, baud=self.sim.baud, timeout_s=300.0,
                                      resync_s=self.sim.resync_s(), batch_frames=batch_frames)
        except SerialBackendError:
            self.sim.close()
            raise
        self._cycles = 0
        self._frames = 0

    def run_beats(self, in_beats: np.ndarray) -> np.ndarray:
        before = self.sim.stats()
        out = self.link.run_beats(in_beats)
        after = self.sim.stats()
        # the link's cycles: without those a packet waited for this host's next byte
        self._cycles += (after["cycles"] - after["starved_cycles"]
                         - before["cycles"] + before["starved_cycles"])
        self._frames += in_beats.shape[0]
        return out

    def stats(self) -> dict[str, Any]:
        """The serial link's figures, and the simulated board's: cycles spent on the frames (not
        counting those the board waited for this host's next byte mid-packet) and frames/s over
        the modelled UART at the board's clock."""
        seconds = self._cycles / (self.sim.clock_mhz * 1e6)
        return {**self.link.stats(), "board_cycles": self._cycles,
                "board_seconds": seconds,
                "link_frames_per_s_simulated": self._frames / seconds if seconds else None}

    def close(self) -> None:
        self.link.close()
        self.sim.close()


def open_backend(name: str, build: Path, ir: DataflowIR, spec: RuntimeSpec,
                 **options: Any) -> Backend:
    if name == "reference":
        return ReferenceBackend(ir, spec)
    if name == "sim":
        return SimBackend(build, spec)
    if name == "csim":
        return CsimBackend(build, ir, spec)
    if name == "pynq":
        return PynqBackend(build, ir, spec, **options)
    if name == "serial":
        from xnorflow.host.serial_backend import SerialBackend

        if not options.get("port"):
            raise BackendError("the serial backend needs the port: --port /dev/ttyUSB0 "
                               "(Accelerator.open(BUILD, backend='serial', port=...))")
        return SerialBackend(spec, **options)
    if name == "board-sim":
        return BoardSimBackend(build, spec, **options)
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


def load_ir(build: Path) -> DataflowIR:
    build = Path(build)
    if not build.is_dir():
        raise BackendError(
            f"build folder {build} not found; make it with `xnorflow compile MODEL -o {build}`"
        )
    try:
        return DataflowIR.load(build)
    except (IRError, OSError, ValueError) as err:
        raise BackendError(f"cannot read the model in {build}: {err}") from err


class Accelerator:
    """A compiled model behind one backend; `predict` and `throughput` are backend-independent."""

    def __init__(self, build: Path, ir: DataflowIR, backend: Backend, name: str) -> None:
        self.build, self.ir, self.backend, self.backend_name = Path(build), ir, backend, name
        self.spec = backend.spec
        self.timing = {"pack_s": 0.0, "run_s": 0.0, "unpack_s": 0.0, "frames": 0}

    @classmethod
    def open(cls, build: str | Path, backend: str = "reference", **options: Any) -> Accelerator:
        """Open BUILD with a backend: "reference", "sim", "csim", "pynq", "serial" or
        "board-sim".

        Options for pynq: `pynq_module` (default: import pynq), `bitfile` (default
        BUILD/driver/xnorflow.bit), `chunk_frames` (frames per DMA transfer). For serial:
        `port` (required: /dev/ttyUSB0, COM3, socket://host:port), `baud`, `timeout_s`,
        `batch_frames`, `retries`. For board-sim: `board` (required), `baud`, `clock_mhz`,
        `batch_frames`.
        """
        if backend not in BACKEND_NAMES:
            raise BackendError(
                f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_NAMES)}"
            )
        allowed = {"pynq": None, "serial": SERIAL_OPTIONS,
                   "board-sim": ("board", "baud", "clock_mhz", "batch_frames")}.get(backend, ())
        if allowed is not None and set(options) - set(allowed):
            raise BackendError(f"options {sorted(set(options) - set(allowed))} do not apply to "
                               f"the {backend} backend")
        build = Path(build)
        ir = load_ir(build)
        spec = runtime_spec(ir, build)
        return cls(build, ir, open_backend(backend, build, ir, spec, **options), backend)

    # --- inference ---------------------------------------------------------------------
    def run_scores(self, images: Any) -> np.ndarray:
        """Integer scores (N, n_out): the accelerator's raw output, unpacked."""
        t0 = time.perf_counter()
        beats = stream.pack_input(self.spec, images)
        t1 = time.perf_counter()
        out = self.backend.run_beats(beats)
        t2 = time.perf_counter()
        scores = stream.unpack_output(self.spec, out)
        t3 = time.perf_counter()
        self.timing["pack_s"] += t1 - t0
        self.timing["run_s"] += t2 - t1
        self.timing["unpack_s"] += t3 - t2
        self.timing["frames"] += len(scores)
        return scores

    def predict(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """Images → (labels (N,), integer scores (N, n_out)).

        The accelerator's input is uint8 pixels, (N, *input_shape). Floats are taken as the
        model's float input (uint8 · input_scale, i.e. [0, 1] for the usual 1/255) and rounded
        to the 8-bit grid first: round_half_even(x / input_scale), so a float image that was
        not made from uint8 pixels loses what lies between two grid points.
        """
        scores = self.run_scores(images)
        return stream.labels(self.spec, scores), scores

    def logits(self, scores: np.ndarray) -> np.ndarray:
        return stream.logits(self.spec, scores)

    def throughput(self, n: int = 1000, batch: int | None = None, seed: int = 0) -> dict[str, Any]:
        """Frames/s over `n` random images, and the host-side time per frame (pack, unpack)."""
        if n < 1:
            raise HostInputError(f"throughput needs n >= 1 frames, got {n}")
        rng = np.random.default_rng(seed)
        images = rng.integers(self.spec.in_min, self.spec.in_max + 1,
                              size=(n, *self.spec.input_shape)).astype(np.uint8)
        batch = batch or n
        before = dict(self.timing)
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            self.run_scores(images[s : s + batch])
        seconds = time.perf_counter() - t0
        spent = {k: self.timing[k] - before[k] for k in ("pack_s", "run_s", "unpack_s")}
        result = {
            "backend": self.backend_name, "model": self.spec.model, "frames": n,
            "seconds": seconds, "fps": n / seconds,
            "pack_us_per_frame": 1e6 * spent["pack_s"] / n,
            "unpack_us_per_frame": 1e6 * spent["unpack_s"] / n,
            "backend_us_per_frame": 1e6 * spent["run_s"] / n,
            "model_fps_at_clock": self.ir.fps(),
        }
        last = self.backend.stats().get("last_call", {})
        if last.get("cycles_per_frame_steady"):
            cycles = float(last["cycles_per_frame_steady"])
            result["sim_cycles_per_frame"] = cycles
            result["sim_fps_at_clock"] = self.ir.clock_mhz * 1e6 / cycles
            result["sim_latency_cycles"] = last.get("latency_cycles")
        return result

    # --- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
