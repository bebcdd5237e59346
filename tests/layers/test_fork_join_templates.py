"""The residual- and dense-network stream templates on their own: the fork
(duplicate_streams.sv/.hpp), the join by addition (add_streams.sv/.hpp) and the join by
concatenation along the channels (concat_streams.sv/.hpp).

RTL: cocotb (tests/layers/cocotb_fork_join.py) on one Verilator build per parameter set (two
forks, four adds, four concats; cached by run_cocotb; under `slow` a 64-bit add and Yosys'
netlists of two adds and two concats), random data with the extremes first, random and long
stalls on every stream, bit-exact against `add_reference` / `concat_reference` / the input;
Verilator -Wall lint and a Yosys 0.23 read + synth at more parameter sets. HLS: the three
kernels in one hand-written g++ C-simulation testbench over several configs (one compile;
the concat configs are the structs the concat_streams plugin emits), bit-exact against the
same references, exactly the frame's words consumed and produced per call. The concat cases
are also checked against the plugin (compile/layers/concat_streams.py): its RTL parameters
and its reference.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.layers.harness import run_cocotb
from xnorflow.compile.ir.datatypes import DataType
from xnorflow.compile.rtl import codegen as rtl_codegen

COCOTB_MODULE = "tests.layers.cocotb_fork_join"
N_FORK_TESTS = 12 + 2  # cocotb_fork_join: fork_streams (3 x 4), fork_ready_paths, fork_run_ahead
N_ADD_TESTS = 7 + 1  # cocotb_fork_join: add_streams (JOIN_SCENARIOS), add_ready_paths
N_CONCAT_TESTS = 7 + 1  # cocotb_fork_join: concat_streams (JOIN_SCENARIOS), concat_ready_paths

FORK_CASES = {  # the parameters of duplicate_streams.sv
    "fork_w1_n2_d2": {"WIDTH": 1, "N_OUT": 2, "DEPTH": 2},
    "fork_w13_n3_d3": {"WIDTH": 13, "N_OUT": 3, "DEPTH": 3},
}


@dataclasses.dataclass(frozen=True)
class Operand:
    """How a packed value of one add_streams / concat_streams input reads."""

    bits: int
    signed: bool = False
    bipolar: bool = False  # one bit b meaning 2b - 1

    def value(self, raw: int) -> int:
        if self.bipolar:
            return 2 * (raw & 1) - 1
        if self.signed and raw >> (self.bits - 1):
            return raw - (1 << self.bits)
        return raw

    def extremes(self) -> tuple[int, int]:
        """(raw of the smallest value, raw of the largest value)."""
        if self.bipolar:
            return 0, 1
        if self.signed:
            return 1 << (self.bits - 1), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    @property
    def hls_type(self) -> str:
        if self.bipolar:
            return "ap_uint<1>"
        return f"ap_{'int' if self.signed else 'uint'}<{self.bits}>"

    @property
    def dtype(self) -> DataType:
        if self.bipolar:
            return DataType.parse("BIPOLAR")
        return DataType.parse(f"{'' if self.signed else 'U'}INT{self.bits}")


@dataclasses.dataclass(frozen=True)
class AddCase:
    pe: int
    a: Operand
    b: Operand
    obits: int

    @property
    def out_signed(self) -> bool:
        return any(o.signed or o.bipolar for o in (self.a, self.b))

    def params(self) -> dict:
        """The parameters of add_streams.sv."""
        return {"PE": self.pe, "ABITS": self.a.bits, "A_SIGNED": int(self.a.signed),
                "A_BIPOLAR": int(self.a.bipolar), "BBITS": self.b.bits,
                "B_SIGNED": int(self.b.signed), "B_BIPOLAR": int(self.b.bipolar),
                "OBITS": self.obits}


ADD_CASES = {
    # PE = 1, bipolar + INT4 → INT5 (-9 .. 8)
    "add_pe1_bip_int4": AddCase(1, Operand(1, bipolar=True), Operand(4, signed=True), 5),
    # INT5 + UINT3 → INT6 (-16 .. 22), odd widths
    "add_pe3_int5_uint3": AddCase(3, Operand(5, signed=True), Operand(3), 6),
    # UINT7 + UINT1 → UINT8 (0 .. 128), unsigned output
    "add_pe4_uint7_uint1": AddCase(4, Operand(7), Operand(1), 8),
    # bipolar + bipolar (-2 .. 2) into a wider INT5 than needed: sign-extended
    "add_pe2_bip_bip": AddCase(2, Operand(1, bipolar=True), Operand(1, bipolar=True), 5),
}
SLOW_ADD_CASES = {
    # INT8 + INT8 → INT9, 72-bit output beats
    "add_pe8_int8_int8": AddCase(8, Operand(8, signed=True), Operand(8, signed=True), 9),
}


@dataclasses.dataclass(frozen=True)
class ConcatCase:
    simd: int
    a_beats: int  # beats of a pixel on input 0 (its channels / simd)
    b_beats: int  # beats of a pixel on input 1
    a: Operand
    b: Operand
    obits: int
    o_bipolar: bool = False  # both inputs bipolar, bits pass unchanged

    @property
    def out_signed(self) -> bool:
        return not self.o_bipolar and any(o.signed or o.bipolar for o in (self.a, self.b))

    @property
    def out_dtype(self) -> DataType:
        if self.o_bipolar:
            return DataType.parse("BIPOLAR")
        return DataType.parse(f"{'' if self.out_signed else 'U'}INT{self.obits}")

    def params(self) -> dict:
        """The parameters of concat_streams.sv."""
        return {"SIMD": self.simd, "A_BEATS": self.a_beats, "B_BEATS": self.b_beats,
                "ABITS": self.a.bits, "A_SIGNED": int(self.a.signed),
                "A_BIPOLAR": int(self.a.bipolar), "BBITS": self.b.bits,
                "B_SIGNED": int(self.b.signed), "B_BIPOLAR": int(self.b.bipolar),
                "OBITS": self.obits, "O_BIPOLAR": int(self.o_bipolar)}

    def layer(self, pixels: int, name: str = "cat"):
        """The concat_streams plugin's record of this case over `pixels` pixels."""
        from xnorflow.compile.layers.concat_streams import ConcatStreams

        return ConcatStreams(name=name, in_dtype=self.a.dtype, b_dtype=self.b.dtype,
                             out_dtype=self.out_dtype, pixels=pixels,
                             channels=self.a_beats * self.simd,
                             b_channels=self.b_beats * self.simd, simd=self.simd)


