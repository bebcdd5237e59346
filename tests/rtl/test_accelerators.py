"""Whole generated accelerators in Verilator against the reference executor.

TFC (FINN's test folding), a small CNV-like network, random networks from tests/nets.py, and
networks compiled from Brevitas (tests/compile/layer_nets.py: bnn_pynq's multi-bit models and
random nets with padding, strides, pools, global pooling, multi-bit layers): every output value
bit-exact, without and with random input gaps and output back-pressure; TLAST where the
input's packets end (one packet per call, or packets of three frames); measured cycles/frame
within 5 % of the IR's initiation interval.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.compile.layer_nets import COMPILED_DEFAULT, COMPILED_SLOW
from tests.nets import random_images
from xnorflow.compile.rtl.sim import SimulationError, VerilatorAccelerator
from xnorflow.compile.stream import pack_beats, unpack_beats

pytestmark = pytest.mark.sim

FRAMES = {"tfc": 400, "tfc_ram_styles": 100, "small_cnv": 24, "cnv": 4}


def _beats(ir, images):
    first = ir.layers[0]
    frames = ir.input_frames(images).reshape(len(images), -1)
    return pack_beats(frames, first.in_dtype.bits, first.in_fold)


def _values(ir, out):
    last = ir.layers[-1]
    return unpack_beats(out, last.out_dtype.bits, last.out_fold, last.out_dtype.signed)


def check_design(design, name: str, seed: int = 0) -> dict:
    ir, build = design(name)
    n = FRAMES.get(name, 40)
    images = random_images(ir, n, seed=seed)
    want = ir.run(images)
    beats = _beats(ir, images)
    with VerilatorAccelerator(build, seed=seed) as sim:
        out, steady = sim.run(beats)
        np.testing.assert_array_equal(_values(ir, out), want)
        # packets of 3 frames: TLAST on every third output frame only
        out_bp, stats = sim.run(beats, in_valid_pct=45, out_ready_pct=55, tlast_batch=3)
        np.testing.assert_array_equal(_values(ir, out_bp), want)
    assert steady["tlast_errors"] == 0 and stats["tlast_errors"] == 0
    ratio = steady["cycles_per_frame_steady"] / ir.initiation_interval()
    assert ratio <= 1.05, f"{name}: {steady['cycles_per_frame_steady']} cycles/frame, " \
                          f"II {ir.initiation_interval()}"
    return steady


@pytest.mark.parametrize("name", ["tfc", "tfc_ram_styles", "small_cnv", "random_mlp_0",
                                  "random_cnn_0", *COMPILED_DEFAULT])
def test_accelerator_bit_exact(design, name):
    steady = check_design(design, name)
    assert steady["latency_cycles"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [f"random_{k}_{s}" for s in range(1, 12) for k in ("mlp", "cnn")]
                         + ["cnv", *COMPILED_SLOW])
def test_accelerator_bit_exact_more(design, name):
    check_design(design, name)


def test_tfc_meets_throughput_target(design):
    """TFC with FINN's folding: 64 cycles/frame → 1.56M frames/s at 100 MHz."""
    ir, build = design("tfc")
    images = random_images(ir, 2000, seed=3)
    with VerilatorAccelerator(build) as sim:
        out, stats = sim.run(_beats(ir, images))
    np.testing.assert_array_equal(_values(ir, out), ir.run(images))
    assert ir.initiation_interval() == 64
    assert stats["cycles_per_frame_steady"] <= 64 * 1.05
    assert 100e6 / stats["cycles_per_frame_steady"] >= 1.5e6


def test_process_persists_and_checks_input(design):
    ir, build = design("random_mlp_0")
    images = random_images(ir, 10, seed=1)
    beats = _beats(ir, images)
    sim = VerilatorAccelerator(build)
    try:
        a, s1 = sim.run(beats[:4], tlast_batch=1)  # TLAST on every frame
        b, s2 = sim.run(beats[4:])
        assert s1["tlast_errors"] == 0 and s2["tlast_errors"] == 0
        np.testing.assert_array_equal(_values(ir, np.concatenate([a, b])), ir.run(images))
        assert s1["frames"] == 4 and s2["frames"] == 6 and s2["cycles_total"] > 0
        with pytest.raises(ValueError, match="input beats of shape"):
            sim.run(beats[:, :-1])
        with pytest.raises(ValueError, match="tlast_batch"):
            sim.run(beats, tlast_batch=-1)
    finally:
        sim.close()
    with pytest.raises(SimulationError, match="closed"):
        sim.run(beats)
