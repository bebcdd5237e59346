"""xnorflow's own graph transformations, run between FINN's (compile/frontend/finn_lowering.py).

Each is a qonnx `Transformation` closing a gap FINN's passes leave (those for float
activations around a quantizer are in activation_passes.py, for pools in pool_passes.py).

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
- `RoundTiesHalfEven`: a quantizer's exact rounding ties go to even, as in PyTorch (FINN
  places its thresholds half up).
- `ZeroPointWeightsAsSigned`: weights with zero points → symmetric weights one bit wider.
- `SignsIntoThresholds`: a negative BatchNorm scale's sign left before thresholds goes into
  the thresholding layer (channels that compare −x).
- `Conv1dAs2d`: a 1-D network on (N, C, L) signals → the same network on images of height 1.
- `ThresholdIntegers`: BinaryNet's Conv → MaxPool → BatchNorm → activation, and an output
  quantizer before a BatchNorm, leave the BatchNorm's negative scales before the thresholds;
  the thresholds move onto the integers (before the pool) and the sign goes into the next
  layer's weights (see the class).
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


def reduce_axes(model: Any, node: Any) -> list[int] | None:
    """The axes a ReduceMean/ReduceSum/ReduceMax reduces, ascending and non-negative (an
    attribute before opset 18 — 13 for ReduceSum —, an input after; none given: all); None
    where they are not constant."""
    shape = model.get_tensor_shape(node.input[0])
    if not shape:
        return None
    axes = node_attr(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = model.get_initializer(node.input[1])
        if axes is None:
            return None
    if axes is None or np.size(axes) == 0:
        return list(range(len(shape)))
    return sorted({int(a) % len(shape) for a in np.asarray(axes).reshape(-1)})


def global_pool_axes(model: Any, node: Any) -> bool:
    """Whether `node` (ReduceMean or AveragePool) averages each channel over the whole map."""
    shape = model.get_tensor_shape(node.input[0])
    if shape is None or len(shape) != 4:
        return False
    if node.op_type == "AveragePool":
        return (list(node_attr(node, "kernel_shape", [])) == list(shape[2:])
                and not any(node_attr(node, "pads", [0])))
    return reduce_axes(model, node) == [2, 3]


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


RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


class CollapseReshapes(Transformation):
    """Two reshapes in a row (`x.view(n, c, -1)` then `.flatten(1)`; a squeeze then a
    flatten) → one: a Flatten where the result is (batch, features), else a Reshape to the
    final shape. Neither moves an element, and FINN absorbs a single flatten of a feature map
    into the next layer, not a chain of them."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        graph = model.graph
        outputs = {o.name for o in graph.output}
        for i, first in enumerate(graph.node):
            readers = model.find_consumers(first.output[0]) or []
            if first.op_type not in RESHAPES or len(readers) != 1 or \
                    readers[0].op_type not in RESHAPES or first.output[0] in outputs:
                continue
            second = readers[0]
            x, y = first.input[0], second.output[0]
            in_shape, out_shape = model.get_tensor_shape(x), model.get_tensor_shape(y)
            if not in_shape or not out_shape:
                continue
            if len(out_shape) == 2 and out_shape[0] == in_shape[0]:
                node = helper.make_node("Flatten", [x], [y], name=second.name, axis=1)
            else:
                shape = f"{y}_collapsed_shape"
                model.set_initializer(shape, np.asarray(out_shape, dtype=np.int64))
                node = helper.make_node("Reshape", [x, shape], [y], name=second.name)
            graph.node.remove(second)
            graph.node.remove(first)
            graph.node.insert(i, node)
            return model, True
        return model, False


def set_threshold_output(mt: Any, dtype: str, scale: float | None = None,
                         bias: float | None = None) -> None:
    """A MultiThreshold's output type, and its out_scale / out_bias where given."""
    for a in mt.attribute:
        if a.name == "out_dtype":
            a.s = dtype.encode()
        elif a.name == "out_scale" and scale is not None:
            a.f = scale
        elif a.name == "out_bias" and bias is not None:
            a.f = bias


def bipolar_as_int2(model: Any, mt: Any) -> None:
    """A bipolar MultiThreshold (a bit b read as 2b − 1) → an INT2 one of the same values:
    each threshold twice, out_scale 1, out_bias −1 (−1 + the count 0 or 2)."""
    from qonnx.core.datatype import DataType

    thresholds = np.asarray(model.get_initializer(mt.input[1]))
    model.set_initializer(mt.input[1], np.repeat(thresholds, 2, axis=1))
    set_threshold_output(mt, "INT2", 1.0, -1.0)
    model.set_tensor_datatype(mt.output[0], DataType["INT2"])
    _retype_sum_pools(model, mt.output[0])