BIP = Operand(1, bipolar=True)
CONCAT_CASES = {
    # FINN's choice for two BIPOLAR inputs: INT2, the bits become -1 / +1
    "concat_simd2_bip_bip_int2": ConcatCase(2, 2, 3, BIP, BIP, 2),
    # a BIPOLAR output: the bits pass unchanged
    "concat_simd4_bip_bip_obip": ConcatCase(4, 1, 2, BIP, BIP, 1, o_bipolar=True),
    # INT3 sign-extended, UINT2 zero-extended to INT4; odd SIMD, more A beats than B beats
    "concat_simd3_int3_uint2": ConcatCase(3, 3, 2, Operand(3, signed=True), Operand(2), 4),
    # unsigned, no widening; one A beat, four B beats
    "concat_simd1_uint2_uint2": ConcatCase(1, 1, 4, Operand(2), Operand(2), 2),
}
# lint, Yosys and HLS only: 64-bit beats, OBITS == ABITS, a power-of-two beat count (8)
WIDE_CONCAT = ConcatCase(8, 3, 5, Operand(8, signed=True), Operand(4), 8)


def pack(values: list[int], bits: int) -> int:
    """Values (raw, < 2**bits) → one beat, value 0 in the LSBs."""
    return sum((v & ((1 << bits) - 1)) << (i * bits) for i, v in enumerate(values))


def unpack(word: int, bits: int, n: int) -> list[int]:
    return [(word >> (i * bits)) & ((1 << bits) - 1) for i in range(n)]


