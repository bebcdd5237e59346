"""A short form of `xnorflow demo` (the README's first command), end to end through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

XNORFLOW = str(Path(sys.executable).parent / "xnorflow")


@pytest.mark.sim
def test_short_demo_is_bit_exact_end_to_end(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [XNORFLOW, "demo", "--epochs", "3", "--n", "80", "--out", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "bit-exact: PyTorch ≡ reference ≡ RTL ≡ HLS" in proc.stdout
    s = json.loads((out / "summary.json").read_text())
    assert s["images_simulated"] == 80
    assert s["mismatches_rtl_vs_reference"] == 0 and s["mismatches_hls_vs_reference"] == 0
    assert s["label_disagreements_pytorch_vs_hw"] == 0
    assert s["acc_pytorch"] == s["acc_reference"] == s["acc_rtl_sim"] == s["acc_hls_csim"]
    assert s["acc_pytorch"] > 0.5  # 10 classes: chance is 0.1
    assert s["cycles_per_frame"] <= 1.05 * s["analytic_initiation_interval"]
    assert s["fps_at_clock"] >= 1_000_000 * 0.95  # the demo's auto-folding target
    assert s["luts"] > 0
    for path in s["artefacts"].values():
        assert Path(path).exists(), path
    sim = json.loads((out / "build" / "sim_report.json").read_text())
    assert sim["frames"] == 80 and sim["mismatches"] == 0


def test_demo_rejects_an_unknown_dataset(tmp_path):
    proc = subprocess.run(
        [XNORFLOW, "demo", "--dataset", "imagenet", "--out", str(tmp_path / "d")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "--dataset 'imagenet': the demo runs on digits or mnist" in proc.stderr
    assert not (tmp_path / "d").exists()
