"""The stream glue plan (compile/ir/glue.py) is what both tops render: a width converter where
the folds differ, a FIFO in front of every MVAU that re-reads its input, with the same depth."""

from __future__ import annotations

import json
import re

import pytest

from tests.nets import random_cnn, random_mlp
from xnorflow.compile.backends import BackendOptions
from xnorflow.compile.hls import codegen as hls_codegen
from xnorflow.compile.ir.glue import plan_glue
from xnorflow.compile.layers import MVAU
from xnorflow.compile.layers.mvau import MAX_INPUT_FIFO as MAX_FIFO_DEPTH
from xnorflow.compile.layers.mvau import MAX_INPUT_FIFO_BITS as MAX_FIFO_BITS
from xnorflow.compile.rtl import codegen as rtl_codegen


@pytest.mark.parametrize("ir", [random_mlp(1), random_mlp(2), random_cnn(1), random_cnn(3)],
                         ids=["mlp1", "mlp2", "cnn1", "cnn3"])
def test_rtl_and_hls_render_the_same_glue(ir, tmp_path):
    plan = plan_glue(ir)
    assert [g.index for g in plan] == list(range(1, len(ir.layers)))
    for g in plan:
        layer = ir.layers[g.index]
        assert g.converter == (ir.layers[g.index - 1].out_fold != layer.in_fold)
        reread = isinstance(layer, MVAU) and layer.mh > layer.pe and layer.mw > layer.simd
        assert (g.fifo_depth > 0) == reread
        if reread:
            cap = max(MAX_FIFO_DEPTH, MAX_FIFO_BITS // layer.in_width)
            assert g.fifo_depth == min(cap, max(2, layer.mw // layer.simd))
    rtl = rtl_codegen.write(ir, tmp_path / "rtl")
    insts = json.loads((rtl / "rtl.json").read_text())["instances"]
    assert sorted(int(i["name"].split("_")[1]) for i in insts if i["module"] == "dwc") == \
        [g.index for g in plan if g.converter]
    assert sorted((int(i["name"].split("_")[1]), i["params"]["DEPTH"]) for i in insts
                  if i["module"] == "fifo") == [(g.index, g.fifo_depth) for g in plan
                                                if g.fifo_depth]
    hls_codegen.write(ir, tmp_path / "hls", BackendOptions())
    top = (tmp_path / "hls" / "xnorflow_top.cpp").read_text()
    assert sorted(int(n) for n in re.findall(r"xnorflow::dwc<dwc(\d+)_config>", top)) == \
        [g.index for g in plan if g.converter]
    depths = sorted(int(d) for d in re.findall(r"depth = (\d+)", top))
    for g in plan:
        if g.fifo_depth > 2:
            assert g.fifo_depth in depths, g


def test_padding_gets_a_fifo_for_its_border_rows():
    """A padding layer takes no input while it emits the bottom rows of one frame and the top
    rows of the next: the FIFO in front of it holds that run of beats, so its producer does not
    stall (without it a layer net ran at 420 cycles/frame for an II of 384)."""
    from xnorflow.compile.ir.datatypes import DataType
    from xnorflow.compile.layers import Padding

    int3 = DataType.parse("INT3")
    pad = Padding(name="p", in_dtype=int3, out_dtype=int3, ifm_dim=(7, 11), channels=2,
                  padding=(2, 2, 2, 2), simd=1)
    assert pad.input_fifo_depth() == ((2 + 2) * 15 + 2 + 2) * 2
    flat = Padding(name="q", in_dtype=int3, out_dtype=int3, ifm_dim=(7, 11), channels=2,
                   padding=(0, 0, 0, 0), simd=2)
    assert flat.input_fifo_depth() == 0
