"""The host runtime against the real Verilator simulation of the generated RTL.

sim backend ≡ reference, the PYNQ driver over the emulated board whose hardware is the
Verilator simulation ≡ reference (in-process and as the bundle's driver.py subprocess), and
`xnorflow run --backend sim` reports 0 mismatches. Two designs (TFC, small CNV) are compiled
once per session (~15-40 s each with an empty ccache).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.nets import random_images
from xnorflow.cli import app
from xnorflow.host import pynq_emulation as emu
from xnorflow.host.accelerator import Accelerator

from .test_bundle import run_driver

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def sims(sim_builds):
    accs = {name: Accelerator.open(build, backend="sim") for name, build in sim_builds.items()}
    yield accs
    for acc in accs.values():
        acc.close()


@pytest.mark.parametrize("model", ["tfc", "cnv"])
def test_all_three_backends_identical(model, irs, sim_builds, sims):
    ir = irs[model]
    x = random_images(ir, 120, seed=7)
    with Accelerator.open(sim_builds[model]) as ref:
        ref_labels, ref_scores = ref.predict(x)
    labels, scores = sims[model].predict(x)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(labels, ref_labels)
    emu.configure(sim_builds[model], "sim")
    try:
        with Accelerator.open(sim_builds[model], backend="pynq", pynq_module=emu,
                              chunk_frames=50) as acc:
            p_labels, p_scores = acc.predict(x)
            assert acc.backend.driver.overlay.frames == 120
    finally:
        emu.configure(None, None)
    np.testing.assert_array_equal(p_scores, ref_scores)
    np.testing.assert_array_equal(p_labels, ref_labels)
    np.testing.assert_array_equal(ref_scores, ir.predict(x)[1])


def test_sim_is_kept_alive_and_measures_cycles(irs, sims):
    acc = sims["tfc"]
    proc = acc.backend.sim._proc
    t = acc.throughput(64, batch=32)
    assert acc.backend.sim._proc is proc  # the same simulator process served every call
    ii = irs["tfc"].initiation_interval()
    assert t["sim_cycles_per_frame"] == pytest.approx(ii, rel=0.1)


def test_board_bundle_over_the_simulation(irs, sim_builds, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle_sim")
    shim = tmp / "shim"
    emu.write_pynq_shim(shim)
    x = random_images(irs["cnv"], 30, seed=9)
    np.save(tmp / "frames.npy", x)
    res = run_driver(sim_builds["cnv"], ["--input", str(tmp / "frames.npy"), "--output",
                                         str(tmp / "p.npz")], shim, backend="sim")
    assert res.returncode == 0, res.stderr
    with np.load(tmp / "p.npz") as z:
        np.testing.assert_array_equal(z["scores"], irs["cnv"].predict(x)[1])


def test_cli_run_sim_no_mismatch(sim_builds, tmp_path):
    out = tmp_path / "s.json"
    res = CliRunner().invoke(app, ["run", str(sim_builds["tfc"]), "--backend", "sim", "--n", "100",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["mismatches_vs_reference"] == {"frames": 0, "labels": 0}
    assert doc["sim_cycles"] > 0
