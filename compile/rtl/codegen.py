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
import shutil
from pathlib import Path
from typing import Any

from xnorflow.compile.interface import TOP, runtime_spec
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.glue import plan_glue
from xnorflow.compile.layers import Layer
from xnorflow.compile.rtl.common import Instance, RtlError, RtlOptions, ident

# the templates every top needs, whatever its layers (fifo and popcount are used inside them)
COMMON_TEMPLATES = ("fifo.sv", "popcount.sv", "dwc.sv", "tlast_tracker.sv")
TLAST_DEPTH = 32  # frame-end flags the top queues (tlast_tracker.sv)


def layer_instance(layer: Layer, folder: Path, options: RtlOptions) -> Instance:
    """The layer plugin's instance of its template, tagged with the layer's name and kind."""
    if not type(layer).rtl_template:
        raise RtlError(f"layer {layer.name!r}: kind {layer.kind!r} has no RTL template")
    inst = layer.rtl_instance(ident(layer.name), folder, options)
    inst.layer, inst.kind = layer.name, layer.kind
    return inst


def _stream_name(inst: Instance, port: int) -> str:
    return f"{inst.name}_in" if port == 0 else f"{inst.name}_in{port}"


def build_graph(ir: DataflowIR, folder: Path, options: RtlOptions) -> list[Instance]:
    """The top's instances in stream order, wired: the layers, and on each edge between two of
    them the glue of ir/glue.py (a width converter where the folds differ, a FIFO where the
    plan has one) just before its consumer. Each instance lists the streams it takes and gives
    by port; a stream is named after the instance (and port) it enters, the model's output
    `<last>_out`."""
    layers = [layer_instance(layer, folder, options) for layer in ir.layers]
    glue = {(g.index, g.port): g for g in plan_glue(ir)}
    for layer, inst in zip(ir.layers, layers, strict=True):
        inst.outputs = [""] * type(layer).n_consumers
    out: list[Instance] = []
    for i, (layer, inst) in enumerate(zip(ir.layers, layers, strict=True)):
        inst.inputs = [_stream_name(inst, p) for p in range(type(layer).n_inputs)]
        for port in range(type(layer).n_inputs):
            g = glue.get((i, port))
            if g is None:  # the model's input
                continue
            width = layer.input_widths[port]
            suffix = f"{i}" if port == 0 else f"{i}_{port}"
            chain: list[Instance] = []
            if g.converter:
                chain.append(Instance("dwc", f"dwc_{suffix}", {"IN_W": g.in_fold * g.bits,
                                                               "OUT_W": width},
                                      g.in_fold * g.bits, width))
            if g.fifo_depth:
                chain.append(Instance("fifo", f"fifo_{suffix}", {"WIDTH": width,
                                                                 "DEPTH": g.fifo_depth},
                                      width, width))
            for x in chain:
                x.inputs = [_stream_name(x, 0)]
            for x, end in zip(chain, [x.inputs[0] for x in chain[1:]]
                              + [_stream_name(inst, port)], strict=False):
                x.outputs = [end]
            chain_in = chain[0].inputs[0] if chain else _stream_name(inst, port)
            layers[g.src].outputs[g.src_port] = chain_in
            out += chain
        out.append(inst)
    layers[-1].outputs = [f"{layers[-1].name}_out"]
    return out


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


def stream_names(insts: list[Instance]) -> list[str]:
    """The top's streams: into each instance by port, in order, then the model's output."""
    return [name for inst in insts for name in inst.inputs] + [insts[-1].outputs[0]]


def _param_value(v: Any) -> str:
    """A string in quotes, an integer in decimal, or in sized hex beyond 32 bits."""
    if isinstance(v, str):
        return f'"{v}"'
    v = int(v)
    return str(v) if -(1 << 31) <= v < 1 << 31 else f"{v.bit_length()}'h{v:x}"


def _port_lines(inst: Instance) -> list[str]:
    """The stream ports of an instance: s_axis/m_axis; a join's s0_axis/s1_axis; a fork's
    m_axis vectors, output k in slice k."""
    def bus(prefix: str, name: str) -> str:
        return (f".{prefix}_tdata({name}_tdata), .{prefix}_tvalid({name}_tvalid), "
                f".{prefix}_tready({name}_tready)")

    if len(inst.inputs) == 1:
        ins = [bus("s_axis", inst.inputs[0])]
    else:
        ins = [bus(f"s{p}_axis", name) for p, name in enumerate(inst.inputs)]
    if len(inst.outputs) == 1:
        outs = [bus("m_axis", inst.outputs[0])]
    else:
        rev = inst.outputs[::-1]
        outs = [", ".join(f".m_axis_{sig}({{{', '.join(f'{n}_{sig}' for n in rev)}}})"
                          for sig in ("tdata", "tvalid", "tready"))]
    return ["        " + line + "," for line in ins] + ["        " + outs[0]]


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
    widths = {chain[0].inputs[0]: first_w}
    for inst in chain:
        widths.update((name, inst.out_w) for name in inst.outputs)
    top_in, top_out = chain[0].inputs[0], chain[-1].outputs[0]
    lines.append("    // streams between the instances, named after the instance (and input port)")
    lines.append("    // they enter, the model's output after the last; handshakes readable by the")
    lines.append("    // simulator")
    for name in names:
        lines += [
            f"    wire [{widths[name] - 1}:0] {name}_tdata;",
            f"    wire {name}_tvalid /*verilator public_flat_rd*/;",
            f"    wire {name}_tready /*verilator public_flat_rd*/;",
        ]
    lines.append("")
    if in_w > first_w:
        lines += ["    /* verilator lint_off UNUSEDSIGNAL */",
                  "    // the pad bits of the input beats carry nothing",
                  f"    wire [{in_w - 1}:0] s_axis_tdata_all = s_axis_tdata;",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    assign {top_in}_tdata = s_axis_tdata_all[{first_w - 1}:0];"]
    else:
        lines.append(f"    assign {top_in}_tdata = s_axis_tdata;")
    lines += [f"    assign {top_in}_tvalid = s_axis_tvalid;", ""]
    for inst in chain:
        plines = [f"        .{key}({_param_value(v)})" for key, v in inst.params.items()]
        comment = f"    // {inst.layer} ({inst.kind})" if inst.layer else "    // stream glue"
        lines += [comment, f"    {inst.module} #(", ",\n".join(plines),
                  f"    ) u_{inst.name} (", "        .clk, .rst,"]
        lines += _port_lines(inst)
        lines += ["    );", ""]
    pad = out_w - last_w
    data = f"{{{pad}'b0, {top_out}_tdata}}" if pad else f"{top_out}_tdata"
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
        f"        .core_s_tready({top_in}_tready),",
        f"        .core_m_tvalid({top_out}_tvalid), .core_m_tready({top_out}_tready),",
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
    ``bank_depth`` (a power of two) overrides rtl/common.weight_bank_depth for every MVAU; the
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
        chain = build_graph(ir, tmp, RtlOptions(bank_depth=bank_depth))
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