class BipolarToTernaryWhereZeroMatters(Transformation):
    """Bipolar MultiThresholds whose ±1 output reaches zero padding, a global pool or a
    MatMul with non-bipolar weights → INT2 outputs of the same values (see the module); and
    unsigned 1-bit ones ({0, 1}: a ReLU before a signed 2-bit quantizer) → UINT2, which the
    layers multiply (a 1-bit value there means ±1)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType
        from qonnx.transformation.infer_datatypes import InferDataTypes

        changed = False
        for node in model.graph.node:
            if node.op_type == "MultiThreshold" and node_attr(node, "out_dtype") == "BINARY":
                set_threshold_output(node, "UINT2")
                model.set_tensor_datatype(node.output[0], DataType["UINT2"])
                _retype_sum_pools(model, node.output[0])
                changed = True
                continue
            if node.op_type != "MultiThreshold" or node_attr(node, "out_dtype") != "BIPOLAR":
                continue
            if not self.needs_value(model, node.output[0]):
                continue
            bipolar_as_int2(model, node)
            changed = True
        if changed:  # the types downstream follow (ConvertBipolarMatMulToXnorPopcount reads them)
            model = model.transform(InferDataTypes())
        return model, False

    @staticmethod
    def bits_only(model: Any, tensor: str) -> bool:
        """Whether only MatMuls with binary weights read `tensor`, through data movement,
        unpadded windows and further joins (XnorPopcountForks then makes them XNOR layers)."""
        from qonnx.core.datatype import DataType

        todo = [tensor]
        while todo:
            consumers = model.find_consumers(todo.pop()) or []
            if not consumers:
                return False  # the model's output
            for c in consumers:
                if c.op_type in (*PASS_THROUGH, "Concat") or c.op_type == "Im2Col" and \
                        not any(node_attr(c, "pad_amount", [0])):
                    todo.append(c.output[0])
                elif c.op_type != "MatMul" or \
                        model.get_tensor_datatype(c.input[1]) != DataType["BIPOLAR"]:
                    return False
        return True

    def needs_value(self, model: Any, tensor: str) -> bool:
        """Whether some consumer of `tensor` (through data movement) needs ±1 as values."""
        from qonnx.core.datatype import DataType

        for c in model.find_consumers(tensor):
            if c.op_type == "Im2Col":
                if any(node_attr(c, "pad_amount", [0])):
                    return True
                if self.needs_value(model, c.output[0]):
                    return True
            elif c.op_type in GLOBAL_POOLS or (c.op_type == "Pool"
                                               and node_attr(c, "Function") != "MaxPool"):
                return True  # a sum of the values (an average pool's Pool, AccPool)
            elif c.op_type == "MatMul":
                if model.get_tensor_datatype(c.input[1]) != DataType["BIPOLAR"]:
                    return True
            elif c.op_type == "Concat" and not self.bits_only(model, c.output[0]):
                return True  # a join stays bits only where XNOR layers alone read it
            elif c.op_type in PASS_THROUGH and self.needs_value(model, c.output[0]):
                return True
        return False


class XnorPopcountForks(Transformation):
    """Bipolar activations read by several binary-weight MatMuls (an Inception block's input
    going to two binary convs), or joined by concatenations that such MatMuls read (a binary
    DenseNet block of 1x1 convs): the whole region — the activations, the joins between them
    and the MatMuls reading them — becomes BINARY thresholds and XnorPopcountMatMuls, as
    qonnx's ConvertBipolarMatMulToXnorPopcount does for one activation and one reader (it
    changes the thresholds at the first MatMul and then fails at the next). popcount(XNOR) = P
    gives the ±1 dot product 2P − K (K the row length). Run after
    BipolarToTernaryWhereZeroMatters: a bipolar activation left reaches only joins and MatMuls
    with binary weights (through data movement and unpadded windows)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType
        from qonnx.transformation.infer_datatypes import InferDataTypes

        for mt in model.graph.node:
            if mt.op_type != "MultiThreshold" or node_attr(mt, "out_dtype") != "BIPOLAR":
                continue
            region = self._region(model, mt)
            if region is None:
                continue
            sources, readers, joins = region
            if len(readers) < 2 and not joins:
                continue  # one reader: qonnx's conversion
            for source in sources:
                set_threshold_output(source, "BINARY", 1.0, 0.0)
                model.set_tensor_datatype(source.output[0], DataType["BINARY"])
            for mm in readers:
                self._xnor(model, mm)
            return model.transform(InferDataTypes()), True
        return model, False

    @staticmethod
    def _region(model: Any, start: Any) -> tuple | None:
        """(the bipolar MultiThresholds, the MatMuls, the Concats) connected to `start`
        through data movement, unpadded windows and joins; None if anything else reads one of
        them or a join takes anything but such an activation."""
        from qonnx.core.datatype import DataType

        sources, readers, joins = {start.output[0]: start}, {}, {}  # by output tensor
        todo = [start.output[0]]
        while todo:
            tensor = todo.pop()
            consumers = model.find_consumers(tensor) or []
            if not consumers:
                return None  # the model's output
            for c in consumers:
                if c.op_type in PASS_THROUGH or c.op_type == "Im2Col" and \
                        not any(node_attr(c, "pad_amount", [0])):
                    todo.append(c.output[0])
                elif c.op_type == "MatMul" and \
                        model.get_tensor_datatype(c.input[1]) == DataType["BIPOLAR"]:
                    readers[c.output[0]] = c
                elif c.op_type == "Concat":
                    if c.output[0] in joins:
                        continue
                    joins[c.output[0]] = c
                    todo.append(c.output[0])
                    upstream = list(c.input)  # the joins' inputs join the region
                    while upstream:
                        src = model.find_producer(upstream.pop())
                        while src is not None and src.op_type in PASS_THROUGH:
                            src = model.find_producer(src.input[0])
                        if src is not None and src.op_type == "Concat":
                            joins[src.output[0]] = src
                            upstream += list(src.input)
                        elif src is None or src.op_type != "MultiThreshold" or \
                                node_attr(src, "out_dtype") != "BIPOLAR":
                            return None
                        elif src.output[0] not in sources:
                            sources[src.output[0]] = src
                            todo.append(src.output[0])
                else:
                    return None
        return list(sources.values()), list(readers.values()), list(joins.values())

    @staticmethod
    def _xnor(model: Any, mm: Any) -> None:
        from onnx import TensorProto, helper
        from qonnx.core.datatype import DataType

        w = model.get_initializer(mm.input[1])
        model.set_initializer(mm.input[1], (w + 1) / 2)
        model.set_tensor_datatype(mm.input[1], DataType["BINARY"])
        out, shape = mm.output[0], model.get_tensor_shape(mm.output[0])
        count, twice = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
        two, minus_k = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
        for t in (count, twice):
            model.graph.value_info.append(
                helper.make_tensor_value_info(t, TensorProto.FLOAT, shape))
        model.set_initializer(two, np.asarray([2.0], np.float32))
        model.set_initializer(minus_k, np.asarray([-float(w.shape[0])], np.float32))
        mm.op_type, mm.domain = "XnorPopcountMatMul", "qonnx.custom_op.general"
        mm.output[0] = count
        model.set_tensor_datatype(count, DataType["UINT32"])
        index = list(model.graph.node).index(mm)
        model.graph.node.insert(index + 1, helper.make_node("Mul", [count, two], [twice]))
        model.graph.node.insert(index + 2, helper.make_node("Add", [twice, minus_k], [out]))


