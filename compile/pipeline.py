"""`compile_model`: QONNX file → complete build folder (the Python API behind `xnorflow compile`).

Steps: FINN lowering (frontend/finn_lowering.py) → read into the IR (frontend/from_finn.py) →
folding (file, target FPS, or the fastest that fits the part) → FINN's estimates → write ir.json,
ir_arrays.npz, folding.json, report.json, finn_hw.onnx → the registered code generators
(compile/backends.py: BUILD/rtl, BUILD/hls, ...).

Everything is written into a temporary folder beside BUILD and renamed to BUILD only at the
end: on any error there is no half-written build folder (an existing BUILD from an earlier
compile is left untouched until the new one is complete, then replaced).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from xnorflow.compile.errors import CompileError
from xnorflow.compile.fit import DEFAULT_HEADROOM, fit_folding
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.parts import DEFAULT_BOARD, DEFAULT_PART, VIVADO_BOARDS, find_part, get_part

log = logging.getLogger(__name__)

DEFAULT_INPUT_SCALE = 1.0 / 255.0


@dataclasses.dataclass
class CompileResult:
    """What `compile_model` made: the IR, the report dict, the build folder, and (in memory
    only) FINN's graphs: {"qonnx", "finn", "streamlined", "hw"} ModelWrappers."""

    ir: DataflowIR
    report: dict[str, Any]
    build: Path
    finn: dict[str, Any]


def read_sidecar(model_path: Path) -> dict[str, Any]:
    """model.json beside the model (written by `xnorflow train`), or {}."""
    side = Path(model_path).with_name("model.json")
    if not side.is_file():
        return {}
    try:
        doc = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CompileError(f"{side} is not valid JSON ({err}); fix or remove it") from err
    return doc if isinstance(doc, dict) else {}


def resolve_input_scale(model_path: Path | None, override: float | None) -> float:
    """Float model input = uint8 image · scale: --input-scale, else model.json beside
    `model_path` (None: a module, no file), else 1/255."""
    if override is not None:
        if not override > 0:
            raise CompileError(f"--input-scale must be positive, got {override}")
        return float(override)
    side = read_sidecar(model_path) if model_path is not None else {}
    for key in ("input_uint8_scale", "input_scale"):
        if key in side:
            return float(side[key])
    return DEFAULT_INPUT_SCALE


def _check_build_target(build: Path) -> None:
    if build.exists() and not build.is_dir():
        raise CompileError(f"{build} exists and is a file; choose another output folder (-o)")
    if build.is_dir() and any(build.iterdir()) and not (build / "ir.json").is_file():
        raise CompileError(f"{build} exists, is not empty and is not an xnorflow build folder; "
                           "choose another output folder (-o) or remove it")


def resolve_board(part: str | None, board: str | None) -> tuple[str, str, str | None]:
    """(part, Vivado board, open-flow board or None) from --part and --board.

    An open-flow board (compile/board/boards.py) names the part to fold for; the Vivado
    scripts then keep the default Zynq board. A --part that contradicts it is an error."""
    from xnorflow.compile.board.boards import BOARD_NAMES, board_info

    if board is None or board in VIVADO_BOARDS:
        return part or DEFAULT_PART, board or DEFAULT_BOARD, None
    if board.strip().lower() not in BOARD_NAMES:
        raise CompileError(f"--board {board!r} is not supported; choose a Zynq board of the "
                           f"Vivado flow ({', '.join(VIVADO_BOARDS)}) or a board of the open "
                           f"flow ({', '.join(BOARD_NAMES)})")
    info = board_info(board)
    if part is not None:
        given = find_part(part)
        if given is None or given.name != get_part(info.part).name:
            raise CompileError(f"--part {part} contradicts --board {info.name}, whose FPGA is "
                               f"{info.part}: give one of them")
    return info.part, DEFAULT_BOARD, info.name