def add_reference(case: AddCase, a_beats: list[int], b_beats: list[int]) -> list[int]:
    """out_p = value(a_p) + value(b_p), the low OBITS bits of the exact sum."""
    out = []
    for wa, wb in zip(a_beats, b_beats, strict=True):
        a = [case.a.value(r) for r in unpack(wa, case.a.bits, case.pe)]
        b = [case.b.value(r) for r in unpack(wb, case.b.bits, case.pe)]
        out.append(pack([x + y for x, y in zip(a, b, strict=True)], case.obits))
    return out


def add_range_fits(case: AddCase) -> bool:
    lo = sum(o.value(o.extremes()[0]) for o in (case.a, case.b))
    hi = sum(o.value(o.extremes()[1]) for o in (case.a, case.b))
    if case.out_signed:
        return -(1 << (case.obits - 1)) <= lo and hi < 1 << (case.obits - 1)
    return 0 <= lo and hi < 1 << case.obits


def random_beats(rng: np.random.Generator, op: Operand, pe: int, n: int) -> list[int]:
    """n random beats of pe raw values; the first four: all min, all max, min, max."""
    lo, hi = op.extremes()
    beats = [pack([lo] * pe, op.bits), pack([hi] * pe, op.bits)] * 2
    beats += [pack([int(v) for v in rng.integers(0, 1 << op.bits, pe)], op.bits)
              for _ in range(n - 4)]
    return beats


def add_stimulus(case: AddCase, n: int, seed: int) -> tuple[list[int], list[int], list[int]]:
    """Input 0 beats, input 1 beats (min+min, max+max, min+max, max+min first), outputs."""
    rng = np.random.default_rng(seed)
    a = random_beats(rng, case.a, case.pe, n)
    b = random_beats(rng, case.b, case.pe, n)
    b[2], b[3] = b[3], b[2]
    return a, b, add_reference(case, a, b)


def concat_convert(case: ConcatCase, op: Operand, raw: int) -> int:
    """A raw input value → its raw output value: the bit itself for a bipolar output, else
    the value in OBITS bits of two's complement."""
    if case.o_bipolar:
        return raw & 1
    return op.value(raw) & ((1 << case.obits) - 1)


def concat_reference(case: ConcatCase, a_beats: list[int], b_beats: list[int]) -> list[int]:
    """For each pixel: its A_BEATS beats of input 0, then its B_BEATS beats of input 1, every
    value converted to the output type. The inputs hold whole pixels, the same number."""
    n = len(a_beats) // case.a_beats
    assert len(a_beats) == n * case.a_beats and len(b_beats) == n * case.b_beats
    out = []
    for p in range(n):
        for op, beats, k in ((case.a, a_beats, case.a_beats), (case.b, b_beats, case.b_beats)):
            for w in beats[p * k:(p + 1) * k]:
                out.append(pack([concat_convert(case, op, r)
                                 for r in unpack(w, op.bits, case.simd)], case.obits))
    return out


def concat_stimulus(case: ConcatCase, pixels: int,
                    seed: int) -> tuple[list[int], list[int], list[int]]:
    """Input 0 beats (pixels * A_BEATS), input 1 beats (pixels * B_BEATS), both with the
    extremes first, and the outputs."""
    rng = np.random.default_rng(seed)
    a = random_beats(rng, case.a, case.simd, pixels * case.a_beats)
    b = random_beats(rng, case.b, case.simd, pixels * case.b_beats)
    return a, b, concat_reference(case, a, b)


# ---- the reference itself ---------------------------------------------------------------------

def test_add_reference_by_hand():
    bip, i4, u3 = Operand(1, bipolar=True), Operand(4, signed=True), Operand(3)
    c = AddCase(2, bip, i4, 5)
    # (-1) + (-8) = -9 → 0b10111; (+1) + 7 = 8 → 0b01000
    assert add_reference(c, [0b10], [pack([8, 7], 4)]) == [0b01000_10111]
    c = AddCase(1, u3, i4, 6)
    assert add_reference(c, [7], [0b1111]) == [6]  # 7 + (-1)
    assert add_reference(c, [0], [0b1000]) == [64 - 8]  # 0 + (-8)
    assert all(add_range_fits(c) for c in (*ADD_CASES.values(), *SLOW_ADD_CASES.values()))
    assert not add_range_fits(AddCase(1, bip, bip, 2))


