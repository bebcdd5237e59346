"""xnorflow's own graph transformations, run between FINN's (compile/frontend/finn_lowering.py).

Each is a qonnx `Transformation`: FINN's passes leave two gaps that these close.

- `ReduceMeanToGlobalAveragePool`: PyTorch's dynamo exporter writes a global average pool
  (`nn.AdaptiveAvgPool2d(1)`, `x.mean((2, 3))`, `nn.AvgPool2d` over the whole map) as
  ReduceMean or AveragePool; FINN's InferGlobalAccPoolLayer only knows GlobalAveragePool.
- `BipolarToTernaryWhereZeroMatters`: a bipolar activation is carried as one bit, which holds
  -1 and +1 but not 0. Zero padding (PyTorch pads the ±1 map with 0), a global pool (a sum of
  ±1 values) and multi-bit weights (a multiply-accumulate, not an XNOR) need the value itself;
  FINN would pad the bit 0, i.e. -1, and give a different result from PyTorch. Such an
  activation becomes a two-threshold MultiThreshold with output INT2 and bias -1: both
  thresholds equal, the output is 0 + -1 or 2 + -1, i.e. exactly -1 or +1 as before, now in a
  type where a zero pad is 0. The layer that follows runs in multiply-accumulate mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qonnx.transformation.base import Transformation

from xnorflow.compile.frontend.finn_attrs import node_attr

# ops a value passes unchanged on its way to a consumer that needs it (no arithmetic)
PASS_THROUGH = ("Transpose", "Reshape", "Flatten", "Identity", "Squeeze", "Unsqueeze", "MaxPool",
                "MaxPoolNHWC")
GLOBAL_POOLS = ("GlobalAveragePool", "ReduceMean", "AveragePool")


def global_pool_axes(model: Any, node: Any) -> bool:
    """Whether `node` (ReduceMean or AveragePool) averages each channel over the whole map."""
    shape = model.get_tensor_shape(node.input[0])
    if shape is None or len(shape) != 4:
        return False
    if node.op_type == "AveragePool":
        return (list(node_attr(node, "kernel_shape", [])) == list(shape[2:])
                and not any(node_attr(node, "pads", [0])))
    axes = node_attr(node, "axes")
    if axes is None and len(node.input) > 1:
        axes = model.get_initializer(node.input[1])
    if axes is None:
        return False
    return sorted(int(a) % 4 for a in np.asarray(axes).reshape(-1)) == [2, 3]


class ReduceMeanToGlobalAveragePool(Transformation):
    """ReduceMean over (H, W) and AveragePool over the whole map → GlobalAveragePool (+ a
    Reshape when the mean drops the spatial axes, keepdims=0)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        graph = model.graph
        for i, node in enumerate(graph.node):
            if node.op_type not in ("ReduceMean", "AveragePool") or \
                    not global_pool_axes(model, node):
                continue
            out = node.output[0]
            keep = node.op_type == "AveragePool" or int(node_attr(node, "keepdims", 1)) == 1
            gap_out = out if keep else f"{out}_gap"
            new = [helper.make_node("GlobalAveragePool", [node.input[0]], [gap_out],
                                    name=f"{node.name}_global")]
            if not keep:
                shape_name = f"{out}_shape"
                model.set_initializer(shape_name,
                                      np.asarray(model.get_tensor_shape(out), dtype=np.int64))
                new.append(helper.make_node("Reshape", [gap_out, shape_name], [out],
                                            name=f"{node.name}_squeeze"))
            graph.node.remove(node)
            for k, n in enumerate(new):
                graph.node.insert(i + k, n)
            return model, True
        return model, False


