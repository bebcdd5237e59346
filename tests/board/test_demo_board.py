"""`xnorflow demo --board icebreaker`: the demo with its bitstream and a board-sim run (slow:
place and route of the iCE40 with the clock search takes minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

XNORFLOW = str(Path(sys.executable).parent / "xnorflow")


@pytest.mark.slow
@pytest.mark.sim
def test_demo_with_a_board(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([XNORFLOW, "demo", "--epochs", "3", "--n", "60", "--out", str(out),
                           "--board", "icebreaker"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "frames/s over the UART (board-sim) / accelerator" in proc.stdout
    b = json.loads((out / "summary.json").read_text())["board"]
    assert b["mismatches_board_sim_vs_reference"] == 0 and b["timing_met"]
    assert b["clock_mhz"] <= b["fmax_mhz"]
    assert 3000 < b["link_frames_per_s_simulated"] < 4700  # 64-byte frames at 3 Mbaud
    assert Path(b["bitstream"]).is_file()
