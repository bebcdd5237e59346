"""``python -m xnorflow``: the command line (also what ``torchrun -m xnorflow train`` runs)."""

from xnorflow.cli import app

app(prog_name="xnorflow")
