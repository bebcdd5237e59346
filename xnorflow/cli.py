"""The `xnorflow` command line."""

import typer

from xnorflow import __version__

app = typer.Typer(help="xnorflow: binary neural networks from training to an FPGA.", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xnorflow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Train, compile, simulate and run binary neural networks."""
