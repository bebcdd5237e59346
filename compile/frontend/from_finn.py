"""Read FINN's HW-layer graph once into the dataflow IR (plain numpy + dataclasses).

FINN node → IR layer: each layer plugin (compile/layers/) claims the FINN HW nodes it reads
(`claims_finn`, `read_finn`): Thresholding, MVAU, ConvolutionInputGenerator (SlidingWindow),
a depthwise ConvolutionInputGenerator or Im2Col + Pool (MaxPool), LabelSelect. This walk adds:
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
from xnorflow.compile.frontend.finn_attrs import node_attrs
from xnorflow.compile.ir import DataflowIR, IRError
from xnorflow.compile.ir.datatypes import DataType
from xnorflow.compile.layers import Layer, LayerError

AFFINE_OPS = ("Mul", "Add", "Sub", "Div")
HW_DOMAIN = "finn.custom_op.fpgadataflow"


class _Reader:
    """One pass over the HW graph, in node order; each FINN node goes to the layer plugin
    that claims it (Layer.claims_finn / read_finn)."""

    def __init__(self, model: Any, source: Path) -> None:
        self.model = model
        self.source = source
        self.layers: list[Layer] = []
        self.finn_nodes: dict[str, list[str]] = {}

    def fail(self, node: Any, why: str) -> CompileError:
        return CompileError(f"{self.source}: node {node.name!r} ({node.op_type}) {why}")

    def init(self, name: str) -> np.ndarray | None:
        return self.model.get_initializer(name)

    def read(self, node: Any, nxt: Any) -> int:
        """Read the layer at `node`; returns how many FINN nodes it took."""
        kinds = [cls for cls in Layer.registry.values() if cls.claims_finn(node)]
        if not kinds:
            ops = sorted({op for cls in Layer.registry.values() for op in cls.finn_ops})
            raise self.fail(node, "has no xnorflow hardware layer; supported FINN layers: "
                            + ", ".join(ops))
        layer, nodes = kinds[0].read_finn(self, node, nxt)
        self.layers.append(layer)
        self.finn_nodes[layer.name] = [n.name for n in nodes]
        return len(nodes)


RESHAPE_OPS = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity")


def _apply_reshape(model: Any, node: Any, x: np.ndarray) -> np.ndarray:
    """One data-movement node of ONNX on the array `x` (batch first)."""
    a = node_attrs(node)
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
            why = ""
            if op in AFFINE_OPS:
                why = (" — a per-channel scale or offset that FINN could not fold into a "
                       "neighbouring layer's thresholds, e.g. a BatchNorm with negative scales "
                       "right after a global average pool; put a quantized linear/conv layer "
                       "between them or drop the BatchNorm")
            raise reader.fail(node, "was not converted to a hardware layer by FINN" + why +
                              "; supported: quantized linear/conv + BatchNorm + activation, "
                              "max-pool, global average pool")
        i += reader.read(node, nodes[i + 1] if i + 1 < len(nodes) else None)
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
