"""`xnorflow run BUILD --backend B --dataset D`: accuracy, frames/s, mismatches vs reference."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from xnorflow.compile.dataset_images import RANDOM_DATASET


class RunError(ValueError):
    """A user mistake in `xnorflow run` (bad option, data that does not fit the model)."""


def _batches(n: int, batch: int):
    return [(s, min(n, s + batch)) for s in range(0, n, batch)]


def run(
    build: Path = typer.Argument(..., help="Build folder made by `xnorflow compile`."),
    backend: str = typer.Option("reference", "--backend", "-b",
                                help="reference (numpy), sim (Verilator: the RTL), csim (g++: "
                                "the HLS C++), pynq (board), serial (an open-flow board on "
                                "--port) or board-sim (the whole board top of --board in "
                                "Verilator, through the serial backend)."),
    port: str | None = typer.Option(None, "--port", help="serial: the board's UART "
                                    "(/dev/ttyUSB0, COM3, socket://host:port)."),
    board: str | None = typer.Option(None, "--board", help="board-sim: the board (ulx3s-12f, "
                                     "ulx3s-25f, ulx3s-45f, ulx3s-85f, icebreaker)."),
    baud: int | None = typer.Option(None, "--baud", help="serial / board-sim: the UART's "
                                    "baud rate (default 3000000, the bitstream's)."),
    dataset: str = typer.Option(RANDOM_DATASET, "--dataset", "-d",
                                help="random, digits, mnist, fashion-mnist or cifar10."),
    data_dir: Path | None = typer.Option(None, "--data-dir",
                                         help="Folder with the data set's files."),
    n: int | None = typer.Option(None, "--n", help="Number of images (default: the whole split; "
                                 "1000 for random)."),
    split: str = typer.Option("test", "--split", help="train or test."),
    batch: int = typer.Option(1000, "--batch", help="Images per call to the backend."),
    compare: bool = typer.Option(True, "--compare/--no-compare",
                                 help="Also run the reference and count mismatches."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random data set."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Results JSON (default BUILD/run_B_D.json)."),
) -> None:
    """Run a compiled model on a data set: accuracy, frames/s, and mismatches vs the reference."""
    import numpy as np
    from rich.console import Console
    from rich.progress import Progress

    from xnorflow.compile.dataset_images import DatasetError, images_for
    from xnorflow.compile.report import comparison
    from xnorflow.compile.stream import HostInputError, RuntimeSpecError
    from xnorflow.host.accelerator import Accelerator, BackendError
    from xnorflow.host.pynq_driver import BitstreamMissingError, BoardError
    from xnorflow.host.serial_backend import SerialBackendError
    from xnorflow.train.errors import UserError

    console, err_console = Console(), Console(stderr=True, soft_wrap=True)
    user_errors = (RunError, BackendError, HostInputError, RuntimeSpecError, BitstreamMissingError,
                   BoardError, UserError, DatasetError, SerialBackendError)
    accs: list[Accelerator] = []
    try:
        if n is not None and n < 1:
            raise RunError(f"--n must be at least 1, got {n}")
        if batch < 1:
            raise RunError(f"--batch must be at least 1, got {batch}")
        options: dict[str, object] = {}
        if backend == "serial":
            options = {"port": port, **({"baud": baud} if baud else {})}
        elif backend == "board-sim":
            options = {"board": board, **({"baud": baud} if baud else {})}
        elif port or board or baud:
            raise RunError("--port, --board and --baud apply to the serial and board-sim "
                           "backends only")
        acc = Accelerator.open(build, backend=backend, **options)
        accs.append(acc)
        images, labels = images_for(acc.spec.input_shape, acc.spec.input_layout, dataset,
                                    data_dir, n, seed, split)
        ref = None
        if compare and backend != "reference":
            ref = Accelerator.open(build, backend="reference")
            accs.append(ref)
        pred, scores, ref_pred, ref_scores = [], [], [], []
        seconds = 0.0
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task(f"{backend}", total=len(images))
            for s, e in _batches(len(images), batch):
                t0 = time.perf_counter()
                lab, sc = acc.predict(images[s:e])
                seconds += time.perf_counter() - t0
                pred.append(lab)
                scores.append(sc)
                if ref is not None:
                    rl, rs = ref.predict(images[s:e])
                    ref_pred.append(rl)
                    ref_scores.append(rs)
                progress.update(task, advance=e - s)
    except user_errors as err:
        err_console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        for a in accs:
            a.close()

    pred_a, scores_a = np.concatenate(pred), np.concatenate(scores)
    frames = len(pred_a)
    result: dict[str, object] = {
        "build": str(build), "model": acc.spec.model, "backend": backend, "dataset": dataset,
        "split": split if dataset != RANDOM_DATASET else None, "frames": frames,
        "seconds": seconds, "fps": frames / seconds if seconds > 0 else None,
        "host_us_per_frame": {
            "pack": 1e6 * acc.timing["pack_s"] / frames,
            "unpack": 1e6 * acc.timing["unpack_s"] / frames,
            "backend": 1e6 * acc.timing["run_s"] / frames,
        },
        "model_fps_at_clock": acc.ir.fps(), "clock_mhz": acc.ir.clock_mhz,
        "accuracy": None if labels is None else float(np.mean(pred_a == labels)),
    }
    stats = acc.backend.stats()
    if stats.get("cycles"):
        result["sim_cycles"] = int(stats["cycles"])
        result["sim_cycles_per_frame_steady"] = stats["last_call"].get("cycles_per_frame_steady")
    if backend in ("serial", "board-sim"):
        result["link"] = {k: v for k, v in stats.items() if k not in ("frames",)}
    mismatches = 0
    if ref_pred:
        rl, rs = np.concatenate(ref_pred), np.concatenate(ref_scores)
        comp = comparison(acc.ir, scores_a, rs, labels)
        frame_mm = int(np.sum(np.any(rs != scores_a, axis=1) | (rl != pred_a)))
        result["mismatches_vs_reference"] = {"frames": frame_mm,
                                             "labels": comp["mismatching_labels"]}
        result["comparison"] = comp
        mismatches = frame_mm
    out_path = output or Path(build) / f"run_{backend}_{dataset}.json"
    tmp = out_path.with_name(out_path.name + ".partial")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out_path)

    acc_txt = "n/a (random data has no labels)" if labels is None else f"{result['accuracy']:.4f}"
    console.print(f"model {result['model']}  backend {backend}  data {dataset}  frames {frames}")
    console.print(f"accuracy      {acc_txt}")
    console.print(f"frames/s      {result['fps']:.1f} (host wall clock, {backend})")
    console.print(f"model at {acc.ir.clock_mhz:g} MHz: {acc.ir.fps():.0f} frames/s (analytic II)")
    link = result.get("link")
    if isinstance(link, dict):
        console.print(f"UART link     {link['baud']:,} baud, batches of {link['batch_frames']}: "
                      f"{link['link_frames_per_s_at_baud']:,.0f} frames/s at most")
        if link.get("link_frames_per_s_simulated"):
            console.print(f"board-sim     {link['link_frames_per_s_simulated']:,.0f} frames/s "
                          f"over the modelled link ({link['board_cycles']:,} cycles at "
                          f"{link['board_clock_mhz']:g} MHz); the accelerator alone: "
                          f"{acc.ir.initiation_interval()} cycles/frame = "
                          f"{link['board_clock_mhz'] * 1e6 / acc.ir.initiation_interval():,.0f} "
                          "frames/s")
    if ref_pred:
        verdict = "[green]bit-exact[/green]" if mismatches == 0 else "[red]MISMATCH[/red]"
        console.print(f"vs reference  {mismatches} mismatching frames {verdict}")
    console.print(f"results       {out_path}")
    if mismatches:
        raise typer.Exit(1)
