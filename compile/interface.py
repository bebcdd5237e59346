"""The stream interface of one design: the RuntimeSpec (compile/stream.py) of an IR.

The first layer's input type and fold, the last layer's output type and fold, the output
affine, the IR's fingerprint, and (when BUILD/hls/bd.json exists) the block design's DMA and IP
names. The RTL top (rtl.json "interface"), the HLS top, the board bundle's runtime.json and the
host all take the stream geometry from here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.stream import RuntimeSpec, RuntimeSpecError

TOP = "xnorflow_top"  # the accelerator's top: RTL module, HLS function, simulator, synthesis


def ir_fingerprint(ir: DataflowIR) -> str:
    """A hash of everything in the IR that the hardware depends on (records and arrays)."""
    h = hashlib.sha256()
    records = []
    for layer in ir.layers:
        rec, arrays = layer.to_json()
        records.append(rec)
        for key in sorted(arrays):
            arr = np.ascontiguousarray(arrays[key])
            h.update(key.encode())
            h.update(str(arr.dtype).encode())
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
    head = [ir.name, list(ir.input_shape), ir.input_layout, ir.input_dtype.name, records]
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    h.update(ir.output_scale.tobytes())
    h.update(ir.output_bias.tobytes())
    return h.hexdigest()[:16]


def _block_design(build: Path | None) -> dict[str, Any]:
    """BUILD/hls/bd.json (written by the HLS backend): the DMA and IP instance names."""
    if build is None or not (Path(build) / "hls" / "bd.json").is_file():
        return {}
    path = Path(build) / "hls" / "bd.json"
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RuntimeSpecError(f"{path}: not valid JSON ({err})") from err


def runtime_spec(ir: DataflowIR, build: Path | None = None) -> RuntimeSpec:
    first, last = ir.layers[0], ir.layers[-1]
    bd = _block_design(build)
    dma = bd.get("dma") or bd.get("dma_name") or "axi_dma_0"
    if isinstance(dma, dict):
        dma = dma.get("name", "axi_dma_0")
    ip = bd.get("ip") or bd.get("ip_name") or ""
    control = bd.get("ip_control") or bd.get("control") or "none"
    if isinstance(ip, dict):
        control = ip.get("control", control)
        ip = ip.get("name", "")
    return RuntimeSpec(
        model=ir.name, fingerprint=ir_fingerprint(ir), input_shape=ir.input_shape,
        input_layout=ir.input_layout, in_bits=ir.input_dtype.bits, in_signed=ir.input_dtype.signed,
        in_min=ir.input_dtype.min(), in_max=ir.input_dtype.max(), in_fold=first.in_fold,
        out_bits=last.out_dtype.bits, out_signed=last.out_dtype.signed, out_fold=last.out_fold,
        n_out=ir.n_out, output_scale=tuple(float(v) for v in ir.output_scale),
        output_bias=tuple(float(v) for v in ir.output_bias),
        output_is_label=last.kind == "label_select",
        output_function=str(ir.meta.get("output_function", "")),
        float_scale=float_scale(ir),
        dma_name=str(dma), ip_name=str(ip), ip_control=str(control), clock_mhz=ir.clock_mhz,
        dma_in_beat_bytes=_stream_bytes(bd, "in_stream"),
        dma_out_beat_bytes=_stream_bytes(bd, "out_stream"),
    )


def _stream_bytes(bd: dict[str, Any], port: str) -> int:
    """Bytes per beat of the DMA's side of a stream, from bd.json (0 when not given)."""
    width = bd.get(port, {}).get("tdata_width", 0) if isinstance(bd.get(port), dict) else 0
    return -(-int(width) // 8)


def float_scale(ir: DataflowIR) -> float:
    """uint8 units per unit of the model's float input: 1 / ir.input_scale (recorded by
    `xnorflow compile`: float input = uint8 · input_scale), 255 when the IR does not say."""
    scale = ir.input_scale
    if isinstance(scale, (int, float)) and scale > 0:
        return 1.0 / float(scale)
    return 255.0