def _retype_sum_pools(model: Any, tensor: str) -> None:
    """The average pools' Pools (AccPool, pool_passes.py) behind the depthwise window on
    `tensor` take the INT2 it now is (FINN's own type inference would log the change)."""
    for c in model.find_consumers(tensor) or []:
        if c.op_type == "Im2Col":
            for pool in model.find_consumers(c.output[0]) or []:
                if pool.op_type == "Pool":
                    for a in pool.attribute:
                        if a.name == "InputDataType":
                            a.s = b"INT2"
        elif c.op_type in PASS_THROUGH:
            _retype_sum_pools(model, c.output[0])


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


class ChannelMulPastGroupedConv(Transformation):
    """A per-channel Mul right before a depthwise (or grouped) convolution moves after it:
    output channel o reads only its group's input channels, so where those share one scale
    s (always, depthwise) conv(x·s) = conv(x)·s on o, zero padding included. An activation
    quantizer with per-channel scales before a depthwise conv (Brevitas' MobileNet-v1) then
    reaches the BatchNorm and thresholds after it instead of the layer's integer inputs. Run
    before DenseConvKernels, which drops the groups."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType

        for mul in model.graph.node:
            conv = model.find_consumer(mul.output[0]) if mul.op_type == "Mul" else None
            if conv is None or conv.op_type != "Conv" or conv.input[0] != mul.output[0] or \
                    model.is_fork_node(mul) or int(node_attr(conv, "group", 1)) == 1:
                continue
            shape = model.get_tensor_shape(mul.input[0])
            scale = channel_values(model, mul, shape[1]) if shape and len(shape) == 4 else None
            w = model.get_initializer(conv.input[1])
            if scale is None or w is None:
                continue
            group = int(node_attr(conv, "group", 1))
            per_in = shape[1] // group
            groups = scale.reshape(group, per_in)
            if np.any(groups != groups[:, :1]):
                continue  # channels of one group with different scales
            out_scale = np.repeat(groups[:, 0], w.shape[0] // group)
            out_shape = model.get_tensor_shape(conv.output[0])
            model.set_initializer(mul.input[1],
                                  out_scale.reshape(1, -1, 1, 1).astype(np.float32))
            mid = swap_with_consumer(model, mul, conv, out_shape)
            model.set_tensor_datatype(mid, DataType["FLOAT32"])
            return model, True
        return model, False


class DenseConvKernels(Transformation):
    """Grouped and dilated convolutions as ordinary ones, exactly: a convolution with groups
    (depthwise — MobileNet's block — or any other) gets its block-diagonal weights, zeros
    outside each group's channels, and group 1 (FINN would lower a depthwise one to its
    VectorVectorActivation unit, which xnorflow does not build, and refuses other groups); a
    dilated one (`dilation=d`) gets its kernel spread out with zeros between the taps
    (3 × 3 at d = 2 is 5 × 5) and dilation 1. The sliding window and the MVAU build them as
    they are, at `groups` and (d(k−1)+1)²/k² times the weights; bipolar weights become INT2
    {−1, 0, +1} (the layer multiplies-and-accumulates). Run on the FINN graph (weights
    folded to their integers), before LowerConvsToMatMul."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        for node in model.graph.node:
            if node.op_type != "Conv":
                continue
            group = int(node_attr(node, "group", 1))
            dil = [int(d) for d in node_attr(node, "dilations", [1, 1])]
            w = model.get_initializer(node.input[1])
            if w is None or (group == 1 and all(d == 1 for d in dil)):
                continue
            o, i, kh, kw = w.shape
            dense = np.zeros((o, i * group, dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1),
                             w.dtype)
            per = o // group  # output channels per group, each reading i input channels
            for g in range(group):
                dense[g * per:(g + 1) * per, g * i:(g + 1) * i, ::dil[0], ::dil[1]] = \
                    w[g * per:(g + 1) * per]
            model.set_initializer(node.input[1], dense)
            model.set_tensor_datatype(node.input[1], _integer_type(
                model.get_tensor_datatype(node.input[1]), dense))
            for a in list(node.attribute):
                if a.name in ("dilations", "kernel_shape", "group"):
                    node.attribute.remove(a)
            node.attribute.extend([helper.make_attribute("dilations", [1, 1]),
                                   helper.make_attribute("kernel_shape", list(dense.shape[2:])),
                                   helper.make_attribute("group", 1)])
        return model, False


