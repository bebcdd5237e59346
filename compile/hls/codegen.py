"""HLS backend: the dataflow IR → Vitis-HLS C++ (BUILD/hls/) built from hw_templates/hls.

What it writes (one folder, self-contained):
- `templates/*.hpp`: the kernels, copied from hw_templates/hls;
- `params/<layer>.hpp`: per layer, a config struct (derived from the kernel's documented default
  config) and its weights/thresholds as `static const` arrays, in the order the kernel reads them;
- `xnorflow_top.hpp/.cpp`: the top function `xnorflow_top(in_stream, out_stream)` with
  `#pragma HLS DATAFLOW`, one `hls::stream` between layers, width converters where a layer's
  out_fold differs from the next in_fold, AXI4-Stream ports and `ap_ctrl_none`;
- `tb_xnorflow.cpp`: a C++ testbench (input beats file → output beats file), used by
  `xnorflow csim` with g++ and by Vitis HLS `csim_design`;
- `run_hls.tcl` (Vitis HLS: csim, csynth, export IP), `build_bitstream.tcl` (Vivado: Zynq PS +
  AXI DMA + the IP → bitstream, .bit/.hwh copied to BUILD/driver/) and `bd.json` (the names the
  host's PYNQ backend needs). Vivado/Vitis are not installed here: these scripts are generated
  and checked in tclsh with stub commands only (tests/hls/test_tcl.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import shutil
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xnorflow import __version__
from xnorflow.compile.errors import CompileError
from xnorflow.compile.interface import runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import DataType, smallest_type
from xnorflow.compile.layers import MVAU, LabelSelect, Layer, MaxPool, SlidingWindow, Thresholding

if TYPE_CHECKING:
    from xnorflow.compile.backends import BackendOptions

log = logging.getLogger(__name__)

TOP = "xnorflow_top"
IP_NAME = "xnorflow_top_0"  # the IP's instance name in the Vivado block design
DMA_NAME = "axi_dma_0"
FRAME_LAST_DEPTH = 32  # frames whose input TLAST waits for their output (axis_io.hpp)
TEMPLATE_FILES = (
    "xnorflow_types.hpp",
    "axis_io.hpp",
    "thresholding.hpp",
    "mvau.hpp",
    "sliding_window.hpp",
    "maxpool.hpp",
    "dwc.hpp",
    "label_select.hpp",
)
BOARDS = {
    # board: (part, processing system IP, Vivado board part or "" when none is needed)
    "pynq-z2": ("xc7z020clg400-1", "processing_system7", "tul.com.tw:pynq-z2:part0:1.0"),
    "pynq-z1": ("xc7z020clg400-1", "processing_system7", "www.digilentinc.com:pynq-z1:part0:1.0"),
    "kv260": ("xck26-sfvc784-2LV-c", "zynq_ultra_ps_e", "xilinx.com:kv260_som:part0:1.4"),
}


def effective_part(options: BackendOptions) -> str:
    """The FPGA part: --part for the Zynq-7000 boards (default xc7z020clg400-1), the K26 SOM's
    part for the KV260 (a Zynq-7000 part cannot sit on that board)."""
    return BOARDS["kv260"][0] if options.board == "kv260" else options.part


# --- names and types ---------------------------------------------------------------------
def c_name(index: int, layer: Layer) -> str:
    """A C++ identifier for a layer: 'l<index>_<name with non-word characters as _>'."""
    return f"l{index}_" + re.sub(r"\W", "_", layer.name)


def c_type(dtype: DataType) -> str:
    """The ap_int type holding one stored value of dtype (BIPOLAR: ap_uint<1>)."""
    return f"ap_int<{dtype.bits}>" if dtype.signed else f"ap_uint<{dtype.bits}>"


def signed_bits(lo: int, hi: int) -> int:
    """Bits of the narrowest two's-complement type holding [lo, hi]."""
    dt = smallest_type(min(int(lo), -1), int(hi))
    return dt.bits


def _int_literal(v: int) -> str:
    v = int(v)
    return f"{v}LL" if not -(2**31) <= v < 2**31 else str(v)


def _nested(arr: np.ndarray, fmt) -> str:
    """A C initializer list for an n-d array, one innermost row per line."""
    if arr.ndim == 1:
        return "{" + ", ".join(fmt(v) for v in arr) + "}"
    inner = ",\n".join(_nested(a, fmt) for a in arr)
    return "{\n" + inner + "}"


