"""Template files under hw_templates/ filled by compile/templating.py: every placeholder gets a
value and every value a placeholder, and Tcl's own $ and braces pass through untouched."""

from __future__ import annotations

import pytest

from xnorflow.compile.templating import PLACEHOLDER, render, template_text


def test_render_fills_every_placeholder():
    text = render("hls", "run_hls.tcl.in", TOP="xnorflow_top", ADD_FILES="add_files x.cpp",
                  PART="xc7z020clg400-1", PERIOD_NS="10.000")
    assert "@" not in text
    assert "set_part {xc7z020clg400-1}" in text and "create_clock -period 10.000" in text
    assert 'set here [file dirname [file normalize [info script]]]' in text  # Tcl untouched


def test_missing_and_unused_values_are_errors():
    with pytest.raises(ValueError, match=r"without a value \['PART', 'PERIOD_NS'\]"):
        render("hls", "run_hls.tcl.in", TOP="t", ADD_FILES="")
    with pytest.raises(ValueError, match=r"values without a placeholder \['EXTRA'\]"):
        render("hls", "ps_zynqmp.tcl.in", PS_IP="zynq_ultra_ps_e", EXTRA=1)


@pytest.mark.parametrize("name", ["run_hls.tcl.in", "build_bitstream.tcl.in", "ps_zynq7.tcl.in",
                                  "ps_zynqmp.tcl.in", "tb_xnorflow.cpp.in"])
def test_templates_ship_with_the_package(name):
    text = template_text("hls", name)
    assert text.strip()
    assert all(p.isupper() for p in PLACEHOLDER.findall(text))
