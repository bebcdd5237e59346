"""PLL settings (compile/board/pll.py) against the tools of Project Trellis, IceStorm and
Apicula (yowasp-ecppll, yowasp-icepll, gowin_pll): the same output frequency for the same
request, and every setting inside the PLLs' documented ranges."""

from __future__ import annotations

import re
import subprocess

import pytest

from xnorflow.compile.board import pll
from xnorflow.tools import which


@pytest.mark.parametrize("f_out", [48.0, 30.0, 33.75])
def test_ice40_matches_icepll(f_out):
    tool = which("yowasp-icepll")
    if tool is None:
        pytest.skip("yowasp-icepll not installed (bash scripts/setup.sh)")
    out = subprocess.run([tool, "-i", "12", "-o", str(f_out)], capture_output=True, text=True,
                         check=True).stdout
    achieved = float(re.search(r"F_PLLOUT:\s+([\d.]+) MHz \(achieved\)", out).group(1))
    mine = pll.setting_for("ice40", 12.0, achieved)
    assert abs(mine.f_out_mhz - achieved) < 1e-3
    p = dict(mine.params)
    assert 12.0 * (p["DIVF"] + 1) / ((p["DIVR"] + 1) * 2 ** p["DIVQ"]) == pytest.approx(achieved)


@pytest.mark.parametrize("f_out", [100.0, 125.0, 50.0])
def test_ecp5_matches_ecppll(f_out, tmp_path):
    tool = which("yowasp-ecppll")
    if tool is None:
        pytest.skip("yowasp-ecppll not installed (bash scripts/setup.sh)")
    out = subprocess.run([tool, "-i", "25", "-o", str(f_out), "-f", "pll.v"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    achieved = float(re.search(r"clkout0 frequency: ([\d.]+) MHz", out).group(1))
    mine = pll.setting_for("ecp5", 25.0, f_out)
    assert mine.f_out_mhz == pytest.approx(achieved)
    p = dict(mine.params)
    assert 25.0 * p["CLKFB_DIV"] / p["CLKI_DIV"] == pytest.approx(achieved)


@pytest.mark.parametrize("f_out", [81.0, 100.0, 59.4, 33.75])
def test_gowin_matches_gowin_pll(f_out):
    tool = which("gowin_pll")
    if tool is None:
        pytest.skip("gowin_pll (apycula) not installed (bash scripts/setup.sh)")
    out = subprocess.run([tool, "-i", "27", "-o", str(f_out), "-d", "GW1NR-LV9QN88PC6/I5"],
                         capture_output=True, text=True, check=True).stdout
    achieved = float(re.search(r"Achieved output frequency:\s+([\d.]+) MHz", out).group(1))
    theirs = {k: int(re.search(rf"\.{k}\((\d+)\)", out).group(1))
              for k in ("IDIV_SEL", "FBDIV_SEL", "ODIV_SEL")}
    mine = pll.setting_for("gowin", 27.0, f_out)
    assert mine.f_out_mhz == pytest.approx(achieved, abs=1e-3)
    p = dict(mine.params)
    assert {k: p[k] for k in theirs} == theirs and p["FCLKIN"] == "27"
    assert 27.0 * (p["FBDIV_SEL"] + 1) / (p["IDIV_SEL"] + 1) == pytest.approx(mine.f_out_mhz)
    assert mine.param_text().startswith('.FCLKIN("27"), .IDIV_SEL(')


@pytest.mark.parametrize("family,f_in", [("ecp5", 25.0), ("ice40", 12.0), ("gowin", 27.0)])
def test_every_setting_in_range(family, f_in):
    settings = pll.reachable(family, f_in)
    assert len(settings) > 100
    for s in settings:
        p = dict(s.params)
        if family == "ecp5":
            assert pll.ECP5_VCO[0] <= s.f_out_mhz * p["CLKOP_DIV"] <= pll.ECP5_VCO[1]
            assert p["CLKOP_CPHASE"] == (p["CLKOP_DIV"] - 1) // 2
        elif family == "gowin":
            assert pll.GOWIN_PFD[0] <= f_in / (p["IDIV_SEL"] + 1) <= pll.GOWIN_PFD[1]
            assert pll.GOWIN_VCO[0] < s.f_out_mhz * p["ODIV_SEL"] < pll.GOWIN_VCO[1]
            assert p["ODIV_SEL"] in pll.GOWIN_ODIV
        else:
            assert pll.ICE40_PFD[0] <= f_in / (p["DIVR"] + 1) <= pll.ICE40_PFD[1]
            assert pll.ICE40_VCO[0] <= s.f_vco_mhz <= pll.ICE40_VCO[1]
    freqs = [s.f_out_mhz for s in settings]
    assert freqs == sorted(freqs)


def test_unreachable_clock_names_the_nearest():
    with pytest.raises(pll.PllError, match=r"cannot make 17\.1 MHz.*nearest: 16\.88 MHz, 17\.25"):
        pll.setting_for("ice40", 12.0, 17.1)
    best = pll.fastest_at_most("ice40", 12.0, 40.0, lambda f: f < 30)
    assert best is not None and best.f_out_mhz < 30
    assert pll.fastest_at_most("ice40", 12.0, 10.0) is None