# --- layout conversions (the order the kernels read their memories) ------------------------
def mvau_weight_words(layer: MVAU) -> list[list[int]]:
    """Weights as [pe][nf * SF + sf] SIMD-bit words.

    Steps: W (mh, mw) → (NF, PE, SF, SIMD) with row o = nf·PE + p and column sf·SIMD + j →
    transpose to (PE, NF, SF, SIMD) → each SIMD-bit group becomes an integer, bit j = column j.
    """
    pe, simd = layer.pe, layer.simd
    nf, sf = layer.mh // pe, layer.mw // simd
    w = layer.weights.reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe, nf * sf, simd)
    nbytes = -(-simd // 8)
    padded = np.zeros((pe, nf * sf, nbytes * 8), np.uint8)
    padded[..., :simd] = w
    packed = np.packbits(padded, axis=-1, bitorder="little")
    return [[int.from_bytes(bytes(word), "little") for word in row] for row in packed]


def interleave_thresholds(thresholds: np.ndarray, pe: int) -> np.ndarray:
    """(C, T) thresholds → (PE, C / PE, T): channel c goes to PE c % PE, fold c // PE."""
    c, t = thresholds.shape
    return thresholds.reshape(c // pe, pe, t).transpose(1, 0, 2)


def _words_literal(simd: int):
    if simd <= 64:
        return lambda v: f"0x{v:x}ULL"
    return lambda v: f'ap_uint<{simd}>("{v:x}", 16)'


# --- per-layer emitters ----------------------------------------------------------------
@dataclasses.dataclass
class Emitted:
    header: str  # params/<name>.hpp contents
    call: str  # the call line in the top function


def _header(ir: DataflowIR, name: str, layer: Layer, body: str) -> str:
    fold = ", ".join(f"{k}={v}" for k, v in layer.folding().items()) or "none"
    guard = f"XNORFLOW_PARAMS_{name.upper()}_HPP"
    return (
        f"// Generated by xnorflow {__version__} (compile/hls/codegen.py) from model {ir.name!r}.\n"
        f"// Layer {layer.name!r} ({layer.kind}): {layer.in_shape} {layer.in_dtype} -> "
        f"{layer.out_shape} {layer.out_dtype}, folding {fold}.\n"
        f"#ifndef {guard}\n#define {guard}\n\n"
        f"#include \"{_template_of(layer)}\"\n\n{body}\n#endif\n"
    )


def _template_of(layer: Layer) -> str:
    return {
        "thresholding": "thresholding.hpp",
        "mvau": "mvau.hpp",
        "sliding_window": "sliding_window.hpp",
        "maxpool": "maxpool.hpp",
        "label_select": "label_select.hpp",
    }[layer.kind]


def _count_bits(n_thr: int, act_val: int) -> int:
    return signed_bits(min(0, act_val), n_thr + max(0, act_val))


def emit_thresholding(name: str, layer: Thresholding) -> tuple[str, str]:
    t = layer.thresholds
    thr_bits = signed_bits(
        min(int(t.min()), layer.in_dtype.min()), max(int(t.max()), layer.in_dtype.max() + 1)
    )
    if layer.n_thresholds == 0:
        raise CompileError(f"layer {layer.name!r}: a thresholding layer needs thresholds")
    thr_init = _nested(interleave_thresholds(t, layer.pe), _int_literal)
    cfg = f"""struct {name}_config : xnorflow::thresholding_config {{
    static const unsigned pixels = {layer.pixels};
    static const unsigned channels = {layer.channels};
    static const unsigned pe = {layer.pe};
    static const unsigned n_thresholds = {layer.n_thresholds};
    static const unsigned in_bits = {layer.in_dtype.bits};
    static const unsigned out_bits = {layer.out_dtype.bits};
    static const int act_val = {layer.act_val};
    typedef {c_type(layer.in_dtype)} in_t;
    typedef ap_int<{thr_bits}> thr_t;
    static const unsigned thr_bits = {thr_bits};
    typedef ap_int<{_count_bits(layer.n_thresholds, layer.act_val)}> count_t;
}};

static const xnorflow::int_rom<{thr_bits}>::type {name}_thresholds\
[{layer.pe}][{layer.channels // layer.pe}][{layer.n_thresholds}] = {thr_init};
"""
    return cfg, f"xnorflow::thresholding<{name}_config>({{i}}, {{o}}, {name}_thresholds);"


def emit_mvau(name: str, layer: MVAU) -> tuple[str, str]:
    lo, hi = layer.acc_range()
    t = layer.thresholds
    n_thr = int(t.shape[1])
    thr_dim = max(n_thr, 1)
    if n_thr:
        thr_bits = signed_bits(min(int(t.min()), lo), max(int(t.max()), hi + 1))
        thr = interleave_thresholds(t, layer.pe)
    else:  # no activation: the kernel ignores this array; C++ has no zero-length arrays
        thr_bits = 2
        thr = np.zeros((layer.pe, layer.mh // layer.pe, 1), np.int64)
    nf, sf = layer.mh // layer.pe, layer.mw // layer.simd
    words = np.empty((layer.pe, nf * sf), dtype=object)
    words[:] = mvau_weight_words(layer)
    cfg = f"""struct {name}_config : xnorflow::mvau_config {{
    static const unsigned pixels = {layer.pixels};
    static const unsigned mw = {layer.mw};
    static const unsigned mh = {layer.mh};
    static const unsigned pe = {layer.pe};
    static const unsigned simd = {layer.simd};
    static const bool xnor = {"true" if layer.xnor else "false"};
    static const unsigned in_bits = {layer.in_dtype.bits};
    static const unsigned out_bits = {layer.out_dtype.bits};
    static const unsigned n_thresholds = {n_thr};
    static const unsigned thr_dim = {thr_dim};
    static const int act_val = {layer.act_val};
    typedef {c_type(layer.in_dtype)} in_t;
    typedef ap_int<{signed_bits(lo, hi)}> acc_t;
    typedef ap_int<{thr_bits}> thr_t;
    static const unsigned thr_bits = {thr_bits};
    typedef ap_int<{_count_bits(n_thr, layer.act_val)}> count_t;
}};

// weights[p][nf * {sf} + sf] bit j = W[nf * {layer.pe} + p][sf * {layer.simd} + j]
static const xnorflow::uint_rom<{layer.simd}>::type {name}_weights[{layer.pe}][{nf * sf}] = \
{_nested(words, _words_literal(layer.simd))};

static const xnorflow::int_rom<{thr_bits}>::type {name}_thresholds[{layer.pe}][{nf}][{thr_dim}] = \
{_nested(thr, _int_literal)};
"""
    return cfg, f"xnorflow::mvau<{name}_config>({{i}}, {{o}}, {name}_weights, {name}_thresholds);"


def emit_sliding_window(name: str, layer: SlidingWindow) -> tuple[str, str]:
    cfg = f"""struct {name}_config : xnorflow::sliding_window_config {{
    static const unsigned ifm_h = {layer.ifm_dim[0]};
    static const unsigned ifm_w = {layer.ifm_dim[1]};
    static const unsigned channels = {layer.channels};
    static const unsigned kernel = {layer.kernel};
    static const unsigned stride = {layer.stride};
    static const unsigned simd = {layer.simd};
    static const unsigned bits = {layer.in_dtype.bits};
}};
"""
    return cfg, f"xnorflow::sliding_window<{name}_config>({{i}}, {{o}});"


def emit_maxpool(name: str, layer: MaxPool) -> tuple[str, str]:
    cfg = f"""struct {name}_config : xnorflow::maxpool_config {{
    static const unsigned ifm_h = {layer.ifm_dim[0]};
    static const unsigned ifm_w = {layer.ifm_dim[1]};
    static const unsigned channels = {layer.channels};
    static const unsigned kernel = {layer.kernel};
    static const unsigned stride = {layer.stride};
    static const unsigned pe = {layer.pe};
    static const unsigned bits = {layer.in_dtype.bits};
    typedef {c_type(layer.in_dtype)} in_t;
}};
"""
    return cfg, f"xnorflow::maxpool<{name}_config>({{i}}, {{o}});"


def emit_label_select(name: str, layer: LabelSelect) -> tuple[str, str]:
    if layer.out_dtype.max() < layer.labels - 1:
        raise CompileError(
            f"layer {layer.name!r}: output type {layer.out_dtype} cannot hold label "
            f"{layer.labels - 1}"
        )
    cfg = f"""struct {name}_config : xnorflow::label_select_config {{
    static const unsigned labels = {layer.labels};
    static const unsigned pe = {layer.pe};
    static const unsigned in_bits = {layer.in_dtype.bits};
    static const unsigned out_bits = {layer.out_dtype.bits};
    typedef {c_type(layer.in_dtype)} in_t;
}};
"""
    return cfg, f"xnorflow::label_select<{name}_config>({{i}}, {{o}});"


EMITTERS = {
    "thresholding": emit_thresholding,
    "mvau": emit_mvau,
    "sliding_window": emit_sliding_window,
    "maxpool": emit_maxpool,
    "label_select": emit_label_select,
}


# --- the top function --------------------------------------------------------------------
DMA_WIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024)  # the AXI DMA's legal stream widths


def dma_width(bits: int) -> int:
    """The narrowest AXI DMA stream width holding `bits` (0 when none does: > 1024 bits)."""
    return next((w for w in DMA_WIDTHS if w >= bits), 0)


@dataclasses.dataclass(frozen=True)
class TopInterface:
    """The accelerator's stream geometry (what the testbench, Tcl scripts and host share).

    A beat holds `in_width` meaningful bits; in memory (compile/stream.py, the testbench files)
    it takes `in_bytes` bytes; the AXI4-Stream port is `in_axi_width` bits, the narrowest width
    the AXI DMA supports (the host pads each beat to it, see host/stream.beats_to_dma), or
    the beat in whole bytes when the DMA supports no width that large.
    """

    in_width: int
    in_bytes: int
    in_axi_width: int
    in_beats: int
    out_width: int
    out_bytes: int
    out_axi_width: int
    out_beats: int

    @staticmethod
    def of(ir: DataflowIR) -> TopInterface:
        spec = runtime_spec(ir)
        in_bytes, out_bytes = spec.in_beat_bytes, spec.out_beat_bytes
        return TopInterface(
            in_width=spec.in_bits * spec.in_fold,
            in_bytes=in_bytes,
            in_axi_width=dma_width(8 * in_bytes) or 8 * in_bytes,
            in_beats=spec.in_beats,
            out_width=spec.out_bits * spec.out_fold,
            out_bytes=out_bytes,
            out_axi_width=dma_width(8 * out_bytes) or 8 * out_bytes,
            out_beats=spec.out_beats,
        )

    def dma_problems(self) -> list[str]:
        """Why an AXI DMA cannot carry these streams (empty when it can)."""
        problems = []
        for what, width, fix in (
            ("input", self.in_width, "the first layer's in_fold (PE/SIMD)"),
            ("output", self.out_width, "the last layer's out_fold (PE)"),
        ):
            if not dma_width(width):
                problems.append(
                    f"the {what} beat is {width} bits, more than the AXI DMA's 1024: lower {fix}"
                )
        return problems


def _file_header(ir: DataflowIR, what: str, comment: str = "//") -> str:
    kinds = " -> ".join(f"{layer.name}:{layer.kind}" for layer in ir.layers)
    return (
        f"{comment} Generated by xnorflow {__version__} (compile/hls/codegen.py): {what}\n"
        f"{comment} Model {ir.name!r}, input {ir.input_shape} {ir.input_dtype}, "
        f"{len(ir.layers)} layers: {kinds}\n"
        f"{comment} Clock {ir.clock_mhz} MHz target, initiation interval "
        f"{ir.initiation_interval()} cycles/frame.\n"
    )


def top_sources(ir: DataflowIR) -> dict[str, str]:
    """{relative path: contents} of params/*.hpp, xnorflow_top.hpp and xnorflow_top.cpp."""
    files: dict[str, str] = {}
    iface = TopInterface.of(ir)
    decls, calls, includes, dwc_structs = [], [], [], []
    stream_idx = 0

    def new_stream(width: int, what: str) -> str:
        nonlocal stream_idx
        s = f"s{stream_idx}"
        stream_idx += 1
        decls.append(f'    hls::stream<ap_uint<{width}>> {s}("{s}_{what}");')
        decls.append(f"#pragma HLS STREAM variable = {s} depth = 2")
        return s

    cur = new_stream(iface.in_width, "in")
    decls.append('    hls::stream<bool> frame_last("frame_last");')
    decls.append(f"#pragma HLS STREAM variable = frame_last depth = {FRAME_LAST_DEPTH}")
    calls.append(
        f"    xnorflow::axis_to_stream<{iface.in_axi_width}, {iface.in_width}, {iface.in_beats}>"
        f"(in_stream, {cur}, frame_last);"
    )
    prev: Layer | None = None
    for idx, layer in enumerate(ir.layers):
        name = c_name(idx, layer)
        if layer.kind not in EMITTERS:
            raise CompileError(
                f"layer {layer.name!r}: kind {layer.kind!r} has no HLS template; supported: "
                f"{', '.join(EMITTERS)}"
            )
        if prev is not None and prev.out_fold != layer.in_fold:
            bits = layer.in_dtype.bits
            values = int(np.prod(layer.in_shape))
            nxt = new_stream(layer.in_width, f"dwc{idx}")
            dwc_structs.append(
                f"struct dwc{idx}_config : xnorflow::dwc_config {{\n"
                f"    static const unsigned values = {values};\n"
                f"    static const unsigned in_fold = {prev.out_fold};\n"
                f"    static const unsigned out_fold = {layer.in_fold};\n"
                f"    static const unsigned bits = {bits};\n}};\n"
            )
            calls.append(f"    xnorflow::dwc<dwc{idx}_config>({cur}, {nxt});")
            cur = nxt
        body, call = EMITTERS[layer.kind](name, layer)
        files[f"params/{name}.hpp"] = _header(ir, name, layer, body)
        includes.append(f'#include "params/{name}.hpp"')
        out = new_stream(layer.out_width, name)
        calls.append("    " + call.format(i=cur, o=out))
        cur, prev = out, layer
    calls.append(
        f"    xnorflow::stream_to_axis<{iface.out_width}, {iface.out_axi_width}, "
        f"{iface.out_beats}>({cur}, frame_last, out_stream);"
    )
    guard = "XNORFLOW_TOP_HPP"
    files["xnorflow_top.hpp"] = (
        _file_header(ir, "the accelerator's top-level interface")
        + f"""#ifndef {guard}
#define {guard}

#include "xnorflow_types.hpp"

// One call = one frame. Input: {iface.in_beats} beats of {iface.in_width} bits ({iface.in_bytes} \
bytes in memory, {iface.in_axi_width}-bit port).
// Output: {iface.out_beats} beats of {iface.out_width} bits ({iface.out_bytes} bytes in memory, \
{iface.out_axi_width}-bit port), TLAST on the last when the input frame's last beat had TLAST
// (a batch of frames per DMA transfer: one receive transfer gets the batch).
#define XNORFLOW_IN_AXI_W {iface.in_axi_width}
#define XNORFLOW_IN_BYTES {iface.in_bytes}
#define XNORFLOW_IN_BEATS {iface.in_beats}
#define XNORFLOW_OUT_AXI_W {iface.out_axi_width}
#define XNORFLOW_OUT_BYTES {iface.out_bytes}
#define XNORFLOW_OUT_BEATS {iface.out_beats}

typedef xnorflow::axis_word<XNORFLOW_IN_AXI_W> in_axis_t;
typedef xnorflow::axis_word<XNORFLOW_OUT_AXI_W> out_axis_t;

void {TOP}(hls::stream<in_axis_t> &in_stream, hls::stream<out_axis_t> &out_stream);

#endif
"""
    )
    files["xnorflow_top.cpp"] = (
        _file_header(ir, "the dataflow top function")
        + '#include "xnorflow_top.hpp"\n#include "axis_io.hpp"\n#include "dwc.hpp"\n'
        + "\n".join(includes)
        + "\n\n// width converters between layers whose folds differ\n"
        + "\n".join(dwc_structs)
        + f"""
void {TOP}(hls::stream<in_axis_t> &in_stream, hls::stream<out_axis_t> &out_stream) {{
#pragma HLS INTERFACE axis port = in_stream
#pragma HLS INTERFACE axis port = out_stream
#pragma HLS INTERFACE ap_ctrl_none port = return
#pragma HLS DATAFLOW
"""
        + "\n".join(decls)
        + "\n\n"
        + "\n".join(calls)
        + "\n}\n"
    )
    return files


TESTBENCH = """
// Usage: tb_xnorflow IN.bin OUT.bin N [BATCH]
// IN.bin: N frames x XNORFLOW_IN_BEATS beats x XNORFLOW_IN_BYTES bytes (compile/stream.py);
// OUT.bin gets N frames x XNORFLOW_OUT_BEATS beats x XNORFLOW_OUT_BYTES bytes. The ports'
// padding bytes (up to the AXI DMA's width) are zero on input and dropped on output.
// The frames go in packets of BATCH frames (default and 0: all N in one), as DMA transfers
// send them: TLAST on each packet's last input beat, and it must come out on exactly the last
// output beat of each packet.
// Exit status: 0 done, 2 bad arguments or files, 3 the accelerator broke the stream protocol.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "xnorflow_top.hpp"

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: %s IN.bin OUT.bin N [BATCH]\\n", argv[0]);
        return 2;
    }
    const long n = std::atol(argv[3]);
    const long batch = argc == 5 && std::atol(argv[4]) > 0 ? std::atol(argv[4]) : n;
    const unsigned in_bytes = XNORFLOW_IN_BYTES, out_bytes = XNORFLOW_OUT_BYTES;
    std::FILE *fin = std::fopen(argv[1], "rb");
    std::FILE *fout = std::fopen(argv[2], "wb");
    if (!fin || !fout) {
        std::fprintf(stderr, "cannot open %s or %s\\n", argv[1], argv[2]);
        return 2;
    }
    std::vector<unsigned char> in_buf(in_bytes), out_buf(out_bytes);
    hls::stream<in_axis_t> in_stream("in_stream");
    hls::stream<out_axis_t> out_stream("out_stream");
    for (long f = 0; f < n; f++) {
        const bool packet_end = (f + 1) % batch == 0 || f + 1 == n;
        for (unsigned b = 0; b < XNORFLOW_IN_BEATS; b++) {
            if (std::fread(in_buf.data(), 1, in_bytes, fin) != in_bytes) {
                std::fprintf(stderr, "%s: frame %ld is incomplete\\n", argv[1], f);
                return 2;
            }
            in_axis_t beat;
            beat.data = 0;
            for (unsigned k = 0; k < in_bytes; k++)
                beat.data.range(8 * k + 7, 8 * k) = in_buf[k];
            beat.keep = -1;
            beat.strb = -1;
            beat.last = (b == XNORFLOW_IN_BEATS - 1 && packet_end) ? 1 : 0;
            in_stream.write(beat);
        }
        xnorflow_top(in_stream, out_stream);
        if (!in_stream.empty() || out_stream.size() != XNORFLOW_OUT_BEATS) {
            std::fprintf(stderr, "frame %ld: %lu input beats left, %lu output beats, want %d\\n", f,
                         (unsigned long)in_stream.size(), (unsigned long)out_stream.size(),
                         XNORFLOW_OUT_BEATS);
            return 3;
        }
        for (unsigned b = 0; b < XNORFLOW_OUT_BEATS; b++) {
            out_axis_t beat = out_stream.read();
            if (beat.last != (b == XNORFLOW_OUT_BEATS - 1 && packet_end ? 1 : 0)) {
                std::fprintf(stderr, "frame %ld beat %u: wrong TLAST\\n", f, b);
                return 3;
            }
            for (unsigned k = 0; k < out_bytes; k++)
                out_buf[k] = (unsigned char)beat.data.range(8 * k + 7, 8 * k).to_uint();
            std::fwrite(out_buf.data(), 1, out_bytes, fout);
        }
    }
    std::fclose(fin);
    return std::fclose(fout) == 0 ? 0 : 2;
}
"""


# --- Tcl scripts ---------------------------------------------------------------------------
def run_hls_tcl(ir: DataflowIR, files: list[str], options: BackendOptions) -> str:
    period = 1000.0 / options.clock_mhz
    adds = "\n".join(f'add_files "$here/{f}" -cflags "-I$here -I$here/templates"' for f in files)
    return (
        _file_header(ir, "Vitis HLS project (csim, csynth, IP export)", "#")
        + f"""# Run: vitis_hls -f run_hls.tcl   (from any directory; Vitis HLS 2022.2 or newer)
# Not run on the machines xnorflow is developed on: Vitis is not installed there.
set here [file dirname [file normalize [info script]]]
open_project -reset "$here/prj"
set_top {TOP}
{adds}
add_files -tb "$here/tb_xnorflow.cpp" -cflags "-I$here -I$here/templates"
open_solution -reset sol1 -flow_target vivado
set_part {{{effective_part(options)}}}
create_clock -period {period:.3f} -name default
csim_design -argv "$here/csim_in.bin $here/csim_out.bin 1"
csynth_design
export_design -format ip_catalog -vendor xnorflow.org -library hls -ipname {TOP} \
-version 1.0 -output "$here/ip"
exit
"""
    )


def build_bitstream_tcl(ir: DataflowIR, options: BackendOptions, iface: TopInterface) -> str:
    board = options.board
    _, ps_ip, board_part = BOARDS[board]
    part = effective_part(options)
    if board == "kv260":
        ps = f"""set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:{ps_ip}:* zynq_ultra_ps_e_0]
apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {{apply_board_preset "1"}} $ps
set_property -dict [list CONFIG.PSU__USE__M_AXI_GP0 {{1}} CONFIG.PSU__USE__M_AXI_GP1 {{0}} \
CONFIG.PSU__USE__M_AXI_GP2 {{0}} CONFIG.PSU__USE__S_AXI_GP2 {{1}}] $ps
set ps_master "/zynq_ultra_ps_e_0/M_AXI_HPM0_FPD"
set ps_slave "/zynq_ultra_ps_e_0/S_AXI_HP0_FPD"
set ps_clk "/zynq_ultra_ps_e_0/pl_clk0"
"""
    else:
        ps = f"""set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:{ps_ip}:* processing_system7_0]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
-config {{make_external "FIXED_IO, DDR" apply_board_preset "1"}} $ps
set_property -dict [list CONFIG.PCW_USE_S_AXI_HP0 {{1}} \
CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {{{options.clock_mhz:g}}}] $ps
set ps_master "/processing_system7_0/M_AXI_GP0"
set ps_slave "/processing_system7_0/S_AXI_HP0"
set ps_clk "/processing_system7_0/FCLK_CLK0"
"""
    stop = ""
    if iface.dma_problems():
        # the C++ and its C-simulation are fine; only this DMA-based block design cannot exist
        why = "; ".join(iface.dma_problems())
        log.warning("build_bitstream.tcl will stop at once: %s", why)
        stop = f'error "xnorflow: no AXI DMA block design for this model: {why}"\n'
    return (
        _file_header(ir, f"Vivado block design and bitstream for {board}", "#")
        + stop
        + f"""# Run after run_hls.tcl: vivado -mode batch -source build_bitstream.tcl
# Block design: Zynq PS + AXI DMA ({DMA_NAME}, simple mode, MM2S -> in_stream,
# out_stream -> S2MM) + the accelerator ({IP_NAME}, ap_ctrl_none: no control registers).
# Writes BUILD/driver/xnorflow.bit and BUILD/driver/xnorflow.hwh for the host's PYNQ backend.
# Not run on the machines xnorflow is developed on: Vivado is not installed there.
set here [file dirname [file normalize [info script]]]
set build [file dirname $here]
create_project -force xnorflow_{board.replace("-", "_")} "$here/vivado" -part {{{part}}}
if {{[lsearch [get_board_parts] "{board_part}"] >= 0}} {{
    set_property board_part {{{board_part}}} [current_project]
}}
set_property ip_repo_paths [list "$here/ip"] [current_project]
update_ip_catalog
create_bd_design xnorflow_bd

{ps}
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:* {DMA_NAME}]
set_property -dict [list CONFIG.c_include_sg {{0}} CONFIG.c_sg_include_stscntrl_strm {{0}} \
CONFIG.c_include_mm2s {{1}} CONFIG.c_include_s2mm {{1}} \
CONFIG.c_m_axis_mm2s_tdata_width {{{iface.in_axi_width}}} \
CONFIG.c_s_axis_s2mm_tdata_width {{{iface.out_axi_width}}} \
CONFIG.c_mm2s_burst_size {{16}} CONFIG.c_s2mm_burst_size {{16}} \
CONFIG.c_sg_length_width {{26}}] $dma
set accel [create_bd_cell -type ip -vlnv xnorflow.org:hls:{TOP}:1.0 {IP_NAME}]

connect_bd_intf_net [get_bd_intf_pins {DMA_NAME}/M_AXIS_MM2S] \
[get_bd_intf_pins {IP_NAME}/in_stream]
connect_bd_intf_net [get_bd_intf_pins {IP_NAME}/out_stream] \
[get_bd_intf_pins {DMA_NAME}/S_AXIS_S2MM]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
-config [list Master $ps_master Clk $ps_clk] [get_bd_intf_pins {DMA_NAME}/S_AXI_LITE]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
-config [list Slave $ps_slave Clk $ps_clk] [get_bd_intf_pins {DMA_NAME}/M_AXI_MM2S]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
-config [list Slave $ps_slave Clk $ps_clk] [get_bd_intf_pins {DMA_NAME}/M_AXI_S2MM]
apply_bd_automation -rule xilinx.com:bd_rule:clkrst -config [list Clk $ps_clk] \
[get_bd_pins {IP_NAME}/ap_clk]
validate_bd_design
save_bd_design

set bd_file [get_files xnorflow_bd.bd]
make_wrapper -files $bd_file -top
add_files -norecurse [file join [file dirname $bd_file] hdl xnorflow_bd_wrapper.v]
set_property top xnorflow_bd_wrapper [current_fileset]
launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1

file mkdir "$build/driver"
set impl_dir [get_property DIRECTORY [get_runs impl_1]]
file copy -force [file join $impl_dir xnorflow_bd_wrapper.bit] "$build/driver/xnorflow.bit"
file copy -force [file join [file dirname $bd_file] hw_handoff xnorflow_bd.hwh] \
"$build/driver/xnorflow.hwh"
exit
"""
    )


# --- entry point -------------------------------------------------------------------------
def template_dir() -> Path:
    return Path(str(resources.files("xnorflow.hw_templates") / "hls"))


def source_hash(folder: Path) -> str:
    """Hash of every C++ source in an hls folder (what the csim binary is built from)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.suffix in (".hpp", ".cpp", ".h") and p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def write(ir: DataflowIR, folder: Path, options: BackendOptions) -> None:
    """Write BUILD/hls (see the module docstring). Writes into a temporary sibling folder and
    renames it, so a failure leaves no half-written folder."""
    if options.board not in BOARDS:
        raise CompileError(
            f"--board {options.board!r} is not supported by the HLS backend; choose one of "
            f"{', '.join(BOARDS)}"
        )
    ir.validate()
    folder = Path(folder)
    files = top_sources(ir)
    iface = TopInterface.of(ir)
    files["tb_xnorflow.cpp"] = _file_header(ir, "C++ testbench") + TESTBENCH
    files["run_hls.tcl"] = run_hls_tcl(ir, ["xnorflow_top.cpp"], options)
    files["build_bitstream.tcl"] = build_bitstream_tcl(ir, options, iface)
    part = effective_part(options)
    files["bd.json"] = json.dumps(
        {
            "top": TOP,
            "ip_name": IP_NAME,
            "dma_name": DMA_NAME,
            "ip_control": "none",
            "board": options.board,
            "part": part,
            "clock_mhz": options.clock_mhz,
            "in_stream": {"port": "in_stream", "tdata_width": iface.in_axi_width,
                          "beat_bytes": iface.in_bytes, "beats_per_frame": iface.in_beats},
            "out_stream": {"port": "out_stream", "tdata_width": iface.out_axi_width,
                           "beat_bytes": iface.out_bytes, "beats_per_frame": iface.out_beats},
            "dma_problems": iface.dma_problems(),
            "bitstream": "driver/xnorflow.bit",
            "hwh": "driver/xnorflow.hwh",
        },
        indent=1,
    )
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "params").mkdir(parents=True)
        (tmp / "templates").mkdir()
        src = template_dir()
        for name in TEMPLATE_FILES:
            shutil.copyfile(src / name, tmp / "templates" / name)
        for rel, text in files.items():
            (tmp / rel).write_text(text)
        # a sample input (one all-zero frame) so that run_hls.tcl's csim_design has a file to read
        (tmp / "csim_in.bin").write_bytes(bytes(iface.in_beats * iface.in_bytes))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # keep a compiled C-simulation: hls/csim.py rebuilds it only if the sources' hash changed
    for name in ("csim.bin", "csim.hash"):
        if (folder / name).is_file():
            shutil.copy2(folder / name, tmp / name)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
