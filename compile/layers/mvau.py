"""MVAU: the matrix-vector-activation unit (FINN's MatrixVectorActivation).

Binary weights W (mh × mw, bit 1 = +1). Two modes:
- XNOR (BIPOLAR input): acc = popcount(XNOR(x, w)) over the mw bits, in [0, mw]. The bipolar
  dot product is 2·acc − mw; FINN folds that affine map into the thresholds.
- first layer (INTk/UINTk input, binary weights): acc = Σ (2w−1)·x, a signed integer.
Then either thresholds (out = #{k: acc >= T[c,k]} + act_val, BIPOLAR when one threshold) or
no activation (out = acc, the last layer). Folding: PE rows and SIMD columns per cycle; the
input vector is read once per pixel and reused for the mh/pe row folds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.ir.datatypes import DataType, smallest_type
from xnorflow.compile.layers.base import Layer, LayerError, divisors
from xnorflow.compile.layers.thresholding import threshold_counts


@dataclasses.dataclass(frozen=True, eq=False)
class MVAU(Layer):
    kind = "mvau"

    pixels: int = 1
    mw: int = 1
    mh: int = 1
    weights: np.ndarray = None  # (mh, mw) uint8 bits, 1 = +1
    thresholds: np.ndarray = None  # (mh, T) int64 ascending; T = 0 means no activation
    act_val: int = 0
    pe: int = 1
    simd: int = 1

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        if w.shape != (self.mh, self.mw) or not np.isin(w, (0, 1)).all():
            raise LayerError(
                f"layer {self.name!r}: weights must be ({self.mh}, {self.mw}) bits, got {w.shape}"
            )
        t = np.zeros((self.mh, 0), np.int64) if self.thresholds is None else self.thresholds
        t = np.asarray(t, dtype=np.int64)
        if t.ndim != 2 or t.shape[0] != self.mh:
            raise LayerError(
                f"layer {self.name!r}: thresholds must be ({self.mh}, T), got {t.shape}"
            )
        if t.shape[1] > 1 and np.any(np.diff(t, axis=1) < 0):
            raise LayerError(f"layer {self.name!r}: thresholds must be ascending per row")
        if self.in_dtype.bits == 1 and not self.in_dtype.bipolar:
            raise LayerError(f"layer {self.name!r}: BINARY input is not supported, use BIPOLAR")
        object.__setattr__(self, "weights", w.astype(np.uint8))
        object.__setattr__(self, "thresholds", t)

    @property
    def xnor(self) -> bool:
        return self.in_dtype.bipolar

    @property
    def has_activation(self) -> bool:
        return self.thresholds.shape[1] > 0

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.pixels, self.mw)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.pixels, self.mh)

    @property
    def in_fold(self) -> int:
        return self.simd

    @property
    def out_fold(self) -> int:
        return self.pe

    def acc_range(self) -> tuple[int, int]:
        if self.xnor:
            return 0, self.mw
        bound = self.mw * max(abs(self.in_dtype.min()), abs(self.in_dtype.max()))
        return -bound, bound

    def acc_dtype(self) -> DataType:
        return smallest_type(*self.acc_range())

    def folding(self) -> dict[str, int]:
        return {"PE": self.pe, "SIMD": self.simd}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"PE": divisors(self.mh), "SIMD": divisors(self.mw)}

    def exp_cycles(self) -> int:
        return self.pixels * (self.mh // self.pe) * (self.mw // self.simd)

    def weight_bits(self) -> int:
        thr_bits = self.acc_dtype().bits + 1
        return self.mw * self.mh + int(self.thresholds.size) * thr_bits

    def accumulate(self, x: np.ndarray) -> np.ndarray:
        """(N, pixels, mw) → (N, pixels, mh) accumulators, bit-exact."""
        x = self.check_input(x)
        n = x.shape[0]
        rows = x.reshape(n * self.pixels, self.mw)
        if self.xnor:
            acc = self.mw - mismatch_counts(pack_rows(rows), pack_rows(self.weights))
        else:
            # integer products; float64 is exact for |acc| < 2**53, far beyond any layer here
            w = 2.0 * self.weights.astype(np.float64) - 1.0
            acc = np.rint(rows.astype(np.float64) @ w.T).astype(np.int64)
        return acc.reshape(n, self.pixels, self.mh)

    def reference(self, x: np.ndarray) -> np.ndarray:
        acc = self.accumulate(x)
        if not self.has_activation:
            return acc
        return threshold_counts(acc, self.thresholds) + self.act_val


def pack_rows(bits: np.ndarray) -> np.ndarray:
    """(R, n) array of {0,1} → (R, ceil(n/64)) uint64 words, bit i of a row at word i//64, bit i%64.

    Padding bits are 0 in every row, so XOR of two padded rows has no stray ones. (Packs to
    bytes first, then pads whole bytes to whole words: 8x less copying than padding bits.)
    """
    bits = np.asarray(bits)
    r, n = bits.shape
    n_words = -(-n // 64)
    packed = np.packbits(bits.astype(np.uint8, copy=False), axis=1, bitorder="little")
    if packed.shape[1] != n_words * 8:
        padded = np.zeros((r, n_words * 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        packed = padded
    return np.ascontiguousarray(packed).view("<u8").reshape(r, n_words)


def mismatch_counts(xw: np.ndarray, ww: np.ndarray, budget: int = 1 << 14) -> np.ndarray:
    """popcount(x XOR w) for every (row of x, row of w): (R, words), (M, words) → (R, M).

    Word by word: XOR one 64-bit word of every x row with that word of every w row, popcount,
    accumulate in a narrow integer; `budget` bounds the (rows × M) block held at once.
    """
    r, words = xw.shape
    m = ww.shape[0]
    out = np.empty((r, m), dtype=np.int64)
    wt = np.ascontiguousarray(ww.T)
    acc_type = np.uint16 if words * 64 < (1 << 16) else np.uint32
    step = max(1, budget // max(1, m))
    for s in range(0, r, step):
        xs = xw[s : s + step]
        acc = np.zeros((xs.shape[0], m), dtype=acc_type)
        tmp = np.empty((xs.shape[0], m), dtype=np.uint64)
        cnt = np.empty((xs.shape[0], m), dtype=np.uint8)
        for k in range(words):
            np.bitwise_xor(xs[:, k, None], wt[k][None, :], out=tmp)
            np.bitwise_count(tmp, out=cnt)
            acc += cnt
        out[s : s + step] = acc
    return out
