"""`xnorflow csim BUILD`: C-simulate the generated HLS accelerator with g++, check it bit-exact."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def csim(
    build: Path = typer.Argument(..., help="Build folder made by `xnorflow compile`."),
    dataset: str = typer.Option(
        "random",
        "--dataset",
        help="Test images: a data set name (digits, mnist, fashion-mnist, cifar10) or "
        "'random' (seeded random uint8 images of the model's input shape; no labels).",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder with the data set."),
    n: int = typer.Option(100, "--n", min=1, help="Number of test images."),
    seed: int = typer.Option(0, "--seed", help="Seed of --dataset random."),
) -> None:
    """C-simulate BUILD/hls with g++ and compare every output with the reference executor.

    Writes BUILD/csim_report.json. Exit 0 bit-exact, 1 on any mismatch, 2 on a usage error.
    """
    from xnorflow.compile.dataset_images import DatasetError, images_for
    from xnorflow.compile.errors import CompileError
    from xnorflow.compile.hls.csim import CsimError, run_csim
    from xnorflow.compile.ir import DataflowIR, IRError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not build.is_dir():
        raise _fail(
            f"build folder {build} not found: make one with `xnorflow compile MODEL -o BUILD`"
        )
    try:
        ir = DataflowIR.load(build)
        images, labels = images_for(ir.input_shape, ir.input_layout, dataset, data_dir, n, seed)
        report = run_csim(build, images, labels)
    except (CsimError, IRError, CompileError, DatasetError) as err:
        raise _fail(str(err)) from None
    typer.echo(
        f"csim {ir.name}: {report.frames} frames, {report.mismatches} mismatching "
        f"({report.value_mismatches} values), run {report.seconds:.3f} s, "
        f"compile {report.compile_seconds:.1f} s"
    )
    if report.accuracy is not None:
        typer.echo(
            f"accuracy: C-simulation {report.accuracy:.4f}, reference "
            f"{report.reference_accuracy:.4f}"
        )
    typer.echo(f"report: {build / 'csim_report.json'}")
    if report.mismatches:
        typer.echo(
            f"MISMATCH: first at frame {report.first_mismatch}; the HLS C++ differs from the "
            "reference executor",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo("bit-exact against the reference executor")
