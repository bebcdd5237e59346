"""The `xnorflow` command line: one typer app; each subpackage contributes its commands."""

import typer

from xnorflow import __version__
from xnorflow.compile import hls_cli
from xnorflow.compile import cli as compile_cli
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
