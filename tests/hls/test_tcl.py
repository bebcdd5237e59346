"""The Vitis HLS and Vivado scripts, run in tclsh with the EDA commands as recording stubs.

What this proves: the scripts are valid Tcl; they call the Vitis/Vivado commands in the
expected order with the right part, top function, source files (which exist), clock period,
interfaces, board PS, AXI DMA configuration (simple mode, MM2S + S2MM, the accelerator's stream
widths), IP repository, bitstream step and the copies of the .bit/.hwh into BUILD/driver/.
What it does not prove (Vivado and Vitis are not installed here): that Vivado/Vitis accept
these property names and values, that the C++ synthesises, meets timing or fits the part, that
block-design automation connects what we expect, or that a bitstream comes out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import nets
from xnorflow.compile.backends import BackendOptions
from xnorflow.compile.hls import codegen as hls_codegen

STUBS = Path(__file__).with_name("tcl_stubs.tcl")
TCLSH = shutil.which("tclsh")
pytestmark = pytest.mark.skipif(TCLSH is None, reason="tclsh not installed (apt install tcl)")

# every command the scripts may call: Tcl's own plus the Vitis HLS / Vivado commands we use
VITIS = {"open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock",
         "csim_design", "csynth_design", "export_design", "exit"}
VIVADO = {"create_project", "add_files", "get_board_parts", "set_property", "current_project",
          "update_ip_catalog", "create_bd_design", "create_bd_cell", "apply_bd_automation",
          "connect_bd_intf_net", "get_bd_intf_pins", "get_bd_pins", "validate_bd_design",
          "save_bd_design", "get_files", "make_wrapper", "current_fileset", "launch_runs",
          "wait_on_run", "get_runs", "get_property", "file", "exit"}


def run_stubbed(script: Path, tmp: Path) -> list[list[str]]:
    rec = tmp / (script.stem + ".calls")
    res = subprocess.run([TCLSH, str(STUBS), str(rec), str(script)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return [line.split("\x1f") for line in rec.read_text().splitlines()]


def calls_of(calls, name):
    return [c[1:] for c in calls if c[0] == name]


def opt(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tcl")
    ir = nets.cnv_like()
    ir.save(folder)
    return ir, folder


@pytest.mark.parametrize("part,clock", [("xc7z020clg400-1", 100.0), ("xc7z010clg400-1", 125.0)])
def test_run_hls_tcl(build, tmp_path, part, clock):
    ir, folder = build
    hls = folder / "hls"
    hls_codegen.write(ir, hls, BackendOptions(clock_mhz=clock, part=part))
    calls = run_stubbed(hls / "run_hls.tcl", tmp_path)
    assert {c[0] for c in calls} <= VITIS, {c[0] for c in calls} - VITIS
    order = [c[0] for c in calls]
    assert order.index("open_project") < order.index("set_top") < order.index("open_solution")
    assert order.index("set_part") < order.index("csim_design") < order.index("csynth_design")
    assert order.index("csynth_design") < order.index("export_design")
    assert calls_of(calls, "set_top") == [["xnorflow_top"]]
    assert calls_of(calls, "set_part") == [[part]]
    (clk,) = calls_of(calls, "create_clock")
    assert float(opt(clk, "-period")) == pytest.approx(1000.0 / clock)
    sources, tb = [], []
    for args in calls_of(calls, "add_files"):
        (tb if "-tb" in args else sources).append(Path([a for a in args if a.endswith(".cpp")][0]))
        assert f"-I{hls}" in opt(args, "-cflags") and "templates" in opt(args, "-cflags")
    assert [p.name for p in sources] == ["xnorflow_top.cpp"]
    assert [p.name for p in tb] == ["tb_xnorflow.cpp"]
    assert all(p.is_file() for p in sources + tb)
    (csim_args,) = calls_of(calls, "csim_design")
    assert Path(opt(csim_args, "-argv").split()[0]).is_file()
    (export,) = calls_of(calls, "export_design")
    assert opt(export, "-format") == "ip_catalog" and opt(export, "-ipname") == "xnorflow_top"
    assert Path(opt(export, "-output")) == hls / "ip"
    # the interfaces the block design connects are the top function's AXI4-Stream ports
    top = (hls / "xnorflow_top.cpp").read_text()
    assert "void xnorflow_top(hls::stream<in_axis_t> &in_stream, hls::stream<out_axis_t> " \
           "&out_stream)" in top
    assert "#pragma HLS INTERFACE axis port = in_stream" in top
    assert "#pragma HLS INTERFACE ap_ctrl_none port = return" in top


@pytest.mark.parametrize("board,part,ps", [
    ("pynq-z2", "xc7z020clg400-1", "processing_system7"),
    ("kv260", "xck26-sfvc784-2LV-c", "zynq_ultra_ps_e"),
])
def test_build_bitstream_tcl(build, tmp_path, board, part, ps):
    ir, folder = build
    hls = folder / "hls"
    hls_codegen.write(ir, hls, BackendOptions(board=board))
    bd = json.loads((hls / "bd.json").read_text())
    assert bd["board"] == board and bd["part"] == part
    calls = run_stubbed(hls / "build_bitstream.tcl", tmp_path)
    assert {c[0] for c in calls} <= VIVADO, {c[0] for c in calls} - VIVADO
    (proj,) = calls_of(calls, "create_project")
    assert opt(proj, "-part") == part
    repo = [a for a in calls_of(calls, "set_property") if a[0] == "ip_repo_paths"]
    assert repo and Path(repo[0][1]) == hls / "ip"
    cells = {args[-1]: args for args in calls_of(calls, "create_bd_cell")}
    assert f"xilinx.com:ip:{ps}:*" in cells[f"{ps}_0"]
    assert "xilinx.com:ip:axi_dma:*" in cells[bd["dma_name"]]
    assert "xnorflow.org:hls:xnorflow_top:1.0" in cells[bd["ip_name"]]
    # the DMA: simple mode (no scatter-gather), both channels, the accelerator's stream widths
    dma_props = {}
    for args in calls_of(calls, "set_property"):
        if args[0] == "-dict" and args[-1] == bd["dma_name"]:
            items = args[1].removeprefix("list ").split()
            dma_props = {items[i]: items[i + 1].strip("{}") for i in range(0, len(items), 2)}
    assert dma_props["CONFIG.c_include_sg"] == "0"
    assert dma_props["CONFIG.c_include_mm2s"] == "1" and dma_props["CONFIG.c_include_s2mm"] == "1"
    assert int(dma_props["CONFIG.c_m_axis_mm2s_tdata_width"]) == bd["in_stream"]["tdata_width"]
    assert int(dma_props["CONFIG.c_s_axis_s2mm_tdata_width"]) == bd["out_stream"]["tdata_width"]
    nets_ = calls_of(calls, "connect_bd_intf_net")
    assert [f"{bd['dma_name']}/M_AXIS_MM2S", f"{bd['ip_name']}/in_stream"] in nets_
    assert [f"{bd['ip_name']}/out_stream", f"{bd['dma_name']}/S_AXIS_S2MM"] in nets_
    automated = [args[-1] for args in calls_of(calls, "apply_bd_automation")]
    for pin in ("S_AXI_LITE", "M_AXI_MM2S", "M_AXI_S2MM"):
        assert f"{bd['dma_name']}/{pin}" in automated
    assert calls_of(calls, "make_wrapper")
    (run,) = calls_of(calls, "launch_runs")
    assert run[0] == "impl_1" and opt(run, "-to_step") == "write_bitstream"
    copies = {Path(a[-1]).name: Path(a[-1]) for a in calls_of(calls, "file") if a[0] == "copy"}
    assert copies["xnorflow.bit"] == folder / "driver" / "xnorflow.bit"
    assert copies["xnorflow.hwh"] == folder / "driver" / "xnorflow.hwh"
    assert Path(bd["bitstream"]) == Path("driver/xnorflow.bit")


def test_stubs_catch_a_broken_script(tmp_path):
    """The harness fails on Tcl errors (so a passing test means the script ran to its end)."""
    bad = tmp_path / "bad.tcl"
    bad.write_text("set_part {xc7z020clg400-1}\nset x [lindex $undefined_variable 0]\n")
    rec = tmp_path / "bad.calls"
    res = subprocess.run([TCLSH, str(STUBS), str(rec), str(bad)], capture_output=True, text=True)
    assert res.returncode != 0 and "undefined_variable" in res.stderr