def test_concat_reference_by_hand():
    i3, u2 = Operand(3, signed=True), Operand(2)
    c = ConcatCase(2, 1, 1, BIP, BIP, 2)
    # bits (1, 0) → (+1, -1) = (0b01, 0b11); bits (0, 1) → (0b11, 0b01)
    assert concat_reference(c, [0b01], [0b10]) == [0b11_01, 0b01_11]
    c = ConcatCase(2, 1, 1, BIP, BIP, 1, o_bipolar=True)
    assert concat_reference(c, [0b01], [0b10]) == [0b01, 0b10]
    c = ConcatCase(1, 2, 1, i3, u2, 4)
    # two pixels: a = (-4, 3), (-1, 0); b = 3, 1
    assert concat_reference(c, [0b100, 0b011, 0b111, 0b000], [3, 1]) == \
        [0b1100, 0b0011, 0b0011, 0b1111, 0b0000, 0b0001]
    c = ConcatCase(3, 1, 2, i3, u2, 4)
    assert concat_reference(c, [pack([4, 3, 7], 3)], [pack([0, 1, 2], 2), pack([3] * 3, 2)]) \
        == [pack([12, 3, 15], 4), pack([0, 1, 2], 4), pack([3] * 3, 4)]
    with pytest.raises(AssertionError):  # not whole pixels
        concat_reference(ConcatCase(1, 2, 1, u2, u2, 2), [0, 1, 2], [0, 1])


@pytest.mark.parametrize("name", [*sorted(CONCAT_CASES), "wide"])
def test_concat_cases_match_plugin(name):
    """The plugin accepts each case's types, gives the template the case's parameters, and its
    reference agrees with concat_reference. The plugin's tensors hold stored values (a
    bipolar value as its bit, a signed one as the number), not raw two's-complement bits."""
    case = CONCAT_CASES.get(name, WIDE_CONCAT)
    pixels = 5
    layer = case.layer(pixels)
    assert layer._operand_params() == case.params()
    a, b, out = concat_stimulus(case, pixels, 7)

    def stored(words: list[int], op: Operand) -> np.ndarray:
        vals = [r if op.bipolar else op.value(r)
                for w in words for r in unpack(w, op.bits, case.simd)]
        return np.array(vals).reshape(1, pixels, -1)

    out_op = Operand(case.obits, signed=case.out_signed, bipolar=case.o_bipolar)
    np.testing.assert_array_equal(layer.reference(stored(a, case.a), stored(b, case.b)),
                                  stored(out, out_op))


# ---- RTL: cocotb --------------------------------------------------------------------------------

def _sources(name: str) -> list[Path]:
    return [rtl_codegen.template_path(name), rtl_codegen.template_path("fifo.sv")]


@pytest.mark.sim
@pytest.mark.parametrize("name", sorted(FORK_CASES))
def test_fork_template(name, rtl_cache):
    p = FORK_CASES[name]
    rng = np.random.default_rng(sum(p.values()))
    top = (1 << p["WIDTH"]) - 1
    beats = [0, top, top, 0] + [int(v) for v in rng.integers(0, top + 1, 296)]
    case = {"kind": "fork", "seed": int(rng.integers(1 << 30)), "width": p["WIDTH"],
            "n_out": p["N_OUT"], "depth": p["DEPTH"], "beats": beats}
    run_cocotb(rtl_cache, name, _sources("duplicate_streams.sv"), "duplicate_streams", case, p,
               test_module=COCOTB_MODULE, n_tests=N_FORK_TESTS)


def _check_add_rtl(name: str, case: AddCase, rtl_cache: Path,
                   netlist: Path | None = None) -> None:
    """The template at the case's parameters (or a synthesised `netlist` of it) under cocotb."""
    seed = 17 * case.pe + case.obits
    s0, s1, out = add_stimulus(case, 300, seed)
    stim = {"kind": "add", "seed": seed, "s0": s0, "s1": s1, "out": out}
    sources, params = ([netlist], {}) if netlist else (_sources("add_streams.sv"), case.params())
    run_cocotb(rtl_cache, name, sources, "add_streams", stim, params,
               test_module=COCOTB_MODULE, n_tests=N_ADD_TESTS)


