"""RTL backend: a DataflowIR → BUILD/rtl/ (SystemVerilog top, templates, memory files, filelist).

The templates (hw_templates/rtl/*.sv) are hand-written; this module only emits their
parameters, the instantiations, the stream glue (width converters, FIFOs) and the $readmemh
memory files, plus `rtl.json`, the machine-readable description of the top's stream interface
that the simulator (compile/rtl/sim.py) and synthesis (compile/rtl/synth.py) read.

Stream format of the top (the same as compile/stream.py): input beat = the first layer's
`in_fold` values of `in_dtype.bits` bits, element 0 in the LSBs, zero-padded to whole bytes;
output beat = the last layer's `out_fold` values of `out_dtype.bits` bits (two's complement
when signed), padded with zero bits to whole bytes. m_axis_tlast is high on the last beat of
every output frame whose input frame ended with s_axis_tlast (a DMA transfer of a batch of
frames ends with TLAST, so one receive transfer gets the whole batch); hw_templates/rtl/
tlast_tracker.sv carries the flag.
Memory paths are relative to the rtl folder: run simulators and Yosys with it as the cwd.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.interface import runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.layers import MVAU, LabelSelect, Layer, MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.stream import pack_beats

TOP = "xnorflow_top"
# the templates every top needs, whatever its layers (fifo is used inside the layers)
COMMON_TEMPLATES = ("fifo.sv", "dwc.sv", "tlast_tracker.sv")
TLAST_DEPTH = 32  # frame-end flags the top queues (tlast_tracker.sv)
# upper bound of the FIFO placed in front of an MVAU that re-reads its input (NF > 1)
MAX_FIFO_DEPTH = 256
# (depth, width) shapes of one 16/18-Kbit block RAM (ECP5 DP16KD, Xilinx RAMB18)
BRAM_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


class RtlError(CompileError, ValueError):
    """The IR holds something the RTL backend cannot build; the message says what to change."""


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


def _ident(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return ident if re.match(r"[A-Za-z_]", ident) else f"l_{ident}"


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


def _write_mem(folder: Path, name: str, lines: list[str]) -> str:
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


def _mvau(layer: MVAU, ident: str, folder: Path, bank_depth: int | None = None) -> Instance:
    sf, nf = layer.mw // layer.simd, layer.mh // layer.pe
    lo, hi = layer.acc_range()
    acc_bits = signed_bits(lo, hi + 1)
    obits = layer.out_dtype.bits
    if not layer.has_activation:
        acc_bits = max(acc_bits, obits)
    # weight word nf*SF+sf holds W[nf*PE+p][sf*SIMD+s] at bit p*SIMD+s
    w = layer.weights.reshape(nf, layer.pe, sf, layer.simd).transpose(0, 2, 1, 3)
    words = hex_words(w.reshape(nf * sf, -1), 1)
    bank_depth = bank_depth or weight_bank_depth(layer.pe * layer.simd)
    for b, start in enumerate(range(0, len(words), bank_depth)):
        _write_mem(folder, f"{ident}_w_{b:03d}.mem", words[start:start + bank_depth])
    n_thr = layer.thresholds.shape[1]
    params: dict[str, Any] = {
        "MW": layer.mw, "MH": layer.mh, "PE": layer.pe, "SIMD": layer.simd,
        "XNOR": int(layer.xnor), "IBITS": layer.in_dtype.bits,
        "IN_SIGNED": int(layer.in_dtype.signed), "ACC_BITS": acc_bits, "N_THR": n_thr,
        "OBITS": obits, "ACT_VAL": int(layer.act_val),
        "WEIGHT_PREFIX": f"mem/{ident}_w", "WBANK_DEPTH": bank_depth,
    }
    if n_thr:
        t = clipped_thresholds(layer.thresholds, lo, hi)
        params["THRESH_FILE"] = _write_mem(
            folder, f"{ident}_t.mem", hex_words(t.reshape(nf, layer.pe * n_thr), acc_bits)
        )
    return Instance("mvau", ident, params, layer.in_width, layer.out_width)


def use_threshold_table(layer: Thresholding) -> bool:
    """Table mode for narrow inputs with many thresholds: a 2^bits-entry ROM per channel is
    cheaper than N_THR comparators (CNV's 8-bit input quantizer: 255 thresholds)."""
    return layer.in_dtype.bits <= 8 and layer.n_thresholds >= 8


def threshold_table(layer: Thresholding) -> np.ndarray:
    """(PE*CF*2^bits,) outputs: entry ((p*CF + cf) << bits) + v for stored input pattern v."""
    bits, cf, pe = layer.in_dtype.bits, layer.channels // layer.pe, layer.pe
    patterns = np.arange(1 << bits, dtype=np.int64)
    values = patterns - (1 << bits) * (patterns >= (1 << (bits - 1))) if layer.in_dtype.signed \
        else patterns
    x = np.broadcast_to(values[:, None, None], (len(values), layer.pixels, layer.channels))
    out = layer.reference(x.copy())[:, 0, :]  # (2^bits, channels)
    table = out.T.reshape(cf, pe, 1 << bits).transpose(1, 0, 2)  # (pe, cf, 2^bits)
    return table.reshape(-1)


def _thresholding(layer: Thresholding, ident: str, folder: Path) -> Instance:
    lo, hi = layer.in_dtype.min(), layer.in_dtype.max()
    tbits = signed_bits(lo, hi + 1)
    n_thr = layer.n_thresholds
    if n_thr < 1:
        raise RtlError(f"layer {layer.name!r}: a thresholding layer needs at least one threshold")
    cf = layer.channels // layer.pe
    table = use_threshold_table(layer)
    if table:
        words = hex_words(threshold_table(layer).reshape(-1, 1), layer.out_dtype.bits)
    else:
        t = clipped_thresholds(layer.thresholds, lo, hi)
        words = hex_words(t.reshape(cf, layer.pe * n_thr), tbits)
    tfile = _write_mem(folder, f"{ident}_t.mem", words)
    params = {
        "CHANNELS": layer.channels, "PE": layer.pe, "IBITS": layer.in_dtype.bits,
        "IN_SIGNED": int(layer.in_dtype.signed), "TBITS": tbits, "N_THR": n_thr,
        "OBITS": layer.out_dtype.bits, "ACT_VAL": int(layer.act_val), "TABLE": int(table),
        "THRESH_FILE": tfile,
    }
    return Instance("thresholding", ident, params, layer.in_width, layer.out_width)


def _sliding_window(layer: SlidingWindow, ident: str, folder: Path) -> Instance:
    params = {
        "IFM_H": layer.ifm_dim[0], "IFM_W": layer.ifm_dim[1], "CHANNELS": layer.channels,
        "SIMD": layer.simd, "BITS": layer.in_dtype.bits, "KERNEL": layer.kernel,
        "STRIDE": layer.stride,
    }
    return Instance("sliding_window", ident, params, layer.in_width, layer.out_width)


def _maxpool(layer: MaxPool, ident: str, folder: Path) -> Instance:
    if layer.kernel != layer.stride:
        raise RtlError(
            f"layer {layer.name!r}: the RTL max-pool needs kernel == stride "
            f"(got kernel {layer.kernel}, stride {layer.stride}); use a pool with kernel == stride"
        )
    params = {
        "IFM_H": layer.ifm_dim[0], "IFM_W": layer.ifm_dim[1], "CHANNELS": layer.channels,
        "PE": layer.pe, "BITS": layer.in_dtype.bits, "SIGNED": int(layer.in_dtype.signed),
        "KERNEL": layer.kernel,
    }
    return Instance("maxpool", ident, params, layer.in_width, layer.out_width)


def _label_select(layer: LabelSelect, ident: str, folder: Path) -> Instance:
    if (1 << layer.out_dtype.bits) < layer.labels or layer.out_dtype.signed:
        raise RtlError(
            f"layer {layer.name!r}: output type {layer.out_dtype} cannot hold label indices "
            f"0..{layer.labels - 1}; use UINT{max(1, (layer.labels - 1).bit_length())} or wider"
        )
    params = {
        "LABELS": layer.labels, "PE": layer.pe, "IBITS": layer.in_dtype.bits,
        "IN_SIGNED": int(layer.in_dtype.signed), "OBITS": layer.out_dtype.bits,
    }
    return Instance("label_select", ident, params, layer.in_width, layer.out_width)


LAYER_WRITERS = {
    MVAU: _mvau, Thresholding: _thresholding, SlidingWindow: _sliding_window,
    MaxPool: _maxpool, LabelSelect: _label_select,
}


def layer_instance(layer: Layer, folder: Path, bank_depth: int | None = None) -> Instance:
    writer = LAYER_WRITERS.get(type(layer))
    if writer is None:
        raise RtlError(f"layer {layer.name!r}: kind {layer.kind!r} has no RTL template")
    if isinstance(layer, MVAU):
        inst = _mvau(layer, _ident(layer.name), folder, bank_depth)
    else:
        inst = writer(layer, _ident(layer.name), folder)
    inst.layer, inst.kind = layer.name, layer.kind
    return inst


def glue_fifo_depth(nxt: Layer) -> int:
    """Entries of the FIFO in front of `nxt` (0 = none).

    An MVAU with NF > 1 row folds takes a vector's SF beats in a burst (fold 0) and then none
    for (NF-1)·SF cycles; a FIFO of SF beats lets its producer keep running meanwhile.
    """
    if isinstance(nxt, MVAU) and nxt.mh // nxt.pe > 1:
        return min(MAX_FIFO_DEPTH, max(2, nxt.mw // nxt.simd))
    return 0


def build_chain(ir: DataflowIR, folder: Path, bank_depth: int | None = None) -> list[Instance]:
    """The top's instances in stream order: layers with width converters and FIFOs between."""
    chain: list[Instance] = []
    for i, layer in enumerate(ir.layers):
        if i:
            prev_w = chain[-1].out_w
            if prev_w != layer.in_width:
                chain.append(Instance("dwc", f"dwc_{i}", {"IN_W": prev_w, "OUT_W": layer.in_width},
                                      prev_w, layer.in_width))
            depth = glue_fifo_depth(layer)
            if depth:
                chain.append(Instance("fifo", f"fifo_{i}", {"WIDTH": layer.in_width,
                                                             "DEPTH": depth},
                                      layer.in_width, layer.in_width))
        chain.append(layer_instance(layer, folder, bank_depth))
    return chain


def interface(ir: DataflowIR) -> dict[str, Any]:
    """The top's stream interface (rtl.json "interface"), from the design's RuntimeSpec."""
    spec = runtime_spec(ir)
    return {
        "in_bits": spec.in_bits, "in_per_beat": spec.in_fold, "in_bytes": spec.in_beat_bytes,
        "in_beats": spec.in_beats, "in_signed": spec.in_signed,
        "out_bits": spec.out_bits, "out_per_beat": spec.out_fold,
        "out_bytes": spec.out_beat_bytes, "out_beats": spec.out_beats,
        "out_signed": spec.out_signed, "fingerprint": spec.fingerprint,
    }


def stream_names(chain: list[Instance]) -> list[str]:
    """The top's streams in order: into each instance ("<instance>_in"), then out of the last."""
    return [f"{inst.name}_in" for inst in chain] + [f"{chain[-1].name}_out"]


def _param_value(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def render_top(ir: DataflowIR, chain: list[Instance], io: dict[str, Any]) -> str:
    in_w, out_w = io["in_bytes"] * 8, io["out_bytes"] * 8
    first_w, last_w = chain[0].in_w, chain[-1].out_w
    lines = [
        f"// Generated by xnorflow.compile.rtl.codegen from model {ir.name!r}: do not edit.",
        f"// Layers: {', '.join(f'{x.layer} ({x.kind})' for x in chain if x.layer)}.",
        f"// Analytic initiation interval {ir.initiation_interval()} cycles/frame "
        f"({ir.fps():.0f} frames/s at {ir.clock_mhz:g} MHz).",
        "//",
        "// Stream format (compile/stream.py):",
        f"//   s_axis: {io['in_beats']} beats per frame; a beat = {io['in_per_beat']} values of "
        f"{io['in_bits']} bits ({'signed' if io['in_signed'] else 'unsigned'}), value i at bits",
        f"//           [i*{io['in_bits']}, (i+1)*{io['in_bits']}), padded to {in_w} bits "
        "(bytes, little-endian); the frame is row-major NHWC.",
        f"//   m_axis: {io['out_beats']} beats per frame; a beat = {io['out_per_beat']} values of "
        f"{io['out_bits']} bits ({'signed' if io['out_signed'] else 'unsigned'}), padded with",
        f"//           zeros to {out_w} bits.",
        "//   TLAST: m_axis_tlast is high on the last beat of each output frame whose input",
        "//          frame's last beat had s_axis_tlast high (a batch per DMA transfer);",
        "//          s_axis_tlast elsewhere in a frame is ignored.",
        "// clk: one clock; rst: synchronous, active high.",
        "`default_nettype none",
        "",
        f"module {TOP} (",
        "    input  wire logic            clk,",
        "    input  wire logic            rst,",
        "",
        f"    input  wire logic [{in_w - 1}:0] s_axis_tdata,",
        "    input  wire logic            s_axis_tvalid,",
        "    output wire logic            s_axis_tready,",
        "    input  wire logic            s_axis_tlast,",
        "",
        f"    output wire logic [{out_w - 1}:0] m_axis_tdata,",
        "    output wire logic            m_axis_tvalid,",
        "    input  wire logic            m_axis_tready,",
        "    output wire logic            m_axis_tlast",
        ");",
        "",
    ]
    names = stream_names(chain)
    lines.append("    // streams between the instances, named after the instance they enter (the")
    lines.append("    // last after the one it leaves); handshakes readable by the simulator")
    for k, name in enumerate(names):
        width = chain[k].in_w if k < len(chain) else last_w
        lines += [
            f"    wire [{width - 1}:0] {name}_tdata;",
            f"    wire {name}_tvalid /*verilator public_flat_rd*/;",
            f"    wire {name}_tready /*verilator public_flat_rd*/;",
        ]
    n = len(chain)
    lines.append("")
    if in_w > first_w:
        lines += ["    /* verilator lint_off UNUSEDSIGNAL */",
                  "    // the pad bits of the input beats carry nothing",
                  f"    wire [{in_w - 1}:0] s_axis_tdata_all = s_axis_tdata;",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    assign {names[0]}_tdata = s_axis_tdata_all[{first_w - 1}:0];"]
    else:
        lines.append(f"    assign {names[0]}_tdata = s_axis_tdata;")
    lines += [f"    assign {names[0]}_tvalid = s_axis_tvalid;", ""]
    for k, inst in enumerate(chain):
        plines = [f"        .{key}({_param_value(v)})" for key, v in inst.params.items()]
        comment = f"    // {inst.layer} ({inst.kind})" if inst.layer else "    // stream glue"
        lines += [
            comment,
            f"    {inst.module} #(",
            ",\n".join(plines),
            f"    ) u_{inst.name} (",
            "        .clk, .rst,",
            f"        .s_axis_tdata({names[k]}_tdata), .s_axis_tvalid({names[k]}_tvalid), "
            f".s_axis_tready({names[k]}_tready),",
            f"        .m_axis_tdata({names[k + 1]}_tdata), .m_axis_tvalid({names[k + 1]}_tvalid), "
            f".m_axis_tready({names[k + 1]}_tready)",
            "    );",
            "",
        ]
    pad = out_w - last_w
    data = f"{{{pad}'b0, {names[n]}_tdata}}" if pad else f"{names[n]}_tdata"
    lines += [
        f"    assign m_axis_tdata = {data};",
        "",
        "    // TLAST from the end of an input frame to the end of the same output frame",
        "    tlast_tracker #(",
        f"        .IN_BEATS({io['in_beats']}),",
        f"        .OUT_BEATS({io['out_beats']}),",
        f"        .DEPTH({TLAST_DEPTH})",
        "    ) u_tlast (",
        "        .clk, .rst,",
        "        .s_axis_tvalid, .s_axis_tlast, .s_axis_tready,",
        f"        .core_s_tready({names[0]}_tready),",
        f"        .core_m_tvalid({names[n]}_tvalid), .core_m_tready({names[n]}_tready),",
        "        .m_axis_tvalid, .m_axis_tready, .m_axis_tlast",
        "    );",
        "",
        "endmodule",
        "",
        "`default_nettype wire",
        "",
    ]
    return "\n".join(lines)


def template_path(name: str) -> Path:
    return Path(str(importlib.resources.files("xnorflow.hw_templates").joinpath("rtl", name)))


def write(ir: DataflowIR, folder: Path, options: Any = None,
          bank_depth: int | None = None) -> Path:
    """Write BUILD/rtl: templates, memory files, the top, filelist.f and rtl.json.

    Everything goes to a temporary sibling first, so a failure leaves no half-written folder.
    ``bank_depth`` (a power of two) overrides :func:`weight_bank_depth` for every MVAU; the
    tests make it small to exercise several banks on small layers.
    """
    if bank_depth is not None and (bank_depth < 1 or bank_depth & (bank_depth - 1)):
        raise RtlError(f"bank_depth must be a power of two, got {bank_depth}")
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        ir.validate()
        chain = build_chain(ir, tmp, bank_depth)
        io = interface(ir)
        modules = {inst.module for inst in chain}
        files = sorted({f"{m}.sv" for m in modules} | set(COMMON_TEMPLATES))
        for f in files:
            shutil.copyfile(template_path(f), tmp / f)
        (tmp / f"{TOP}.sv").write_text(render_top(ir, chain, io))
        files.append(f"{TOP}.sv")
        (tmp / "filelist.f").write_text("\n".join(files) + "\n")
        desc = {
            "generator": "xnorflow.compile.rtl.codegen", "model": ir.name, "top": TOP,
            "files": files, "clock_mhz": ir.clock_mhz,
            "initiation_interval": ir.initiation_interval(),
            "latency_cycles": sum(layer.exp_cycles() for layer in ir.layers),
            "interface": io,
            "streams": stream_names(chain),
            "instances": [dataclasses.asdict(inst) for inst in chain],
        }
        (tmp / "rtl.json").write_text(json.dumps(desc, indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder
