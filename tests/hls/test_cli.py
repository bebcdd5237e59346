"""`xnorflow csim`: exit codes 0 (bit-exact), 1 (mismatch), 2 (user error), messages, report."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from tests.nets import random_mlp
from xnorflow.cli import app
from xnorflow.compile.hls import csim

runner = CliRunner()

# the compiled designs each test copies (the session fixture compiles them in the background)
HLS_DESIGNS = {
    "test_csim_random_is_bit_exact": "mlp0",
    "test_csim_on_a_labelled_dataset": "digits_mlp",
    "test_csim_reports_a_mismatch_with_exit_1": "mlp1",
}


def _copy_build(hls_builds, tmp_path, design="mlp0"):
    ir, build = hls_builds.get(design)
    dest = tmp_path / design
    shutil.copytree(build, dest)
    return ir, dest


def _no_traceback(result):
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.sim
def test_csim_random_is_bit_exact(hls_builds, tmp_path):
    _, build = _copy_build(hls_builds, tmp_path)
    result = runner.invoke(app, ["csim", str(build), "--dataset", "random", "--n", "25"])
    assert result.exit_code == 0, result.output
    assert "bit-exact" in result.output
    report = json.loads((build / "csim_report.json").read_text())
    assert report["frames"] == 25 and report["mismatches"] == 0
    assert report["accuracy"] is None  # random images have no labels


@pytest.mark.sim
def test_csim_on_a_labelled_dataset(hls_builds, tmp_path):
    """--dataset digits: images reshaped to the flat input, accuracy of both models reported."""
    _, build = _copy_build(hls_builds, tmp_path, "digits_mlp")
    result = runner.invoke(app, ["csim", str(build), "--dataset", "digits", "--n", "120"])
    assert result.exit_code == 0, result.output
    report = json.loads((build / "csim_report.json").read_text())
    assert report["frames"] == 120 and report["mismatches"] == 0
    assert report["accuracy"] == report["reference_accuracy"]
    assert 0.0 <= report["accuracy"] <= 1.0
    assert "accuracy: C-simulation" in result.output


@pytest.mark.sim
def test_csim_reports_a_mismatch_with_exit_1(hls_builds, tmp_path):
    """Flip one weight bit in the generated C++: the C-simulation must notice (exit 1)."""
    ir, build = _copy_build(hls_builds, tmp_path, "mlp1")
    header = next((build / "hls" / "params").glob("l1_*.hpp"))
    text = header.read_text()
    m = re.search(r"\{(0x[0-9a-f]+)ULL", text)
    flipped = hex(int(m.group(1), 16) ^ 1) + "ULL"
    header.write_text(text[: m.start(1)] + flipped + text[m.end(0):])
    result = runner.invoke(app, ["csim", str(build), "--n", "200"])
    assert result.exit_code == 1, result.output
    assert "MISMATCH" in result.output
    report = json.loads((build / "csim_report.json").read_text())
    assert report["mismatches"] > 0 and report["first_mismatch"] is not None
    _no_traceback(result)


def test_missing_build_folder(tmp_path):
    result = runner.invoke(app, ["csim", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not found" in result.output and "xnorflow compile" in result.output
    _no_traceback(result)


def test_folder_without_ir(tmp_path):
    result = runner.invoke(app, ["csim", str(tmp_path)])
    assert result.exit_code == 2
    assert "ir.json" in result.output
    _no_traceback(result)


def test_dataset_of_the_wrong_shape(tmp_path):
    ir = random_mlp(0)
    ir.save(tmp_path)
    result = runner.invoke(app, ["csim", str(tmp_path), "--dataset", "digits", "--n", "5"])
    assert result.exit_code == 2
    assert "(1, 8, 8)" in result.output and str(ir.input_shape) in result.output
    _no_traceback(result)


def test_unknown_dataset(tmp_path):
    random_mlp(0).save(tmp_path)
    result = runner.invoke(app, ["csim", str(tmp_path), "--dataset", "imagenet"])
    assert result.exit_code == 2 and "imagenet" in result.output
    _no_traceback(result)


def test_missing_compiler(tmp_path, monkeypatch):
    random_mlp(2).save(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = runner.invoke(app, ["csim", str(tmp_path), "--n", "2"])
    assert result.exit_code == 2
    assert "g++ not found" in result.output
    assert not (tmp_path / "csim_report.json").exists()
    _no_traceback(result)


def test_missing_ap_types(monkeypatch):
    monkeypatch.setattr(csim.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(csim.CsimError, match=r"pip install hls4ml==1\.3\.0 --no-deps"):
        csim.ap_types_dir()
