"""What the RTL writers of the layers share: the instance record, memory files, number formats.

Each layer plugin (compile/layers/) turns its record into an `Instance` of its template
(`rtl_template`, hw_templates/rtl/) with `rtl_instance(ident, folder, options)`; the top
(compile/rtl/codegen.py) wires the instances with streams.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.stream import pack_beats

# (depth, width) shapes of one 16/18-Kbit block RAM (ECP5 DP16KD, Xilinx RAMB18)
BRAM_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


class RtlError(CompileError, ValueError):
    """The IR holds something the RTL backend cannot build; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class RtlOptions:
    """Choices of the RTL writers. bank_depth: words per MVAU weight bank (a power of two;
    None: one block RAM deep, weight_bank_depth); the tests make it small."""

    bank_depth: int | None = None


@dataclasses.dataclass
class Instance:
    """One template instance of the top: module name, instance name, parameters, widths."""

    module: str
    name: str
    params: dict[str, Any]
    in_w: int
    out_w: int
    layer: str = ""
    kind: str = ""
    # the streams it takes and gives, by port (the top's wiring; set by compile/rtl/codegen.py)
    inputs: list[str] = dataclasses.field(default_factory=list)
    outputs: list[str] = dataclasses.field(default_factory=list)


def signed_bits(lo: int, hi: int) -> int:
    """Bits of a two's complement number holding every integer in [lo, hi]."""
    return max(int(-min(lo, 0) - 1).bit_length(), int(max(hi, 0)).bit_length()) + 1


def clipped_thresholds(thresholds: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Clip thresholds into [lo, hi + 1] for inputs in [lo, hi]: every `x >= T` stays the same
    (T > hi is never reached, as hi + 1 is not; T <= lo is always reached, as lo is)."""
    return np.clip(np.asarray(thresholds, dtype=np.int64), lo, hi + 1)


def hex_words(values: np.ndarray, bits: int) -> list[str]:
    """(words, fields) integers → one hex string per word, field i at bits [i*bits, (i+1)*bits)."""
    values = np.asarray(values, dtype=np.int64)
    per_word = values.shape[1]
    packed = pack_beats(values, bits, per_word)[:, 0, :]  # (words, bytes), little-endian
    digits = -(-bits * per_word // 4)
    return [format(int.from_bytes(bytes(row), "little"), f"0{digits}x") for row in packed]


def ident(name: str) -> str:
    """A SystemVerilog identifier for a layer name."""
    out = re.sub(r"\W", "_", name)
    return out if re.match(r"[A-Za-z_]", out) else f"l_{out}"


def write_mem(folder: Path, name: str, lines: list[str]) -> str:
    """Write a $readmemh file under folder/mem; returns its path relative to the rtl folder."""
    (folder / "mem").mkdir(parents=True, exist_ok=True)
    rel = f"mem/{name}"
    (folder / rel).write_text("\n".join(lines) + "\n")
    return rel


def weight_bank_depth(width: int) -> int:
    """Words per MVAU weight bank for words of ``width`` bits: one block RAM deep.

    The deepest block-RAM shape that holds a whole word in one column (512 x 36 for words of
    36 bits and more, which then take several columns): a bank maps to block RAMs without a
    depth cascade (no multiplexer inside a bank), the template selects among the banks in two
    registered steps (hw_templates/rtl/mvau.sv), and narrow memories keep few banks.
    """
    return next((d for d, w in BRAM_SHAPES if w >= width), BRAM_SHAPES[-1][0])
