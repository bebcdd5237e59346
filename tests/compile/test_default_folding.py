"""The default folding (no --folding, no --target-fps): the fastest design whose FINN estimates
fit the part with headroom; printed, recorded in report.json; a clear error when nothing fits.
LFC and CNV (slow) compile to it and run bit-exact on `xnorflow run --backend sim`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.compile.helpers import bnn_pynq, export, randomize
from xnorflow.cli import app
from xnorflow.compile.errors import CompileError
from xnorflow.compile.estimates import estimate
from xnorflow.compile.fit import fit_folding
from xnorflow.compile.ir.folding import candidate_cycles, fold_for_budget
from xnorflow.compile.parts import get_part
from xnorflow.compile.pipeline import compile_model

runner = CliRunner()


@pytest.fixture(scope="module")
def cnn_onnx(tmp_path_factory):
    from xnorflow.train.models import build_cnn

    folder = tmp_path_factory.mktemp("fit")
    model = randomize(build_cnn((3, 12, 12), [16, 32], [0], [64], 10, in_bits=8), seed=1)
    return export(model, (3, 12, 12), folder / "m.onnx")


@pytest.mark.parametrize("part", ["xc7z020", "LFE5U-25F", "iCE40HX8K"])
def test_fit_is_the_fastest_design_that_fits(cnn_onnx, tmp_path, part):
    result = compile_model(cnn_onnx, tmp_path / "b", part=part, backends=False)
    fit = result.report["fit"]
    fpga = get_part(part)
    assert result.report["folding_source"] == "fit" and fit["part"] == fpga.name
    assert "not synthesis" in fit["basis"]
    assert fit["initiation_interval_cycles"] == result.ir.initiation_interval()
    # the report's totals are the estimates of the chosen design, within the headroom
    assert fit["lut_finn"] == result.report["total_lut_finn"]
    assert fit["bram18_finn"] == result.report["total_bram18_finn"]
    assert fit["lut_utilisation"] <= 0.8 and fit["bram_utilisation"] <= 0.8
    # the next faster budget does not fit (or there is none)
    budgets = candidate_cycles(result.ir)
    faster = [b for b in budgets if b < result.ir.initiation_interval()]
    if faster:
        ir = fold_for_budget(result.ir, faster[-1])
        est = estimate(ir, result.finn["hw"], "xc7z020clg400-1")
        lut = sum(e["lut"] for e in est.values())
        bram = sum(e["bram18"] for e in est.values())
        assert not fpga.fits(lut, bram, 0.8), (faster[-1], lut, bram)


def test_smaller_part_gets_a_slower_design(cnn_onnx, tmp_path):
    big = compile_model(cnn_onnx, tmp_path / "big", part="xc7z020", backends=False)
    small = compile_model(cnn_onnx, tmp_path / "small", part="iCE40HX8K", backends=False)
    assert small.ir.initiation_interval() > big.ir.initiation_interval()


def test_cli_prints_the_choice(cnn_onnx, tmp_path):
    res = runner.invoke(app, ["compile", str(cnn_onnx), "-o", str(tmp_path / "b"), "-q",
                              "--part", "ecp5-45k"])
    assert res.exit_code == 0, res.output
    assert "default folding for LFE5U-45F" in res.output and "not synthesis" in res.output
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    assert rep["part"] == "LFE5U-45F" and rep["hls_part"] == "xc7z020clg400-1"


def test_network_too_big_for_the_part(tmp_path):
    model, shape = bnn_pynq("sfc_1w1a", 0)
    path = export(model, shape, tmp_path / "sfc.onnx")
    res = runner.invoke(app, ["compile", str(path), "-o", str(tmp_path / "b"), "--part",
                              "iCE40UP5K"])
    assert res.exit_code == 2
    assert "does not fit iCE40UP5K" in res.output and "fully folded" in res.output
    assert "choose a larger part" in res.output
    assert not (tmp_path / "b").exists()
    # a folding of the user's own needs no part capacity
    ok = compile_model(path, tmp_path / "b2", folding={"Defaults": {}}, part="iCE40UP5K",
                       backends=False)
    assert ok.report["folding_source"] == "file" and "fit" not in ok.report


def test_unknown_part_and_headroom(cnn_onnx, tmp_path):
    with pytest.raises(CompileError, match="unknown FPGA part 'xc9z999'.*known parts"):
        compile_model(cnn_onnx, tmp_path / "b", part="xc9z999", backends=False)
    with pytest.raises(CompileError, match="max-utilisation"):
        compile_model(cnn_onnx, tmp_path / "b", max_utilisation=1.5, backends=False)
    # an unknown (Xilinx) part string is fine with an explicit folding: it goes to Vivado
    ok = compile_model(cnn_onnx, tmp_path / "b", target_fps=1000, part="xc7z045ffg900-2",
                       backends=False)
    assert ok.report["hls_part"] == "xc7z045ffg900-2"


def test_fit_needs_the_part_to_hold_something(cnn_onnx, tmp_path):
    result = compile_model(cnn_onnx, tmp_path / "b", folding={"Defaults": {}}, backends=False)
    tight = fit_folding(result.ir, result.finn["hw"], get_part("xc7z020"), headroom=0.12)
    roomy = fit_folding(result.ir, result.finn["hw"], get_part("xc7z020"), headroom=0.8)
    assert tight.ir.initiation_interval() > roomy.ir.initiation_interval()
    assert tight.lut_finn <= 0.12 * 53_200 < roomy.lut_finn


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("name", ["lfc_1w1a", "cnv_1w1a"])
def test_bnn_pynq_default_folding_runs_in_simulation(name, tmp_path):
    """Brevitas' LFC/CNV with no flags: the default folding, then `xnorflow run --backend sim`
    bit-exact against the reference."""
    model, shape = bnn_pynq(name, 0)
    path = export(model, shape, tmp_path / f"{name}.onnx")
    build = tmp_path / "build"
    res = runner.invoke(app, ["compile", str(path), "-o", str(build), "-q"])
    assert res.exit_code == 0, res.output
    rep = json.loads((build / "report.json").read_text())
    assert rep["fps"] > 1000  # not the 95 / 3.5 FPS of PE = SIMD = 1
    res = runner.invoke(app, ["run", str(build), "--backend", "sim", "--n", "40"])
    assert res.exit_code == 0, res.output
    assert "0 mismatching frames" in res.output