class NarrowAccumulators(Transformation):
    """An MVAU without thresholds whose output another hardware layer takes (a conv's raw
    output joined by a concatenation, a pre-activation DenseNet's `cat([x, conv(a)])`):
    FINN types it INT32; it and its consumers' inputs get the type the IR's MVAU gives its
    accumulator (compile/layers/mvau.py), which the reader then finds on both sides."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from types import SimpleNamespace

        from qonnx.core.datatype import DataType as QDataType
        from qonnx.custom_op.registry import getCustomOp
        from qonnx.transformation.infer_datatypes import InferDataTypes

        from xnorflow.compile.errors import CompileError
        from xnorflow.compile.layers.mvau import MVAU

        def fail(node: Any, why: str) -> CompileError:
            return CompileError(f"node {node.name!r} ({node.op_type}) {why}")

        reader = SimpleNamespace(model=model, source="", init=model.get_initializer, fail=fail)
        changed = False
        for node in model.graph.node:
            if node.op_type != "MVAU" or int(node_attr(node, "noActivation", 0)) != 1 or \
                    not model.find_consumers(node.output[0]):
                continue
            narrow = QDataType[MVAU.read_finn(reader, node, None)[0].out_dtype.name]
            if model.get_tensor_datatype(node.output[0]) != narrow:
                getCustomOp(node).set_nodeattr("outputDataType", narrow.name)
                model.set_tensor_datatype(node.output[0], narrow)
                changed = True
        if changed:  # the consumers' input types follow
            model = model.transform(InferDataTypes())
        return model, False


class NarrowJoinSums(Transformation):
    """FINN types the sum of a residual join (ElementwiseAdd of two streams) INT32 and leaves
    the narrowing to a later pass that needs its HLS backend; the sum of two small integers
    needs a few bits. The Add's output and its consumers' input types become the smallest
    type holding every sum (a bipolar input counts as −1 / +1), so the thresholds after it
    compare few bits and the stream between them is narrow; a join reading the sum (a chain
    of them, graph order) sums the narrow type."""

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
                if consumer.op_type == "ElementwiseAdd":  # a chain of joins (x + f(x) + g(x))
                    for k, attr in enumerate(("lhs_dtype", "rhs_dtype")):
                        if consumer.input[k] == node.output[0]:
                            op.set_nodeattr(attr, narrow.name)
        return model, False


class ThresholdIntegers(Transformation):
    """Thresholds FINN leaves behind a per-channel scale it cannot absorb → thresholds on the
    integers before it, the scale's sign taken up by the next layer.

    After streamlining: y (an integer tensor: a conv's output, or another activation's) →
    Mul/Add (z = s·y + b per channel) → [MaxPool → Mul/Add] → MultiThreshold(T). Two
    networks leave this: BinaryNet's Conv → MaxPool → BatchNorm → activation, where max does
    not commute with a BatchNorm's negative scale, and a layer with an output quantizer
    (`QuantLinear(..., output_quant=...)`) before a BatchNorm with a negative scale, which
    FINN cannot put into the weights of a thresholding. A channel with s > 0 thresholds y at
    (t − b)/s (before the pool: MT(max y) = max MT(y)). For s < 0, y integer:
    u = Σ[s·y + b ≥ t] = Σ[y ≤ t'] = n − Σ[y ≥ ⌊t'⌋ + 1] with t' = (t − b)/s, so the channel
    thresholds y at ⌊t'⌋ + 1 (then is pooled), and its value v = A − v' (A = out_scale·n +
    2·out_bias; 0 for a bipolar activation) is taken up by the layer that reads it: that input
    channel's weights negated, and a bias A·W after it when A ≠ 0 (not through zero padding,
    which pads v, not v'). Where the consumer is anything else the graph is left as it was.
    The thresholds before the pool join the conv's MVAU and the pool compares activations.
    A padded pool moves too: PyTorch pads it with −∞, the hardware with the activation type's
    minimum (padding_passes.py), which is at most every v and v'."""

    def __init__(self) -> None:
        super().__init__()
        self.rewritten = 0  # thresholds moved (a bias left for the next Streamline to absorb)

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.transformation.infer_datatypes import InferDataTypes
        from qonnx.transformation.infer_shapes import InferShapes

        for mt in model.graph.node:
            plan = self._plan(model, mt) if mt.op_type == "MultiThreshold" else None
            if plan is not None:
                self._rewrite(model, mt, *plan)
                self.rewritten += 1
                model = model.transform(InferShapes()).transform(InferDataTypes())
                return model, True
        return model, False

    @staticmethod
    def _plan(model: Any, mt: Any) -> tuple | None:
        """(the integer tensor y, the max-pool or None, the Mul/Add nodes between y and the
        thresholds, the thresholds on y, what `_weighted_consumer` returns or None when no
        channel flips) when `mt` can move, else None."""
        shape = model.get_tensor_shape(mt.input[0])
        if shape is None or len(shape) not in (2, 4) or \
                node_attr(mt, "data_layout", "NCHW") not in ("NCHW", "NC", ""):
            return None
        channels = shape[1]
        # walk back from the thresholds through Mul/Add and at most one max-pool to the
        # integers they scale (a conv's or an activation's output)
        source, affine, pool, after_pool = mt.input[0], [], None, 0
        while True:
            producer = model.find_producer(source)
            if producer is None or model.is_fork_node(producer):
                break
            if producer.op_type == "MaxPool" and pool is None:  # padded too: see the class
                pool, after_pool = producer, len(affine)
            elif channel_values(model, producer, channels) is not None:
                affine.insert(0, producer)
            else:
                break
            source = producer.input[0]
        if not model.get_tensor_datatype(source).is_integer():
            return None
        if pool is not None and model.is_fork_node(pool):
            return None
        before = affine[:len(affine) - after_pool]  # between y and the pool
        if pool is not None and before and np.any(compose_affine(model, before, channels)[0] <= 0):
            return None  # decreasing before the pool: max(−y) is not −max(y)
        scale, shift = compose_affine(model, affine, channels)  # z = scale·y + shift
        if np.any(scale == 0) or (pool is None and not np.any(scale < 0)):
            return None  # nothing FINN does not do itself
        thresholds = np.asarray(model.get_initializer(mt.input[1]), dtype=np.float64)
        thresholds = np.broadcast_to(thresholds, (channels, thresholds.shape[1]))
        scaled = (thresholds - shift[:, None]) / scale[:, None]
        flip = scale < 0
        new = np.where(flip[:, None], np.floor(scaled) + 1, scaled)
        n = thresholds.shape[1]
        out_scale = float(node_attr(mt, "out_scale", 1.0))
        out_bias = float(node_attr(mt, "out_bias", 0.0))
        offset = out_scale * n + 2 * out_bias
        chain = None
        if flip.any():
            chain = _weighted_consumer(model, mt.output[0], np.where(flip, -1.0, 1.0),
                                       np.where(flip, offset, 0.0))
            if chain is None:
                return None
        return source, pool, affine, np.sort(new, axis=1).astype(np.float64), chain

    @staticmethod
    def _rewrite(model: Any, mt: Any, source: str, pool: Any, affine: list,
                 thresholds: np.ndarray, chain: tuple | None) -> None:
        from onnx import helper

        graph = model.graph
        model.set_initializer(mt.input[1], thresholds)
        if chain is not None:  # flipped channels' thresholds are integers already: no ties
            mt.doc_string = ""  # left for RoundTiesHalfEven to move
        for node in affine:
            graph.node.remove(node)
        if pool is None:
            mt.input[0] = source
        else:
            act_out, pooled_in = mt.output[0], model.make_new_valueinfo_name()
            mt.input[0], mt.output[0] = source, pooled_in
            pool.input[0], pool.output[0] = pooled_in, act_out
            graph.node.remove(mt)
            graph.node.insert(list(graph.node).index(pool), mt)
        if chain is None:
            return
        layer, weights, bias = chain
        model.set_initializer(layer.input[1], weights)
        model.set_tensor_datatype(layer.input[1], _integer_type(
            model.get_tensor_datatype(layer.input[1]), weights))
        if bias is not None:
            summed = model.make_new_valueinfo_name()
            add = helper.make_node("Add", [summed, model.make_new_valueinfo_name()],
                                   [layer.output[0]])
            model.set_initializer(add.input[1], bias.astype(np.float32))
            layer.output[0] = summed
            graph.node.insert(list(graph.node).index(layer) + 1, add)


