"""Read FINN's HW-layer graph once into the dataflow IR (plain numpy + dataclasses).

FINN node → IR layer:
- Thresholding → Thresholding (per-tensor thresholds expanded to every channel);
- MVAU → MVAU: FINN stores weights as (MW, MH); the IR as (MH, MW) bits, 1 = +1. In XNOR
  mode FINN's weights are BINARY {0, 1} already (ConvertBipolarMatMulToXnorPopcount); in the
  first-layer mode they are BIPOLAR {-1, +1} → (w + 1) / 2. Negative BatchNorm scales were
  absorbed by FINN into the weights' signs, so nothing is left to do for them here;
- ConvolutionInputGenerator (depthwise=0) → SlidingWindow (FINN's im2col order (ky, kx, c) is
  the IR's);
- depthwise ConvolutionInputGenerator (or Im2Col) + Pool(MaxPool) → MaxPool;
- LabelSelect → LabelSelect;
- leading data-movement nodes (Reshape, Flatten, Transpose, Squeeze, Unsqueeze) → the IR's
  input layout, found by applying them to the indices of one image;
- trailing Mul/Add/Sub/Div by constants → output_scale / output_bias.

A BINARY tensor in FINN's lowered graph holds bipolar values as bits (1 = +1): the IR calls it
BIPOLAR. Thresholds are checked to be integers and clipped to [acc_min, acc_max + 1], which
changes no output. Every IR layer is named after its FINN node; `ir.meta["finn_nodes"]` maps a
layer to the FINN node(s) it came from (for the resource estimates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir import DataflowIR, IRError
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import (
    MVAU,
    LabelSelect,
    Layer,
    LayerError,
    MaxPool,
    SlidingWindow,
    Thresholding,
)

AFFINE_OPS = ("Mul", "Add", "Sub", "Div")
HW_DOMAIN = "finn.custom_op.fpgadataflow"


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def ir_dtype(name: str) -> DataType:
    """FINN datatype name → IR datatype (BINARY → BIPOLAR: bits that mean ±1)."""
    return BIPOLAR if name in ("BINARY", "BIPOLAR") else DataType.parse(name)


def integer_array(arr: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
        raise CompileError(f"{what}: thresholds are not integers after FINN's "
                           "RoundAndClipThresholds; the model's input or scaling is not integer")
    return np.round(arr).astype(np.int64)


def expand_thresholds(t: np.ndarray, channels: int, what: str) -> np.ndarray:
    """(1 or C, T) → (C, T) int64, ascending rows."""
    t = integer_array(t, what)
    if t.ndim == 1:
        t = t.reshape(1, -1)
    if t.shape[0] == 1:
        t = np.repeat(t, channels, axis=0)
    if t.shape[0] != channels:
        raise CompileError(f"{what}: {t.shape[0]} threshold rows for {channels} channels")
    return np.sort(t, axis=1)


class _Reader:
    """One pass over the HW graph, in node order."""

    def __init__(self, model: Any, source: Path) -> None:
        self.model = model
        self.source = source
        self.layers: list[Layer] = []
        self.finn_nodes: dict[str, list[str]] = {}

    def fail(self, node: Any, why: str) -> CompileError:
        return CompileError(f"{self.source}: node {node.name!r} ({node.op_type}) {why}")

    def init(self, name: str) -> np.ndarray | None:
        return self.model.get_initializer(name)

    def add(self, layer: Layer, *nodes: Any) -> None:
        self.layers.append(layer)
        self.finn_nodes[layer.name] = [n.name for n in nodes]

    # --- one method per FINN op --------------------------------------------------------
    def thresholding(self, node: Any) -> None:
        a = _attrs(node)
        ch = int(a["NumChannels"])
        thr = expand_thresholds(self.init(node.input[1]), ch, f"{self.source}: {node.name}")
        in_dt = ir_dtype(a["inputDataType"])
        if in_dt.bipolar:
            raise self.fail(node, "thresholds bipolar values; only integer inputs are supported")
        self.add(Thresholding(
            name=node.name, in_dtype=in_dt, out_dtype=ir_dtype(a["outputDataType"]),
            pixels=int(np.prod(a.get("numInputVectors", [1]))), channels=ch,
            thresholds=thr, act_val=int(a.get("ActVal", 0)), pe=1,
        ), node)

    def mvau(self, node: Any) -> None:
        a = _attrs(node)
        mw, mh = int(a["MW"]), int(a["MH"])
        w = np.asarray(self.init(node.input[1]), dtype=np.float64)
        if w.shape != (mw, mh):
            raise self.fail(node, f"has weights of shape {w.shape}, expected (MW, MH)=({mw}, {mh})")
        wdt, idt = a["weightDataType"], a["inputDataType"]
        xnor = int(a.get("binaryXnorMode", 0)) == 1
        if xnor:
            if not np.isin(w, (0, 1)).all():
                raise self.fail(node, "is in XNOR mode but its weights are not {0, 1}")
            bits = w.T
            in_dt = BIPOLAR
        else:
            if wdt != "BIPOLAR" or not np.isin(w, (-1, 1)).all():
                raise self.fail(node, f"has {wdt} weights; only binary (bipolar) weights are "
                                "supported — quantize every layer's weights to 1 bit")
            if idt in ("BINARY", "BIPOLAR"):
                raise self.fail(node, f"takes {idt} input without XNOR mode; unsigned 1-bit "
                                "activations are not supported, use bipolar (sign) activations")
            bits = (w.T + 1) / 2
            in_dt = DataType.parse(idt)
        pixels = int(np.prod(a.get("numInputVectors", [1])))
        no_act = int(a.get("noActivation", 0)) == 1 or len(node.input) < 3
        probe = MVAU(name=node.name, in_dtype=in_dt, out_dtype=BIPOLAR, pixels=pixels, mw=mw,
                     mh=mh, weights=bits.astype(np.uint8), thresholds=None)
        if no_act:
            thr, out_dt, act_val = None, probe.acc_dtype(), 0
        else:
            lo, hi = probe.acc_range()
            thr = expand_thresholds(self.init(node.input[2]), mh, f"{self.source}: {node.name}")
            thr = np.clip(thr, lo, hi + 1)
            out_dt, act_val = ir_dtype(a["outputDataType"]), int(a.get("ActVal", 0))
        self.add(MVAU(
            name=node.name, in_dtype=in_dt, out_dtype=out_dt, pixels=pixels, mw=mw, mh=mh,
            weights=bits.astype(np.uint8), thresholds=thr, act_val=act_val, pe=1, simd=1,
        ), node)

    def window(self, node: Any) -> tuple[tuple[int, int], int, int, int]:
        a = _attrs(node)
        if node.op_type == "Im2Col":
            shape = [int(v) for v in a["input_shape"].strip("()").split(",")]
            ifm, ch = (shape[1], shape[2]), shape[3]
            k, s = list(a["kernel_size"]), list(a["stride"])
            if any(a.get("pad_amount", [0])):
                raise self.fail(node, "pads its input; padding is not supported")
            dil = list(a.get("dilations", [1, 1]))
        else:
            ifm, ch = tuple(a["IFMDim"]), int(a["IFMChannels"])
            k, s, dil = list(a["ConvKernelDim"]), list(a["Stride"]), list(a.get("Dilation", [1, 1]))
        if k[0] != k[1] or s[0] != s[1] or any(d != 1 for d in dil) or ifm[0] != ifm[1]:
            raise self.fail(node, f"has kernel {k}, stride {s}, dilation {dil}, input {ifm}; "
                            "supported: square kernels and images, equal strides, dilation 1")
        return (int(ifm[0]), int(ifm[1])), ch, int(k[0]), int(s[0])

    def sliding_window(self, node: Any) -> None:
        ifm, ch, k, s = self.window(node)
        dt = ir_dtype(_attrs(node)["inputDataType"])
        self.add(SlidingWindow(name=node.name, in_dtype=dt, out_dtype=dt, ifm_dim=ifm,
                               channels=ch, kernel=k, stride=s, simd=1), node)

    def maxpool(self, swg: Any, pool: Any) -> None:
        a = _attrs(pool)
        if a.get("Function") != "MaxPool":
            raise self.fail(pool, f"is a {a.get('Function')} pool; only max-pool is supported")
        ifm, ch, k, s = self.window(swg)
        dt = ir_dtype(a["InputDataType"])
        self.add(MaxPool(name=pool.name, in_dtype=dt, out_dtype=dt, ifm_dim=ifm, channels=ch,
                         kernel=k, stride=s, pe=1), swg, pool)

    def label_select(self, node: Any) -> None:
        a = _attrs(node)
        if int(a.get("K", 1)) != 1:
            raise self.fail(node, "selects top-K with K > 1; only K = 1 (argmax) is supported")
        dt = ir_dtype(a["inputDataType"])
        self.add(LabelSelect(name=node.name, in_dtype=dt, out_dtype=ir_dtype(a["outputDataType"]),
                             labels=int(a["Labels"]), pe=1), node)


RESHAPE_OPS = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity")


def _apply_reshape(model: Any, node: Any, x: np.ndarray) -> np.ndarray:
    """One data-movement node of ONNX on the array `x` (batch first)."""
    a = _attrs(node)
    op = node.op_type
    if op == "Identity":
        return x
    if op == "Transpose":
        return x.transpose(a.get("perm", list(range(x.ndim))[::-1]))
    if op == "Flatten":
        axis = int(a.get("axis", 1)) % max(x.ndim, 1)
        return x.reshape(int(np.prod(x.shape[:axis])), -1)
    out_shape = model.get_tensor_shape(node.output[0])
    return x.reshape(out_shape)  # Reshape / Squeeze / Unsqueeze: shapes are static here


def _input_layout(model: Any, pre: list[Any], first_hw: Any, source: Path) -> str:
    """Layout of the image as the first HW layer sees it, from the data-movement nodes before it.

    The nodes (any chain of Reshape, Flatten, Transpose, Squeeze, Unsqueeze) are applied to
    the element indices of one image; the result must be the image in C, H, W order ("flat")
    or in H, W, C order ("nhwc"), the two orders the host streams.
    """
    bad = [n for n in pre if n.op_type not in RESHAPE_OPS]
    if bad:
        n = bad[0]
        raise CompileError(
            f"{source}: node {n.name!r} ({n.op_type}) lies between the input and the first "
            "hardware layer and FINN could not absorb it into the input quantizer's thresholds; "
            "only reshapes (Flatten, Reshape, view) and transposes may come before the input "
            "quantizer — move other operations after it, or into the data pre-processing")
    in_shape = tuple(model.get_tensor_shape(model.graph.input[0].name))
    idx = np.arange(int(np.prod(in_shape))).reshape(in_shape)
    tensor = model.graph.input[0].name
    for node in pre:
        if node.input[0] != tensor:
            raise CompileError(
                f"{source}: node {node.name!r} ({node.op_type}) before the first hardware layer "
                "does not take the previous node's output; the input must reach the first "
                "layer through one chain of reshapes/transposes")
        idx, tensor = _apply_reshape(model, node, idx), node.output[0]
    if tensor != first_hw.input[0]:
        raise CompileError(f"{source}: the first hardware layer {first_hw.name!r} does not take "
                           "the model's input (after its reshapes)")
    order = idx.reshape(-1)
    hw_in = model.get_tensor_shape(first_hw.input[0])
    if len(hw_in) != 4 and np.array_equal(order, np.arange(order.size)):
        return "flat"
    if len(in_shape) == 4:
        nhwc = np.arange(order.size).reshape(in_shape).transpose(0, 2, 3, 1).reshape(-1)
        if np.array_equal(order, nhwc):
            return "nhwc"
    ops = [f"{n.name} ({n.op_type})" for n in pre]
    raise CompileError(
        f"{source}: the nodes before the first hardware layer ({', '.join(ops) or 'none'}) "
        f"reorder the input {list(in_shape)} into neither C,H,W nor H,W,C order; the "
        "accelerator streams images in one of these two orders — flatten or transpose the "
        "input only as x.flatten(1) or x.permute(0, 2, 3, 1) does")


def _skip_stream_reshapes(model: Any, nodes: list[Any], i: int, source: Path) -> int:
    """Index of the first node after the run of data-movement nodes at `i`, which lies between
    two hardware layers; CompileError unless the run keeps the stream's element order (a
    flatten of an NHWC stream does; a transpose left over from the user's model does not)."""
    start, tensor = i, nodes[i].input[0]
    idx = np.arange(int(np.prod(model.get_tensor_shape(tensor)))).reshape(
        model.get_tensor_shape(tensor))
    while i < len(nodes) and nodes[i].op_type in RESHAPE_OPS and nodes[i].input[0] == tensor:
        idx, tensor = _apply_reshape(model, nodes[i], idx), nodes[i].output[0]
        i += 1
    if not np.array_equal(idx.reshape(-1), np.arange(idx.size)):
        run = ", ".join(f"{n.name} ({n.op_type})" for n in nodes[start:i])
        producer = model.find_producer(nodes[start].input[0])
        after = f"after {producer.name!r}" if producer is not None else "at the input"
        raise CompileError(
            f"{source}: {run} {after} reorder the elements of the stream between two hardware "
            "layers, and FINN could not absorb the reorder into a neighbouring layer; the "
            "dataflow passes tensors in channels-last order — remove the permute/transpose "
            "between these layers (a flatten alone is fine)")
    return i


