"""C-simulation of the generated HLS C++ with g++ (no Vitis needed).

`build_csim(hls_dir)` compiles BUILD/hls/tb_xnorflow.cpp + xnorflow_top.cpp once with g++ -O2
against the open Xilinx arbitrary-precision headers that ship in hls4ml (ap_int.h,
hls_stream.h) into BUILD/hls/csim.bin, rebuilt only when the sources' hash changes.
`run_csim(build, images)` packs the images with compile/stream.py, runs the binary, unpacks its
output and compares every value with the IR's reference executor (`DataflowIR.run`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from xnorflow.compile.hls import codegen as hls_codegen
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.report import comparison
from xnorflow.compile.stream import pack_beats, unpack_beats
from xnorflow.tools import tool_env

log = logging.getLogger(__name__)

CXXFLAGS = ("-std=c++14", "-O2", "-w")


class CsimError(RuntimeError):
    """A user-fixable problem running the C-simulation (missing tool, folder or headers)."""


def ap_types_dir() -> Path:
    """The folder holding ap_int.h and hls_stream.h (from the hls4ml wheel)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.origin:
        raise CsimError(
            "hls4ml is not installed: its ap_types headers are needed for C-simulation; "
            "install them with: pip install hls4ml==1.3.0 --no-deps"
        )
    folder = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
    if not (folder / "ap_int.h").is_file() or not (folder / "hls_stream.h").is_file():
        raise CsimError(
            f"{folder} lacks ap_int.h/hls_stream.h; reinstall with: "
            "pip install --force-reinstall hls4ml==1.3.0 --no-deps"
        )
    return folder


def compiler() -> str:
    env = tool_env()
    gxx = shutil.which("g++", path=env["PATH"])
    if gxx is None:
        raise CsimError("g++ not found; install it with: sudo apt-get install g++")
    return gxx


def compile_command(hls_dir: Path, out: Path) -> list[str]:
    cmd = [compiler(), *CXXFLAGS, f"-I{hls_dir}", f"-I{hls_dir / 'templates'}"]
    cmd += [f"-I{ap_types_dir()}", str(hls_dir / "tb_xnorflow.cpp")]
    cmd += [str(hls_dir / "xnorflow_top.cpp"), "-o", str(out)]
    return cmd


def build_csim(hls_dir: Path) -> Path:
    """Compile the testbench (cached by the sources' hash in csim.hash); return the binary."""
    hls_dir = Path(hls_dir)
    binary, stamp = hls_dir / "csim.bin", hls_dir / "csim.hash"
    key = hls_codegen.source_hash(hls_dir) + " " + " ".join(CXXFLAGS)
    if binary.is_file() and stamp.is_file() and stamp.read_text() == key:
        return binary
    tmp = hls_dir / "csim.bin.tmp"
    cmd = compile_command(hls_dir, tmp)
    env = tool_env()
    # ccache when present: a repeated build of the same sources costs nothing
    if shutil.which("ccache", path=env["PATH"]):
        cmd = ["ccache", *cmd]
    log.info("compiling %s", hls_dir / "tb_xnorflow.cpp")
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise CsimError(
            f"g++ failed to compile the HLS C++ in {hls_dir} (a bug in xnorflow's HLS backend; "
            f"please report it):\n{res.stderr[-4000:]}"
        )
    tmp.replace(binary)
    stamp.write_text(key)
    return binary


