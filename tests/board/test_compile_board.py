"""`xnorflow compile --board NAME` folds for an open-flow board's FPGA; a design too big for a
board gets a folding that should fit (compile/board/bitstream.suggest_folding)."""

from __future__ import annotations

import json
import warnings

import pytest
from typer.testing import CliRunner

from tests.compile.helpers import export, randomize
from xnorflow.cli import app
from xnorflow.compile.board.bitstream import fit_message
from xnorflow.compile.board.boards import get_board
from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.pipeline import resolve_board

runner = CliRunner()


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    from xnorflow.train.models import build_mlp

    model = randomize(build_mlp((1, 8, 8), [64, 64], 10), seed=0)
    return export(model, (1, 8, 8), tmp_path_factory.mktemp("mlp") / "mlp.onnx")


def compile_cli(*args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return runner.invoke(app, ["compile", *map(str, args)])


def test_resolve_board():
    assert resolve_board(None, None) == ("xc7z020clg400-1", "pynq-z2", None)
    assert resolve_board(None, "kv260") == ("xc7z020clg400-1", "kv260", None)
    assert resolve_board(None, "ulx3s-85f") == ("LFE5U-85F", "pynq-z2", "ulx3s-85f")
    assert resolve_board("up5k", "icebreaker") == ("iCE40UP5K", "pynq-z2", "icebreaker")
    assert resolve_board(None, "tangnano9k") == ("GW1NR-LV9QN88PC6/I5", "pynq-z2", "tangnano9k")
    assert resolve_board("gw1nr-9", "tangnano9k")[0] == "GW1NR-LV9QN88PC6/I5"
    with pytest.raises(CompileError, match="contradicts --board icebreaker"):
        resolve_board("LFE5U-25F", "icebreaker")
    with pytest.raises(CompileError, match="open flow .*ulx3s-12f.*icebreaker.*tangnano9k"):
        resolve_board(None, "zcu104")


def test_compile_for_a_board_then_a_fit_suggestion(mlp_onnx, tmp_path):
    build = tmp_path / "b"
    res = compile_cli(mlp_onnx, "-o", build, "--board", "icebreaker", "-q")
    assert res.exit_code == 0, res.output
    report = json.loads((build / "report.json").read_text())
    assert report["fit"]["part"] == "iCE40UP5K" and report["open_board"] == "icebreaker"
    assert "default folding for iCE40UP5K" in res.output
    ir = DataflowIR.load(build)
    assert ir.meta["board"] == "icebreaker"
    # as if synthesis had found it 10 % too big for the board: a slower folding that fits
    board = get_board("icebreaker")
    msg = fit_message(board, {"lut": 5808, "bram": 2}, build, ir)
    assert "needs 5,808 LUT4 of 5,280 (110 %, 528 over)" in msg
    assert "A folding that should fit" in msg and "PE=" in msg
    assert "--board icebreaker` folds for iCE40UP5K" in msg
    # far too big: even fully folded it would not fit
    msg = fit_message(board, {"lut": 10 * board.part.luts, "bram": 2}, build, ir)
    assert "Even with every layer fully folded" in msg
