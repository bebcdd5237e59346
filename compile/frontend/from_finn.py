"""Read FINN's HW-layer graph once into the dataflow IR (plain numpy + dataclasses).

FINN node → IR layer: each layer plugin (compile/layers/) claims the FINN HW nodes it reads
(`claims_finn`, `read_finn`): Thresholding, MVAU, ConvolutionInputGenerator (SlidingWindow),
a depthwise ConvolutionInputGenerator or Im2Col + Pool (MaxPool), FMPadding or a max-pool's
Pad by the type's minimum (Padding), LabelSelect. This walk adds:
- leading data-movement nodes (Reshape, Flatten, Transpose, Squeeze, Unsqueeze) → the IR's
  input layout, found by applying them to the indices of one image;
- trailing Mul/Add/Sub/Div by constants → output_scale / output_bias.

A BINARY tensor in FINN's lowered graph holds bipolar values as bits (1 = +1): the IR calls it
BIPOLAR. Thresholds are checked to be integers and clipped to [acc_min, acc_max + 1], which
changes no output. Every IR layer is named after its FINN node; `ir.meta["finn_nodes"]` maps a
layer to the FINN node(s) it came from (for the resource estimates).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.finn_attrs import node_attrs
from xnorflow.compile.frontend.finn_lowering import is_join_add
from xnorflow.compile.ir import DataflowIR, IRError
from xnorflow.compile.ir.dataflow import GRAPH_INPUT
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

    def producer_layer(self, tensor: str) -> Layer | None:
        """The layer read so far whose FINN nodes produce `tensor`, if one does."""
        producer = self.model.find_producer(tensor)
        if producer is None:
            return None
        return next((layer for layer in self.layers
                     if producer.name in self.finn_nodes.get(layer.name, ())), None)

    def read(self, node: Any, nxt: Any) -> list[Any]:
        """Read the layer at `node` (`nxt`: the node that takes its output, if one does);
        returns the FINN nodes it took."""
        kinds = [cls for cls in Layer.registry.values() if cls.claims_finn(node, nxt)]
        if not kinds:
            ops = sorted({op for cls in Layer.registry.values() for op in cls.finn_ops})
            raise self.fail(node, "has no xnorflow hardware layer; supported FINN layers: "
                            + ", ".join(ops))
        layer, nodes = kinds[0].read_finn(self, node, nxt)
        self.layers.append(layer)
        self.finn_nodes[layer.name] = [n.name for n in nodes]
        return nodes


RESHAPE_OPS = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity")
WINDOW_OPS = ("Im2Col", "Pad", "FMPadding", "ConvolutionInputGenerator")  # a conv's input side


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
    padded = [i for i, n in enumerate(bad) if n.op_type == "Im2Col"
              and any(node_attrs(n).get("pad_amount", [0]))]
    if padded and any(n.op_type in AFFINE_OPS for n in bad[:padded[0]]):
        n = bad[0]
        raise CompileError(
            f"{source}: node {n.name!r} ({n.op_type}) scales or shifts the input before a "
            "zero-padded first convolution without an input quantizer — an input "
            "normalisation such as (x − mean) / std: PyTorch pads the normalised image with 0, "
            "which lies between two pixel values, so no integer padding matches it; quantize "
            "after the normalisation (QuantIdentity(bit_width=8) before the convolution), or "
            "drop the offset (x / std) or the convolution's padding")
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
    if np.array_equal(order, np.arange(order.size)) and (len(hw_in) != 4 or len(in_shape) != 4):
        return "flat"  # a flat input viewed as a one-channel image streams as it is, too
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


def _reshaped_order(model: Any, node: Any, order: np.ndarray, source: Path) -> np.ndarray:
    """The element order after one data-movement node between hardware layers."""
    try:
        return _apply_reshape(model, node, order.reshape(model.get_tensor_shape(node.input[0])))
    except ValueError as err:
        raise CompileError(f"{source}: node {node.name!r} ({node.op_type}) between two "
                           f"hardware layers could not be applied ({err})") from err


def _check_order(model: Any, tensor: str, order: np.ndarray, consumer: Any,
                 source: Path) -> None:
    """CompileError unless the data-movement nodes before `consumer` kept the stream's element
    order (a flatten of an NHWC stream does; a transpose left over from the model does not)."""
    if np.array_equal(order.reshape(-1), np.arange(order.size)):
        return
    producer = model.find_producer(tensor)
    raise CompileError(
        f"{source}: the reshapes/transposes before node {consumer.name!r} "
        f"({consumer.op_type}), last {producer.name!r} ({producer.op_type}), reorder the "
        "elements of the stream between two hardware layers, and FINN could not absorb the "
        "reorder into a neighbouring layer; the dataflow passes tensors in channels-last order "
        "— remove the permute/transpose between these layers (a flatten alone is fine)")


FLOAT_JOIN = (
    " — a residual join that adds a float tensor (e.g. a branch's BatchNorm output) to the "
    "shortcut; the hardware adds two quantized streams only: quantize the branch before the "
    "add with the same quantizer as the block's input (y = act(act_b(bn(conv(x))) + x), as "
    "`xnorflow train --model resnet:...` builds it)")


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


def _reaches_join(model: Any, node: Any) -> bool:
    """Whether `node` is, or feeds through elementwise maths only, an Add of two computed
    tensors (a residual join left in float)."""
    for _ in range(8):
        if is_join_add(model, node):
            return True
        consumers = model.find_consumers(node.output[0]) or []
        if len(consumers) != 1 or consumers[0].op_type not in AFFINE_OPS + RESHAPE_OPS:
            return False
        node = consumers[0]
    return False


def _size(model: Any, tensor: str) -> int:
    return int(np.prod(model.get_tensor_shape(tensor)))


def _after_max_pool(model: Any, node: Any) -> bool:
    """Whether `node` reads a max-pool's output (through other affine nodes and reshapes)."""
    producer = model.find_producer(node.input[0])
    while producer is not None and (producer.op_type in AFFINE_OPS
                                    or producer.op_type in RESHAPE_OPS):
        producer = model.find_producer(producer.input[0])
    return producer is not None and ("MaxPool" in producer.op_type
                                     or producer.op_type in ("Pool", "StreamingMaxPool"))


