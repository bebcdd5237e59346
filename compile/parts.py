"""FPGA parts xnorflow folds for and places on: their logic and block-RAM capacity.

One table for the default folding (compile/fit.py), `xnorflow synth`'s choice of a device for
place-and-route, and the HLS part. Capacities are the vendors' data-sheet figures, in the part's
own units: LUT6 and RAMB18 for Xilinx, LUT4 and DP16KD (18 kbit) for ECP5, LUT4 and
SB_RAM40_4K (4 kbit) for iCE40, LUT4 and BSRAM (18 kbit) for Gowin (GW1NR-9: 8,640 LUT4,
6,480 FF, 26 BSRAM, Gowin's GW1NR series data sheet DS117).

FINN's estimates are in Xilinx units (LUT6, BRAM18) and model FINN's own HLS layers.
`lut_per_finn_lut` and `bram_per_finn_bram18` turn them into a Lattice part's units, from
Yosys + nextpnr on xnorflow's RTL of the same designs (benchmarks/results.json, rtl/models):
ECP5 LUT4 per FINN LUT estimate TFC 8,348 / 8,956 = 0.93, CNV 30,505 / 23,735 = 1.29, taken
as 1.3; DP16KD per FINN BRAM18 TFC 22 / 29, CNV 141 / 146, taken as 1.0. iCE40 has the same
LUT4; its SB_RAM40_4K holds 4 kbit, 4.5 of them per 18-kbit BRAM. Gowin's LUT4 and 18-kbit
BSRAM take the ECP5's factors (not yet measured against a Gowin build of TFC/CNV).
"""

from __future__ import annotations

import dataclasses

from xnorflow.compile.errors import CompileError


@dataclasses.dataclass(frozen=True)
class Part:
    name: str  # the vendor's part string
    family: str  # xilinx | ecp5 | ice40 (a `xnorflow synth --target`) | gowin (boards only)
    luts: int
    brams: int
    lut_unit: str
    bram_unit: str
    lut_per_finn_lut: float = 1.0
    bram_per_finn_bram18: float = 1.0
    nextpnr_args: tuple[str, ...] = ()  # ECP5/iCE40: device and package for nextpnr
    aliases: tuple[str, ...] = ()
    note: str = ""

    def fits(self, finn_lut: float, finn_bram18: float, headroom: float) -> bool:
        return (finn_lut * self.lut_per_finn_lut <= headroom * self.luts
                and finn_bram18 * self.bram_per_finn_bram18 <= headroom * self.brams)

    def utilisation(self, finn_lut: float, finn_bram18: float) -> dict[str, float]:
        """Fractions of the part's LUTs and block RAMs that FINN's estimates fill."""
        return {"lut": finn_lut * self.lut_per_finn_lut / self.luts,
                "bram": finn_bram18 * self.bram_per_finn_bram18 / self.brams}


_ECP5 = {"lut_unit": "LUT4", "bram_unit": "DP16KD", "lut_per_finn_lut": 1.3,
         "bram_per_finn_bram18": 1.0}
_ICE40 = {"lut_unit": "LUT4", "bram_unit": "SB_RAM40_4K", "lut_per_finn_lut": 1.3,
          "bram_per_finn_bram18": 4.5}

_GOWIN = {"lut_unit": "LUT4", "bram_unit": "BSRAM", "lut_per_finn_lut": 1.3,
          "bram_per_finn_bram18": 1.0}

PARTS: tuple[Part, ...] = (
    Part("xc7z020clg400-1", "xilinx", 53_200, 280, "LUT6", "BRAM18",
         aliases=("xc7z020", "pynq-z2", "pynq-z1"), note="Zynq-7020 (PYNQ-Z1/Z2)"),
    Part("xck26-sfvc784-2LV-c", "xilinx", 117_120, 288, "LUT6", "BRAM18",
         aliases=("xck26", "kv260"), note="Kria K26 SOM (KV260)"),
    Part("LFE5U-12F", "ecp5", 12_288, 32, nextpnr_args=("--12k", "--package", "CABGA381"),
         aliases=("ecp5-12k", "ulx3s-12f"), note="ECP5 12k (ULX3S-12F)", **_ECP5),
    Part("LFE5U-25F", "ecp5", 24_288, 56, nextpnr_args=("--25k", "--package", "CABGA256"),
         aliases=("ecp5-25k", "ulx3s-25f"), note="ECP5 25k (ULX3S-25F)", **_ECP5),
    Part("LFE5U-45F", "ecp5", 43_848, 108, nextpnr_args=("--45k", "--package", "CABGA256"),
         aliases=("ecp5-45k", "ulx3s-45f"), note="ECP5 45k (ULX3S-45F)", **_ECP5),
    Part("LFE5U-85F", "ecp5", 83_640, 208, nextpnr_args=("--85k", "--package", "CABGA381"),
         aliases=("ecp5-85k", "ulx3s-85f"), note="ECP5 85k (ULX3S-85F)", **_ECP5),
    Part("iCE40HX8K", "ice40", 7_680, 32, nextpnr_args=("--hx8k", "--package", "ct256"),
         aliases=("ice40-hx8k", "hx8k"), note="iCE40 HX8K", **_ICE40),
    Part("iCE40UP5K", "ice40", 5_280, 30, nextpnr_args=("--up5k", "--package", "sg48"),
         aliases=("ice40-up5k", "up5k", "icebreaker"), note="iCE40 UltraPlus 5K (iCEBreaker)",
         **_ICE40),
    Part("GW1NR-LV9QN88PC6/I5", "gowin", 8_640, 26,
         nextpnr_args=("--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C"),
         aliases=("gw1nr-9", "gw1nr-9c", "gowin-9k", "tangnano9k"),
         note="Gowin GW1NR-9 (Tang Nano 9K)", **_GOWIN),
)
DEFAULT_PART = "xc7z020clg400-1"

# Zynq boards the Vivado block design (BUILD/hls/build_bitstream.tcl) targets:
# board → (part, processing-system IP, Vivado board part)
VIVADO_BOARDS = {
    "pynq-z2": ("xc7z020clg400-1", "processing_system7", "tul.com.tw:pynq-z2:part0:1.0"),
    "pynq-z1": ("xc7z020clg400-1", "processing_system7", "www.digilentinc.com:pynq-z1:part0:1.0"),
    "kv260": ("xck26-sfvc784-2LV-c", "zynq_ultra_ps_e", "xilinx.com:kv260_som:part0:1.4"),
}
DEFAULT_BOARD = "pynq-z2"


def find_part(name: str) -> Part | None:
    key = name.strip().lower()
    for part in PARTS:
        if key == part.name.lower() or key in part.aliases:
            return part
    return None


def get_part(name: str) -> Part:
    """The part called `name` (its part string or an alias); CompileError naming the choices."""
    part = find_part(name)
    if part is None:
        raise CompileError(
            f"unknown FPGA part {name!r}; known parts: "
            + ", ".join(f"{p.name} ({p.note})" for p in PARTS)
            + " — or give --folding / --target-fps, which need no part")
    return part


def parts_of(family: str) -> list[Part]:
    """The parts of one family, smallest first."""
    return sorted((p for p in PARTS if p.family == family), key=lambda p: p.luts)
