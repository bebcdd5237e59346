"""g++ C-simulation of whole generated accelerators, bit-exact against the reference executor.

Designs: TFC (random weights), a small CNV-like net, an edge-case net (tests/nets.py),
10 random IRs from the compiler's generator (5 MLPs, 5 CNNs, random foldings), Brevitas'
TFC-2W2A and 4 random Brevitas nets with padding/strides/pools/GAP/multi-bit layers compiled by
`xnorflow compile` (tests/compile/layer_nets.py) in the default suite; 20 larger random IRs
(foldings up to full parallelism), the other multi-bit bnn_pynq models and 12 more compiled
nets under `slow`.
Cost: each design is one g++ -O2 compile of about 4-10 s CPU (TFC the largest); the 15
designs of the default suite (these 14 plus the CLI's digits MLP) compile two at a time.
Measured for all of tests/hls with empty caches (CCACHE_DISABLE=1, no cached csim.bin): 152-232 s
wall on the shared 2-core development machine at load average ~5; on a free 2-core CI machine
expect about half. Re-runs reuse csim.bin (keyed by the sources' hash) and take seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests import nets
from tests.compile.layer_nets import COMPILED_DEFAULT, COMPILED_SLOW
from tests.nets import random_images
from xnorflow.compile.hls import csim

DEFAULT = ["tfc", "cnv_like", "edge_cases", "windows", *nets.default_random(), *COMPILED_DEFAULT]
SLOW = [*nets.slow_random(), *COMPILED_SLOW]
N_FRAMES = 40
FEWER_FRAMES = {"bnn_cnv_1w2a": 3, "bnn_cnv_2w2a": 3}  # CNV: seconds per C-simulated frame


def _check(hls_builds, design: str, n: int) -> None:
    ir, build = hls_builds.get(design)
    images = random_images(ir, n, seed=1)
    report = csim.run_csim(build, images, timeout=120)
    assert report.frames == n
    assert report.compile_seconds < 1.0, "the session fixture should have compiled it already"
    if report.mismatches:
        got = csim.hls_outputs(ir, build / "hls" / "csim.bin", images, timeout=120)
        want = ir.run(images)
        f = report.first_mismatch
        pytest.fail(f"{design}: {report.mismatches}/{n} frames differ; frame {f}: "
                    f"hls {got[f].tolist()} != reference {want[f].tolist()}")
    saved = json.loads((build / "csim_report.json").read_text())
    assert saved["frames"] == n and saved["mismatches"] == 0


@pytest.mark.sim
@pytest.mark.parametrize("design", DEFAULT)
def test_csim_bit_exact(hls_builds, design):
    _check(hls_builds, design, N_FRAMES)


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("design", SLOW)
def test_csim_bit_exact_large_random(hls_builds, design):
    _check(hls_builds, design, FEWER_FRAMES.get(design, 100))


@pytest.mark.sim
def test_csim_outputs_vary(hls_builds):
    """The comparison is not vacuous: the C-simulation's outputs differ between frames."""
    ir, build = hls_builds.get("tfc")
    out = csim.hls_outputs(ir, build / "hls" / "csim.bin", random_images(ir, 16, seed=2))
    assert len({tuple(row) for row in out.tolist()}) > 8
    assert np.ptp(out) > 0


@pytest.mark.sim
@pytest.mark.parametrize("design,batch", [("tfc", 1), ("cnv_like", 3)])
def test_csim_tlast_per_packet(hls_builds, design, batch):
    """TLAST per packet of frames (a DMA transfer each): the testbench exits non-zero unless
    the output's TLAST ends exactly each packet's last frame; the values stay bit-exact."""
    ir, build = hls_builds.get(design)
    images = random_images(ir, 8, seed=4)
    out = csim.hls_outputs(ir, build / "hls" / "csim.bin", images, timeout=120,
                           tlast_batch=batch)
    np.testing.assert_array_equal(out, ir.run(images))
