"""Compiler benchmark: `xnorflow compile` wall time for FINN's TFC/SFC/LFC/CNV-1W1A and the IR
reference executor's frames/s on one core.

The models are brevitas_examples.bnn_pynq's with random weights and BatchNorm statistics
(compile time does not depend on the values). Each compile is a fresh `xnorflow compile`
process (imports included) writing a complete build folder, as a user would run it. The
executor runs in this process with one BLAS/OpenMP thread. Prints a table, writes
benchmarks/results/compile.json. Targets (issue #3): TFC ≤ 10 s, CNV ≤ 60 s, executor
≥ 100k TFC frames/s on one core.

    .venv/bin/python benchmarks/compile.py [--models tfc sfc lfc cnv] [--repeat 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TARGETS_S = {"tfc": 10.0, "cnv": 60.0}
EXEC_FRAMES = {"tfc": 20000, "sfc": 5000, "lfc": 1000, "cnv": 40}


def export_model(name: str, folder: Path) -> Path:
    import torch  # noqa: F401

    from tests.compile.helpers import bnn_pynq, export

    model, shape = bnn_pynq(f"{name}_1w1a", seed=0)
    return export(model, shape, folder / f"{name}.onnx")


def frames_per_s(build: Path, n: int, repeat: int) -> tuple[float, float]:
    """(best frames per wall second, best frames per CPU second of this one-thread process).

    On a shared machine the wall figure includes time other processes held the core; the CPU
    figure is what one core delivers."""
    from xnorflow.compile.ir import DataflowIR

    ir = DataflowIR.load(build)
    images = np.random.default_rng(0).integers(0, 256, size=(n, *ir.input_shape), dtype=np.uint8)
    ir.run(images[: min(n, 64)])  # warm-up
    best_wall = best_cpu = 0.0
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        ir.run(images)
        best_wall = max(best_wall, n / (time.perf_counter() - t))
        best_cpu = max(best_cpu, n / max(time.process_time() - c, 1e-9))
    return best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["tfc", "sfc", "lfc", "cnv"])
    ap.add_argument("--repeat", type=int, default=5, help="executor runs (best is reported)")
    args = ap.parse_args()
    xnorflow = REPO / ".venv" / "bin" / "xnorflow"
    rows = []
    with tempfile.TemporaryDirectory(prefix="xnorflow-bench-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmp)
        for name in args.models:
            onnx_path = export_model(name, tmp)
            build = tmp / f"build_{name}"
            t, ru = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([str(xnorflow), "compile", str(onnx_path), "-o", str(build), "-q"],
                           check=True, cwd=tmp)
            wall = time.perf_counter() - t
            ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime
            rep = json.loads((build / "report.json").read_text())
            fps, fps_cpu = frames_per_s(build, EXEC_FRAMES[name], args.repeat)
            rows.append({
                "model": name.upper(), "compile_s": round(wall, 2), "compile_cpu_s": round(cpu, 2),
                "finn_lowering_s": round(rep["timings_s"]["finn_lowering"], 2),
                "write_s": round(rep["timings_s"]["write"], 2),
                "target_s": TARGETS_S.get(name),
                "layers": len(rep["layers"]),
                "backends": ",".join(rep["backends"]),
                "default_ii_cycles": rep["initiation_interval_cycles"],
                "default_fps_100mhz": round(rep["fps"]),
                "fit_part": rep["fit"]["part"],
                "fit_lut_pct": round(100 * rep["fit"]["lut_utilisation"], 1),
                "fit_bram_pct": round(100 * rep["fit"]["bram_utilisation"], 1),
                "exec_frames_per_s": round(fps, 1),
                "exec_frames_per_cpu_s": round(fps_cpu, 1),
            })
            print(f"{name}: compile {wall:.1f} s, executor {fps:,.0f} frames/s "
                  f"({fps_cpu:,.0f} per CPU second)", flush=True)
    load = os.getloadavg()
    doc = {"compile": rows, "load_average_1min": round(load[0], 2), "cpus": os.cpu_count(),
           "note": "compile_s: a fresh `xnorflow compile` process to a complete build folder "
                   "with the default folding (the fastest whose FINN estimates fit 80 % of the "
                   "xc7z020: default_ii_cycles, fit_lut_pct, fit_bram_pct) "
                   "(wall clock; compile_cpu_s: its CPU time, what a quiet machine would see); "
                   "exec_frames_per_s: DataflowIR.run, best of --repeat, one thread, wall "
                   "clock; exec_frames_per_cpu_s: the same per CPU second of this process"}
    out = REPO / "benchmarks" / "results" / "compile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    from rich.console import Console
    from rich.table import Table

    table = Table(title="xnorflow compile benchmark")
    for col in rows[0]:
        table.add_column(col)
    for r in rows:
        table.add_row(*[str(v) for v in r.values()])
    Console(width=160).print(table)
    print(f"load average {load[0]:.2f} on {os.cpu_count()} CPUs; written {out}")


if __name__ == "__main__":
    main()
