"""BUILD/report.json and the human summary of a compiled model.

Per layer: kind, FINN node(s), in/out shape, datatypes, PE, SIMD, stream widths, cycles per
frame, on-chip parameter bits, FINN's LUT/BRAM18 estimates. For the pipeline: initiation
interval (the slowest layer's cycles per frame), latency (sum of the layers' cycles — FINN's
critical-path estimate, an upper bound for a pipeline whose layers overlap), FPS at the clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.ir import DataflowIR


def make_report(ir: DataflowIR, estimates: dict[str, dict[str, Any]] | None,
                timings: dict[str, float] | None = None,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    estimates = estimates or {}
    ii = ir.initiation_interval()
    layers = []
    for layer in ir.layers:
        est = estimates.get(layer.name, {})
        fold = layer.folding()
        layers.append({
            "name": layer.name, "kind": layer.kind,
            "finn_nodes": ir.meta.get("finn_nodes", {}).get(layer.name, []),
            "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
            "in_dtype": layer.in_dtype.name, "out_dtype": layer.out_dtype.name,
            "PE": fold.get("PE"), "SIMD": fold.get("SIMD"),
            "in_width": layer.in_width, "out_width": layer.out_width,
            "cycles": layer.exp_cycles(), "weight_bits": layer.weight_bits(),
            "lut_finn": est.get("lut"), "bram18_finn": est.get("bram18"),
            "bottleneck": layer.exp_cycles() == ii,
        })
    latency = sum(layer.exp_cycles() for layer in ir.layers)
    mhz = ir.clock_mhz
    return {
        "model": ir.name, "source": ir.meta.get("source"),
        "input_shape": list(ir.input_shape), "input_layout": ir.input_layout,
        "input_dtype": ir.input_dtype.name, "n_outputs": ir.n_out,
        "clock_mhz": mhz,
        "initiation_interval_cycles": ii,
        "latency_cycles": latency,
        "latency_us": latency / mhz,
        "fps": ir.fps(),
        "total_weight_bits": sum(layer.weight_bits() for layer in ir.layers),
        "total_lut_finn": sum(int(e.get("lut") or 0) for e in estimates.values()),
        "total_bram18_finn": sum(int(e.get("bram18") or 0) for e in estimates.values()),
        "output": "integer outputs of the last layer; logits = out * output_scale + "
                  "output_bias (host), label = argmax(logits) (host)",
        "layers": layers,
        "timings_s": timings or {},
        **(extra or {}),
    }


def comparison(ir: DataflowIR, got: np.ndarray, want: np.ndarray,
               labels: np.ndarray | None = None) -> dict[str, Any]:
    """A hardware model's integer outputs against the reference's: the block every report of
    `simulate`, `csim` and `run` carries under "comparison", in one format."""
    got, want = np.asarray(got), np.asarray(want)
    diff = got != want
    bad = np.flatnonzero(diff.any(axis=1)) if diff.size else np.zeros(0, np.int64)
    pred, ref_pred = ir.labels_of(got), ir.labels_of(want)
    acc = ref_acc = None
    if labels is not None and len(labels):
        labels = np.asarray(labels)
        acc = float(np.mean(pred == labels))
        ref_acc = float(np.mean(ref_pred == labels))
    return {"frames": int(len(got)), "mismatching_frames": int(bad.size),
            "mismatching_values": int(diff.sum()), "mismatching_labels":
            int(np.sum(pred != ref_pred)), "first_mismatch": int(bad[0]) if bad.size else None,
            "accuracy": acc, "reference_accuracy": ref_acc, "bit_exact": not bad.size}


def print_summary(report: dict[str, Any], build: Path | None = None) -> None:
    """A rich table of the layers and the pipeline figures."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"xnorflow compile: {report['model']}")
    for col in ("layer", "kind", "in → out", "PE", "SIMD", "cycles", "weight bits", "LUT*",
                "BRAM18*"):
        table.add_column(col, justify="left" if col in ("layer", "kind", "in → out") else "right")
    for row in report["layers"]:
        mark = " ◀" if row["bottleneck"] else ""
        table.add_row(
            row["name"], row["kind"], f"{tuple(row['in_shape'])} → {tuple(row['out_shape'])}",
            str(row["PE"] or "-"), str(row["SIMD"] or "-"), f"{row['cycles']}{mark}",
            str(row["weight_bits"]), str(row["lut_finn"] if row["lut_finn"] is not None else "-"),
            str(row["bram18_finn"] if row["bram18_finn"] is not None else "-"),
        )
    console = Console()
    console.width = max(console.width, 110)  # a narrow terminal would wrap every row
    console.print(table)
    console.print(
        f"initiation interval {report['initiation_interval_cycles']} cycles/frame, latency ≤ "
        f"{report['latency_cycles']} cycles ({report['latency_us']:.1f} µs), "
        f"{report['fps']:.1f} FPS at {report['clock_mhz']:g} MHz; "
        f"{report['total_weight_bits']} parameter bits; FINN estimates "
        f"{report['total_lut_finn']} LUT, {report['total_bram18_finn']} BRAM18 "
        "(* FINN's analytic models, no synthesis)")
    if build is not None:
        console.print(f"build folder: {build}")
