"""The latency of hw_templates/rtl/popcount.sv, for sizing the MVAU's output FIFO.

The template's heap rule written again in Python (tests/rtl/test_templates.py checks it
against the RTL): 6:3 counters on every column of three or more bits, one or two bits left
over pass on; in XNOR mode level 0 is a full adder per three lanes. The full adders, each
heap level and the final adder are one LUT step each, with a register after every
`levels_per_stage` steps and on the sum.
"""

from __future__ import annotations


def heap_levels(n: int, xnor: bool = False) -> int:
    """Levels of the bit heap for n bits (after the full adders in XNOR mode)."""
    width = n.bit_length()

    def produced(h: int, k: int) -> int:
        if h <= 2:
            return h if k == 0 else 0
        r = h % 6
        if r >= 3:
            return h // 6 + (k < (3 if r >= 4 else 2))
        return h // 6 + (r if k == 0 else 0)

    heights, levels = [n] + [0] * width, 0
    if xnor:
        heights[:2] = [n // 3 + n % 3, n // 3]
    while max(heights) > 3:
        heights = [sum(produced(heights[d - k], k) for k in range(3) if d >= k)
                   for d in range(width)]
        levels += 1
    return levels


def popcount_latency(n: int, xnor: bool, levels_per_stage: int = 2) -> int:
    """Cycles from the popcount's input to its registered sum."""
    return -(-(int(xnor) + heap_levels(n, xnor) + 1) // levels_per_stage)
