"""The default folding: the fastest one whose estimated resources fit a part with headroom.

What a user compiling without `--folding` or `--target-fps` wants is the design that fills a
board, not PE = SIMD = 1 everywhere (95 FPS for LFC). The search runs over cycle budgets:
for a budget B each layer takes its cheapest folding (least PE·SIMD) that needs at most B
cycles per frame (folding.fold_for_budget), so the candidate designs are one per distinct
per-layer cycle count, ordered from fastest to slowest. Resources shrink as B grows, so a
binary search finds the smallest B whose FINN estimates, converted to the part's units
(compile/parts.py), fill at most `headroom` of its LUTs and of its block RAMs. The figures are
FINN's analytic estimates, not synthesis: report.json says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from xnorflow.compile.errors import CompileError
from xnorflow.compile.estimates import estimate_layer, layer_nodes
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.folding import candidate_cycles, fold_for_budget, layer_options
from xnorflow.compile.parts import DEFAULT_PART, Part

DEFAULT_HEADROOM = 0.8  # at most this fraction of the part's LUTs and block RAMs


@dataclasses.dataclass
class Fit:
    """The chosen design: its IR, FINN's estimates, and how much of the part they fill."""

    ir: DataflowIR
    part: Part
    headroom: float
    lut_finn: int
    bram18_finn: int
    candidates_tried: int

    def report(self) -> dict[str, Any]:
        util = self.part.utilisation(self.lut_finn, self.bram18_finn)
        return {
            "part": self.part.name, "part_note": self.part.note, "family": self.part.family,
            "headroom": self.headroom, "clock_mhz": self.ir.clock_mhz,
            "initiation_interval_cycles": self.ir.initiation_interval(),
            "fps": self.ir.fps(),
            "lut": round(self.lut_finn * self.part.lut_per_finn_lut),
            "lut_unit": self.part.lut_unit, "lut_available": self.part.luts,
            "bram": round(self.bram18_finn * self.part.bram_per_finn_bram18),
            "bram_unit": self.part.bram_unit, "bram_available": self.part.brams,
            "lut_utilisation": util["lut"], "bram_utilisation": util["bram"],
            "lut_finn": self.lut_finn, "bram18_finn": self.bram18_finn,
            "candidates_tried": self.candidates_tried,
            "basis": "FINN's analytic resource estimates (LUT6/BRAM18 of its HLS layers; for "
                     "Lattice parts scaled by compile/parts.py's measured factors), not synthesis",
        }


def fit_summary(r: dict[str, Any]) -> str:
    """One line for the user from report.json's "fit" entry (Fit.report())."""
    return (f"default folding for {r['part']} ({r['part_note']}): II "
            f"{r['initiation_interval_cycles']} cycles/frame, {r['fps']:,.0f} FPS at "
            f"{r['clock_mhz']:g} MHz; estimated {r['lut']:,} of {r['lut_available']:,} "
            f"{r['lut_unit']} ({100 * r['lut_utilisation']:.0f} %), {r['bram']:,} of "
            f"{r['bram_available']:,} {r['bram_unit']} ({100 * r['bram_utilisation']:.0f} %) "
            f"at most {100 * r['headroom']:.0f} % allowed — FINN's estimates, not synthesis")


def fit_folding(ir: DataflowIR, hw_model: Any, part: Part,
                headroom: float = DEFAULT_HEADROOM) -> Fit:
    """The fastest folding of `ir` that fits `part` (see the module doc); CompileError if even
    PE = SIMD = 1 everywhere does not fit."""
    if not 0 < headroom <= 1:
        raise CompileError(f"--max-utilisation must be in (0, 1], got {headroom}")
    finn_part = part.name if part.family == "xilinx" else DEFAULT_PART
    nodes = layer_nodes(ir, hw_model)
    cache: dict[tuple, dict[str, Any]] = {}
    tried = 0

    def totals(folded: DataflowIR) -> tuple[int, int]:
        nonlocal tried
        tried += 1
        lut = bram = 0
        for layer in folded.layers:
            key = (layer.name, tuple(sorted(layer.folding().items())))
            if key not in cache:
                cache[key] = estimate_layer(layer, nodes[layer.name], finn_part)
            lut += cache[key]["lut"]
            bram += cache[key]["bram18"]
        return lut, bram

    options = layer_options(ir)
    budgets = candidate_cycles(ir, options)  # ascending; the first is the fastest reachable II
    slowest = fold_for_budget(ir, budgets[-1], options)
    lut, bram = totals(slowest)
    if not part.fits(lut, bram, headroom):
        util = part.utilisation(lut, bram)
        raise CompileError(
            f"{ir.name} does not fit {part.name} ({part.note}) even with every layer fully "
            f"folded (PE = SIMD = 1): FINN estimates {100 * util['lut']:.0f} % of its "
            f"{part.lut_unit}s and {100 * util['bram']:.0f} % of its {part.bram_unit}s (at most "
            f"{100 * headroom:.0f} % allowed); choose a larger part with --part, or a smaller "
            "network")
    best, best_res = slowest, (lut, bram)
    lo, hi = 0, len(budgets) - 1  # budgets[hi] fits
    while lo < hi:
        mid = (lo + hi) // 2
        folded = fold_for_budget(ir, budgets[mid], options)
        res = totals(folded)
        if part.fits(*res, headroom):
            hi, best, best_res = mid, folded, res
        else:
            lo = mid + 1
    return Fit(ir=best, part=part, headroom=headroom, lut_finn=best_res[0],
               bram18_finn=best_res[1], candidates_tried=tried)