def swap_with_consumer(model: Any, first: Any, second: Any, mid_shape: Any) -> str:
    """first → second (the one reader of first's output) becomes second → first on the same
    input and output; returns the new tensor between them (of `mid_shape`, typed and laid out
    as the input)."""
    x, out, mid = first.input[0], second.output[0], model.make_new_valueinfo_name()
    second.input[0], second.output[0] = x, mid
    first.input[0], first.output[0] = mid, out
    model.set_tensor_shape(mid, list(mid_shape))
    model.set_tensor_datatype(mid, model.get_tensor_datatype(x))
    layout = model.get_tensor_layout(x)
    if layout is not None:
        model.set_tensor_layout(mid, layout)
    nodes = list(model.graph.node)
    model.graph.node.remove(first)
    model.graph.node.insert(nodes.index(second), first)
    return mid


def sign_vector(model: Any, node: Any) -> np.ndarray | None:
    """The constant of a Mul by ±1 values (FINN's FactorOutMulSignMagnitude leaves one where
    no layer before could take a negative BatchNorm scale), else None."""
    if node.op_type != "Mul" or len(node.input) < 2:
        return None
    c = model.get_initializer(node.input[1])
    if c is None or np.size(c) == 0 or not np.all(np.abs(np.asarray(c)) == 1):
        return None
    return np.asarray(c)


class SignsIntoThresholds(Transformation):
    """A Mul by per-channel signs before thresholds (y → Mul(±1) → MultiThreshold: a BatchNorm
    with negative scales after a fork, a join or a pool, its magnitude already in the
    thresholds) moves before the NHWC → NCHW transpose in front of it, where FINN takes the
    transposes into the thresholds; the thresholding layer then reads y itself and compares −y
    on the negated channels (compile/layers/thresholding.py). The Mul's output is typed as
    the integers it holds, so that FINN makes the thresholds a layer."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType

        from xnorflow.compile.ir.datatypes import smallest_type

        for mul in model.graph.node:
            c = sign_vector(model, mul)
            if c is None or model.is_fork_node(mul):
                continue
            dt = wide = model.get_tensor_datatype(mul.input[0])
            if dt.is_integer() and dt != DataType["BIPOLAR"]:
                lo, hi = int(dt.min()), int(dt.max())
                wide = DataType[smallest_type(min(lo, -hi), max(hi, -lo)).name]
                model.set_tensor_datatype(mul.output[0], wide)
            prev = model.find_producer(mul.input[0])
            if prev is None or prev.op_type != "Transpose" or model.is_fork_node(prev):
                continue
            perm = node_attr(prev, "perm", None)
            if perm is None or c.ndim not in (0, len(perm)):
                continue
            before = np.transpose(c, np.argsort(perm)) if c.ndim else c
            model.set_initializer(mul.input[1], before.astype(np.float32))
            mid = swap_with_consumer(model, prev, mul, model.get_tensor_shape(prev.input[0]))
            model.set_tensor_datatype(mid, wide)
            return model, True
        return model, False


def compose_affine(model: Any, nodes: list[Any], channels: int) -> tuple[np.ndarray, ...]:
    """(scale, shift) per channel of a chain of Mul/Add by constants, first node first:
    its output is scale·x + shift for its input x."""
    scale, shift = np.ones(channels), np.zeros(channels)
    for node in nodes:
        value = channel_values(model, node, channels)
        if node.op_type == "Mul":
            scale, shift = scale * value, shift * value
        else:
            shift = shift + value
    return scale, shift


def channel_values(model: Any, node: Any, channels: int) -> np.ndarray | None:
    """The per-channel constant of a Mul or Add by a scalar or per-channel initializer."""
    if node.op_type not in ("Mul", "Add"):
        return None
    init = model.get_initializer(node.input[1])
    if init is None:
        return None
    shape = model.get_tensor_shape(node.input[0]) or [1, channels]
    per_channel = (1, channels) + (1,) * (len(shape) - 2)
    try:
        return np.broadcast_to(np.asarray(init, dtype=np.float64),
                               per_channel).reshape(channels)
    except ValueError:  # not per channel
        return None


def _weighted_consumer(model: Any, tensor: str, sign: np.ndarray, offset: np.ndarray
                       ) -> tuple | None:
    """(MatMul or Conv reading `tensor`, its weights for the input s·x + o instead of x, the
    bias o·W this leaves after it or None) where `tensor` ((N, C) or (N, C, H, W)) reaches one
    such layer through Flatten, Reshape, Transpose and global average pools only; None
    otherwise. `sign` and `offset` are per channel."""
    shape = model.get_tensor_shape(tensor)
    full = np.ones(shape)
    per_channel = (1, -1) + (1,) * (len(shape) - 2)
    sign_map = full * sign.reshape(per_channel)
    offset_map = full * offset.reshape(per_channel)
    if len(model.find_consumers(tensor) or []) != 1:
        return None
    node = model.find_consumer(tensor)
    while node is not None and not model.is_fork_node(node) and \
            node.op_type in ("Flatten", "Reshape", "Transpose", "GlobalAveragePool"):
        tensor = node.output[0]
        out_shape = model.get_tensor_shape(tensor)
        if node.op_type == "GlobalAveragePool":  # mean(A − v') = A − mean(v')
            sign_map, offset_map = sign_map[:, :, :1, :1], offset_map[:, :, :1, :1]
        elif node.op_type == "Transpose":  # a channels-last flatten
            perm = node_attr(node, "perm", None)
            sign_map, offset_map = (np.transpose(m, perm) for m in (sign_map, offset_map))
        sign_map, offset_map = sign_map.reshape(out_shape), offset_map.reshape(out_shape)
        node = model.find_consumer(tensor)
    if node is None or len(node.input) < 2 or node.input[0] != tensor \
            or model.is_fork_node(node):
        return None
    w = model.get_initializer(node.input[1])
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float64)
    if node.op_type == "MatMul" and sign_map.ndim == 2 and w.ndim == 2:
        weights = w * sign_map[0][:, None]
        bias = offset_map[0] @ w
    elif node.op_type == "Conv" and sign_map.ndim == 4 and int(node_attr(node, "group", 1)) == 1:
        weights = w * sign[None, :, None, None]
        bias = (w * offset[None, :, None, None]).sum(axis=(1, 2, 3)).reshape(1, -1, 1, 1)
        if np.any(bias) and any(node_attr(node, "pads", [0])):
            return None  # the zero padding would pad v', not A − v'
    else:
        return None
    return node, weights.astype(np.float32), bias if np.any(bias) else None


def _integer_type(current: Any, values: np.ndarray) -> Any:
    """`current` if it holds every one of `values`, else the smallest integer type that does."""
    from qonnx.core.datatype import DataType

    if current.is_integer() and np.all(current.allowed(values)):
        return current
    bits = 2
    while values.min() < -(2 ** (bits - 1)) or values.max() > 2 ** (bits - 1) - 1:
        bits += 1
    return DataType[f"INT{bits}"]


class UnitScaleBipolarActivations(Transformation):
    """A 1-bit activation of scale s ≠ 1 (a learned or set scale, `QuantHardTanh(bit_width=1,
    max_val=2.0)`) → the same activation of scale 1, then a Mul by s: BipolarQuant(x, s) is
    exactly s·BipolarQuant(x, 1), FINN converts only scale 1, and its streamlining moves the
    scalar Mul into the next layer's thresholds or the output scale."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        graph, changed = model.graph, False
        for node in list(graph.node):
            if node.op_type != "BipolarQuant" or model.get_initializer(node.input[0]) is not None:
                continue
            scale = model.get_initializer(node.input[1])
            if scale is None or np.size(scale) != 1 or float(np.ravel(scale)[0]) in (1.0, 0.0):
                continue
            unit = model.make_new_valueinfo_name()
            model.set_initializer(unit, np.ones_like(np.asarray(scale, dtype=np.float32)))
            factor = model.make_new_valueinfo_name()
            model.set_initializer(factor, np.asarray(scale, dtype=np.float32))
            quantized = model.make_new_valueinfo_name()
            mul = helper.make_node("Mul", [quantized, factor], [node.output[0]])
            node.input[1], node.output[0] = unit, quantized
            graph.node.insert(list(graph.node).index(node) + 1, mul)
            changed = True
        if changed:
            from qonnx.transformation.infer_shapes import InferShapes

            model = model.transform(InferShapes())
        return model, False


