"""PLL settings: every output frequency a board's PLL can make from its oscillator, and the
dividers for one of them — the searches of Project Trellis' ecppll (ECP5 EHXPLLL, feedback
from CLKOP), IceStorm's icepll (iCE40 SB_PLL40, simple feedback) and Apicula's gowin_pll
(Gowin rPLL, internal feedback), over the same ranges. tests/board/test_pll.py checks them
against yowasp-ecppll / yowasp-icepll / gowin_pll.
"""

from __future__ import annotations

import dataclasses
from functools import cache

# ECP5 (Lattice FPGA-TN-02200, as in ecppll): PFD 3.125..400 MHz, VCO 400..800 MHz,
# output 3.125..400 MHz (we keep to 10..300 for the logic's sake)
ECP5_VCO = (400.0, 800.0)
ECP5_PFD = (3.125, 400.0)
# iCE40 (Lattice iCE40 sysCLOCK PLL guide, as in icepll): PFD 10..133, VCO 533..1066,
# output 16..275 MHz
ICE40_VCO = (533.0, 1066.0)
ICE40_PFD = (10.0, 133.0)
ICE40_OUT = (16.0, 275.0)
# Gowin rPLL of the GW1NR-9 C6/I5 (Gowin DS117, as in gowin_pll): PFD 3..400 MHz, VCO
# 400..1200 MHz, output 3.125..600 MHz (gowin_pll keeps VCO and output strictly inside; we
# keep to 10..300 for the logic's sake). CLKOUT = f_in * (FBDIV_SEL + 1) / (IDIV_SEL + 1),
# VCO = CLKOUT * ODIV_SEL.
GOWIN_PFD = (3.0, 400.0)
GOWIN_VCO = (400.0, 1200.0)
GOWIN_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)
OUT_RANGE = {"ecp5": (10.0, 300.0), "ice40": ICE40_OUT, "gowin": (10.0, 300.0)}


class PllError(ValueError):
    """No PLL setting makes the requested clock."""


@dataclasses.dataclass(frozen=True)
class PllSetting:
    family: str
    f_in_mhz: float
    f_out_mhz: float
    params: tuple[tuple[str, int | str], ...]  # the board_pll module's parameters
    f_vco_mhz: float

    def param_text(self) -> str:
        return ", ".join(f'.{k}("{v}")' if isinstance(v, str) else f".{k}({v})"
                         for k, v in self.params)


def _ecp5_settings(f_in: float) -> list[PllSetting]:
    out: dict[float, PllSetting] = {}
    for clki in range(1, 129):
        pfd = f_in / clki
        if not ECP5_PFD[0] <= pfd <= ECP5_PFD[1]:
            continue
        for fb in range(1, 81):
            f_out = pfd * fb
            if not OUT_RANGE["ecp5"][0] <= f_out <= OUT_RANGE["ecp5"][1]:
                continue
            for op in range(1, 129):
                vco = f_out * op
                if ECP5_VCO[0] <= vco <= ECP5_VCO[1]:
                    key = round(f_out, 6)
                    # ecppll's preference: the VCO nearest the middle of its range
                    best = out.get(key)
                    if best is None or abs(vco - 600) < abs(best.f_vco_mhz - 600):
                        out[key] = PllSetting("ecp5", f_in, f_out, (
                            ("CLKI_DIV", clki), ("CLKFB_DIV", fb), ("CLKOP_DIV", op),
                            ("CLKOP_CPHASE", (op - 1) // 2)), vco)
    return sorted(out.values(), key=lambda s: s.f_out_mhz)


def _ice40_filter(pfd: float) -> int:
    for limit, value in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if pfd < limit:
            return value
    return 6


def _ice40_settings(f_in: float) -> list[PllSetting]:
    out: dict[float, PllSetting] = {}
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not ICE40_PFD[0] <= pfd <= ICE40_PFD[1]:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not ICE40_VCO[0] <= vco <= ICE40_VCO[1]:
                continue
            for divq in range(1, 7):
                f_out = vco / (1 << divq)
                if ICE40_OUT[0] <= f_out <= ICE40_OUT[1]:
                    key = round(f_out, 6)
                    if key not in out:
                        out[key] = PllSetting("ice40", f_in, f_out, (
                            ("DIVR", divr), ("DIVF", divf), ("DIVQ", divq),
                            ("FILTER_RANGE", _ice40_filter(pfd))), vco)
    return sorted(out.values(), key=lambda s: s.f_out_mhz)


def _gowin_settings(f_in: float) -> list[PllSetting]:
    out: dict[float, PllSetting] = {}
    for idiv in range(64):  # gowin_pll's order: its first setting for a frequency is kept
        pfd = f_in / (idiv + 1)
        if not GOWIN_PFD[0] <= pfd <= GOWIN_PFD[1]:
            continue
        for fbdiv in range(64):
            f_out = pfd * (fbdiv + 1)
            if not OUT_RANGE["gowin"][0] <= f_out <= OUT_RANGE["gowin"][1]:
                continue
            for odiv in GOWIN_ODIV:
                vco = f_out * odiv
                key = round(f_out, 6)
                if GOWIN_VCO[0] < vco < GOWIN_VCO[1] and key not in out:
                    # FCLKIN: the packer (gowin_pack) derives the loop filter from it
                    out[key] = PllSetting("gowin", f_in, f_out, (
                        ("FCLKIN", f"{f_in:g}"), ("IDIV_SEL", idiv), ("FBDIV_SEL", fbdiv),
                        ("ODIV_SEL", odiv)), vco)
    return sorted(out.values(), key=lambda s: s.f_out_mhz)


@cache
def reachable(family: str, f_in_mhz: float) -> tuple[PllSetting, ...]:
    """Every output frequency the family's PLL makes from f_in, slowest first."""
    if family == "ecp5":
        return tuple(_ecp5_settings(f_in_mhz))
    if family == "ice40":
        return tuple(_ice40_settings(f_in_mhz))
    if family == "gowin":
        return tuple(_gowin_settings(f_in_mhz))
    raise PllError(f"no PLL model for the family {family!r}")


def setting_for(family: str, f_in_mhz: float, f_out_mhz: float,
                tolerance: float = 0.005) -> PllSetting:
    """The setting closest to f_out (within `tolerance`, relative); PllError naming the
    nearest reachable clocks otherwise."""
    options = reachable(family, f_in_mhz)
    best = min(options, key=lambda s: abs(s.f_out_mhz - f_out_mhz))
    if abs(best.f_out_mhz - f_out_mhz) > tolerance * f_out_mhz:
        below = [s.f_out_mhz for s in options if s.f_out_mhz < f_out_mhz][-1:]
        above = [s.f_out_mhz for s in options if s.f_out_mhz > f_out_mhz][:1]
        raise PllError(f"the {family} PLL cannot make {f_out_mhz:g} MHz from "
                       f"{f_in_mhz:g} MHz; nearest: "
                       + ", ".join(f"{f:.4g} MHz" for f in below + above))
    return best


def fastest_at_most(family: str, f_in_mhz: float, limit_mhz: float,
                    usable: callable = lambda f: True) -> PllSetting | None:  # type: ignore[valid-type]
    """The fastest reachable clock <= limit_mhz for which usable(f) holds (None if none)."""
    for s in reversed(reachable(family, f_in_mhz)):
        if s.f_out_mhz <= limit_mhz + 1e-9 and usable(s.f_out_mhz):
            return s
    return None