def _check_stranded_scales(model: Any, source: Path) -> None:
    """Per-channel scales or offsets nothing absorbed, named before the reader meets them:
    after a concatenation (the inputs' scales differ and a linear/conv layer takes the join,
    or a scale the thresholds after it did not take; a sign they compare is fine), or on a
    linear/conv layer's input (per-channel activation scales)."""
    def after(tensor: str) -> list[Any]:
        out = []
        for c in model.find_consumers(tensor) or []:
            moves = c.op_type in RESHAPE_OPS or c.op_type in WINDOW_OPS
            out += after(c.output[0]) if moves else [c]
        return out

    for node in model.graph.node:
        if node.op_type not in ("Concat", "StreamingConcat"):
            continue
        for c in after(node.output[0]):
            if c.op_type not in AFFINE_OPS or signs_before_thresholds(model, c):
                continue
            nxt = after(c.output[0])
            if any(n.op_type in ("MultiThreshold", "Thresholding") for n in nxt):
                raise CompileError(
                    f"{source}: node {c.name!r} ({c.op_type}) is a per-channel scale right "
                    f"after the concatenation {node.name!r} that the thresholds after it could "
                    "not take (FINN left it where neither the thresholds nor the joined "
                    "layers absorb it). Quantize the concatenation right after torch.cat "
                    "(QuantIdentity), or put the BatchNorm before the join, on each branch")
            raise CompileError(
                f"{source}: node {node.name!r} concatenates tensors of different scales "
                f"(or types), and {c.name!r} ({c.op_type}) applies them after the join "
                "where no quantizer takes them: a layer after the join computes in integers "
                "of one scale. Quantize the concatenation again (a QuantIdentity or "
                "QuantReLU right after torch.cat, or BatchNorm + activation), or give the "
                "concatenated activations one quantizer (Brevitas: share it, e.g. "
                "QuantReLU(act_quant=first.act_quant))")
    for node in model.graph.node:  # a per-channel scale no concatenation left
        c = model.get_initializer(node.input[1]) if node.op_type in AFFINE_OPS and \
            len(node.input) > 1 else None
        if c is None or c.size <= 1 or node.domain == HW_DOMAIN:
            continue
        if any(n.op_type in ("MatMul", "Conv", "MVAU") for n in after(node.output[0])):
            raise CompileError(
                f"{source}: node {node.name!r} ({node.op_type}) is a per-channel scale or "
                "offset on the input of a linear/conv layer (an activation quantizer with "
                "per-channel scales, scaling_per_output_channel=True, or a BatchNorm with no "
                "quantizer after it): the layer multiplies integers of one scale. Use a "
                "per-tensor activation quantizer (Brevitas' default), or quantize after the "
                "BatchNorm")
    for node in model.graph.node:
        scaled = [p for p in (model.find_producer(t) for t in node.input) if p is not None
                  and p.op_type in AFFINE_OPS and model.get_initializer(p.input[1]) is not None]
        if node.op_type == "Concat" and scaled:
            raise CompileError(
                f"{source}: node {node.name!r} concatenates tensors of different scales (e.g. "
                "global average pools over maps of different sizes, 1/(h·w) each), and a "
                "linear/conv layer takes the join: it computes in integers of one scale. "
                "Quantize the concatenation again (a QuantIdentity right after torch.cat), or "
                "join tensors of one scale")
        if node.op_type == "Concat":
            raise CompileError(
                f"{source}: node {node.name!r} (Concat) was not converted to a hardware layer; "
                "xnorflow concatenates quantized activations along the channels (torch.cat(..., "
                "dim=1) of NCHW maps, or of flat features)")


