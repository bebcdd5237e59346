"""Residual network beside a plain CNN of the same convolutions (issue #18): for each trained
run folder (`xnorflow train` output with model.onnx), compile at one target rate, run the IR
on the whole test set (accuracy), simulate the RTL on test images (cycles/frame, mismatches)
and synthesize with Yosys synth_xilinx (LUT/FF/BRAM18, the fork/join/FIFO share). Prints a
table, writes benchmarks/results/residual.json.

    .venv/bin/python benchmarks/residual.py --data-dir ../shared/data/mnist \\
        runs/resnet16-32-flat-mnist-adam-e4 runs/cnn16-32-plain-mnist-adam-e4
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def measure(run: Path, data_dir: Path, fps: float, n_sim: int, folder: Path) -> dict:
    from xnorflow.compile.pipeline import compile_model
    from xnorflow.compile.rtl.sim import VerilatorAccelerator
    from xnorflow.compile.rtl.synth import run_synth
    from xnorflow.compile.stream import pack_beats, unpack_beats
    from xnorflow.train.data import load_dataset

    config = json.loads((run / "config.json").read_text())
    result = compile_model(run / "model.onnx", folder / "build", target_fps=fps)
    ir = result.ir
    images, labels = load_dataset(config["dataset"], data_dir, "test")
    predicted, _ = ir.predict(images)
    first, last = ir.layers[0], ir.layers[-1]
    sample = images[:n_sim]
    beats = pack_beats(ir.input_frames(sample).reshape(len(sample), -1), first.in_dtype.bits,
                       first.in_fold)
    with VerilatorAccelerator(folder / "build" / "rtl") as sim:
        out, stats = sim.run(beats)
    got = unpack_beats(out, last.out_dtype.bits, last.out_fold, last.out_dtype.signed)
    mismatches = int(np.sum(np.any(got != ir.run(sample), axis=1)))
    report = run_synth(folder / "build", "xilinx", pnr=False)
    share: dict[str, dict] = {}
    for row in report["layers"]:
        s = share.setdefault(row["kind"], {"lut": 0, "ff": 0, "bram": 0})
        for k in s:
            s[k] += int(row[k])
    kinds = [layer.kind for layer in ir.layers]
    return {"run": run.name, "model": config["model"], "dataset": config["dataset"],
            "epochs": config["epochs"], "test_acc_ir": float(np.mean(predicted == labels)),
            "forks": kinds.count("duplicate_streams"), "joins": kinds.count("add_streams"),
            "analytic_ii": ir.initiation_interval(),
            "cycles_per_frame": stats["cycles_per_frame_steady"], "sim_frames": len(sample),
            "mismatches": mismatches, "lut": report["total"]["lut"],
            "ff": report["total"]["ff"], "bram18": report["total"]["bram"],
            "finn_lut": report.get("finn_total_lut"), "yosys_s": round(report["yosys_seconds"]),
            "by_kind": share}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--target-fps", type=float, default=14172.0)
    ap.add_argument("--sim-images", type=int, default=40)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, run in enumerate(args.runs):
            rows.append(measure(run, args.data_dir, args.target_fps, args.sim_images,
                                Path(tmp) / str(i)))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "by_kind"}), flush=True)
    out = REPO / "benchmarks" / "results" / "residual.json"
    out.write_text(json.dumps({"target_fps": args.target_fps, "models": rows}, indent=1) + "\n")
    cols = ["model", "test_acc_ir", "analytic_ii", "cycles_per_frame", "mismatches", "lut", "ff",
            "bram18"]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    return 1 if any(r["mismatches"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
