"""Thresholding: the multi-threshold activation (FINN's Thresholding / MultiThreshold).

out[p, c] = #{k : x[p, c] >= T[c, k]} + act_val. A BIPOLAR output has one threshold per
channel and act_val 0: the bit is (x >= T). The input quantizer of a network is one of these.
A channel in `negated` compares −x instead: its activation falls as x rises (a BatchNorm with a
negative scale where no layer before could take the sign: after a fork, a join, a pool).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.finn_attrs import expand_thresholds, ir_dtype, node_attrs
from xnorflow.compile.hls import common as hls
from xnorflow.compile.layers.base import Layer, LayerError, Pixelwise
from xnorflow.compile.rtl import common as rtl


@dataclasses.dataclass(frozen=True, eq=False)
class Thresholding(Pixelwise, Layer):
    kind = "thresholding"
    finn_ops = {"Thresholding": "hls"}

    pixels: int = 1
    channels: int = 1
    thresholds: np.ndarray = None  # (channels, n_thresholds) int64, ascending per row
    act_val: int = 0
    pe: int = 1
    negated: tuple[int, ...] = dataclasses.field(default=(), metadata={"omit_default": True})

    def __post_init__(self) -> None:
        negated = tuple(sorted(int(c) for c in self.negated))
        if any(not 0 <= c < self.channels for c in negated) or len(set(negated)) < len(negated):
            raise LayerError(f"layer {self.name!r}: negated channels {negated} are not distinct "
                             f"channels of {self.channels}")
        object.__setattr__(self, "negated", negated)
        t = np.asarray(self.thresholds, dtype=np.int64)
        if t.ndim != 2 or t.shape[0] != self.channels:
            raise LayerError(
                f"layer {self.name!r}: thresholds must be ({self.channels}, T), got {t.shape}"
            )
        if t.shape[1] > 1 and np.any(np.diff(t, axis=1) < 0):
            raise LayerError(f"layer {self.name!r}: thresholds must be ascending per channel")
        object.__setattr__(self, "thresholds", t)

    @property
    def n_thresholds(self) -> int:
        return int(self.thresholds.shape[1])

    def exp_cycles(self) -> int:
        return self.pixels * self.channels // self.pe

    def weight_bits(self) -> int:
        return int(self.thresholds.size) * self.threshold_bits()

    def threshold_bits(self) -> int:
        """Bits to store one threshold: enough for the compared range plus one."""
        lo, hi = self.compared_range()
        lo = min(int(self.thresholds.min()), lo)
        hi = max(int(self.thresholds.max()), hi + 1)
        return max(int(-lo - 1).bit_length(), int(hi).bit_length()) + 1

    def negated_mask(self) -> np.ndarray:
        """(channels,) bool: the channels that compare −x."""
        mask = np.zeros(self.channels, dtype=bool)
        mask[list(self.negated)] = True
        return mask

    def compared_range(self) -> tuple[int, int]:
        """The values the comparators see: the input's range, and its negation's if any."""
        lo, hi = self.in_dtype.min(), self.in_dtype.max()
        return (min(lo, -hi), max(hi, -lo)) if self.negated else (lo, hi)

    def compared_thresholds(self) -> np.ndarray:
        """The thresholds clipped into each channel's compared range [lo, hi + 1] (every
        comparison stays the same: see rtl.clipped_thresholds)."""
        lo, hi = self.in_dtype.min(), self.in_dtype.max()
        return np.where(self.negated_mask()[:, None],
                        rtl.clipped_thresholds(self.thresholds, -hi, -lo),
                        rtl.clipped_thresholds(self.thresholds, lo, hi))

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        if self.negated:
            x = np.where(self.negated_mask(), -x, x)
        return threshold_counts(x, self.thresholds) + self.act_val

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def read_finn(cls, reader, node, nxt):
        """A Mul by ±1 per channel before the node (signs_before_thresholds) is the negated
        channels: the layer reads the Mul's input and FINN's thresholds compare its output."""
        from xnorflow.compile.frontend.finn_passes import sign_vector
        from xnorflow.compile.frontend.from_finn import signs_before_thresholds

        a = node_attrs(node)
        ch = int(a["NumChannels"])
        thr = expand_thresholds(reader.init(node.input[1]), ch, f"{reader.source}: {node.name}")
        in_dt = ir_dtype(a["inputDataType"])
        negated: tuple[int, ...] = ()
        signs = reader.model.find_producer(node.input[0])
        if signs is not None and signs_before_thresholds(reader.model, signs):
            c = sign_vector(reader.model, signs).reshape(-1)
            if c.size not in (1, ch):
                raise reader.fail(signs, f"has {c.size} signs for {ch} channels")
            negated = tuple(int(i) for i in np.flatnonzero(np.broadcast_to(c, (ch,)) < 0))
            in_dt = ir_dtype(reader.model.get_tensor_datatype(signs.input[0]).name)
        if in_dt.bipolar:
            raise reader.fail(node, "thresholds bipolar values; only integer inputs are supported")
        return cls(name=node.name, in_dtype=in_dt, out_dtype=ir_dtype(a["outputDataType"]),
                   pixels=int(np.prod(a.get("numInputVectors", [1]))), channels=ch,
                   thresholds=thr, act_val=int(a.get("ActVal", 0)), pe=1,
                   negated=negated), [node]

    # --- RTL -----------------------------------------------------------------------------
    def use_table(self) -> bool:
        """Table mode for narrow inputs with many thresholds: a 2^bits-entry ROM per channel is
        cheaper than N_THR comparators (CNV's 8-bit input quantizer: 255 thresholds)."""
        return self.in_dtype.bits <= 8 and self.n_thresholds >= 8

    def table(self) -> np.ndarray:
        """(PE*CF*2^bits,) outputs: entry ((p*CF + cf) << bits) + v for stored input pattern v."""
        bits, cf, pe = self.in_dtype.bits, self.channels // self.pe, self.pe
        patterns = np.arange(1 << bits, dtype=np.int64)
        values = patterns - (1 << bits) * (patterns >= (1 << (bits - 1))) if self.in_dtype.signed \
            else patterns
        x = np.broadcast_to(values[:, None, None], (len(values), self.pixels, self.channels))
        out = self.reference(x.copy())[:, 0, :]  # (2^bits, channels)
        table = out.T.reshape(cf, pe, 1 << bits).transpose(1, 0, 2)  # (pe, cf, 2^bits)
        return table.reshape(-1)

    def rtl_instance(self, ident, folder, options):
        lo, hi = self.compared_range()
        tbits = rtl.signed_bits(lo, hi + 1)
        n_thr = self.n_thresholds
        if n_thr < 1:
            raise rtl.RtlError(f"layer {self.name!r}: a thresholding layer needs at least one "
                               "threshold")
        cf = self.channels // self.pe
        table = self.use_table()
        shared = False
        if table:
            words = rtl.hex_words(self.table().reshape(-1, 1), self.out_dtype.bits)
        else:
            t = self.compared_thresholds().reshape(cf, self.pe * n_thr)
            shared = bool((t == t[:1]).all())  # every fold the same: one word of constants
            words = rtl.hex_words(t[:1] if shared else t, tbits)
        params = {
            "CHANNELS": self.channels, "PE": self.pe, "IBITS": self.in_dtype.bits,
            "IN_SIGNED": int(self.in_dtype.signed), "TBITS": tbits, "N_THR": n_thr,
            "OBITS": self.out_dtype.bits, "ACT_VAL": int(self.act_val), "TABLE": int(table),
            "SHARED": int(shared),
        }
        if self.negated and not table:  # bit c: channel c compares −x (a table has it built in)
            params["NEG"] = sum(1 << c for c in self.negated)
        if shared:
            params["SHARED_T"] = int(words[0], 16)
        else:
            params["THRESH_FILE"] = rtl.write_mem(folder, f"{ident}_t.mem", words)
        return rtl.Instance("thresholding", ident, params, self.in_width, self.out_width)

    # --- HLS -----------------------------------------------------------------------------
    def hls_emit(self, name):
        t = self.thresholds
        if self.n_thresholds == 0:
            raise CompileError(f"layer {self.name!r}: a thresholding layer needs thresholds")
        lo, hi = self.compared_range()
        thr_bits = hls.signed_bits(min(int(t.min()), lo), max(int(t.max()), hi + 1))
        thr_init = hls.nested(hls.interleave_thresholds(t, self.pe), hls.int_literal)
        neg = hls.interleave_thresholds(self.negated_mask()[:, None], self.pe)[:, :, 0]
        cfg = f"""struct {name}_config : xnorflow::thresholding_config {{
    static const unsigned pixels = {self.pixels};
    static const unsigned channels = {self.channels};
    static const unsigned pe = {self.pe};
    static const unsigned n_thresholds = {self.n_thresholds};
    static const unsigned in_bits = {self.in_dtype.bits};
    static const unsigned out_bits = {self.out_dtype.bits};
    static const int act_val = {self.act_val};
    typedef {hls.c_type(self.in_dtype)} in_t;
    typedef ap_int<{thr_bits}> thr_t;
    static const unsigned thr_bits = {thr_bits};
    typedef ap_int<{hls.count_bits(self.n_thresholds, self.act_val)}> count_t;
    static const bool negates = {str(bool(self.negated)).lower()};
}};

static const xnorflow::int_rom<{thr_bits}>::type {name}_thresholds\
[{self.pe}][{self.channels // self.pe}][{self.n_thresholds}] = {thr_init};
static const bool {name}_negated[{self.pe}][{self.channels // self.pe}] = \
{hls.nested(neg, lambda v: "true" if v else "false")};
"""
        return cfg, (f"xnorflow::thresholding<{name}_config>({{i}}, {{o}}, {name}_thresholds, "
                     f"{name}_negated);")


def threshold_counts(acc: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """#{k : acc[..., c] >= T[c, k]} for (..., C) accumulators and (C, T) thresholds."""
    if thresholds.shape[1] == 0:
        return np.zeros(acc.shape, dtype=np.int64)
    out = (acc >= thresholds[:, 0]).astype(np.int64)
    for k in range(1, thresholds.shape[1]):
        out += acc >= thresholds[:, k]
    return out
