"""MVAU: the matrix-vector-activation unit (FINN's MatrixVectorActivation).

Weights W (mh × mw) of `weight_dtype`: BIPOLAR (stored as bits, 1 = +1) or a signed INTk
(k ≤ 8, stored as the integers). Two modes:
- XNOR (BIPOLAR input and weights): acc = popcount(XNOR(x, w)) over the mw bits, in [0, mw].
  The bipolar dot product is 2·acc − mw; FINN folds that affine map into the thresholds.
- multiply-accumulate (INTk/UINTk input, any weights): acc = Σ w·x, a signed integer (a binary
  weight multiplies by ±1). Bipolar activations that meet multi-bit weights, zero padding or a
  global pool arrive here as INT2 {−1, +1} (compile/frontend/finn_passes.py).
Then either thresholds (out = #{k: acc >= T[c,k]} + act_val, BIPOLAR when one threshold) or
no activation (out = acc, the last layer). Folding: PE rows and SIMD columns per cycle; the
input vector is read once per pixel and reused for the mh/pe row folds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.frontend.finn_attrs import expand_thresholds, ir_dtype, node_attrs
from xnorflow.compile.hls import common as hls
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType, smallest_type
from xnorflow.compile.layers.base import Layer, LayerError, divisors
from xnorflow.compile.layers.thresholding import threshold_counts
from xnorflow.compile.rtl import common as rtl
from xnorflow.compile.rtl.popcount import popcount_latency

# the FIFO before a row-folded MVAU (compile/ir/glue.py): SF beats, capped at 256 beats or,
# for narrow beats, at what 64 kbit hold (an FC layer after a conv stack: SF in the thousands)
MAX_INPUT_FIFO = 256
MAX_INPUT_FIFO_BITS = 1 << 16
# one threshold per channel over at most this many row folds: a ROM of -T read from logic
# into the accumulator (mvau.sv THRESH_BIAS); deeper threshold memories stay block RAM
THRESH_BIAS_MAX_FOLDS = 64
# mvau.sv's output FIFO: its default entries, and the pipeline stages beside the popcount it
# covers besides the popcount's own (at most 3 before it, with block RAM; 4 after)
OUT_FIFO_DEPTH = 12
STAGES_BESIDE_POPCOUNT = 7
# where the weights live (a folding file's ram_style, FINN's names): auto = a ROM in LUTs up
# to LUTROM_DEPTH words (mvau.sv), else block RAM; block = block RAM; distributed = LUTs
RAM_STYLES = ("auto", "block", "distributed")


@dataclasses.dataclass(frozen=True, eq=False)
class MVAU(Layer):
    kind = "mvau"
    finn_ops = {"MVAU": "hls"}

    pixels: int = 1
    mw: int = 1
    mh: int = 1
    weights: np.ndarray = None  # (mh, mw): bits (1 = +1) for BIPOLAR, else signed integers
    thresholds: np.ndarray = None  # (mh, T) int64 ascending; T = 0 means no activation
    act_val: int = 0
    pe: int = 1
    simd: int = 1
    weight_dtype: DataType = BIPOLAR
    ram_style: str = dataclasses.field(default="auto", metadata={"omit_default": True})

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        wdt = self.weight_dtype
        if w.shape != (self.mh, self.mw):
            raise LayerError(
                f"layer {self.name!r}: weights must be ({self.mh}, {self.mw}), got {w.shape}")
        if not (wdt.bipolar or (wdt.signed and 2 <= wdt.bits <= 8)):
            raise LayerError(f"layer {self.name!r}: weight type {wdt} is not supported; weights "
                             "are BIPOLAR or signed INT2..INT8")
        if w.size and (w.min() < wdt.min() or w.max() > wdt.max()):
            raise LayerError(f"layer {self.name!r}: weights in [{w.min()}, {w.max()}] do not fit "
                             f"{wdt} (stored values [{wdt.min()}, {wdt.max()}])")
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
        if self.in_dtype.bipolar and not wdt.bipolar:
            raise LayerError(f"layer {self.name!r}: BIPOLAR input with {wdt} weights; the "
                             "frontend re-types such activations as INT2")
        object.__setattr__(self, "weights", w.astype(np.uint8 if wdt.bipolar else np.int8))
        object.__setattr__(self, "thresholds", t)

    @property
    def xnor(self) -> bool:
        return self.in_dtype.bipolar and self.weight_dtype.bipolar

    @property
    def weight_values(self) -> np.ndarray:
        """The weights as the integers they stand for (bipolar bit b → 2b − 1)."""
        return self.weight_dtype.decode(self.weights)

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
        xs = (self.in_dtype.value_min(), self.in_dtype.max())
        ws = (self.weight_dtype.value_min(), self.weight_dtype.max())
        products = [x * w for x in xs for w in ws]
        return self.mw * min(products), self.mw * max(products)

    def acc_dtype(self) -> DataType:
        return smallest_type(*self.acc_range())

    def folding(self) -> dict[str, int]:
        return {"PE": self.pe, "SIMD": self.simd}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"PE": divisors(self.mh), "SIMD": divisors(self.mw)}

    def styles(self) -> dict[str, str]:
        return {"ram_style": self.ram_style}

    def style_options(self) -> dict[str, tuple[str, ...]]:
        return {"ram_style": RAM_STYLES}

    def exp_cycles(self) -> int:
        return self.pixels * (self.mh // self.pe) * (self.mw // self.simd)

    def input_fifo_depth(self) -> int:
        """With NF > 1 row folds a vector's SF beats are taken in a burst (fold 0), then none
        for (NF-1)·SF cycles: a FIFO of SF beats keeps the producer running (at most
        MAX_INPUT_FIFO beats, or more narrow ones up to MAX_INPUT_FIFO_BITS; beyond that the
        producer waits and the II grows). A vector of one beat (SF = 1) waits in the unit's
        own vector register (hw_templates/rtl/mvau.sv): no FIFO."""
        if self.mh // self.pe > 1 and self.mw > self.simd:
            cap = max(MAX_INPUT_FIFO, MAX_INPUT_FIFO_BITS // self.in_width)
            return min(cap, max(2, self.mw // self.simd))
        return 0

    def lag_pixels(self) -> float:
        """One pixel more than a plain layer's with SF = 1: the vector register."""
        return super().lag_pixels() + (1.0 if self.mw == self.simd else 0.0)

    def weight_bits(self) -> int:
        thr_bits = self.acc_dtype().bits + 1
        return self.mw * self.mh * self.weight_dtype.bits + int(self.thresholds.size) * thr_bits

    def accumulate(self, x: np.ndarray) -> np.ndarray:
        """(N, pixels, mw) → (N, pixels, mh) accumulators, bit-exact."""
        x = self.check_input(x)
        n = x.shape[0]
        rows = x.reshape(n * self.pixels, self.mw)
        if self.xnor:
            acc = self.mw - mismatch_counts(pack_rows(rows), pack_rows(self.weights))
        else:
            # integer products; float64 is exact for |acc| < 2**53, far beyond any layer here
            w = self.weight_values.astype(np.float64)
            acc = np.rint(rows.astype(np.float64) @ w.T).astype(np.int64)
        return acc.reshape(n, self.pixels, self.mh)

    def reference(self, x: np.ndarray) -> np.ndarray:
        acc = self.accumulate(x)
        if not self.has_activation:
            return acc
        return threshold_counts(acc, self.thresholds) + self.act_val

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def read_finn(cls, reader, node, nxt):
        """FINN stores weights as (MW, MH); the IR as (MH, MW). In XNOR mode FINN's weights
        are BINARY {0, 1} already (ConvertBipolarMatMulToXnorPopcount); otherwise weights of
        only ±1 become bipolar bits (w + 1) / 2 and other weights stay signed integers of
        FINN's type. Negative BatchNorm scales were absorbed by FINN into the weights' signs."""
        a = node_attrs(node)
        mw, mh = int(a["MW"]), int(a["MH"])
        w = np.asarray(reader.init(node.input[1]), dtype=np.float64)
        if w.shape != (mw, mh):
            raise reader.fail(node, f"has weights of shape {w.shape}, expected (MW, MH)=({mw}, "
                              f"{mh})")
        wdt, idt = a["weightDataType"], a["inputDataType"]
        if int(a.get("binaryXnorMode", 0)) == 1:
            if not np.isin(w, (0, 1)).all():
                raise reader.fail(node, "is in XNOR mode but its weights are not {0, 1}")
            stored, w_dt, in_dt = w.T, BIPOLAR, BIPOLAR
        else:
            if idt in ("BINARY", "BIPOLAR"):
                raise reader.fail(node, f"takes {idt} input without XNOR mode; unsigned 1-bit "
                                  "activations are not supported, use bipolar (sign) activations")
            in_dt = DataType.parse(idt)
            if np.isin(w, (-1, 1)).all():  # binary, whatever FINN's type (an INT2 ±1 layer)
                stored, w_dt = (w.T + 1) / 2, BIPOLAR
            else:
                w_dt = DataType.parse(wdt) if wdt != "BIPOLAR" else BIPOLAR
                if w_dt.bipolar or not w_dt.signed or w_dt.bits > 8 \
                        or not np.array_equal(w, np.round(w)):
                    raise reader.fail(node, f"has {wdt} weights; supported: binary (bipolar) or "
                                      "signed integer weights of 2..8 bits")
                stored = w.T
        pixels = int(np.prod(a.get("numInputVectors", [1])))
        no_act = int(a.get("noActivation", 0)) == 1 or len(node.input) < 3
        stored = np.rint(stored).astype(np.int64)
        probe = cls(name=node.name, in_dtype=in_dt, out_dtype=BIPOLAR, pixels=pixels, mw=mw,
                    mh=mh, weights=stored, thresholds=None, weight_dtype=w_dt)
        if no_act:
            thr, out_dt, act_val = None, probe.acc_dtype(), 0
        else:
            lo, hi = probe.acc_range()
            thr = expand_thresholds(reader.init(node.input[2]), mh,
                                    f"{reader.source}: {node.name}")
            thr = np.clip(thr, lo, hi + 1)
            out_dt, act_val = ir_dtype(a["outputDataType"]), int(a.get("ActVal", 0))
        return cls(name=node.name, in_dtype=in_dt, out_dtype=out_dt, pixels=pixels, mw=mw,
                   mh=mh, weights=stored, thresholds=thr, act_val=act_val, pe=1, simd=1,
                   weight_dtype=w_dt), [node]

    # --- RTL -----------------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        sf, nf = self.mw // self.simd, self.mh // self.pe
        lo, hi = self.acc_range()
        acc_bits = rtl.signed_bits(lo, hi + 1)
        obits = self.out_dtype.bits
        if not self.has_activation:
            acc_bits = max(acc_bits, obits)
        # weight word nf*SF+sf holds W[nf*PE+p][sf*SIMD+s] as field p*SIMD+s of WBITS bits
        wbits = self.weight_dtype.bits
        w = self.weights.reshape(nf, self.pe, sf, self.simd).transpose(0, 2, 1, 3)
        words = rtl.hex_words(w.reshape(nf * sf, -1), wbits)
        bank_depth = options.bank_depth or rtl.weight_bank_depth(self.pe * self.simd * wbits)
        memory = {}
        if self.ram_style == "block":
            memory["LUTROM_DEPTH"] = 0
        elif self.ram_style == "distributed":  # one bank, a ROM in LUTs however deep
            bank_depth = max(bank_depth, 1 << (nf * sf - 1).bit_length())
            memory["LUTROM_DEPTH"] = nf * sf
        for b, start in enumerate(range(0, len(words), bank_depth)):
            rtl.write_mem(folder, f"{ident}_w_{b:03d}.mem", words[start:start + bank_depth])
        n_thr = self.thresholds.shape[1]
        params = {
            "MW": self.mw, "MH": self.mh, "PE": self.pe, "SIMD": self.simd,
            "XNOR": int(self.xnor), "IBITS": self.in_dtype.bits, "WBITS": wbits,
            "IN_SIGNED": int(self.in_dtype.signed), "ACC_BITS": acc_bits, "N_THR": n_thr,
            "OBITS": obits, "ACT_VAL": int(self.act_val),
            "WEIGHT_PREFIX": f"mem/{ident}_w", "WBANK_DEPTH": bank_depth, **memory,
        }
        if self.xnor:
            # a popcount deeper than the default FIFO covers (mvau.sv MAX_LATENCY)
            depth = popcount_latency(self.simd, True) + STAGES_BESIDE_POPCOUNT
            if depth > OUT_FIFO_DEPTH:
                params["OUT_FIFO_DEPTH"] = depth
        if n_thr:
            t = rtl.clipped_thresholds(self.thresholds, lo, hi)
            if n_thr == 1 and nf <= THRESH_BIAS_MAX_FOLDS:
                # one threshold: the accumulator starts at -T and the activation is its sign
                # (mvau.sv THRESH_BIAS), the -T ROM read from logic beside the accumulator
                params["THRESH_BIAS"] = 1
                t, field_bits = -t, acc_bits + 1
            else:
                field_bits = acc_bits
            params["THRESH_FILE"] = rtl.write_mem(
                folder, f"{ident}_t.mem",
                rtl.hex_words(t.reshape(nf, self.pe * n_thr), field_bits))
        return rtl.Instance("mvau", ident, params, self.in_width, self.out_width)

    # --- HLS -----------------------------------------------------------------------------
    def weight_words(self) -> list[list[int]]:
        """Weights as [pe][nf * SF + sf] words of SIMD fields of w_bits, the order the HLS
        kernel reads them: W (mh, mw) → (NF, PE, SF, SIMD) with row o = nf·PE + p and column
        sf·SIMD + j → transpose to (PE, NF, SF, SIMD) → each SIMD group becomes an integer,
        field j (two's complement) = column j.
        """
        pe, simd, wbits = self.pe, self.simd, self.weight_dtype.bits
        nf, sf = self.mh // pe, self.mw // simd
        w = self.weights.astype(np.int64).reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3)
        bits = (w[..., None] >> np.arange(wbits)) & 1  # two's complement, LSB first
        bits = bits.reshape(pe, nf * sf, simd * wbits).astype(np.uint8)
        nbytes = -(-simd * wbits // 8)
        padded = np.zeros((pe, nf * sf, nbytes * 8), np.uint8)
        padded[..., :simd * wbits] = bits
        packed = np.packbits(padded, axis=-1, bitorder="little")
        return [[int.from_bytes(bytes(word), "little") for word in row] for row in packed]

    def hls_emit(self, name):
        lo, hi = self.acc_range()
        t = self.thresholds
        n_thr = int(t.shape[1])
        thr_dim = max(n_thr, 1)
        if n_thr:
            thr_bits = hls.signed_bits(min(int(t.min()), lo), max(int(t.max()), hi + 1))
            thr = hls.interleave_thresholds(t, self.pe)
        else:  # no activation: the kernel ignores this array; C++ has no zero-length arrays
            thr_bits = 2
            thr = np.zeros((self.pe, self.mh // self.pe, 1), np.int64)
        nf, sf = self.mh // self.pe, self.mw // self.simd
        words = np.empty((self.pe, nf * sf), dtype=object)
        words[:] = self.weight_words()
        wword = self.simd * self.weight_dtype.bits
        word = (lambda v: f"0x{v:x}ULL") if wword <= 64 else \
            (lambda v: f'ap_uint<{wword}>("{v:x}", 16)')
        cfg = f"""struct {name}_config : xnorflow::mvau_config {{
    static const unsigned pixels = {self.pixels};
    static const unsigned mw = {self.mw};
    static const unsigned mh = {self.mh};
    static const unsigned pe = {self.pe};
    static const unsigned simd = {self.simd};
    static const bool xnor = {"true" if self.xnor else "false"};
    static const unsigned in_bits = {self.in_dtype.bits};
    static const unsigned w_bits = {self.weight_dtype.bits};
    static const unsigned out_bits = {self.out_dtype.bits};
    static const unsigned n_thresholds = {n_thr};
    static const unsigned thr_dim = {thr_dim};
    static const int act_val = {self.act_val};
    typedef {hls.c_type(self.in_dtype)} in_t;
    typedef ap_int<{hls.signed_bits(lo, hi)}> acc_t;
    typedef ap_int<{thr_bits}> thr_t;
    static const unsigned thr_bits = {thr_bits};
    typedef ap_int<{hls.count_bits(n_thr, self.act_val)}> count_t;
}};

// weights[p][nf * {sf} + sf] field j = W[nf * {self.pe} + p][sf * {self.simd} + j]
static const xnorflow::uint_rom<{wword}>::type {name}_weights[{self.pe}][{nf * sf}] = \
{hls.nested(words, word)};

static const xnorflow::int_rom<{thr_bits}>::type {name}_thresholds[{self.pe}][{nf}][{thr_dim}] = \
{hls.nested(thr, hls.int_literal)};
"""
        return cfg, (f"xnorflow::mvau<{name}_config>({{i}}, {{o}}, {name}_weights, "
                     f"{name}_thresholds);")


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
