"""`xnorflow run`: accuracy, frames/s, mismatches vs reference; exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from tests.nets import affine_tfc_ir
from xnorflow.cli import app
from xnorflow.host import pynq_emulation as emu

from .conftest import make_build

runner = CliRunner()


@pytest.fixture
def fake_pynq(monkeypatch):
    """`import pynq` gives the emulation (as on a board where pynq is installed)."""
    monkeypatch.setitem(sys.modules, "pynq", emu)
    yield emu
    emu.configure(None, None)


def test_run_reference_random(builds, tmp_path):
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["run", str(builds["cnv"]), "--n", "30", "--batch", "8",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["frames"] == 30 and doc["fps"] > 0 and doc["accuracy"] is None
    assert "mismatches_vs_reference" not in doc
    assert "n/a" in res.output


def test_run_mnist_accuracy(builds, shared_data, tmp_path):
    out = tmp_path / "m.json"
    res = runner.invoke(app, ["run", str(builds["tfc"]), "--dataset", "mnist", "--data-dir",
                              str(shared_data / "mnist"), "--n", "200", "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["frames"] == 200 and 0.0 <= doc["accuracy"] <= 1.0  # random weights: ~chance


def test_run_pynq_emulated_no_mismatch(emulated_builds, fake_pynq, tmp_path):
    fake_pynq.configure(emulated_builds["tfc"], "reference")
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["run", str(emulated_builds["tfc"]), "--backend", "pynq", "--n", "50",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["mismatches_vs_reference"] == {"frames": 0, "labels": 0}
    assert "bit-exact" in res.output


def test_run_reports_mismatches_with_exit_1(emulated_builds, fake_pynq, tmp_path):
    """Hardware made from another model of the same shape: every check runs, exit code 1."""
    other = make_build(affine_tfc_ir(seed=1), tmp_path / "other")
    fake_pynq.configure(other, "reference")
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["run", str(emulated_builds["tfc"]), "--backend", "pynq", "--n", "40",
                              "-o", str(out)])
    assert res.exit_code == 1, res.output
    doc = json.loads(out.read_text())
    assert doc["mismatches_vs_reference"]["frames"] > 0
    assert "MISMATCH" in res.output


@pytest.mark.parametrize("args, message", [
    (["--backend", "fpga"], "unknown backend 'fpga'"),
    (["--backend", "pynq"], "build_bitstream.tcl"),
    (["--dataset", "imagenet"], "unknown data set 'imagenet'"),
    (["--dataset", "mnist"], "needs --data-dir"),
    (["--dataset", "digits"], "has images of shape (1, 8, 8)"),
    (["--n", "0"], "--n must be at least 1"),
])
def test_run_user_errors(builds, args, message, fake_pynq):
    res = runner.invoke(app, ["run", str(builds["tfc"]), *args])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert "Traceback" not in res.output


def test_run_missing_build(tmp_path):
    res = runner.invoke(app, ["run", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "xnorflow compile" in res.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_run_pynq_off_the_board(emulated_builds, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynq", None)
    res = runner.invoke(app, ["run", str(emulated_builds["tfc"]), "--backend", "pynq"])
    assert res.exit_code == 2 and "runs on a PYNQ board" in res.output