@pytest.mark.sim
@pytest.mark.parametrize("name", sorted(ADD_CASES))
def test_add_template(name, rtl_cache):
    _check_add_rtl(name, ADD_CASES[name], rtl_cache)


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("name", sorted(SLOW_ADD_CASES))
def test_add_template_wide(name, rtl_cache):
    _check_add_rtl(name, SLOW_ADD_CASES[name], rtl_cache)


def _check_concat_rtl(name: str, case: ConcatCase, rtl_cache: Path,
                      netlist: Path | None = None) -> None:
    """The template at the case's parameters (or a synthesised `netlist` of it) under cocotb;
    about 300 output beats of whole pixels."""
    seed = 31 * case.simd + 7 * case.a_beats + case.b_beats
    pixels = 300 // (case.a_beats + case.b_beats)
    s0, s1, out = concat_stimulus(case, pixels, seed)
    stim = {"kind": "concat", "seed": seed, "s0": s0, "s1": s1, "out": out}
    sources, params = (([netlist], {}) if netlist
                       else (_sources("concat_streams.sv"), case.params()))
    run_cocotb(rtl_cache, name, sources, "concat_streams", stim, params,
               test_module=COCOTB_MODULE, n_tests=N_CONCAT_TESTS)


@pytest.mark.sim
@pytest.mark.parametrize("name", sorted(CONCAT_CASES))
def test_concat_template(name, rtl_cache):
    _check_concat_rtl(name, CONCAT_CASES[name], rtl_cache)


# ---- RTL: lint and Yosys ----------------------------------------------------------------------

def _yosys_synth(top: str, params: dict, folder: Path, extra: str = "") -> Path:
    """Read the template as `xnorflow synth` does (read_verilog -defer -sv), elaborate it at
    `params`, synthesise it; the netlist as JSON and as Verilog."""
    from xnorflow.compile.rtl.synth import _yosys

    files = " ".join(str(f) for f in _sources(f"{top}.sv"))
    chparams = " ".join(f"-chparam {k} {v}" for k, v in params.items())
    script = folder / "synth.ys"
    script.write_text(f"read_verilog -defer -sv {files}\nhierarchy -top {top} {chparams}\n"
                      f"synth -top {top} {extra}\nwrite_json {folder / 'net.json'}\n"
                      f"write_verilog -noattr {folder / 'net.v'}\n")
    res = subprocess.run([*_yosys(), "-q", "-s", str(script)], capture_output=True, text=True,
                         timeout=300)
    log = res.stdout + res.stderr
    assert res.returncode == 0 and "ERROR" not in log and "Warning" not in log, log[-3000:]
    return folder


LINT_PARAMS = [
    ("duplicate_streams", {}),
    ("duplicate_streams", {"WIDTH": 1, "N_OUT": 2, "DEPTH": 2}),
    ("duplicate_streams", {"WIDTH": 37, "N_OUT": 4, "DEPTH": 5}),
    ("add_streams", {}),
    *(("add_streams", c.params()) for c in (*ADD_CASES.values(), *SLOW_ADD_CASES.values())),
    # a sum narrower than EW: the top bits are dropped
    ("add_streams", AddCase(3, Operand(2, signed=True), Operand(2, signed=True), 2).params()),
    ("concat_streams", {}),
    *(("concat_streams", c.params()) for c in (*CONCAT_CASES.values(), WIDE_CONCAT)),
    # bipolar into INT3 next to INT3 (no widening of input 1), one beat each
    ("concat_streams", ConcatCase(1, 1, 1, BIP, Operand(3, signed=True), 3).params()),
]


@pytest.mark.sim
@pytest.mark.parametrize("top,params", LINT_PARAMS)
def test_lint_clean(top, params):
    from xnorflow.tools import require, tool_env

    verilator = require("verilator", "bash scripts/setup.sh")
    files = [str(f) for f in _sources(f"{top}.sv")]
    res = subprocess.run([verilator, "--lint-only", "-Wall", "--top-module", top,
                          *(f"-G{k}={v}" for k, v in params.items()), *files],
                         env=tool_env(), capture_output=True, text=True)
    assert res.returncode == 0 and "%Warning" not in res.stderr, res.stderr[-3000:]