class ZeroPointWeightsAsSigned(Transformation):
    """A weight quantizer with zero points (`ShiftedUint8WeightPerChannelFloat`: w = (q − z)·s,
    q and z in [0, 2^b − 1]) → its weights (q − z)·s under a symmetric signed (b+1)-bit
    quantizer, which gives them back exactly; FINN folds weight quantizers without zero points
    only."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.custom_op.general.intquant import int_quant

        for node in model.graph.node:
            if node.op_type != "Quant":
                continue
            w, scale, zero, bits = (model.get_initializer(t) for t in node.input[:4])
            if any(v is None for v in (w, scale, zero, bits)) or not np.any(zero != 0) or \
                    np.size(bits) != 1:
                continue
            signed, narrow = int(node_attr(node, "signed", 1)), int(node_attr(node, "narrow", 0))
            mode = str(node_attr(node, "rounding_mode", "ROUND"))
            values = int_quant(w, scale, zero, bits, signed, narrow, mode)
            model.set_initializer(node.input[0], values.astype(np.float32))
            for k, v in ((2, np.zeros((), np.float32)),
                         (3, (np.asarray(bits) + (0 if signed else 1)).astype(np.float32))):
                name = model.make_new_valueinfo_name()  # zero point and width may be shared
                model.set_initializer(name, v)
                node.input[k] = name
            for a in node.attribute:
                if a.name == "signed":
                    a.i = 1
                elif a.name == "narrow":
                    a.i = 0
            return model, True
        return model, False


ROUND_HALF_EVEN_TAG = "xnorflow.round_half_even q_lo="


def threshold_input(model: Any, quant: Any) -> str:
    """The tensor the MultiThreshold ConvertQONNXtoFINN makes of an activation Quant reads:
    a ReLU's input for Relu → Quant (QuantReLU, whose ReLU it takes in), else the Quant's."""
    producer = model.find_producer(quant.input[0])
    return producer.input[0] if producer is not None and producer.op_type == "Relu" \
        else quant.input[0]


def rounding_activations(model: Any) -> dict[str, int]:
    """{tensor a MultiThreshold will read: the lowest integer code} of the multi-bit activation
    quantizers that round half to even (ROUND mode), read before ConvertQONNXtoFINN turns them
    into thresholds (which it places half up: `tag_rounding_thresholds`, `RoundTiesHalfEven`)."""
    out = {}
    for node in model.graph.node:
        if node.op_type != "Quant" or model.get_initializer(node.input[0]) is not None:
            continue
        bits = model.get_initializer(node.input[3])
        mode = str(node_attr(node, "rounding_mode", "ROUND"))
        if bits is None or float(np.ravel(bits)[0]) < 2 or mode.upper() != "ROUND":
            continue
        b = int(np.ravel(bits)[0])
        signed, narrow = int(node_attr(node, "signed", 1)), int(node_attr(node, "narrow", 0))
        out[threshold_input(model, node)] = -(2 ** (b - 1)) + narrow if signed else 0
    return out


def initializers_as(model: Any, dtype: Any) -> None:
    """Every floating-point initializer as `dtype`. The lowering folds scales, BatchNorms and
    biases into thresholds in float64 (in float32, about ten roundings moved 8-bit thresholds
    onto the wrong integer where a pre-activation lies within 10⁻⁶ of a step, docs/ir.md);
    the HW graph goes back to float32, which its integers and output affine fit. The
    weights of MatMul and Conv (integers) stay float32: FINN's MoveAddPastConv runs the
    convolution in onnxruntime on a float32 input."""
    weights = {n.input[1] for n in model.graph.node if n.op_type in ("MatMul", "Conv")}
    for init in list(model.graph.initializer):
        value = model.get_initializer(init.name)
        if value is not None and np.issubdtype(value.dtype, np.floating) and \
                value.dtype != dtype and init.name not in weights:
            model.set_initializer(init.name, value.astype(dtype))


def quantizer_grids(model: Any) -> dict[str, tuple[np.ndarray, float]]:
    """{tensor a MultiThreshold will read: (|scale| per channel or scalar, ½ for a rounding
    quantizer or 0 for FLOOR)}: the quantizer's steps lie at (m + offset)·scale."""
    out = {}
    for node in model.graph.node:
        if node.op_type != "Quant" or model.get_initializer(node.input[0]) is not None:
            continue
        scale = model.get_initializer(node.input[1])
        mode = str(node_attr(node, "rounding_mode", "ROUND")).upper()
        if scale is None or mode not in ("ROUND", "FLOOR"):
            continue
        out[threshold_input(model, node)] = (
            np.abs(np.asarray(scale, dtype=np.float64)).reshape(-1),
            0.5 if mode == "ROUND" else 0.0)
    return out


