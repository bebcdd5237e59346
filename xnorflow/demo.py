"""`xnorflow demo`: the whole promise in one command, on a laptop CPU, in minutes.

Train a small BNN with the gradient-filtering optimizer and random bias init → QONNX →
FINN lowering → IR with auto-folding → RTL + HLS → Verilator simulation and g++ C-simulation
of the test images → Yosys synthesis → one summary. Every figure in the summary is read from
the artefact that produced it (metrics.jsonl, report.json, sim_report.json, csim_report.json,
synth_report.json), and PyTorch is re-run on exactly the simulated images so that the
accuracies compare image for image.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DEMO_MODELS = {"digits": "mlp:64,64", "mnist": "tfc"}


class DemoError(RuntimeError):
    """A demo step failed; the message names the step and its artefact folder."""


@dataclasses.dataclass
class DemoConfig:
    dataset: str = "digits"
    data_dir: Path | None = None
    out: Path = Path("demo")
    model: str | None = None  # default per data set, DEMO_MODELS
    epochs: int = 20
    bias_init: float = 1.0
    seed: int = 0
    n_sim: int = 400  # test images simulated (capped at the test set's size)
    target_fps: float = 1_000_000.0
    clock_mhz: float = 100.0
    synth_target: str = "xilinx"
    board: str | None = None  # an open-flow board: add its bitstream and a board-sim run


def _torch_predictions(run_dir: Path, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and logits of the trained model (best.pt, eval mode) on uint8 images."""
    import torch

    from xnorflow.train.data import to_model_input
    from xnorflow.train.loop import TrainConfig, build_model_for
    from xnorflow.train.models import set_weight_binarization

    best = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=False)
    cfg = TrainConfig(**best["config"])
    model = build_model_for(cfg, images.shape[1:], 10)
    model.load_state_dict(best["model"])
    set_weight_binarization(model, True)
    model.eval()
    with torch.no_grad():
        logits = model(to_model_input(images)).numpy().astype(np.float64)
    return logits.argmax(axis=1), logits