@pytest.mark.sim
@pytest.mark.parametrize("top,params", LINT_PARAMS)
def test_yosys_synthesises(top, params, tmp_path):
    """Yosys reads the template as `xnorflow synth` does (read_verilog -defer -sv; Debian's
    Yosys 0.23 rejects some SystemVerilog that Verilator takes), elaborates it at `params` and
    synthesises it; the top's ports have the widths the parameters say."""
    import json

    net = _yosys_synth(top, params, tmp_path) / "net.json"
    ports = json.loads(net.read_text())["modules"][top]["ports"]
    widths = {k: len(v["bits"]) for k, v in ports.items()}
    if top == "duplicate_streams":
        w, n = params.get("WIDTH", 8), params.get("N_OUT", 2)
        assert (widths["s_axis_tdata"], widths["m_axis_tdata"], widths["m_axis_tready"]) == \
            (w, n * w, n)
    elif top == "concat_streams":
        simd = params.get("SIMD", 1)
        assert (widths["s0_axis_tdata"], widths["s1_axis_tdata"], widths["m_axis_tdata"]) == \
            (simd * params.get("ABITS", 2), simd * params.get("BBITS", 2),
             simd * params.get("OBITS", 2))
    else:
        pe = params.get("PE", 1)
        assert (widths["s0_axis_tdata"], widths["s1_axis_tdata"], widths["m_axis_tdata"]) == \
            (pe * params.get("ABITS", 2), pe * params.get("BBITS", 2), pe * params.get("OBITS", 3))


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("name", ["add_pe1_bip_int4", "add_pe3_int5_uint3"])
def test_add_yosys_netlist(name, rtl_cache, tmp_path):
    """Yosys 0.23's reading of the sign-extensions: its synthesised netlist passes the same
    cocotb tests as the source."""
    case = ADD_CASES[name]
    net = _yosys_synth("add_streams", case.params(), tmp_path, "-flatten") / "net.v"
    _check_add_rtl(f"{name}_yosys", case, rtl_cache, netlist=net)


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("name", ["concat_simd2_bip_bip_int2", "concat_simd3_int3_uint2"])
def test_concat_yosys_netlist(name, rtl_cache, tmp_path):
    """Yosys 0.23's reading of the sign- and zero-extensions and of the bipolar values: its
    synthesised netlist passes the same cocotb tests as the source."""
    case = CONCAT_CASES[name]
    net = _yosys_synth("concat_streams", case.params(), tmp_path, "-flatten") / "net.v"
    _check_concat_rtl(f"{name}_yosys", case, rtl_cache, netlist=net)


# ---- HLS: g++ C-simulation ----------------------------------------------------------------------

HLS_FORKS = [(8, 5), (1, 3), (77, 4)]  # (width, beats)
HLS_ADDS = [(c, 7) for c in (*ADD_CASES.values(), *SLOW_ADD_CASES.values())]  # (case, beats)
HLS_CONCATS = [(c, p) for c, p in zip((*CONCAT_CASES.values(), WIDE_CONCAT), (5, 3, 1, 4, 6),
                                       strict=True)]  # (case, pixels)

