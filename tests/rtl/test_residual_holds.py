"""A residual block's join held for long stretches: the generated top of a compiled residual
network, cut after its first join (so the join's output is the top's output), under a sink
that stalls for hundreds of cycles at a time and a source with random gaps — bit-exact and
no deadlock (tests/rtl/cocotb_long_holds.py). A join whose shortcut FIFO is too shallow for
its branch deadlocks here: the fork stops when the shortcut is full, the branch starves."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from tests.compile.layer_nets import _compiled
from tests.layers.harness import run_cocotb
from tests.nets import random_images
from xnorflow.compile.rtl import codegen as rtl_codegen
from xnorflow.compile.stream import beats_to_ints, pack_beats

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def rtl_cache(request) -> Path:
    return Path(request.config.cache.mkdir("xnorflow_rtl_templates"))


def through_first_join(ir):
    """The IR up to and including its first add_streams layer, as a model of its own."""
    end = next(i for i, layer in enumerate(ir.layers) if layer.kind == "add_streams")
    cut = dataclasses.replace(ir, name=f"{ir.name}_join", layers=ir.layers[: end + 1],
                              output_scale=np.ones(1), output_bias=np.zeros(1), meta={})
    cut.validate()
    return cut


@pytest.mark.parametrize("seed", [0, 3])
def test_join_held_for_long_stretches(seed, rtl_cache):
    ir = through_first_join(_compiled("residual_nets", "residual_net", seed))
    rtl = rtl_codegen.write(ir, rtl_cache / f"holds_{seed}_src" / "rtl")
    images = random_images(ir, 6, seed=seed)
    first, last = ir.layers[0], ir.layers[-1]
    frames = ir.input_frames(images).reshape(len(images), -1)
    outs = ir.run(images)
    beats_out = last.out_shape[0] * last.out_shape[1] // last.out_fold
    case = {
        "seed": seed, "hold": 2 * beats_out + 50,
        "frames_in": [beats_to_ints(f) for f in pack_beats(frames, first.in_dtype.bits,
                                                           first.in_fold)],
        "frames_out": [beats_to_ints(f) for f in pack_beats(outs, last.out_dtype.bits,
                                                            last.out_fold)],
        # a generous bound on one frame's wait: the holds, the latency, the gaps
        "cycle_limit": 40 * (ir.initiation_interval() + 4 * beats_out + 200),
    }
    desc = json.loads((rtl / "rtl.json").read_text())
    run_cocotb(rtl_cache, f"holds_{seed}", [rtl / f for f in desc["files"]], rtl_codegen.TOP,
               case, test_dir=rtl, test_module="tests.rtl.cocotb_long_holds", n_tests=1)
