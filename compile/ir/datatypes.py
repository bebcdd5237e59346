"""Integer datatypes of the dataflow IR (a small, FINN-compatible subset).

Values travel through the IR, the reference executor and the hardware as integers. A BIPOLAR
value is carried as one bit: bit 1 means +1, bit 0 means -1 (FINN's convention), so the
reference executor, the RTL and the HLS code all see {0, 1} for bipolar tensors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DataType:
    """An integer datatype: `bits` wide, signed or not; `bipolar` means {-1,+1} stored as 1 bit."""

    name: str
    bits: int
    signed: bool
    bipolar: bool = False

    @staticmethod
    def parse(name: str) -> DataType:
        """FINN's names: BIPOLAR, BINARY, UINTk, INTk."""
        name = name.upper()
        if name == "BIPOLAR":
            return DataType("BIPOLAR", 1, signed=False, bipolar=True)
        if name == "BINARY":
            return DataType("BINARY", 1, signed=False)
        m = re.fullmatch(r"(U?)INT(\d+)", name)
        if m and 1 <= int(m.group(2)) <= 64:
            return DataType(name, int(m.group(2)), signed=not m.group(1))
        raise ValueError(f"unsupported datatype {name!r}: expected BIPOLAR, BINARY, UINTk or INTk")

    def min(self) -> int:
        """Smallest stored value (bipolar values are stored as bits)."""
        return -(1 << (self.bits - 1)) if self.signed else 0

    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def value_min(self) -> int:
        """Smallest represented value: -1 for BIPOLAR."""
        return -1 if self.bipolar else self.min()

    def decode(self, stored: np.ndarray) -> np.ndarray:
        """Stored integers → represented values (bipolar bit b → 2b−1)."""
        stored = np.asarray(stored, dtype=np.int64)
        return 2 * stored - 1 if self.bipolar else stored

    def check(self, stored: np.ndarray, what: str) -> None:
        """Raise ValueError if any stored value lies outside the type."""
        stored = np.asarray(stored)
        if stored.size and (stored.min() < self.min() or stored.max() > self.max()):
            raise ValueError(
                f"{what}: values in [{stored.min()}, {stored.max()}] do not fit {self.name} "
                f"([{self.min()}, {self.max()}])"
            )

    def __str__(self) -> str:
        return self.name


BIPOLAR = DataType.parse("BIPOLAR")
BINARY = DataType.parse("BINARY")


def smallest_type(lo: int, hi: int) -> DataType:
    """The narrowest UINTk/INTk that holds every integer in [lo, hi]."""
    if lo >= 0:
        return DataType.parse(f"UINT{max(1, int(hi).bit_length())}")
    bits = max(int(-lo - 1).bit_length(), int(hi).bit_length()) + 1
    return DataType.parse(f"INT{bits}")