def compile_model(
    model_path: Path | str | Any,
    build_dir: Path | str,
    folding: Path | str | dict | None = None,
    target_fps: float | None = None,
    clock_mhz: float = 100.0,
    input_scale: float | None = None,
    part: str | None = None,
    board: str | None = None,
    name: str | None = None,
    backends: bool = True,
    max_utilisation: float = DEFAULT_HEADROOM,
    input_shape: tuple[int, ...] | None = None,
) -> CompileResult:
    """Compile the QONNX model at `model_path` into the build folder `build_dir`.

    `model_path` may also be the PyTorch/Brevitas module itself, with `input_shape` (one
    input's (C, H, W), (C, L) or (features,)): it is exported to BUILD/model.onnx after
    checking that its 1-bit quantizers are binary and that the export computes what the
    module computes (compile/frontend/from_torch.py) — Brevitas exports a 1-bit integer
    quantizer as a binary one, which an ONNX file alone cannot reveal.

    folding: a folding JSON path (or the parsed dict) — see compile/ir/folding.py; target_fps:
    choose the cheapest folding meeting it at clock_mhz (exclusive with folding); neither: the
    fastest folding whose FINN estimates fill at most `max_utilisation` of `part`'s LUTs and
    block RAMs (compile/fit.py; `part` is a part string or alias of compile/parts.py, Xilinx,
    ECP5, iCE40 or Gowin). input_scale: the model's float input per uint8 unit (default from
    model.json beside the model, else 1/255). board: a Zynq board of the Vivado block design
    (compile/parts.VIVADO_BOARDS, default pynq-z2), or an open-flow board
    (compile/board/boards.py: ulx3s-12f/25f/45f/85f, icebreaker, tangnano9k), whose FPGA
    becomes the default `part` to fold for (`xnorflow bitstream BUILD --board NAME` then builds
    it). board (and part, when it is a Xilinx part) go to the HLS/Vivado code generator. name: the
    IR's name (default: the model file's stem, non-word characters replaced by "_").
    backends=False skips the code generators (the IR, report and folding are still written).
    Raises CompileError for anything the user can fix; nothing is left behind on error.
    """
    from xnorflow.compile.backends import BackendOptions, write_backends
    from xnorflow.compile.estimates import estimate
    from xnorflow.compile.frontend.finn_lowering import lower
    from xnorflow.compile.frontend.from_finn import ir_from_finn
    from xnorflow.compile.frontend.from_torch import export_checked, is_module, unwrap
    from xnorflow.compile.ir import folding as fold_mod
    from xnorflow.compile.report import make_report

    module = unwrap(model_path) if is_module(model_path) else None
    if module is None and input_shape is not None:
        raise CompileError("input_shape is for compiling a PyTorch module; an ONNX file has "
                           "its own")
    if module is not None and input_shape is None:
        raise CompileError("compiling a PyTorch module needs input_shape: one input's shape, "
                           "(C, H, W), (C, L) or (features,)")
    model_path = Path(f"<{type(module).__name__}>") if module is not None else Path(model_path)
    build = Path(build_dir)
    if folding is not None and target_fps is not None:
        raise CompileError("give either --folding or --target-fps, not both")
    if not clock_mhz > 0:
        raise CompileError(f"--clock-mhz must be positive, got {clock_mhz}")
    part, board, open_board = resolve_board(part, board)
    _check_build_target(build)
    fpga = find_part(part)
    if fpga is None and folding is None and target_fps is None:
        fpga = get_part(part)  # the default folding needs the part's capacity: CompileError
    # the Vivado/HLS scripts need a Xilinx part: a Lattice --part folds for Lattice only
    hls_part = part if fpga is None else fpga.name if fpga.family == "xilinx" else DEFAULT_PART
    spec = None
    if isinstance(folding, dict):
        spec, fold_src = folding, "<dict>"
    elif folding is not None:
        spec, fold_src = fold_mod.load_folding(Path(folding)), str(folding)
    scale = resolve_input_scale(None if module is not None else model_path, input_scale)
    fit = None

    build.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{build.name}.partial-", dir=build.parent))
    try:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if module is not None:
            model_path = export_checked(module, input_shape, tmp / "model.onnx", scale)
        finn = lower(model_path, tmp / "finn_scratch", input_scale=scale)
        timings["finn_lowering"] = time.perf_counter() - t0
        t = time.perf_counter()
        stem = type(module).__name__ if module is not None else model_path.stem
        ir_name = name or re.sub(r"\W", "_", stem) or "model"
        ir = ir_from_finn(finn["hw"], ir_name, model_path, clock_mhz=clock_mhz)
        side = read_sidecar(model_path)
        ir.input_scale = scale
        ir.meta.update({"part": fpga.name if fpga else part, "board": open_board or board})
        if "classes" in side:
            ir.meta["classes"] = side["classes"]
        if finn["output_function"]:
            ir.meta["output_function"] = finn["output_function"]
        signal = finn["qonnx"].get_metadata_prop("xnorflow.signal_shape")
        if signal:  # compiled from 1-D signals (C, L) as images (C, 1, L)
            ir.meta["signal_shape"] = json.loads(signal)
        if spec is not None:
            ir = fold_mod.apply_folding(ir, spec, fold_src)
        elif target_fps is not None:
            ir = fold_mod.auto_folding(ir, target_fps, clock_mhz)
            ir.meta["target_fps"] = target_fps
        else:
            fit = fit_folding(ir, finn["hw"], fpga, max_utilisation)
            ir = fit.ir
        timings["ir"] = time.perf_counter() - t
        t = time.perf_counter()
        est = estimate(ir, finn["hw"], hls_part)
        timings["estimates"] = time.perf_counter() - t
        shutil.rmtree(tmp / "finn_scratch", ignore_errors=True)

        t = time.perf_counter()
        ir.save(tmp)
        (tmp / "folding.json").write_text(json.dumps(fold_mod.folding_json(ir), indent=1) + "\n")
        finn["hw"].save(str(tmp / "finn_hw.onnx"))
        written = {}
        if backends:
            try:
                written = write_backends(ir, tmp, BackendOptions(clock_mhz=clock_mhz,
                                                                 part=hls_part, board=board))
            except ValueError as err:  # a backend's own check of the IR (LayerError, ...)
                raise CompileError(f"code generation for {model_path} failed: {err}") from err
        timings["write"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        report = make_report(ir, est, timings, extra={
            "part": fpga.name if fpga else part, "hls_part": hls_part, "board": board,
            **({"open_board": open_board} if open_board else {}),
            "input_scale": scale, "backends": sorted(written), "folding_source": (
                "file" if spec is not None else "target_fps" if target_fps else "fit"),
            **({"fit": fit.report()} if fit is not None else {}),
        })
        (tmp / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        if build.exists():
            shutil.rmtree(build)
        tmp.rename(build)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("compiled %s into %s in %.1f s", model_path, build, timings["total"])
    return CompileResult(ir=ir, report=report, build=build, finn=finn)