def thresholds_on_grid(model: Any, grids: dict[str, tuple[np.ndarray, float]]) -> None:
    """The MultiThresholds of `grids`' quantizers back on their steps in float64: FINN
    computes them so and stores float32, 6·10⁻⁸ off, which folding then scales by up to the
    accumulator's size."""
    for node in model.graph.node:
        if node.op_type == "MultiThreshold" and node.input[0] in grids:
            scale, offset = grids[node.input[0]]
            t = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)
            s = scale.reshape(-1, 1)
            model.set_initializer(node.input[1], (np.round(t / s - offset) + offset) * s)


FLOOR_TAG = "xnorflow.floor"


def floor_thresholds(model: Any, grids: dict[str, tuple[np.ndarray, float]]) -> None:
    """The MultiThresholds ConvertQONNXtoFINN made of `grids`' FLOOR quantizers (offset 0: a
    TruncAvgPool2d's Trunc, `TruncAsQuant`) step at k·s, not (k − ½)·s where FINN puts them
    whatever the rounding; tagged so that `RoundTiesHalfEven` puts those on the integers
    exactly."""
    for node in model.graph.node:
        if node.op_type == "MultiThreshold" and grids.get(node.input[0], (0, 0.5))[1] == 0:
            t = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)
            half = 0.5 * grids[node.input[0]][0].reshape(-1, 1)
            model.set_initializer(node.input[1], t + half)
            node.doc_string = FLOOR_TAG


def tag_rounding_thresholds(model: Any, rounding: dict[str, int]) -> None:
    """Mark the MultiThresholds ConvertQONNXtoFINN made of `rounding`'s quantizers (their
    doc_string survives renaming and streamlining)."""
    for node in model.graph.node:
        if node.op_type == "MultiThreshold" and node.input[0] in rounding:
            node.doc_string = f"{ROUND_HALF_EVEN_TAG}{rounding[node.input[0]]}"


def unsigned_one_bit_activations(model: Any) -> dict[str, int]:
    """Widen the unsigned 1-bit activation quantizers (`QuantReLU(bit_width=1)`: codes {0, 1})
    to 2 bits, and return {tensor the MultiThreshold will read: 1} for `first_thresholds`.
    FINN takes every 1-bit quantizer for a bipolar one; the 2-bit one rounds the same
    (ties half to even), and keeping its first threshold only clamps at code 1."""
    out = {}
    for node in model.graph.node:
        if node.op_type != "Quant" or int(node_attr(node, "signed", 1)) or \
                model.get_initializer(node.input[0]) is not None:
            continue
        zero, bits = (model.get_initializer(t) for t in node.input[2:4])
        if zero is None or bits is None or np.any(np.asarray(zero) != 0) or \
                np.size(bits) != 1 or float(np.ravel(bits)[0]) != 1:
            continue
        wider = model.make_new_valueinfo_name()  # the bit width may be shared
        model.set_initializer(wider, np.full_like(np.asarray(bits, dtype=np.float32), 2.0))
        node.input[3] = wider
        for a in node.attribute:
            if a.name == "narrow":
                a.i = 0
        out[threshold_input(model, node)] = 1
    return out


def first_thresholds(model: Any, kept: dict[str, int]) -> None:
    """Keep the first `kept[x]` thresholds of the MultiThreshold reading x (the codes above
    are never reached)."""
    for node in model.graph.node:
        if node.op_type == "MultiThreshold" and node.input[0] in kept:
            t = model.get_initializer(node.input[1])
            model.set_initializer(node.input[1], np.ascontiguousarray(t[:, :kept[node.input[0]]]))