def run_demo(cfg: DemoConfig, step: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Run every stage; returns the summary (also written to OUT/summary.json)."""
    from xnorflow.compile.hls.csim import run_csim
    from xnorflow.compile.pipeline import compile_model
    from xnorflow.compile.rtl.cli import simulate_build
    from xnorflow.compile.rtl.synth import run_synth
    from xnorflow.train.data import load_dataset
    from xnorflow.train.loop import TrainConfig, run_training

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    run_dir, build = out / "train", out / "build"
    model = cfg.model or DEMO_MODELS.get(cfg.dataset, "tfc")
    timings: dict[str, float] = {}
    step = step or (lambda name: None)

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        step(name)
        t0 = time.perf_counter()
        result = fn()
        timings[name] = round(time.perf_counter() - t0, 1)
        return result

    train_cfg = TrainConfig(
        model=model,
        dataset=cfg.dataset,
        data_dir=str(cfg.data_dir) if cfg.data_dir else None,
        optimizer="filter",
        bias_init=cfg.bias_init,
        epochs=cfg.epochs,
        seed=cfg.seed,
    )
    trained = timed("train", lambda: run_training(train_cfg, run_dir, progress=True,
                                                    overwrite=True))
    if not trained.get("onnx"):
        raise DemoError(f"training did not export a model; see {run_dir}")

    compiled = timed(
        "compile",
        lambda: compile_model(
            run_dir / "model.onnx", build, target_fps=cfg.target_fps, clock_mhz=cfg.clock_mhz,
            board=cfg.board,
        ),
    )

    images, labels = load_dataset(cfg.dataset, cfg.data_dir, "test")
    n = min(cfg.n_sim, len(images))
    images, labels = images[:n], labels[:n]
    sim = timed("simulate (Verilator)", lambda: simulate_build(build, images, labels))
    csim = timed("C-simulate (HLS, g++)", lambda: run_csim(build, images, labels).to_json())
    synth = timed(
        f"synthesize (Yosys {cfg.synth_target})",
        lambda: run_synth(build, cfg.synth_target, pnr=False),
    )

    board = None
    if cfg.board:
        board = timed(f"bitstream + board-sim ({cfg.board})",
                      lambda: run_board(build, cfg.board, images))
    torch_labels, _ = timed(
        "PyTorch on the same images", lambda: _torch_predictions(run_dir, images)
    )
    hw_labels, scores = compiled.ir.predict(images)
    summary = {
        "dataset": cfg.dataset,
        "model": model,
        "epochs": cfg.epochs,
        "optimizer": "filter",
        "bias_init": cfg.bias_init,
        "test_acc_pytorch_full_test_set": trained["best_test_acc"],
        "images_simulated": n,
        "acc_pytorch": float(np.mean(torch_labels == labels)),
        "acc_reference": float(np.mean(hw_labels == labels)),
        "acc_rtl_sim": sim["accuracy"],
        "acc_hls_csim": csim["accuracy"],
        "label_disagreements_pytorch_vs_hw": int(np.sum(torch_labels != hw_labels)),
        "mismatches_rtl_vs_reference": sim["mismatches"],
        "mismatches_hls_vs_reference": csim["mismatches"],
        "cycles_per_frame": sim["cycles_per_frame_steady"],
        "analytic_initiation_interval": sim["analytic_initiation_interval"],
        "latency_cycles": sim["latency_cycles"],
        "fps_at_clock": sim["fps_at_clock"],
        "clock_mhz": cfg.clock_mhz,
        "luts": synth["total"].get("lut"),
        "ffs": synth["total"].get("ff"),
        "bram": synth["total"].get("bram"),
        "seconds": timings,
        **({"board": board} if board else {}),
        "artefacts": {
            "run": str(run_dir),
            "onnx": str(run_dir / "model.onnx"),
            "build": str(build),
            "ir": str(build / "ir.json"),
            "rtl": str(build / "rtl"),
            "hls": str(build / "hls"),
            "driver": str(build / "driver"),
            "report": str(build / "report.json"),
            "sim_report": str(build / "sim_report.json"),
            "csim_report": str(build / "csim_report.json"),
            "synth_report": str(build / "synth_report.json"),
            "plots": str(run_dir / "plots"),
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def run_board(build: Path, board: str, images: np.ndarray) -> dict[str, Any]:
    """`xnorflow bitstream BUILD --board NAME` (the fastest clock meeting timing), then the
    board top in Verilator through the serial backend on the same images."""
    from xnorflow.compile.board.bitstream import build_bitstream
    from xnorflow.host.accelerator import Accelerator

    timing = build_bitstream(build, board)
    with Accelerator.open(build, backend="board-sim", board=board) as acc:
        _, scores = acc.predict(images)
        stats = acc.backend.stats()
    from xnorflow.compile.ir import DataflowIR

    _, ref = DataflowIR.load(build).predict(images)
    return {
        "board": board, "device": timing["device"], "clock_mhz": timing["clock_mhz"],
        "fmax_mhz": timing["fmax_mhz"], "timing_met": timing["timing_met"],
        "utilisation": timing["utilisation"], "bitstream_seconds": timing["seconds"]["total"],
        "bitstream": str(build / "board" / board / timing["bitstream"]),
        "mismatches_board_sim_vs_reference": int(np.sum(np.any(scores != ref, axis=1))),
        "link_frames_per_s_simulated": stats["link_frames_per_s_simulated"],
        "accelerator_fps_at_clock": timing["accelerator_fps_at_clock"],
    }


def demo_ok(summary: dict[str, Any]) -> bool:
    """The promise holds: zero mismatches and identical labels at every level."""
    board = summary.get("board")
    if board and board["mismatches_board_sim_vs_reference"]:
        return False
    return (
        summary["mismatches_rtl_vs_reference"] == 0
        and summary["mismatches_hls_vs_reference"] == 0
        and summary["label_disagreements_pytorch_vs_hw"] == 0
        and summary["acc_pytorch"]
        == summary["acc_reference"]
        == summary["acc_rtl_sim"]
        == summary["acc_hls_csim"]
    )
