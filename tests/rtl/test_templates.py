"""cocotb tests of every RTL template, through cocotb_tools.runner with Verilator.

Layer templates are tested inside a generated single-layer top (compile/rtl/codegen.py, random
parameters from tests/rtl/layer_cases.py), the stream glue (dwc, fifo) directly. Expected
outputs come from the layer's reference() and compile/stream.py. One Verilator build per
parameter set, kept under pytest's cache dir keyed by the sources' hash; the default suite
builds one set per template (8 builds), `slow` adds more seeds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from xnorflow.compile.layers import MVAU
from xnorflow.compile.rtl import codegen as rtl_codegen
from xnorflow.compile.stream import beats_to_ints, pack_beats

from .layer_cases import KINDS, random_input, single_layer_ir

pytestmark = pytest.mark.sim


def _run(cache: Path, name: str, sources: list[Path], toplevel: str, case: dict,
         parameters: dict | None = None, test_dir: Path | None = None,
         test_module: str = "cocotb_stream", n_tests: int = 9) -> None:
    from cocotb_tools.runner import get_runner

    from xnorflow.tools import apply_tool_env

    apply_tool_env()
    h = hashlib.sha256(json.dumps(parameters or {}, sort_keys=True).encode())
    for s in sources:
        h.update(s.read_bytes())
    build_dir = cache / f"{name}_{h.hexdigest()[:12]}"
    build_dir.mkdir(parents=True, exist_ok=True)
    case_file = build_dir / "case.json"
    case_file.write_text(json.dumps(case))
    runner = get_runner("verilator")
    runner.build(sources=sources, hdl_toplevel=toplevel, parameters=parameters or {},
                 build_dir=build_dir, build_args=["-Wno-fatal", "-O2"], always=False)
    env = {"XNF_CASE": str(case_file)}
    # the runner passes this process's sys.path on, which holds the repository root
    xml = runner.test(test_module=f"tests.rtl.{test_module}", hdl_toplevel=toplevel,
                      build_dir=build_dir, test_dir=test_dir or build_dir, extra_env=env,
                      results_xml=str(build_dir / "results.xml"))
    text = Path(xml).read_text()
    assert "<failure" not in text and "<error" not in text, f"cocotb failures, see {xml}"
    assert text.count("<testcase") == n_tests


@pytest.fixture(scope="session")
def cache(request) -> Path:
    return Path(request.config.cache.mkdir("xnorflow_rtl_templates"))


def _layer_case(kind: str, seed: int, cache: Path) -> None:
    ir = single_layer_ir(kind, seed)
    layer = ir.layers[0]
    folder = cache / f"{kind}_{seed}_src"
    bank_depth = None
    if isinstance(layer, MVAU) and seed % 2:
        # odd seeds split the weights into several banks (about three), even seeds keep one
        words = (layer.mh // layer.pe) * (layer.mw // layer.simd)
        bank_depth = 1 << max(0, (words // 3).bit_length() - 1)
    rtl = rtl_codegen.write(ir, folder / "rtl", bank_depth=bank_depth)
    n = 8
    x = random_input(layer, n, seed)
    y = layer.reference(x)
    ins = pack_beats(x.reshape(n, -1), layer.in_dtype.bits, layer.in_fold)
    outs = pack_beats(y.reshape(n, -1), layer.out_dtype.bits, layer.out_fold)
    cuts = sorted(np.random.default_rng(seed).choice(np.arange(1, n), 2, replace=False))
    case = {
        "seed": seed, "exp_cycles": layer.exp_cycles(),
        # TLAST per packet of frames
        "packets": [int(b - a) for a, b in zip([0, *cuts], [*cuts, n], strict=True)],
        "frames_in": [beats_to_ints(f) for f in ins],
        "frames_out": [beats_to_ints(f) for f in outs],
    }
    desc = json.loads((rtl / "rtl.json").read_text())
    sources = [rtl / f for f in desc["files"]]
    _run(cache, f"{kind}_{seed}", sources, rtl_codegen.TOP, case, test_dir=rtl)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_layer_template(kind, cache):
    _layer_case(kind, 1, cache)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_layer_template_more_seeds(kind, seed, cache):
    _layer_case(kind, seed, cache)


def _bitstream_case(in_w: int, out_w: int, frames: int, beats_in: int, seed: int) -> dict:
    """Random frames for a width converter: the same bits re-cut into beats of out_w bits."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(frames, beats_in * in_w))
    ins = [[int("".join(map(str, b[i:i + in_w][::-1])), 2) for i in range(0, len(b), in_w)]
           for b in bits]
    outs = [[int("".join(map(str, b[i:i + out_w][::-1])), 2) for i in range(0, len(b), out_w)]
            for b in bits]
    return {"seed": seed, "exp_cycles": max(len(ins[0]), len(outs[0])),
            "frames_in": ins, "frames_out": outs}


DWC_CASES = [(16, 8), (8, 24), (12, 20)]


@pytest.mark.parametrize("in_w,out_w", DWC_CASES)
def test_dwc(in_w, out_w, cache):
    from math import lcm

    beats_in = 3 * lcm(in_w, out_w) // in_w
    case = _bitstream_case(in_w, out_w, 8, beats_in, in_w * 100 + out_w)
    src = rtl_codegen.template_path("dwc.sv")
    _run(cache, f"dwc_{in_w}_{out_w}", [src], "dwc", case, {"IN_W": in_w, "OUT_W": out_w})


def test_fifo(cache):
    case = _bitstream_case(13, 13, 8, 20, 5)
    src = rtl_codegen.template_path("fifo.sv")
    _run(cache, "fifo_13_5", [src], "fifo", case, {"WIDTH": 13, "DEPTH": 5})


@pytest.mark.parametrize("in_beats,out_beats,depth", [(1, 1, 2), (5, 3, 2), (3, 7, 4), (2, 1, 32)])
def test_tlast_tracker(in_beats, out_beats, depth, cache):
    """Packets of 1..6 frames (one-frame runs fill a small flag queue), random gaps and
    back-pressure, outputs that start before their frame's input is complete."""
    rng = np.random.default_rng(in_beats * 100 + out_beats * 10 + depth)
    packets = [int(k) for k in rng.integers(1, 7, size=6)] + [1] * 6
    case = {"seed": int(rng.integers(1 << 30)), "in_beats": in_beats, "out_beats": out_beats,
            "packets": packets}
    srcs = [rtl_codegen.template_path(f) for f in ("tlast_tracker.sv", "fifo.sv")]
    _run(cache, f"tlast_{in_beats}_{out_beats}_{depth}", srcs, "tlast_tracker", case,
         {"IN_BEATS": in_beats, "OUT_BEATS": out_beats, "DEPTH": depth},
         test_module="cocotb_tlast", n_tests=2)