class BipolarToTernaryWhereZeroMatters(Transformation):
    """Bipolar MultiThresholds whose ±1 output reaches zero padding, a global pool or a
    MatMul with non-bipolar weights → INT2 outputs of the same values (see the module)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType
        from qonnx.transformation.infer_datatypes import InferDataTypes

        changed = False
        for node in model.graph.node:
            if node.op_type != "MultiThreshold" or node_attr(node, "out_dtype") != "BIPOLAR":
                continue
            if not self.needs_value(model, node.output[0]):
                continue
            thresholds = np.asarray(model.get_initializer(node.input[1]))
            model.set_initializer(node.input[1], np.repeat(thresholds, 2, axis=1))
            for a in node.attribute:
                if a.name == "out_dtype":
                    a.s = b"INT2"
                elif a.name == "out_scale":
                    a.f = 1.0
                elif a.name == "out_bias":
                    a.f = -1.0
            model.set_tensor_datatype(node.output[0], DataType["INT2"])
            changed = True
        if changed:  # the types downstream follow (ConvertBipolarMatMulToXnorPopcount reads them)
            model = model.transform(InferDataTypes())
        return model, False

    def needs_value(self, model: Any, tensor: str) -> bool:
        """Whether some consumer of `tensor` (through data movement) needs ±1 as values."""
        from qonnx.core.datatype import DataType

        for c in model.find_consumers(tensor):
            if c.op_type == "Im2Col":
                if any(node_attr(c, "pad_amount", [0])):
                    return True
                if self.needs_value(model, c.output[0]):
                    return True
            elif c.op_type in GLOBAL_POOLS:
                return True
            elif c.op_type == "MatMul":
                if model.get_tensor_datatype(c.input[1]) != DataType["BIPOLAR"]:
                    return True
            elif c.op_type in PASS_THROUGH and self.needs_value(model, c.output[0]):
                return True
        return False


def xnor_activation_biases(model: Any) -> dict[str, tuple[float, float]]:
    """{activation output tensor: (out_scale, out_bias)} of the multi-bit MultiThresholds that
    follow an XnorPopcountMatMul, read before FINN's InferBinaryMatrixVectorActivation absorbs
    them: that pass sets the MVAU's ActVal to the output type's minimum, which is wrong for
    Brevitas' narrow-range activations (INT4 in [-7, 7]: bias -7, not -8) and for the INT2
    bipolar activations above (bias -1, not -2). `RestoreXnorActVal` puts the bias back."""
    out = {}
    for node in model.graph.node:
        if node.op_type != "XnorPopcountMatMul":
            continue
        consumers = model.find_consumers(node.output[0])
        if len(consumers) == 1 and consumers[0].op_type == "MultiThreshold":
            mt = consumers[0]
            if model.get_tensor_datatype(mt.output[0]).bitwidth() > 1:
                out[mt.output[0]] = (float(node_attr(mt, "out_scale", 1.0)),
                                     float(node_attr(mt, "out_bias", 0.0)))
    return out


class RestoreXnorActVal(Transformation):
    """Set ActVal of FINN's binary (XNOR) MVAUs to their activation's out_bias (see
    `xnor_activation_biases`)."""

    def __init__(self, biases: dict[str, tuple[float, float]]) -> None:
        super().__init__()
        self.biases = biases

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        from xnorflow.compile.errors import CompileError

        for node in model.graph.node:
            if node.op_type != "MVAU" or node.output[0] not in self.biases:
                continue
            scale, bias = self.biases[node.output[0]]
            if scale != 1.0 or bias != int(bias):
                raise CompileError(
                    f"node {node.name!r}: its activation has scale {scale} and bias {bias}; an "
                    "activation after a binary layer must map to integers (scale 1, integer bias)")
            for a in list(node.attribute):
                if a.name == "ActVal":
                    node.attribute.remove(a)
            node.attribute.append(helper.make_attribute("ActVal", int(bias)))
        return model, False


class ExplicitConvPads(Transformation):
    """Conv with auto_pad SAME_UPPER/SAME_LOWER (PyTorch's padding="same") → explicit `pads`,
    which is all FINN's LowerConvsToMatMul reads. VALID → pads 0."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        for node in model.graph.node:
            mode = node_attr(node, "auto_pad", "NOTSET")
            if node.op_type != "Conv" or mode in ("NOTSET", ""):
                continue
            shape = model.get_tensor_shape(node.input[0])
            kernel = list(node_attr(node, "kernel_shape", []))
            strides = list(node_attr(node, "strides", [1] * len(kernel)))
            dil = list(node_attr(node, "dilations", [1] * len(kernel)))
            begin, end = [], []
            for size, k, s, d in zip(shape[2:], kernel, strides, dil, strict=True):
                total = 0
                if mode != "VALID":
                    out = -(-size // s)
                    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                low = total // 2 if mode != "SAME_LOWER" else total - total // 2
                begin.append(low)
                end.append(total - low)
            for a in list(node.attribute):
                if a.name in ("auto_pad", "pads"):
                    node.attribute.remove(a)
            node.attribute.append(helper.make_attribute("pads", begin + end))
        return model, False


class NarrowJoinSums(Transformation):
    """FINN types the sum of a residual join (ElementwiseAdd of two streams) INT32 and leaves
    the narrowing to a later pass that needs its HLS backend; the sum of two small integers
    needs a few bits. The Add's output and its consumers' input types become the smallest
    type holding every sum (a bipolar input counts as −1 / +1), so the thresholds after it
    compare few bits and the stream between them is narrow."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType as QDataType
        from qonnx.custom_op.registry import getCustomOp

        from xnorflow.compile.ir.datatypes import DataType
        from xnorflow.compile.layers.add_streams import sum_type

        for node in model.graph.node:  # one sweep: no pass changes another's input
            if node.op_type != "ElementwiseAdd":
                continue
            lhs, rhs = (str(node_attr(node, k)) for k in ("lhs_dtype", "rhs_dtype"))
            if not (QDataType[lhs].is_integer() and QDataType[rhs].is_integer()):
                continue
            # FINN's names and value ranges: BIPOLAR −1/+1, BINARY 0/1 (DataType.parse agrees)
            narrow = QDataType[sum_type(DataType.parse(lhs), DataType.parse(rhs)).name]
            if str(node_attr(node, "out_dtype")) == narrow.name:
                continue
            getCustomOp(node).set_nodeattr("out_dtype", narrow.name)
            model.set_tensor_datatype(node.output[0], narrow)
            for consumer in model.find_consumers(node.output[0]) or []:
                if not consumer.domain.startswith("finn"):
                    continue  # not a HW layer: the reader names it
                op = getCustomOp(consumer)
                if "inputDataType" in op.get_nodeattr_types():
                    op.set_nodeattr("inputDataType", narrow.name)
        return model, False