TESTBENCH = """\
// C-simulation testbench of duplicate_streams.hpp, add_streams.hpp and concat_streams.hpp,
// written by tests/layers/test_fork_join_templates.py. stdin: "kernel frames", then the
// frames' input words (all of input 0's, then all of input 1's); stdout: the output words.
// A word is ceil(W/32) decimal 32-bit chunks, LSBs first.
#include "add_streams.hpp"
#include "concat_streams.hpp"
#include "duplicate_streams.hpp"
#include <cstdlib>
#include <iostream>

using namespace xnorflow;

template <int W> ap_uint<W> read_word() {{
    ap_uint<W> w = 0;
    for (int lo = 0; lo < W; lo += 32) {{
        unsigned long long c;
        std::cin >> c;
        w.range(lo + 31 < W - 1 ? lo + 31 : W - 1, lo) = c;
    }}
    return w;
}}

template <int W> void write_word(const ap_uint<W> &w) {{
    for (int lo = 0; lo < W; lo += 32)
        std::cout << w.range(lo + 31 < W - 1 ? lo + 31 : W - 1, lo).to_uint64() << ' ';
    std::cout << '\\n';
}}

static void check(bool ok, const char *what) {{
    if (!ok) {{
        std::cerr << "FAIL: " << what << std::endl;
        std::exit(1);
    }}
}}

// all frames in, one call per frame, each call taking and giving exactly `beats` words
template <class C> void run_fork(int frames) {{
    hls::stream<ap_uint<C::width>> in, out0, out1;
    for (unsigned i = 0; i < frames * C::beats; i++)
        in.write(read_word<C::width>());
    for (int f = 0; f < frames; f++) {{
        duplicate_streams<C>(in, out0, out1);
        check(in.size() == (frames - f - 1) * C::beats, "fork: input words taken");
        check(out0.size() == C::beats && out1.size() == C::beats, "fork: output words");
        for (unsigned i = 0; i < C::beats; i++)
            write_word<C::width>(out0.read());
        for (unsigned i = 0; i < C::beats; i++)
            write_word<C::width>(out1.read());
    }}
}}

template <class C> void run_add(int frames) {{
    hls::stream<ap_uint<C::pe * C::a_bits>> in0;
    hls::stream<ap_uint<C::pe * C::b_bits>> in1;
    hls::stream<ap_uint<C::pe * C::out_bits>> out;
    for (unsigned i = 0; i < frames * C::beats; i++)
        in0.write(read_word<C::pe * C::a_bits>());
    for (unsigned i = 0; i < frames * C::beats; i++)
        in1.write(read_word<C::pe * C::b_bits>());
    for (int f = 0; f < frames; f++) {{
        add_streams<C>(in0, in1, out);
        check(in0.size() == (frames - f - 1) * C::beats, "add: input 0 words taken");
        check(in1.size() == (frames - f - 1) * C::beats, "add: input 1 words taken");
        check(out.size() == C::beats, "add: output words");
        for (unsigned i = 0; i < C::beats; i++)
            write_word<C::pe * C::out_bits>(out.read());
    }}
}}

// a frame is `pixels` pixels: a_beats words of input 0 and b_beats of input 1 each
template <class C> void run_concat(int frames) {{
    const unsigned A = C::pixels * C::a_beats, B = C::pixels * C::b_beats, O = A + B;
    hls::stream<ap_uint<C::simd * C::a_bits>> in0;
    hls::stream<ap_uint<C::simd * C::b_bits>> in1;
    hls::stream<ap_uint<C::simd * C::out_bits>> out;
    for (unsigned i = 0; i < frames * A; i++)
        in0.write(read_word<C::simd * C::a_bits>());
    for (unsigned i = 0; i < frames * B; i++)
        in1.write(read_word<C::simd * C::b_bits>());
    for (int f = 0; f < frames; f++) {{
        concat_streams<C>(in0, in1, out);
        check(in0.size() == (frames - f - 1) * A, "concat: input 0 words taken");
        check(in1.size() == (frames - f - 1) * B, "concat: input 1 words taken");
        check(out.size() == O, "concat: output words");
        for (unsigned i = 0; i < O; i++)
            write_word<C::simd * C::out_bits>(out.read());
    }}
}}

{configs}

int main() {{
    int kernel, frames;
    std::cin >> kernel >> frames;
    switch (kernel) {{
{cases}
    }}
    check(bool(std::cin), "input ended early");
    return 0;
}}
"""

FORK_CONFIG = """struct fork_{i}_config : duplicate_streams_config {{
    static const unsigned width = {width};
    static const unsigned beats = {beats};
}};"""

ADD_CONFIG = """struct add_{i}_config : add_streams_config {{
    static const unsigned pe = {c.pe};
    static const unsigned beats = {beats};
    static const unsigned a_bits = {c.a.bits};
    static const unsigned b_bits = {c.b.bits};
    static const unsigned out_bits = {c.obits};
    static const bool a_bipolar = {a_bip};
    static const bool b_bipolar = {b_bip};
    typedef {c.a.hls_type} a_t;
    typedef {c.b.hls_type} b_t;
    typedef ap_{out}<{c.obits}> out_t;
}};"""


