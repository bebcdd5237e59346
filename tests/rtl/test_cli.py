"""`xnorflow simulate` and `xnorflow synth` from the command line (subprocess, exit codes)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sim


def xnorflow(*args, cwd=None):
    exe = Path(sys.executable).parent / "xnorflow"
    return subprocess.run([str(exe), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def mlp_build(design, tmp_path):
    """A private copy of a small design's build folder (the tests modify it)."""
    _, build = design("random_mlp_0")
    dst = tmp_path / "build"
    shutil.copytree(build, dst)
    return dst


def test_simulate_writes_report(mlp_build):
    res = xnorflow("simulate", mlp_build, "--dataset", "random", "--n", "50")
    assert res.returncode == 0, res.stderr
    rep = json.loads((mlp_build / "sim_report.json").read_text())
    assert rep["frames"] == 50 and rep["mismatches"] == 0 and rep["accuracy"] is None
    assert rep["cycles_ratio"] <= 1.05 and rep["latency_cycles"] > 0
    assert rep["passes"]["backpressure"]["mismatches"] == 0
    assert rep["fps_at_clock"] == pytest.approx(100e6 / rep["cycles_per_frame_steady"])
    assert "bit-exact" in res.stdout


def test_simulate_generates_missing_rtl(mlp_build):
    shutil.rmtree(mlp_build / "rtl")
    res = xnorflow("simulate", mlp_build, "--n", "8", "--backpressure", "0")
    assert res.returncode == 0, res.stderr
    assert (mlp_build / "rtl" / "rtl.json").is_file()
    assert "backpressure" not in json.loads((mlp_build / "sim_report.json").read_text())["passes"]


def test_simulate_exit_1_on_mismatch(mlp_build):
    # flip one weight bit of the hardware only: the reference keeps the IR's weights
    mem = mlp_build / "rtl" / "mem" / "fc0_w_000.mem"
    lines = mem.read_text().split()
    lines[0] = format(int(lines[0], 16) ^ 1, f"0{len(lines[0])}x")
    mem.write_text("\n".join(lines) + "\n")
    res = xnorflow("simulate", mlp_build, "--n", "200", "--backpressure", "0")
    assert res.returncode == 1
    assert "MISMATCH" in res.stderr
    rep = json.loads((mlp_build / "sim_report.json").read_text())
    assert rep["mismatches"] > 0 and rep["first_mismatch"] is not None


def test_usage_errors_exit_2(tmp_path, mlp_build):
    res = xnorflow("simulate", tmp_path / "nope")
    assert res.returncode == 2 and "build folder" in res.stderr and "Traceback" not in res.stderr
    res = xnorflow("synth", mlp_build, "--target", "stratix")
    assert res.returncode == 2 and "choose one of xilinx, ecp5, ice40" in res.stderr
    res = xnorflow("simulate", mlp_build, "--dataset", "imagenet", "--data-dir", tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_synth_ice40_with_place_and_route(mlp_build):
    if shutil.which("yosys") is None or shutil.which("nextpnr-ice40") is None:
        pytest.fail("yosys and nextpnr-ice40 are part of the set-up (scripts/setup.sh)")
    res = xnorflow("synth", mlp_build, "--target", "ice40")
    assert res.returncode == 0, res.stderr
    rep = json.loads((mlp_build / "synth_report.json").read_text())
    assert rep["total"]["lut"] > 100 and rep["total"]["ff"] > 0
    kinds = {row["kind"] for row in rep["layers"]}
    assert {"thresholding", "mvau"} <= kinds
    assert all(row["lut"] > 0 for row in rep["layers"] if row["kind"] in ("mvau", "thresholding"))
    assert sum(row["lut"] for row in rep["layers"]) <= rep["total"]["lut"]
    assert rep["pnr"]["fmax_mhz"] > 20
    assert rep["finn_total_lut"] is None and "no FINN estimates" in rep["finn_note"]


def test_synth_ecp5_place_and_route_under_tmp(mlp_build):
    # the build is under /tmp (pytest's tmp_path), which YoWASP's nextpnr-ecp5 maps to a
    # private folder of its own: the files must still reach the user's build folder
    assert str(mlp_build.resolve()).startswith("/tmp/")
    res = xnorflow("synth", mlp_build, "--target", "ecp5")
    assert res.returncode == 0, res.stderr
    rep = json.loads((mlp_build / "synth_report.json").read_text())
    assert (mlp_build / "synth" / "ecp5" / "pnr.log").is_file()
    assert rep["pnr"].get("error") is None and rep["pnr"]["fmax_mhz"] > 20
