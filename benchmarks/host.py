"""Host runtime benchmark: frames/s per backend and the host-side cost per frame.

For a TFC- and a small CNV-shaped network (random weights; tests/nets.py) it measures:
- host overhead per frame, batched and for single frames: quantize+pack the input (the exact
  DMA bytes), unpack the output, affine+argmax — the Python work the board's CPU does;
- frames/s of each backend through `Accelerator.predict`: reference (numpy), sim (Verilator,
  also its measured cycles/frame and the frames/s that gives at the IR's clock), and pynq
  over the board emulation (the PYNQ driver's DMA loop; the emulated hardware's own time is
  subtracted to give the driver's Python cost per frame);
- the hardware's analytic frames/s at the IR's clock, to compare with the host's cost.
Figures are for this machine's x86 CPU; a PYNQ board's Cortex-A9/A53 runs numpy several times
slower and its DMA calls cost more: there is no board here to measure that.
Prints a table and writes benchmarks/results/host.json.

usage: python benchmarks/host.py [--frames 2000] [--models tfc,cnv] [--no-sim]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/nets.py builds the networks


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def host_overhead(spec, images: np.ndarray) -> dict[str, float]:
    from xnorflow.compile import stream

    n = len(images)
    beats = stream.pack_input(spec, images)
    out = np.zeros((n, spec.out_beats, spec.out_beat_bytes), np.uint8)
    scores = stream.unpack_output(spec, out)
    one = images[:1]
    singles = min(n, 200)
    return {
        "pack_us_per_frame": 1e6 * _best(lambda: stream.pack_input(spec, images)) / n,
        "to_dma_us_per_frame": 1e6 * _best(lambda: stream.beats_to_dma(spec, beats)) / n,
        "unpack_us_per_frame": 1e6 * _best(lambda: stream.unpack_output(spec, out)) / n,
        "argmax_us_per_frame": 1e6 * _best(lambda: stream.labels(spec, scores)) / n,
        "single_frame_pack_unpack_us": 1e6 * _best(lambda: [
            stream.unpack_output(spec, out[:1]) for _ in range(singles)
            if stream.pack_input(spec, one) is not None]) / singles,
    }


def bench_model(name: str, ir, frames: int, use_sim: bool, root: Path) -> list[dict]:
    from tests.nets import random_images
    from xnorflow.compile.driver_bundle import write_driver
    from xnorflow.host import pynq_emulation as emu
    from xnorflow.host.accelerator import Accelerator

    build = root / name
    ir.save(build)
    write_driver(ir, build / "driver")
    (build / "driver" / "xnorflow.bit").write_text("benchmark stand-in for the emulation\n")
    backends = ["reference", "pynq-emulated/reference"]
    if use_sim:
        from xnorflow.compile.rtl import codegen as rtl_codegen

        rtl_codegen.write(ir, build / "rtl")
        backends += ["sim", "pynq-emulated/sim"]
    images = random_images(ir, frames, seed=1)
    rows = []
    for backend in backends:
        options = {}
        if backend.startswith("pynq"):
            emu.configure(build, backend.split("/")[1])
            options = {"pynq_module": emu}
        t_open = time.perf_counter()
        with Accelerator.open(build, backend=backend.split("-")[0], **options) as acc:
            t_open = time.perf_counter() - t_open
            acc.predict(images[:8])  # warm up
            hw_time = [0.0]
            if backend.startswith("pynq"):
                hw = acc.backend.driver.overlay._hw
                inner = hw.model.run_beats

                def timed(beats, inner=inner, hw_time=hw_time):
                    t0 = time.perf_counter()
                    try:
                        return inner(beats)
                    finally:
                        hw_time[0] += time.perf_counter() - t0

                hw.model.run_beats = timed
                hw_time[0] = 0.0
            t = acc.throughput(frames, batch=min(frames, 1000))
        emu.configure(None, None)
        row = {
            "model": name, "backend": backend, "frames": frames, "fps": t["fps"],
            "host_pack_us": t["pack_us_per_frame"], "host_unpack_us": t["unpack_us_per_frame"],
            "backend_us_per_frame": t["backend_us_per_frame"], "open_s": t_open,
            "hw_fps_at_clock": t["model_fps_at_clock"],
        }
        if backend.startswith("pynq"):
            hw_us = 1e6 * hw_time[0] / frames
            row["driver_python_us_per_frame"] = t["backend_us_per_frame"] - hw_us
        if "sim_cycles_per_frame" in t:
            row["sim_cycles_per_frame"] = t["sim_cycles_per_frame"]
            row["sim_fps_at_clock"] = t["sim_fps_at_clock"]
        rows.append(row)
        print(f"  {name:4s} {backend:26s} {row['fps']:10.0f} frames/s  backend "
              f"{row['backend_us_per_frame']:8.1f} us/frame"
              + (f"  driver {row['driver_python_us_per_frame']:6.1f} us/frame"
                 if "driver_python_us_per_frame" in row else "")
              + (f"  sim {row['sim_cycles_per_frame']:.0f} cycles/frame"
                 if "sim_cycles_per_frame" in row else ""), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--models", default="tfc,cnv")
    ap.add_argument("--no-sim", action="store_true", help="skip the Verilator backends")
    ap.add_argument("--out", default=str(HERE / "results" / "host.json"))
    args = ap.parse_args(argv)

    from tests.nets import affine_tfc_ir, random_images, uint2_cnv_ir
    from xnorflow.compile.interface import runtime_spec

    makers = {"tfc": affine_tfc_ir, "cnv": uint2_cnv_ir}
    overhead, backends = [], []
    with tempfile.TemporaryDirectory(prefix="xnorflow-host-bench-") as tmp:
        for name in args.models.split(","):
            if name not in makers:
                print(f"error: unknown model {name!r}; choose from {', '.join(makers)}",
                      file=sys.stderr)
                return 2
            ir = makers[name]()
            spec = runtime_spec(ir)
            row = {"model": name, "in_frame_bytes": spec.in_frame_bytes,
                   "out_frame_bytes": spec.out_frame_bytes,
                   **host_overhead(spec, random_images(ir, args.frames)),
                   "hw_us_per_frame_at_clock": 1e6 / ir.fps()}
            overhead.append(row)
            print(f"{name}: host pack {row['pack_us_per_frame']:.2f} us/frame, unpack "
                  f"{row['unpack_us_per_frame']:.2f}, argmax {row['argmax_us_per_frame']:.2f}, "
                  f"single frame {row['single_frame_pack_unpack_us']:.1f} us; hardware "
                  f"{row['hw_us_per_frame_at_clock']:.2f} us/frame at {ir.clock_mhz:g} MHz",
                  flush=True)
            backends += bench_model(name, ir, args.frames, not args.no_sim, Path(tmp))
    doc = {"host_overhead": overhead, "backends": backends,
           "note": "x86 host figures; a PYNQ board's ARM CPU is slower (not measurable here)"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