@dataclasses.dataclass
class CsimReport:
    frames: int
    mismatches: int  # frames whose output differs from the reference anywhere
    value_mismatches: int  # output values that differ
    accuracy: float | None  # of the C-simulation's labels, when labels were given
    reference_accuracy: float | None
    seconds: float  # running the binary (compile excluded)
    compile_seconds: float
    first_mismatch: int | None
    comparison: dict  # the same block as sim_report.json's and run's (compile/report.py)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def csim_beats(ir: DataflowIR, binary: Path, beats: np.ndarray, timeout: float | None = None,
               tlast_batch: int = 0) -> np.ndarray:
    """Run the C-simulation binary on (N, in_beats, in_bytes) input beats → (N, out_beats,
    out_bytes) output beats (compile/stream.py's format).

    `timeout` (seconds) turns a hanging simulation (a kernel that never finishes its frame)
    into a CsimError. The testbench sends the frames in packets of `tlast_batch` frames (0: one
    packet) with TLAST on each packet's last beat and fails unless the output's TLAST is on
    exactly the last beat of each packet.
    """
    n = beats.shape[0]
    iface = hls_codegen.TopInterface.of(ir)
    with tempfile.TemporaryDirectory(prefix="xnorflow_csim_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        fin.write_bytes(np.ascontiguousarray(beats, dtype=np.uint8).tobytes())
        try:
            res = subprocess.run(
                [str(binary), str(fin), str(fout), str(n), str(tlast_batch)],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as err:
            raise CsimError(
                f"the C-simulation {binary} did not finish {n} frames in {timeout} s"
            ) from err
        if res.returncode != 0:
            raise CsimError(
                f"the C-simulation {binary} failed (exit {res.returncode}): {res.stderr.strip()}"
            )
        raw = np.frombuffer(fout.read_bytes(), dtype=np.uint8)
    expected = n * iface.out_beats * iface.out_bytes
    if raw.size != expected:
        raise CsimError(f"the C-simulation wrote {raw.size} bytes, expected {expected}")
    return raw.reshape(n, iface.out_beats, iface.out_bytes)


def hls_outputs(
    ir: DataflowIR, binary: Path, images: np.ndarray, timeout: float | None = None,
    tlast_batch: int = 0,
) -> np.ndarray:
    """Run the C-simulation binary on images → (N, n_out) integer outputs (see csim_beats)."""
    first, last = ir.layers[0], ir.layers[-1]
    frames = ir.input_frames(images).reshape(len(images), -1)
    beats = pack_beats(frames, first.in_dtype.bits, first.in_fold)
    raw = csim_beats(ir, binary, beats, timeout, tlast_batch)
    return unpack_beats(raw, last.out_dtype.bits, last.out_fold, last.out_dtype.signed)


def ensure_csim(build: Path, ir: DataflowIR) -> Path:
    """The compiled C-simulation of BUILD/hls (generated from the IR when missing)."""
    hls_dir = Path(build) / "hls"
    if not (hls_dir / "xnorflow_top.cpp").is_file():
        log.info("%s has no HLS sources: generating them from %s", build, Path(build) / "ir.json")
        from xnorflow.compile.backends import BackendOptions

        hls_codegen.write(ir, hls_dir, BackendOptions(clock_mhz=ir.clock_mhz))
    return build_csim(hls_dir)


def run_csim(
    build: Path,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    write_report: bool = True,
    timeout: float | None = None,
) -> CsimReport:
    """C-simulate BUILD's HLS accelerator on images and compare with the reference executor.

    BUILD/hls is generated from BUILD/ir.json when it is missing. Writes BUILD/csim_report.json.
    """
    build = Path(build)
    if not build.is_dir():
        raise CsimError(f"build folder {build} not found: make one with `xnorflow compile`")
    ir = DataflowIR.load(build)
    t0 = time.perf_counter()
    binary = ensure_csim(build, ir)
    t1 = time.perf_counter()
    got = hls_outputs(ir, binary, images, timeout)
    t2 = time.perf_counter()
    comp = comparison(ir, got, ir.run(images), labels)
    report = CsimReport(
        frames=len(images),
        mismatches=comp["mismatching_frames"],
        value_mismatches=comp["mismatching_values"],
        accuracy=comp["accuracy"],
        reference_accuracy=comp["reference_accuracy"],
        seconds=round(t2 - t1, 4),
        compile_seconds=round(t1 - t0, 4),
        first_mismatch=comp["first_mismatch"],
        comparison=comp,
    )
    if write_report:
        (build / "csim_report.json").write_text(json.dumps(report.to_json(), indent=1))
    return report
