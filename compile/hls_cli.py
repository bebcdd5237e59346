"""`xnorflow csim BUILD`: C-simulate the generated HLS accelerator with g++, check it bit-exact."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _load_images(ir, dataset: str, data_dir: Path | None, n: int, seed: int):
    """(images shaped as the IR's input, labels or None)."""
    import numpy as np

    if dataset == "random":
        from xnorflow.compile.random_ir import random_images

        return random_images(ir, n, seed=seed), None
    from xnorflow.train.data import load_dataset
    from xnorflow.train.errors import UserError

    try:
        images, labels = load_dataset(dataset, data_dir, split="test")
    except UserError as err:
        raise _fail(str(err)) from None
    images, labels = images[:n], labels[:n]
    if images.shape[1:] != ir.input_shape:
        if ir.input_layout == "flat" and np.prod(images.shape[1:]) == np.prod(ir.input_shape):
            images = images.reshape(len(images), *ir.input_shape)
        else:
            raise _fail(
                f"data set {dataset!r} has images of shape {images.shape[1:]}, the model "
                f"{ir.name!r} takes {ir.input_shape}: pick the data set it was trained on"
            )
    return images, labels


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
    from xnorflow.compile.csim import CsimError, run_csim
    from xnorflow.compile.errors import CompileError
    from xnorflow.compile.ir import DataflowIR, IRError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not build.is_dir():
        raise _fail(
            f"build folder {build} not found: make one with `xnorflow compile MODEL -o BUILD`"
        )
    try:
        ir = DataflowIR.load(build)
        images, labels = _load_images(ir, dataset, data_dir, n, seed)
        report = run_csim(build, images, labels)
    except (CsimError, IRError, CompileError) as err:
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
