"""The `xnorflow` command line: one typer app; each subpackage contributes its commands."""

import typer

from xnorflow import __version__
from xnorflow.compile import cli as compile_cli
from xnorflow.compile.board import cli as board_cli
from xnorflow.compile.hls import cli as hls_cli
from xnorflow.compile.rtl import cli as rtl_cli
from xnorflow.host import cli as host_cli
from xnorflow.train import cli as train_cli

app = typer.Typer(
    help="xnorflow: binary neural networks from training to an FPGA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("train")(train_cli.train)
app.command("run")(host_cli.run)
app.command("compile")(compile_cli.compile_cmd)
app.command("csim")(hls_cli.csim)
app.command("simulate")(rtl_cli.simulate)
app.command("synth")(rtl_cli.synth)
app.command("bitstream")(board_cli.bitstream)
app.command("flash")(board_cli.flash)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xnorflow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Train, compile, simulate and run binary neural networks."""


@app.command()
def doctor() -> None:
    """List the tools xnorflow uses with their versions; exit 1 if a required one is missing."""
    from rich.console import Console
    from rich.table import Table

    from xnorflow.doctor import missing_required, run_checks

    results = run_checks()
    table = Table(title="xnorflow doctor")
    for col in ("tool", "version", "required", "install"):
        table.add_column(col)
    for r in results:
        status = r.version if r.ok else "[red]missing[/red]"
        table.add_row(
            r.check.name,
            status,
            "yes" if r.check.required else "no",
            "" if r.ok else r.check.install,
        )
    console = Console(width=140)
    console.print(table)
    missing = missing_required(results)
    if missing:
        console.print(
            f"[red]missing required tools: {', '.join(r.check.name for r in missing)}[/red]"
        )
        raise typer.Exit(1)
    console.print("[green]all required tools found[/green]")


@app.command()
def demo(
    dataset: str = typer.Option("digits", "--dataset", help="digits (built in) | mnist."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with the MNIST idx files."),
    out: str = typer.Option("demo", "--out", "-o", help="Folder for every artefact."),
    epochs: int = typer.Option(20, "--epochs", help="Training epochs."),
    n_sim: int = typer.Option(400, "--n", help="Test images to simulate (capped at the test set)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    board: str = typer.Option(None, "--board", help="Also build a bitstream for this open-flow "
                              "board (ulx3s-12f/25f/45f/85f, icebreaker, tangnano9k) and run "
                              "the whole board top in Verilator through the serial backend."),
) -> None:
    """Train a BNN, compile it, simulate its RTL and HLS bit-exact, synthesize: one summary.

    Trains with gradient filtering + random bias init, lowers through FINN, generates RTL and
    HLS, simulates both on test images against the reference, synthesizes with Yosys.
    """
    import logging
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from xnorflow.demo import DEMO_MODELS, DemoConfig, demo_ok, run_demo

    if dataset not in DEMO_MODELS:
        typer.echo(
            f"error: --dataset {dataset!r}: the demo runs on {' or '.join(DEMO_MODELS)}", err=True
        )
        raise typer.Exit(2)
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=110)
    cfg = DemoConfig(
        dataset=dataset,
        data_dir=Path(data_dir) if data_dir else None,
        out=Path(out),
        epochs=epochs,
        n_sim=n_sim,
        seed=seed,
        board=board,
    )
    try:
        s = run_demo(cfg, step=lambda name: console.rule(f"[bold]{name}"))
    except Exception as err:  # each stage's own error types carry a user-facing message
        console.print(f"[red]demo failed: {type(err).__name__}: {err}[/red]")
        raise typer.Exit(1) from None
    table = Table(title=f"xnorflow demo — {s['model']} on {s['dataset']}", show_header=False)
    rows = [
        (
            "test accuracy, PyTorch (full test set, best epoch)",
            f"{s['test_acc_pytorch_full_test_set']:.4f}",
        ),
        (f"accuracy on {s['images_simulated']} test images: PyTorch", f"{s['acc_pytorch']:.4f}"),
        ("  … reference executor (IR)", f"{s['acc_reference']:.4f}"),
        ("  … RTL in Verilator", f"{s['acc_rtl_sim']:.4f}"),
        ("  … HLS C-simulation (g++)", f"{s['acc_hls_csim']:.4f}"),
        ("label disagreements PyTorch vs hardware", str(s["label_disagreements_pytorch_vs_hw"])),
        ("mismatches RTL vs reference (all bits)", str(s["mismatches_rtl_vs_reference"])),
        ("mismatches HLS vs reference (all bits)", str(s["mismatches_hls_vs_reference"])),
        (
            "cycles/frame (measured) / analytic II",
            f"{s['cycles_per_frame']} / {s['analytic_initiation_interval']}",
        ),
        ("latency (cycles)", str(s["latency_cycles"])),
        (f"FPS at {s['clock_mhz']:.0f} MHz", f"{s['fps_at_clock']:,.0f}"),
        ("Yosys synth_xilinx: LUT / FF / BRAM", f"{s['luts']} / {s['ffs']} / {s['bram']}"),
        ("seconds per stage", ", ".join(f"{k} {v}" for k, v in s["seconds"].items())),
    ]
    b = s.get("board")
    if b:
        rows += [
            (f"bitstream {b['board']} ({b['device']})",
             f"{b['clock_mhz']:.4g} MHz (Fmax {b['fmax_mhz']:.1f}), built in "
             f"{b['bitstream_seconds']:.0f} s"),
            ("board-sim mismatches vs reference", str(b["mismatches_board_sim_vs_reference"])),
            ("frames/s over the UART (board-sim) / accelerator",
             f"{b['link_frames_per_s_simulated']:,.0f} / {b['accelerator_fps_at_clock']:,.0f}"),
        ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    for name, path in s["artefacts"].items():
        console.print(f"  {name:12s} {path}")
    if b:
        console.print(f"  {'bitstream':12s} {b['bitstream']}")
    if not demo_ok(s):
        console.print("[red]the hardware does not compute what the network computes[/red]")
        raise typer.Exit(1)
    console.print(
        "[green]bit-exact: PyTorch ≡ reference ≡ RTL ≡ HLS on every simulated image[/green]"
    )