def signs_before_thresholds(model: Any, node: Any) -> bool:
    """A Mul by ±1 per channel whose one reader is a thresholding layer: the layer compares
    −x on the negated channels (SignsIntoThresholds)."""
    from xnorflow.compile.frontend.finn_passes import sign_vector

    readers = model.find_consumers(node.output[0]) or []
    return sign_vector(model, node) is not None and len(readers) == 1 and \
        readers[0].op_type == "Thresholding" and readers[0].domain == HW_DOMAIN


def ir_from_finn(model: Any, name: str, source: Path, clock_mhz: float = 100.0) -> DataflowIR:
    """FINN's HW-layer graph (ModelWrapper, before SpecializeLayers) → a validated DataflowIR."""
    source = Path(source)
    nodes = list(model.graph.node)
    hw_idx = [i for i, n in enumerate(nodes) if n.domain == HW_DOMAIN]
    if not hw_idx:
        raise CompileError(f"{source}: FINN produced no hardware layer from this model")
    first, last = hw_idx[0], hw_idx[-1]
    _check_stranded_scales(model, source)
    reader = _Reader(model, source)
    layout = _input_layout(model, nodes[:first], nodes[first], source)
    # each tensor between the layers: (the IR stream it is, its elements' order in the stream)
    first_in = nodes[first].input[0]
    origin: dict[str, tuple[str, np.ndarray]] = {
        first_in: (GRAPH_INPUT, np.arange(_size(model, first_in)))}
    taken: set[str] = set()  # nodes read as part of a layer at an earlier node
    for node in nodes[first : last + 1]:
        op = node.op_type
        if node.name in taken:
            continue
        if op in RESHAPE_OPS and node.input[0] in origin:
            stream, order = origin[node.input[0]]
            origin[node.output[0]] = (stream, _reshaped_order(model, node, order, source))
            continue
        if signs_before_thresholds(model, node) and node.input[0] in origin:
            origin[node.output[0]] = origin[node.input[0]]  # the thresholding layer takes it
            continue
        if node.domain != HW_DOMAIN and op not in ("Im2Col", "Pad"):
            why = ""
            if op in AFFINE_OPS and _reaches_join(model, node):
                why = FLOAT_JOIN
            elif op in AFFINE_OPS and _after_max_pool(model, node):
                why = (" — a BatchNorm with negative scales after a max-pool (Conv → MaxPool → "
                       "BatchNorm → activation) whose activation could not move before the "
                       "pool: it moves when it feeds one linear or conv layer, and a multi-bit "
                       "one not through zero padding; put the BatchNorm and activation before "
                       "the pool (Conv → BatchNorm → activation → MaxPool, as bnn_pynq's CNV)")
            elif op in AFFINE_OPS:
                why = (" — a per-channel scale or offset that FINN could not fold into a "
                       "neighbouring layer's thresholds, e.g. a BatchNorm with negative scales "
                       "right after a global average pool; put a quantized linear/conv layer "
                       "between them or drop the BatchNorm")
            raise reader.fail(node, "was not converted to a hardware layer by FINN" + why +
                              "; supported: quantized linear/conv + BatchNorm + activation, "
                              "max-pool, global average pool, residual blocks")
        sources = []
        for t in node.input:
            if model.get_initializer(t) is not None:
                continue
            if t not in origin:
                raise reader.fail(node, f"takes tensor {t!r}, which no hardware layer before "
                                  "it produces")
            stream, order = origin[t]
            _check_order(model, t, order, node, source)
            sources.append(stream)
        consumers = model.find_consumers(node.output[0]) or []
        read = reader.read(node, consumers[0] if len(consumers) == 1 else None)
        taken.update(n.name for n in read)
        layer = reader.layers[-1]
        prev = reader.layers[-2].name if len(reader.layers) > 1 else GRAPH_INPUT
        if sources != [prev]:
            reader.layers[-1] = dataclasses.replace(layer, inputs=tuple(sources))
        for t in read[-1].output:
            origin[t] = (layer.name, np.arange(_size(model, t)))
    n_out = int(np.prod(reader.layers[-1].out_shape))
    tail = nodes[last + 1 :]
    order = np.arange(_size(model, nodes[last].output[0]))
    affine = []
    for node in tail:  # reshapes keep the element order (a flatten of a 1x1 map)
        if node.op_type in RESHAPE_OPS:
            order = _reshaped_order(model, node, order, source)
            _check_order(model, node.output[0], order, node, source)
        else:
            affine.append(node)
    scale, bias = _fold_affine(model, affine, n_out, source)
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