def _fold_affine(model: Any, nodes: list[Any], n_out: int, source: Path):
    """Trailing elementwise Mul/Add/Sub/Div by constants → (scale, bias) per output."""
    scale, bias = np.ones(n_out), np.zeros(n_out)
    for node in nodes:
        c = model.get_initializer(node.input[1])
        if node.op_type not in AFFINE_OPS or c is None:
            raise CompileError(
                f"{source}: node {node.name!r} ({node.op_type}) after the last hardware layer is "
                "not an elementwise Mul/Add/Sub/Div by a constant; it cannot be folded into "
                "the output scale/bias")
        c = np.asarray(c, dtype=np.float64).reshape(-1)
        if c.size not in (1, n_out):
            raise CompileError(f"{source}: node {node.name!r} has {c.size} constants for "
                               f"{n_out} outputs")
        if node.op_type == "Mul":
            scale, bias = scale * c, bias * c
        elif node.op_type == "Div":
            scale, bias = scale / c, bias / c
        elif node.op_type == "Add":
            bias = bias + c
        else:
            bias = bias - c
    return scale, bias


def ir_from_finn(model: Any, name: str, source: Path, clock_mhz: float = 100.0) -> DataflowIR:
    """FINN's HW-layer graph (ModelWrapper, before SpecializeLayers) → a validated DataflowIR."""
    source = Path(source)
    nodes = list(model.graph.node)
    hw_idx = [i for i, n in enumerate(nodes) if n.domain == HW_DOMAIN]
    if not hw_idx:
        raise CompileError(f"{source}: FINN produced no hardware layer from this model")
    first, last = hw_idx[0], hw_idx[-1]
    reader = _Reader(model, source)
    i = first
    while i <= last:
        node = nodes[i]
        op = node.op_type
        if op in RESHAPE_OPS:
            i = _skip_stream_reshapes(model, nodes, i, source)
            continue
        if node.domain != HW_DOMAIN and op != "Im2Col":
            raise reader.fail(node, "was not converted to a hardware layer by FINN; supported "
                              "layers: binary linear/conv + BatchNorm + sign, max-pool")
        nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        depthwise = op == "Im2Col" or int(_attrs(node).get("depthwise", 0)) == 1
        if op in ("ConvolutionInputGenerator", "Im2Col") and depthwise:
            if nxt is None or nxt.op_type != "Pool":
                raise reader.fail(node, "is a depthwise window not followed by a Pool")
            reader.maxpool(node, nxt)
            i += 2
            continue
        handler = {
            "Thresholding": reader.thresholding, "MVAU": reader.mvau,
            "ConvolutionInputGenerator": reader.sliding_window,
            "LabelSelect": reader.label_select,
        }.get(op)
        if handler is None:
            raise reader.fail(node, "has no xnorflow hardware layer; supported FINN layers: "
                              "Thresholding, MVAU, ConvolutionInputGenerator, Pool (max), "
                              "LabelSelect")
        handler(node)
        i += 1
    layout = _input_layout(model, nodes[:first], nodes[first], source)
    n_out = int(np.prod(reader.layers[-1].out_shape))
    scale, bias = _fold_affine(model, nodes[last + 1 :], n_out, source)
    in_shape = model.get_tensor_shape(model.graph.input[0].name)[1:]
    in_dt = DataType.parse(model.get_tensor_datatype(model.graph.input[0].name).name)
    ir = DataflowIR(name=name, input_shape=tuple(in_shape), input_layout=layout,
                    layers=reader.layers, output_scale=scale, output_bias=bias,
                    input_dtype=in_dt, clock_mhz=clock_mhz,
                    meta={"finn_nodes": reader.finn_nodes, "source": str(source)})
    try:
        ir.validate()
    except (IRError, LayerError) as err:
        raise CompileError(f"{source}: the lowered graph is not a valid dataflow chain ({err})") \
            from err
    return ir
