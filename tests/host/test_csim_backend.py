"""C-simulation is a backend like the others: Accelerator.open(build, backend="csim") and
`xnorflow run --backend csim` stream the same beats through the HLS C++ (g++), bit-exact
against the reference; the HLS folder is generated on demand."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.nets import random_cnn, random_images, random_mlp
from xnorflow.cli import app
from xnorflow.host.accelerator import Accelerator

from .conftest import make_build

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("ir", [random_mlp(11), random_cnn(12)], ids=["mlp", "cnn"])
def test_csim_backend_equals_reference(ir, tmp_path):
    build = make_build(ir, tmp_path / "b")
    assert not (build / "hls").exists()
    x = random_images(ir, 30, seed=4)
    with Accelerator.open(build, backend="csim") as acc:
        labels, scores = acc.predict(x)
        assert acc.backend.stats()["frames"] == 30
        empty_labels, _ = acc.predict(x[:0])
    ref_labels, ref_scores = ir.predict(x)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(labels, ref_labels)
    assert len(empty_labels) == 0 and (build / "hls" / "csim.bin").is_file()
    res = CliRunner().invoke(app, ["run", str(build), "--backend", "csim", "--n", "20"])
    assert res.exit_code == 0, res.output
    assert "0 mismatching frames" in res.output


def test_simulate_csim_and_run_report_one_comparison(tmp_path):
    """sim_report.json, csim_report.json and run's results carry the same "comparison" block."""
    import json

    ir = random_mlp(13)
    build = make_build(ir, tmp_path / "b")
    runner = CliRunner()
    for args in (["simulate", str(build), "--n", "16", "--backpressure", "0"],
                 ["csim", str(build), "--n", "16"],
                 ["run", str(build), "--backend", "csim", "--n", "16", "-o",
                  str(tmp_path / "run.json")]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    blocks = [json.loads(p.read_text())["comparison"] for p in
              (build / "sim_report.json", build / "csim_report.json", tmp_path / "run.json")]
    assert all(b.keys() == blocks[0].keys() for b in blocks)
    assert all(b["frames"] == 16 and b["bit_exact"] and b["mismatching_values"] == 0
               for b in blocks)
