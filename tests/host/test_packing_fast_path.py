"""compile/stream.py's whole-byte fast path (added for the host's hot path) against an oracle.

The oracle builds each beat as a Python int, value k at bits [k*bits, (k+1)*bits), and takes
its little-endian bytes: the format's definition, independent of either numpy path.
"""

from __future__ import annotations

import numpy as np
import pytest

from xnorflow.compile import stream


def _oracle(values: np.ndarray, bits: int, per_beat: int) -> np.ndarray:
    n, count = values.shape
    nbytes = stream.beat_bytes(bits, per_beat)
    out = np.zeros((n, count // per_beat, nbytes), np.uint8)
    for i in range(n):
        for j in range(count // per_beat):
            word = sum((int(values[i, j * per_beat + k]) & ((1 << bits) - 1)) << (k * bits)
                       for k in range(per_beat))
            out[i, j] = list(word.to_bytes(nbytes, "little"))
    return out


@pytest.mark.parametrize("bits", [1, 2, 7, 8, 12, 16, 32])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("per_beat", [1, 3, 4])
def test_pack_beats_matches_the_definition(bits, signed, per_beat):
    rng = np.random.default_rng(bits * 10 + per_beat)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    values = rng.integers(lo, hi, size=(3, per_beat * 5), dtype=np.int64)
    beats = stream.pack_beats(values, bits, per_beat)
    np.testing.assert_array_equal(beats, _oracle(values, bits, per_beat))
    np.testing.assert_array_equal(stream.unpack_beats(beats, bits, per_beat, signed), values)