class RoundTiesHalfEven(Transformation):
    """FINN places a quantizer's thresholds half up (x ≥ (k + ½)·s steps to k + 1); PyTorch
    and qonnx round half to even. The two differ only on an exact tie, which is common when
    the quantizer reads integers through power-of-two scales (a conv's output into an output
    quantizer, no BatchNorm between). Once streamlining has put a tagged MultiThreshold onto
    integers y, a threshold τ on an integer is such a tie: the step to code q keeps it (τ − ½)
    when q is even and leaves it (τ + ½) when q is odd — half a step from every integer, so
    later float arithmetic cannot move it across one. A FLOOR quantizer's thresholds
    (`floor_thresholds`) within float noise of an integer go onto it exactly. Runs before
    every RoundAndClipThresholds: a tag is taken the first time its thresholds are on
    integers, before they are rounded."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            floor = node.doc_string == FLOOR_TAG
            if node.op_type != "MultiThreshold" or not (
                    floor or node.doc_string.startswith(ROUND_HALF_EVEN_TAG)) or \
                    not model.get_tensor_datatype(node.input[0]).is_integer():
                continue
            t = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)
            nearest = np.round(t)
            # a tie computed from float32 scales is off by ~1 float32 ulp (6·10⁻⁸ at 2);
            # float64 folding (`initializers_as`) keeps a pre-activation 0.03 from a step at
            # 10⁵ (3·10⁻⁷ of it) from being taken for one, as float32 did
            tie = np.abs(t - nearest) <= 2e-7 * np.maximum(1.0, np.abs(t))
            if floor:  # floor(y / s) steps to k exactly at y = k·s: the threshold is k·s
                side = np.zeros(t.shape[1])
            else:
                q_lo = int(node.doc_string[len(ROUND_HALF_EVEN_TAG):])
                code = q_lo + np.arange(t.shape[1]) + 1  # the code column i's step leads to
                side = np.where(code % 2 == 0, -0.5, 0.5)
            node.doc_string = ""  # once
            model.set_initializer(node.input[1],
                                  np.where(tie, nearest + side, t).astype(np.float64))
        return model, False


class Conv1dAs2d(Transformation):
    """A 1-D network (QuantConv1d, MaxPool1d, BatchNorm1d, AdaptiveAvgPool1d on (N, C, L)
    signals) → the same network on (N, C, 1, L) images of height 1, which FINN lowers and
    the 2-D layers run (1 × k kernels and pools). Every (N, C, L) tensor gains the axis H = 1
    before L: convolution and pooling attributes, weights (O, I, k) → (O, I, 1, k), per-channel
    constants (1, C, 1) → (1, C, 1, 1), ReduceMean over L → over H and L, a channels-last
    Transpose (0, 2, 1) → (0, 2, 3, 1). `self.shape` is the input's (C, L), or None when the
    model's input is not 3-D. Anything that cannot be carried over raises CompileError."""

    def __init__(self) -> None:
        super().__init__()
        self.shape: tuple[int, ...] | None = None

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        from xnorflow.compile.errors import CompileError

        graph = model.graph
        in_shape = model.get_tensor_shape(graph.input[0].name)
        if in_shape is None or len(in_shape) != 3:
            return model, False
        self.shape = tuple(int(d) for d in in_shape[1:])
        rank3 = {t for n in graph.node for t in list(n.input) + list(n.output)
                 if t and model.get_initializer(t) is None
                 and len(model.get_tensor_shape(t) or []) == 3}
        rank3.add(graph.input[0].name)
        done: set[str] = set()

        def widen(name: str) -> None:  # an initializer (…, k) of rank 3 → rank 4
            init = model.get_initializer(name)
            if name in done or init is None or init.ndim != 3:
                return
            model.set_initializer(name, np.expand_dims(init, 2))
            done.add(name)

        def set_ints(node: Any, name: str, values: list[int]) -> None:
            for a in list(node.attribute):
                if a.name == name:
                    node.attribute.remove(a)
            node.attribute.append(helper.make_attribute(name, values))

        for node in graph.node:
            if not any(t in rank3 for t in node.input):
                continue
            op = node.op_type
            if op in ("Conv", "MaxPool", "AveragePool"):
                k = list(node_attr(node, "kernel_shape", []))
                if len(k) == 1:
                    pads = list(node_attr(node, "pads", [0, 0]))
                    set_ints(node, "kernel_shape", [1, k[0]])
                    set_ints(node, "strides", [1, *node_attr(node, "strides", [1])])
                    set_ints(node, "pads", [0, pads[0], 0, pads[1]])
                    if node_attr(node, "dilations", None) is not None:
                        set_ints(node, "dilations", [1, *node_attr(node, "dilations", [1])])
                if op == "Conv":
                    weight = model.find_producer(node.input[1])
                    for t in [node.input[1], *(weight.input if weight is not None else [])]:
                        widen(t)
            elif op == "ReduceMean":
                axes = node_attr(node, "axes", None)
                src = "attr"
                if axes is None and len(node.input) > 1:
                    axes, src = model.get_initializer(node.input[1]), "input"
                axes = sorted(int(a) % 3 for a in np.asarray(axes).reshape(-1))
                if axes != [2]:
                    raise CompileError(f"node {node.name!r}: a ReduceMean over axes {axes} of "
                                       "a 1-D signal; only the mean over its length compiles")
                if src == "attr":
                    set_ints(node, "axes", [2, 3])
                else:
                    model.set_initializer(node.input[1], np.array([2, 3], dtype=np.int64))
            elif op == "Transpose":
                perm = list(node_attr(node, "perm", [2, 1, 0]))
                if perm != [0, 2, 1]:
                    raise CompileError(f"node {node.name!r}: a Transpose {perm} of a 1-D "
                                       "signal; only a channels-last flatten (0, 2, 1) compiles")
                set_ints(node, "perm", [0, 2, 3, 1])
            elif op == "Reshape" and len(model.get_tensor_shape(node.output[0]) or []) > 2:
                raise CompileError(f"node {node.name!r}: a Reshape of a 1-D signal to "
                                   f"{model.get_tensor_shape(node.output[0])}; flatten it "
                                   "to (N, features) instead")
            elif op in ("Squeeze", "Unsqueeze"):
                raise CompileError(f"node {node.name!r}: a {op} of a 1-D signal does not "
                                   "compile; flatten it to (N, features) instead")
            for t in node.input[1:]:
                widen(t)  # per-channel constants, quantizer scales
        for vi in list(graph.value_info):
            graph.value_info.remove(vi)
        for io in [*graph.input, *graph.output]:  # the rest InferShapes derives
            shape = model.get_tensor_shape(io.name)
            if len(shape or []) == 3:
                model.set_tensor_shape(io.name, [shape[0], shape[1], 1, shape[2]])
        from qonnx.transformation.infer_shapes import InferShapes

        return model.transform(InferShapes()), False