@pytest.fixture(scope="module")
def csim_binary(tmp_path_factory) -> Path:
    """The testbench over all HLS_FORKS, HLS_ADDS and HLS_CONCATS configs (the concat structs
    as the plugin emits them), compiled once as csim.py does."""
    from xnorflow.compile.hls import csim
    from xnorflow.tools import tool_env

    configs, cases = [], []
    for i, (width, beats) in enumerate(HLS_FORKS):
        configs.append(FORK_CONFIG.format(i=i, width=width, beats=beats))
        cases.append(f"    case {i}: run_fork<fork_{i}_config>(frames); break;")
    for i, (c, beats) in enumerate(HLS_ADDS):
        configs.append(ADD_CONFIG.format(i=i, c=c, beats=beats,
                                         a_bip=str(c.a.bipolar).lower(),
                                         b_bip=str(c.b.bipolar).lower(),
                                         out="int" if c.out_signed else "uint"))
        cases.append(f"    case {100 + i}: run_add<add_{i}_config>(frames); break;")
    for i, (c, pixels) in enumerate(HLS_CONCATS):
        config, call = c.layer(pixels).hls_emit(f"concat_{i}")
        assert call == f"xnorflow::concat_streams<concat_{i}_config>({{i0}}, {{i1}}, {{o}});"
        configs.append(config.rstrip())
        cases.append(f"    case {200 + i}: run_concat<concat_{i}_config>(frames); break;")
    folder = tmp_path_factory.mktemp("fork_join_csim")
    tb = folder / "tb_fork_join.cpp"
    tb.write_text(TESTBENCH.format(configs="\n\n".join(configs), cases="\n".join(cases)))
    hls = importlib.resources.files("xnorflow.hw_templates").joinpath("hls")
    binary = folder / "tb_fork_join.bin"
    subprocess.run([csim.compiler(), *csim.CXXFLAGS, f"-I{hls}", f"-I{csim.ap_types_dir()}",
                    str(tb), "-o", str(binary)], env=tool_env(), check=True)
    return binary


def _csim(binary: Path, kernel: int, frames: int, words: list[tuple[int, int]]) -> list[int]:
    """Run the testbench: (value, bits) input words → the output words, as integers."""
    text = [f"{kernel} {frames}"]
    for value, bits in words:
        text.append(" ".join(str((value >> lo) & 0xFFFFFFFF) for lo in range(0, bits, 32)))
    res = subprocess.run([str(binary)], input="\n".join(text) + "\n", capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return [sum(int(c) << (32 * j) for j, c in enumerate(line.split()))
            for line in res.stdout.splitlines()]


@pytest.mark.sim
@pytest.mark.parametrize("index", range(len(HLS_FORKS)))
def test_hls_duplicate_streams(index, csim_binary):
    width, beats = HLS_FORKS[index]
    frames = 3
    rng = random.Random(index)
    words = [0, (1 << width) - 1] + [rng.getrandbits(width) for _ in range(frames * beats - 2)]
    got = _csim(csim_binary, index, frames, [(w, width) for w in words])
    want = []
    for f in range(frames):
        frame = words[f * beats:(f + 1) * beats]
        want += frame + frame
    assert got == want


@pytest.mark.sim
@pytest.mark.parametrize("index", range(len(HLS_ADDS)))
def test_hls_add_streams(index, csim_binary):
    case, beats = HLS_ADDS[index]
    frames = 3
    a, b, out = add_stimulus(case, frames * beats, 1000 + index)
    words = [(w, case.pe * case.a.bits) for w in a] + [(w, case.pe * case.b.bits) for w in b]
    assert _csim(csim_binary, 100 + index, frames, words) == out


@pytest.mark.sim
@pytest.mark.parametrize("index", range(len(HLS_CONCATS)))
def test_hls_concat_streams(index, csim_binary):
    case, pixels = HLS_CONCATS[index]
    frames = 3
    a, b, out = concat_stimulus(case, frames * pixels, 2000 + index)
    words = [(w, case.simd * case.a.bits) for w in a] + [(w, case.simd * case.b.bits) for w in b]
    got = _csim(csim_binary, 200 + index, frames, words)
    assert len(got) == frames * pixels * (case.a_beats + case.b_beats)
    assert got == out
