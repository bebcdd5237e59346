"""Concatenations (`torch.cat([x, f(x)], dim=1)`, a DenseNet block) into FINN's
StreamingConcat: two streams joined along the channels.

- `PairwiseConcats`: a Concat of n > 2 tensors → a chain of two-way Concats (the concat
  layer joins two streams).
- `ConcatOnChannelsLast`: a Concat on NCHW's channel axis → transposes to NHWC on each
  input, the Concat on the last axis, a transpose back; the transposes then cancel against
  the convolutions' own (LowerConvsToMatMul) or move on as FINN moves any other, and FINN's
  InferConcatLayer takes only last-axis Concats.
- `ScalesPastConcat`: the inputs' own scales (and offsets) become one per-channel Mul (Add)
  after the join, for the next thresholds to absorb.
- `UniformScalesAsScalars`: a per-channel Mul (Add) whose channels all have one value (the
  join of equal scales) → a scalar one, which FINN's passes move on.
- `CommonConcatTypes`: inputs of different integer types widen to one type holding both.
- `FloatConcatsUntyped`: a Concat with a float input (a scale not yet moved past it) is
  typed FLOAT32 with what follows it through data movement, so that RoundAndClipThresholds
  does not take it for integers (qonnx types a Concat as its first input).
- `FlattenedConcatIntoWeights`: `cat([a.flatten(1), b.flatten(1)])` before a linear layer:
  each map is flattened as it streams (channels last) and the layer's weight rows take the
  order, as FINN's RemoveCNVtoFCFlatten does for one flatten.
- `FlattenCNVtoFCBesideJoins`: FINN's RemoveCNVtoFCFlatten, except for flattens feeding a
  StreamingConcat (it rewires the consumer's first input, whichever input it was, and the
  join concatenates the flat vectors).
- `BinaryJoins`: a join of BINARY bits (XNOR layers read it) is BINARY, as are the forks,
  windows and pools between it and those layers; FINN's StreamingConcat types it UINT1.
- `TwoWayForks`: FINN's DuplicateStreams to n > 2 layers (an Inception block's input going to
  three branches) → a chain of two-way forks (the fork layer feeds two).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper
from qonnx.transformation.base import Transformation

from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.finn_attrs import node_attr
from xnorflow.compile.frontend.finn_passes import (
    PASS_THROUGH,
    bipolar_as_int2,
    set_threshold_output,
)
from xnorflow.compile.ir.datatypes import smallest_type


def concat_axis(model: Any, node: Any) -> int:
    """The Concat's axis, non-negative."""
    rank = len(model.get_tensor_shape(node.input[0]))
    axis = int(node_attr(node, "axis", 1))
    return axis + rank if axis < 0 else axis


class PairwiseConcats(Transformation):
    """Concat(a, b, c, ...) → Concat(Concat(a, b), c) ...: the same channels, in order."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for index, node in enumerate(model.graph.node):
            if node.op_type != "Concat" or len(node.input) <= 2:
                continue
            axis = concat_axis(model, node)
            shapes = [model.get_tensor_shape(t) for t in node.input[:2]]
            shape = list(shapes[0])
            shape[axis] += shapes[1][axis]
            part = model.make_new_valueinfo_name()
            model.graph.value_info.append(
                helper.make_tensor_value_info(part, TensorProto.FLOAT, shape))
            first = helper.make_node("Concat", list(node.input[:2]), [part], axis=axis,
                                     name=f"{node.name}_pair")
            rest = list(node.input[2:])
            del node.input[:]
            node.input.extend([part, *rest])
            model.graph.node.insert(index, first)
            return model, True
        return model, False


class ConcatOnChannelsLast(Transformation):
    """A Concat of 4-D NCHW tensors on axis 1 → NHWC transposes, Concat on axis 3, NCHW."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for index, node in enumerate(model.graph.node):
            shape = model.get_tensor_shape(node.output[0])
            if node.op_type != "Concat" or len(shape) != 4 or concat_axis(model, node) != 1:
                continue
            new = []
            for k, t in enumerate(node.input):
                n, c, h, w = model.get_tensor_shape(t)
                nhwc = model.make_new_valueinfo_name()
                model.graph.value_info.append(
                    helper.make_tensor_value_info(nhwc, TensorProto.FLOAT, [n, h, w, c]))
                model.set_tensor_datatype(nhwc, model.get_tensor_datatype(t))
                new.append(helper.make_node("Transpose", [t], [nhwc], perm=[0, 2, 3, 1]))
                node.input[k] = nhwc
            joined = model.make_new_valueinfo_name()
            n, c, h, w = shape
            model.graph.value_info.append(
                helper.make_tensor_value_info(joined, TensorProto.FLOAT, [n, h, w, c]))
            new.append(helper.make_node("Transpose", [joined], [node.output[0]],
                                        perm=[0, 3, 1, 2]))
            node.output[0] = joined
            for a in node.attribute:
                if a.name == "axis":
                    a.i = 3
            for k, x in enumerate(new[:-1]):
                model.graph.node.insert(index + k, x)
            model.graph.node.insert(index + len(new), new[-1])
            return model, True
        return model, False


