"""cocotb tests of the stream glue templates (dwc, fifo, tlast_tracker), through
cocotb_tools.runner with Verilator; each layer kind's own template test sits with its other
tests in tests/layers/test_<kind>.py. One Verilator build per parameter set, kept under
pytest's cache dir keyed by the sources' hash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.layers.harness import run_cocotb
from tests.nets import random_mvau
from xnorflow.compile.ir.datatypes import BIPOLAR
from xnorflow.compile.layers.mvau import OUT_FIFO_DEPTH, STAGES_BESIDE_POPCOUNT
from xnorflow.compile.rtl import codegen as rtl_codegen
from xnorflow.compile.rtl.common import RtlOptions
from xnorflow.compile.rtl.popcount import popcount_latency

pytestmark = pytest.mark.sim


@pytest.fixture(scope="session")
def cache(request) -> Path:
    return Path(request.config.cache.mkdir("xnorflow_rtl_templates"))


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


DWC_CASES = [(16, 8), (8, 24), (12, 20), (4, 16), (32, 4)]


@pytest.mark.parametrize("in_w,out_w", DWC_CASES)
def test_dwc(in_w, out_w, cache):
    from math import lcm

    beats_in = 3 * lcm(in_w, out_w) // in_w
    case = _bitstream_case(in_w, out_w, 8, beats_in, in_w * 100 + out_w)
    src = rtl_codegen.template_path("dwc.sv")
    run_cocotb(cache, f"dwc_{in_w}_{out_w}", [src], "dwc", case, {"IN_W": in_w, "OUT_W": out_w})


def test_fifo(cache):
    case = _bitstream_case(13, 13, 8, 20, 5)
    src = rtl_codegen.template_path("fifo.sv")
    run_cocotb(cache, "fifo_13_5", [src], "fifo", case, {"WIDTH": 13, "DEPTH": 5})


@pytest.mark.parametrize("in_beats,out_beats,depth", [(1, 1, 2), (5, 3, 2), (3, 7, 4), (2, 1, 32)])
def test_tlast_tracker(in_beats, out_beats, depth, cache):
    """Packets of 1..6 frames (one-frame runs fill a small flag queue), random gaps and
    back-pressure, outputs that start before their frame's input is complete."""
    rng = np.random.default_rng(in_beats * 100 + out_beats * 10 + depth)
    packets = [int(k) for k in rng.integers(1, 7, size=6)] + [1] * 6
    case = {"seed": int(rng.integers(1 << 30)), "in_beats": in_beats, "out_beats": out_beats,
            "packets": packets}
    srcs = [rtl_codegen.template_path(f) for f in ("tlast_tracker.sv", "fifo.sv")]
    run_cocotb(cache, f"tlast_{in_beats}_{out_beats}_{depth}", srcs, "tlast_tracker", case,
         {"IN_BEATS": in_beats, "OUT_BEATS": out_beats, "DEPTH": depth},
         test_module="tests.rtl.cocotb_tlast", n_tests=2)


@pytest.mark.parametrize("n,levels_per_stage,xnor", [(1, 2, 0), (3, 2, 0), (4, 2, 0), (7, 1, 0),
                                                     (64, 2, 0), (100, 3, 0), (784, 2, 0),
                                                     (1, 2, 1), (2, 2, 1), (5, 1, 1), (49, 2, 1),
                                                     (784, 2, 1)])
def test_popcount(n, levels_per_stage, xnor, cache):
    latency = popcount_latency(n, bool(xnor), levels_per_stage)
    case = {"seed": n, "n": n, "uw": 9, "latency": latency, "xnor": xnor}
    src = rtl_codegen.template_path("popcount.sv")
    run_cocotb(cache, f"popcount_{n}_{levels_per_stage}_{xnor}", [src], "popcount", case,
               {"N": n, "LEVELS_PER_STAGE": levels_per_stage, "UW": 9, "XNOR": xnor},
               test_module="tests.rtl.cocotb_popcount", n_tests=2)


def test_popcount_latency_in_mvau_budget(tmp_path):
    """mvau.sv leaves the popcount OUT_FIFO_DEPTH - 4 - 3 cycles (weights in block RAM): the
    default 12 entries hold up to 4,096 lanes at two steps a stage; for wider layers the
    compiler sizes the FIFO from the same latency model (popcount.sv stops with $fatal when
    its latency is above MAX_LATENCY)."""
    assert (OUT_FIFO_DEPTH, STAGES_BESIDE_POPCOUNT) == (12, 4 + 3)  # as mvau.sv has them
    for xnor in (False, True):
        assert max(popcount_latency(n, xnor) for n in range(1, 4097)) <= 12 - 4 - 3
        assert popcount_latency(784, xnor) == 4
    rng = np.random.default_rng(0)
    for lanes in (784, 20_000, 60_000):
        layer = random_mvau(rng, "wide", BIPOLAR, 1, lanes, 2, 1, lanes, False)
        params = layer.rtl_instance("wide", tmp_path, RtlOptions()).params
        depth = params.get("OUT_FIFO_DEPTH", OUT_FIFO_DEPTH)
        assert popcount_latency(lanes, True) <= depth - 4 - 3
        assert (depth > 12) == (lanes > 4096)