class ScalesPastConcat(Transformation):
    """Mul (Add) by constants on a Concat's inputs that FINN's MoveMulPastJoinConcat
    (MoveAddPastJoinConcat) does not move — per-tensor scales that differ, or an input without
    one — become per-channel constants on every input (1 or 0 where an input had none), which
    it moves past the join as one per-channel Mul (Add)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            if node.op_type != "Concat":
                continue
            axis = concat_axis(model, node)
            for op, unit in (("Add", 0.0), ("Mul", 1.0)):
                if self._per_channel(model, node, axis, op, unit):
                    return model, True
        return model, False

    @staticmethod
    def _per_channel(model: Any, node: Any, axis: int, op: str, unit: float) -> bool:
        consts = []
        for t in node.input:
            p = model.find_producer(t)
            c = None if p is None or p.op_type != op else model.get_initializer(p.input[1])
            consts.append(None if c is None else np.asarray(c))
        if all(c is None for c in consts):
            return False
        if any(c is None and _pending(model, t, op) for c, t in zip(consts, node.input,
                                                                    strict=True)):
            return False  # an input's own scale has yet to come past data movement
        rank = len(model.get_tensor_shape(node.input[0]))
        shapes = [[1] * rank for _ in node.input]
        for k, t in enumerate(node.input):
            shapes[k][axis] = model.get_tensor_shape(t)[axis]
        if all(c is not None and c.size == 1 for c in consts) and \
                len({float(c.reshape(-1)[0]) for c in consts}) == 1:
            return False  # one scalar: FINN moves it
        if all(c is not None and list(c.shape) == sh for c, sh in zip(consts, shapes,
                                                                        strict=True)):
            return False  # per channel already
        if any(c is not None and c.size != 1 and list(c.shape) != sh
               for c, sh in zip(consts, shapes, strict=True)):
            return False  # some other broadcast: left as it is (the reader names it)
        for k, (t, c, sh) in enumerate(zip(list(node.input), consts, shapes, strict=True)):
            value = np.full(sh, unit if c is None else float(c.reshape(-1)[0]), np.float32)
            if c is not None and c.size != 1:
                continue
            if c is not None:
                model.set_initializer(model.find_producer(t).input[1], value)
                continue
            param, out = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(param, value)
            model.graph.value_info.append(helper.make_tensor_value_info(
                out, TensorProto.FLOAT, model.get_tensor_shape(t)))
            index = list(model.graph.node).index(node)
            model.graph.node.insert(index, helper.make_node(op, [t, param], [out]))
            node.input[k] = out
        return True


def _pending(model: Any, tensor: str, op: str) -> bool:
    """Whether a Mul (Add) by a constant reaches `tensor` through data movement alone (a
    max-pool, transposes) or through an earlier join whose inputs have one: FINN (or this
    pass, at that join) moves it on, and it is the input's scale."""
    node = model.find_producer(tensor)
    while node is not None and node.op_type in PASS_THROUGH:
        node = model.find_producer(node.input[0])
    if node is not None and node.op_type == "Concat":
        return any(_pending(model, t, op) for t in node.input)
    return node is not None and node.op_type == op and \
        model.get_initializer(node.input[1]) is not None


class UniformScalesAsScalars(Transformation):
    """Mul/Add by a constant array of one value, not widening its input → by a scalar."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        changed = False
        for node in model.graph.node:
            if node.op_type not in ("Mul", "Add"):
                continue
            c = model.get_initializer(node.input[1])
            if c is None or c.size <= 1 or np.any(c != c.reshape(-1)[0]) or \
                    model.get_tensor_shape(node.input[0]) != model.get_tensor_shape(node.output[0]):
                continue
            model.set_initializer(node.input[1], np.asarray(c.reshape(-1)[0], np.float32))
            changed = True
        return model, changed


class CommonConcatTypes(Transformation):
    """A Concat of tensors of different integer types (a 2-bit and a 3-bit activation, an
    activation and a conv's raw output): the thresholds producing them output one type that
    holds every input's values, the type FINN's StreamingConcat gives the join. qonnx's type
    inference types a Concat as its first input, which would then be wrong for the second
    (thresholds after the join clipped to it). Run after BipolarToTernaryWhereZeroMatters
    (which makes ±1 inputs INT2)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType
        from qonnx.transformation.infer_datatypes import InferDataTypes

        for node in model.graph.node:
            if node.op_type != "Concat":
                continue
            types = [model.get_tensor_datatype(t) for t in node.input]
            if len(set(types)) == 1 or not all(t.is_integer() for t in types):
                continue
            common = DataType[smallest_type(min(int(t.min()) for t in types),
                                            max(int(t.max()) for t in types)).name]
            for tensor, dt in zip(node.input, types, strict=True):
                if not _widen(model, tensor, common):
                    raise CompileError(
                        f"node {node.name!r} (Concat) joins tensors of types "
                        f"{', '.join(t.name for t in types)}, and {tensor!r} ({dt.name}) does "
                        "not come from a quantized activation whose type could widen to "
                        f"{common.name}; quantize each concatenated tensor with an activation "
                        "quantizer of one bit width (e.g. QuantIdentity before torch.cat)")
            return model.transform(InferDataTypes()), True  # the next join sees this one's type
        return model, False


def _widen(model: Any, tensor: str, common: Any) -> bool:
    """Make `tensor` of type `common` at its source: the MultiThreshold (not bipolar) it comes
    from through data movement, or every input of the Concat it comes from. False where it
    cannot (a tensor of another kind, not already of that type)."""
    if model.get_tensor_datatype(tensor) == common:
        return True
    node = model.find_producer(tensor)
    while node is not None and node.op_type in PASS_THROUGH:
        node = model.find_producer(node.input[0])
    if node is not None and node.op_type == "Concat":
        return all(_widen(model, t, common) for t in node.input)
    if node is not None and node.op_type == "MultiThreshold" and \
            node_attr(node, "out_dtype") == "BIPOLAR" and common.min() <= -1:
        bipolar_as_int2(model, node)  # ±1 bits joined with wider values: the values
        if common.name == "INT2":
            return True
    if node is None or node.op_type != "MultiThreshold" or \
            node_attr(node, "out_dtype") in ("BIPOLAR", "BINARY"):
        return False
    if common.signed() and not model.get_tensor_datatype(tensor).signed():
        raise CompileError(
            f"the unsigned activation {node.name!r} ({model.get_tensor_datatype(tensor).name}) "
            f"is concatenated with signed values (the join needs {common.name}, e.g. a conv's "
            "raw output or a signed activation), and FINN's thresholds give a signed type only "
            "with a negative lowest level; use a signed activation quantizer for the joined "
            "activations (QuantIdentity/QuantHardTanh instead of QuantReLU), or quantize the "
            "conv's output before the join")
    set_threshold_output(node, common.name)
    model.set_tensor_datatype(node.output[0], common)
    return True


class TwoWayForks(Transformation):
    """DuplicateStreams(x → o1, o2, ..., on) → DuplicateStreams(x → o1, t),
    DuplicateStreams(t → o2, ..., on), until every fork feeds two; the same stream to each."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for index, node in enumerate(model.graph.node):
            if node.op_type != "DuplicateStreams" or len(node.output) <= 2:
                continue
            rest = model.make_new_valueinfo_name()
            model.graph.value_info.append(helper.make_tensor_value_info(
                rest, TensorProto.FLOAT, model.get_tensor_shape(node.input[0])))
            model.set_tensor_datatype(rest, model.get_tensor_datatype(node.input[0]))
            tail = helper.make_node("DuplicateStreams", [rest], list(node.output[1:]),
                                    name=f"{node.name}_{len(node.output) - 1}")
            tail.domain = node.domain
            for a in node.attribute:
                tail.attribute.append(a)
                if a.name == "NumOutputStreams":
                    tail.attribute[-1].i = len(node.output) - 1
                    a.i = 2
                elif a.name == "outFIFODepths":
                    del tail.attribute[-1].ints[1:]
                    tail.attribute[-1].ints.extend([2] * (len(node.output) - 2))
                    del a.ints[2:]
            outs = [node.output[0], rest]
            del node.output[:]
            node.output.extend(outs)
            model.graph.node.insert(index + 1, tail)
            return model, True
        return model, False


class FloatConcatsUntyped(Transformation):
    """Concats with a non-integer input, and the data movement after them, typed FLOAT32 (run
    right before RoundAndClipThresholds, which reads the type of a threshold's input)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType

        for node in model.graph.node:
            if node.op_type != "Concat" or all(model.get_tensor_datatype(t).is_integer()
                                               for t in node.input):
                continue
            tensors = [node.output[0]]
            while tensors:
                t = tensors.pop()
                model.set_tensor_datatype(t, DataType["FLOAT32"])
                tensors += [c.output[0] for c in model.find_consumers(t) or []
                            if c.op_type in PASS_THROUGH]
        return model, False


class FlattenedConcatIntoWeights(Transformation):
    """Concat of NCHW flattens of channels-last maps (Transpose(0, 3, 1, 2) → Flatten) taken by
    one MatMul: the transposes go, the Flattens read the maps as they stream, and the
    MatMul's weight rows are permuted to match."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            if node.op_type != "Concat" or len(model.get_tensor_shape(node.output[0])) != 2:
                continue
            readers = model.find_consumers(node.output[0]) or []
            if len(readers) != 1 or readers[0].op_type not in ("MatMul", "XnorPopcountMatMul") or \
                    model.get_initializer(readers[0].input[1]) is None:
                continue
            rows, offset, moved = [], 0, False
            for t in node.input:
                size = int(np.prod(model.get_tensor_shape(t)))
                flat = model.find_producer(t)
                perm = None
                if flat is not None and flat.op_type in ("Flatten", "Reshape") and \
                        len(model.find_consumers(t) or []) == 1:
                    tr = model.find_producer(flat.input[0])
                    if tr is not None and tr.op_type == "Transpose" and \
                            list(node_attr(tr, "perm", [])) == [0, 3, 1, 2] and \
                            len(model.find_consumers(flat.input[0]) or []) == 1:
                        _, h, w, c = model.get_tensor_shape(tr.input[0])
                        # position (y, x, ch) of the stream holds PyTorch's element ch·h·w + y·w + x
                        perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
                        flat.input[0] = tr.input[0]
                        model.graph.node.remove(tr)
                        moved = True
                rows.append(offset + (perm if perm is not None else np.arange(size)))
                offset += size
            if moved:
                weights = model.get_initializer(readers[0].input[1])
                model.set_initializer(readers[0].input[1], weights[np.concatenate(rows)])
                return model, True
        return model, False


class FlattenCNVtoFCBesideJoins(Transformation):
    """RemoveCNVtoFCFlatten with the Flatten/Reshape nodes that feed a StreamingConcat kept:
    they are hidden from it under another op type for the call."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from finn.transformation.move_reshape import RemoveCNVtoFCFlatten

        kinds = {}  # output tensor → op type of the nodes hidden
        for n in model.graph.node:
            if n.op_type in ("Flatten", "Reshape") and any(
                    c.op_type == "StreamingConcat"
                    for c in model.find_consumers(n.output[0]) or []):
                kinds[n.output[0]] = n.op_type
                n.op_type = "KeptBeforeJoin"
        model = model.transform(RemoveCNVtoFCFlatten(), make_deepcopy=False)
        for n in model.graph.node:
            if n.op_type == "KeptBeforeJoin":
                n.op_type = kinds[n.output[0]]
        return model, False


class BinaryJoins(Transformation):
    """StreamingConcats of BINARY inputs typed BINARY (FINN's formula gives UINT1), and the
    hardware layers between them and the XNOR MVAUs they feed take BINARY too: the reader reads
    them as the ±1 bits they carry."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.core.datatype import DataType
        from qonnx.custom_op.registry import getCustomOp

        binary = DataType["BINARY"]
        for node in model.graph.node:
            if node.op_type != "StreamingConcat" or \
                    model.get_tensor_datatype(node.output[0]) == binary or \
                    any(model.get_tensor_datatype(t) != binary for t in node.input):
                continue
            getCustomOp(node).set_nodeattr("inputDataTypes", ["BINARY"] * len(node.input))
            todo = [node.output[0]]
            while todo:
                tensor = todo.pop()
                model.set_tensor_datatype(tensor, binary)
                for c in model.find_consumers(tensor) or []:
                    if c.op_type in PASS_THROUGH:
                        todo.append(c.output[0])
                        continue
                    if not c.domain.startswith("finn"):
                        continue
                    op = getCustomOp(c)
                    kinds = op.get_nodeattr_types()
                    if c.op_type == "StreamingConcat":
                        types = list(op.get_nodeattr("inputDataTypes"))
                        types[list(c.input).index(tensor)] = "BINARY"
                        op.set_nodeattr("inputDataTypes", types)
                        continue  # its own turn in the sweep
                    for name in ("inputDataType", "InputDataType"):
                        if name in kinds:
                            op.set_nodeattr(name, "BINARY")
                    if c.op_type.startswith("MVAU"):
                        continue
                    for name in ("outputDataType", "OutputDataType"):
                        if name in kinds:
                            op.set_nodeattr(name, "BINARY")
                    todo += list(c.output)
            return model, True
        return model, False
