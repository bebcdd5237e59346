"""Pools FINN's own passes lower wrongly or not at all: average pools over part of the map,
global max pools, max-pools whose output forks.

- `TruncAsQuant`: Brevitas' `TruncAvgPool2d` exports AveragePool → Trunc; where the Trunc
  keeps every bit of the window sum (its default RoundTo8bit on narrow activations) it is an
  identity and goes, leaving the AveragePool to the next pass; one that drops bits is the
  quantizer of the sums it is (a Quant, floor or round).
- `AveragePoolAsSum`: the AveragePool → FINN's Pool summing each window exactly, then
  1/(kh·kw); a pool right after a convolution folds into the convolution (see the class).
- `GlobalMaxAsMaxPool`: a global max (`x.amax((2, 3))`, ReduceMax, GlobalMaxPool) → a
  MaxPool over the whole map, which FINN lowers.
- `ForkedMaxPoolNHWC`: a max-pool whose output feeds several layers (a ResNet stem's pool
  and the first block's shortcut) on NHWC between two transposes; FINN's MakeMaxPoolNHWC
  would rewire only one consumer and hand the others the pool's input.
- `ScalarMulPastMaxPoolNHWC`: a non-negative scale (scalar or per channel) that reaches a
  max-pool after it turned NHWC moves past it, as FINN's MoveMulPastMaxPool moves it past an
  NCHW one.
- `ChannelAffinePastGlobalPool`: a scale or bias (per channel) right before a global average
  pool (a classifier conv's bias) moves after it, where the output affine takes it.
- `ChannelAffinePastMaxPool`: a bias or non-negative scale right before a max-pool moves after
  it, to the thresholds there.
- `ReluPastMaxPool`: a float ReLU right before a max-pool moves after it.
- `SumAsMean`: a sum over axes (`x.sum((2, 3))`, ReduceSum) → their mean times their size,
  which the average-pool passes then take.
- `SpatialMeanAsAveragePool`: a mean over the height or the width only → an AveragePool
  whose window is that axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qonnx.transformation.base import Transformation

from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.finn_attrs import node_attr
from xnorflow.compile.frontend.finn_passes import (
    RESHAPES,
    channel_values,
    global_pool_axes,
    reduce_axes,
    swap_with_consumer,
)
from xnorflow.compile.ir.datatypes import smallest_type


class SumAsMean(Transformation):
    """ReduceSum(x, axes) → ReduceMean(x, axes) · n, n the number of elements summed: the
    average pool the hardware sums exactly, and a scalar Mul that streamlining moves into
    the next thresholds or the output scale."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        graph = model.graph
        for i, node in enumerate(graph.node):
            if node.op_type != "ReduceSum":
                continue
            axes, shape = reduce_axes(model, node), model.get_tensor_shape(node.input[0])
            if axes is None or int(node_attr(node, "noop_with_empty_axes", 0)):
                continue  # check_supported names the ReduceSum
            count = f"{node.output[0]}_count"
            model.set_initializer(count, np.asarray(np.prod([shape[a] for a in axes]),
                                                    dtype=np.float32))
            last = node  # the scale goes past the reshapes after the sum (CollapseReshapes)
            while len(model.find_consumers(last.output[0]) or []) == 1 and \
                    model.find_consumer(last.output[0]).op_type in RESHAPES and \
                    last.output[0] not in {o.name for o in graph.output}:
                last = model.find_consumer(last.output[0])
            scaled = last.output[0]
            last.output[0] = f"{scaled}_unscaled"
            model.set_tensor_shape(last.output[0], model.get_tensor_shape(scaled))
            graph.node.insert(list(graph.node).index(last) + 1, helper.make_node(
                "Mul", [last.output[0], count], [scaled], name=f"{node.name}_count"))
            # the mean writes what the sum wrote (renamed above where the sum was `last`)
            graph.node.insert(i, _reduce_mean(model, node.input[0], axes, node.output[0],
                                              int(node_attr(node, "keepdims", 1)),
                                              f"{node.name}_mean"))
            graph.node.remove(node)
            return model, True
        return model, False


def _reduce_mean(model: Any, x: str, axes: list[int], out: str, keepdims: int, name: str
                 ) -> Any:
    """A ReduceMean node in the model's opset (axes an input from opset 18 on)."""
    from onnx import helper

    opset = next((o.version for o in model.model.opset_import if o.domain in ("", "ai.onnx")),
                 18)
    if opset < 18:
        return helper.make_node("ReduceMean", [x], [out], name=name, axes=axes,
                                keepdims=keepdims)
    model.set_initializer(f"{out}_axes", np.asarray(axes, dtype=np.int64))
    return helper.make_node("ReduceMean", [x, f"{out}_axes"], [out], name=name,
                            keepdims=keepdims)


class SpatialMeanAsAveragePool(Transformation):
    """A mean over the height or the width only (`x.mean(2)`, `x.sum(3)`: a spectrogram's
    frequency axis) → an AveragePool whose window is that whole axis (+ a Reshape when the
    mean drops it), which AveragePoolAsSum takes."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        graph = model.graph
        for i, node in enumerate(graph.node):
            shape = model.get_tensor_shape(node.input[0])
            if node.op_type != "ReduceMean" or not shape or len(shape) != 4 or \
                    reduce_axes(model, node) not in ([2], [3]):
                continue
            axis = reduce_axes(model, node)[0]
            kernel = [shape[2] if axis == 2 else 1, shape[3] if axis == 3 else 1]
            pooled = _reduction_as_pool(model, i, node, "AveragePool", kernel,
                                        int(node_attr(node, "keepdims", 1)))
            model.set_tensor_shape(pooled, [*shape[:2], *(
                1 if a == axis else shape[a] for a in (2, 3))])
            return model, True
        return model, False


def _reduction_as_pool(model: Any, at: int, node: Any, op: str, kernel: list[int],
                       keep: int) -> str:
    """Replace the reduction `node` (index `at`) by a pool `op` with the window `kernel` (its
    stride too), and a Reshape to the reduction's output when it drops the axes (keepdims 0);
    returns the pool's output."""
    from onnx import helper

    out = node.output[0]
    pooled = out if keep else f"{out}_pooled"
    new = [helper.make_node(op, [node.input[0]], [pooled], name=f"{node.name}_pool",
                            kernel_shape=kernel, strides=kernel, pads=[0, 0, 0, 0])]
    if not keep:
        model.set_initializer(f"{out}_shape",
                              np.asarray(model.get_tensor_shape(out), dtype=np.int64))
        new.append(helper.make_node("Reshape", [pooled, f"{out}_shape"], [out],
                                    name=f"{node.name}_squeeze"))
    model.graph.node.remove(node)
    for k, n in enumerate(new):
        model.graph.node.insert(at + k, n)
    return pooled


class TruncAsQuant(Transformation):
    """Brevitas' TruncAvgPool2d (AveragePool → Trunc). qonnx's Trunc (v2) computes
    round(x / scale) (the window sum S, < 2^in_bits), divides it by 2^shift (shift =
    log2(out_scale / scale)), clamps it to out_bits and rounds it (FLOOR, or ROUND half to
    even). With shift ≤ 0 and in_bits − shift ≤ out_bits that is the sum itself, in finer
    steps: the Trunc goes. Otherwise it quantizes the sum; with `quantize` (right before
    ConvertQONNXtoFINN, so that the QONNX model kept for checks executes the exact Trunc) it
    becomes the Quant of the same scale, bits and rounding — out_scale · rnd(clamp(x /
    out_scale)), as x / out_scale = S / 2^shift up to float rounding, which the thresholds
    on the pool's integer sums do not have (FLOOR: `floor_thresholds`)."""

    def __init__(self, quantize: bool = False) -> None:
        super().__init__()
        self.quantize = quantize

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        for node in model.graph.node:
            if node.op_type != "Trunc":
                continue
            producer = model.find_producer(node.input[0])
            if producer is None or producer.op_type not in ("AveragePool", "GlobalAveragePool"):
                raise CompileError(
                    f"node {node.name!r} (Trunc) truncates something other than an average "
                    "pool; xnorflow takes a Trunc only as part of Brevitas' TruncAvgPool2d")
            values = [model.get_initializer(t) for t in node.input[1:]]
            mode = str(node_attr(node, "rounding_mode", "FLOOR")).upper()
            known = len(values) == 5 and all(v is not None and np.size(v) == 1 for v in values)
            if known:
                scale, zero, in_bits, out_scale, out_bits = (
                    float(np.asarray(v).reshape(-1)[0]) for v in values)
                shift = round(float(np.log2(out_scale / scale)))
            if not known or zero != 0 or mode not in ("FLOOR", "ROUND"):
                raise CompileError(
                    f"node {node.name!r} (Trunc, Brevitas' TruncAvgPool2d) has a zero point, "
                    f"per-channel scales or rounding mode {mode}; xnorflow takes per-tensor "
                    "Truncs that floor or round — use nn.AvgPool2d or the default trunc_quant")
            out = node.output[0]
            if shift <= 0 and in_bits - shift <= out_bits:
                if any(o.name == out for o in model.graph.output):
                    producer.output[0] = out  # the pool writes the model's output itself
                for c in model.find_consumers(out) or []:
                    c.input[list(c.input).index(out)] = producer.output[0]
                model.graph.node.remove(node)
                return model, True
            if not self.quantize:
                continue
            zero_name = f"{out}_zero"
            model.set_initializer(zero_name, np.zeros((), dtype=np.float32))
            quant = helper.make_node(
                "Quant", [node.input[0], node.input[4], zero_name, node.input[5]], [out],
                name=f"{node.name}_quant", domain="qonnx.custom_op.general",
                signed=int(node_attr(node, "signed", 1)),
                narrow=int(node_attr(node, "narrow", 0)), rounding_mode=mode)
            at = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(at, quant)
            return model, True
        return model, False


class AveragePoolAsSum(Transformation):
    """An AveragePool over part of the map (`nn.AvgPool2d(2)`, `nn.AvgPool1d(3)`) → on NHWC,
    the depthwise window (qonnx's Im2Col) and FINN's Pool with AccPool — the exact window sum,
    any kh × kw kernel and strides — then Mul(1/(kh·kw)), on the integers: the quantizer's
    scale (and any per-channel Mul/Add) between the activation and the pool moves after it
    (averaging commutes with a per-channel affine map). Streamlining moves the 1/(kh·kw) into
    the next thresholds and absorbs the transposes as it does a max-pool's; InferConvInpGen
    makes the window a ConvolutionInputGenerator (compile/layers/sum_pool.py reads the pair)
    and its padding, zeros counted in the average (count_include_pad), FINN's FMPadding.

    A pool on a convolution's output, before its BatchNorm and activation (`Conv → AvgPool →
    BN → act`), is folded into the convolution instead: window sums of a conv are one conv
    whose kernel is the sum of the kernel shifted by the conv's stride over the pool window
    (kh + s(ph − 1) wide, stride s·sp, integer weights up to ph·pw times larger).

    Run after AbsorbSignBiasIntoMultiThreshold (a signed activation's bias belongs to its
    thresholds) and DenseConvKernels. A bipolar input is summed as the INT2 it becomes
    (BipolarToTernaryWhereZeroMatters)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.transformation.infer_datatypes import InferDataTypes
        from qonnx.transformation.infer_shapes import InferShapes

        for pool in model.graph.node:
            if pool.op_type != "AveragePool" or global_pool_axes(model, pool):
                continue
            channels = model.get_tensor_shape(pool.input[0])[1]
            chain, t = [], pool.input[0]
            while True:
                producer = model.find_producer(t)
                if producer is None or channel_values(model, producer, channels) is None \
                        or len(model.find_consumers(t)) != 1:
                    break
                chain.insert(0, producer)
                t = producer.input[0]
            conv = model.find_producer(t)
            if conv is not None and conv.op_type == "Conv" \
                    and len(model.find_consumers(t)) == 1 \
                    and model.get_initializer(conv.input[1]) is not None \
                    and not any(node_attr(pool, "pads", [0])):
                head, removed = _pooled_conv(model, conv, pool), [conv]
            else:
                head, removed = _window_sum(model, pool, t), []
            _replace(model, pool, chain, removed, head)
            model = model.transform(InferShapes()).transform(InferDataTypes())
            return model, True
        return model, False


def _window_sum(model: Any, pool: Any, t: str) -> list[Any]:
    """Transpose → Im2Col → Pool(AccPool) → Transpose on the integer tensor `t`."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType

    dt = model.get_tensor_datatype(t)
    _, channels, h, w = model.get_tensor_shape(pool.input[0])
    _, _, oh, ow = model.get_tensor_shape(pool.output[0])
    kh, kw = (int(v) for v in node_attr(pool, "kernel_shape"))
    sh, sw = (int(v) for v in node_attr(pool, "strides", [kh, kw]))
    pads = [int(v) for v in node_attr(pool, "pads", [0, 0, 0, 0])]
    n = kh * kw
    if not dt.is_integer() or dt.bitwidth() > 16:
        raise CompileError(
            f"node {pool.name!r} (AveragePool) averages a {dt.name} tensor; a partial "
            "average pool is built on a quantized activation's integers or right after a "
            "convolution — put it after the activation quantizer (Conv → BatchNorm → act → "
            "AvgPool2d) or right after the convolution")
    in_dt = DataType["INT2"] if dt == DataType["BIPOLAR"] else dt
    out_dt = DataType[smallest_type(in_dt.min() * n, in_dt.max() * n).name]
    nhwc, cols, summed, nchw = (model.make_new_valueinfo_name() for _ in range(4))
    for name, shape in ((nhwc, [1, h, w, channels]), (cols, [1, oh, ow, n * channels]),
                        (summed, [1, oh, ow, channels])):
        model.graph.value_info.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    model.set_tensor_datatype(nhwc, dt)
    model.set_tensor_datatype(cols, dt)
    return [
        helper.make_node("Transpose", [t], [nhwc], perm=[0, 2, 3, 1]),
        helper.make_node("Im2Col", [nhwc], [cols], domain="qonnx.custom_op.general",
                         name=f"Im2Col_{pool.name}", stride=[sh, sw], kernel_size=[kh, kw],
                         pad_amount=pads, pad_value=0, depthwise=1,
                         input_shape=f"(1,{h},{w},{channels})"),
        helper.make_node("Pool", [cols], [summed], domain="finn.custom_op.fpgadataflow",
                         backend="fpgadataflow", name=f"SumPool_{pool.name}",
                         InputDataType=dt.name, OutputDataType=out_dt.name, Channels=channels,
                         PE=channels, KernelSize=[kh, kw], Function="AccPool",
                         OutImgDims=[oh, ow], AccumBits=0, Size=0, BatchSize=1),
        helper.make_node("Transpose", [summed], [nchw], perm=[0, 3, 1, 2])]


def _pooled_conv(model: Any, conv: Any, pool: Any) -> list[Any]:
    """The convolution whose outputs are `conv`'s summed over `pool`'s windows."""
    from onnx import helper
    from qonnx.core.datatype import DataType

    w = np.asarray(model.get_initializer(conv.input[1]))
    o, i, kh, kw = w.shape
    sh, sw = (int(v) for v in node_attr(conv, "strides", [1, 1]))
    ph, pw = (int(v) for v in node_attr(pool, "kernel_shape"))
    psh, psw = (int(v) for v in node_attr(pool, "strides", [ph, pw]))
    summed = np.zeros((o, i, kh + sh * (ph - 1), kw + sw * (pw - 1)), w.dtype)
    for a in range(ph):
        for b in range(pw):
            summed[:, :, a * sh:a * sh + kh, b * sw:b * sw + kw] += w
    name = f"{conv.name}_pooled_weights"
    model.set_initializer(name, summed)
    wdt = model.get_tensor_datatype(conv.input[1])
    if wdt.is_integer():
        lo, hi = int(summed.min()), int(summed.max())
        bits = max(int(-lo - 1).bit_length() if lo < 0 else 0, int(hi).bit_length()) + 1
        model.set_tensor_datatype(name, DataType[f"INT{max(bits, 2)}"])
    out = model.make_new_valueinfo_name()
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    attrs.update(kernel_shape=list(summed.shape[2:]), strides=[sh * psh, sw * psw])
    return [helper.make_node("Conv", [conv.input[0], name, *conv.input[2:]], [out],
                             name=f"{conv.name}_pooled", **attrs)]


def _replace(model: Any, pool: Any, chain: list[Any], removed: list[Any],
             head: list[Any]) -> None:
    """Put `head` (its last node's output: the window sums) → Mul(1/(kh·kw)) → `chain`'s
    per-channel Mul/Add in place of `removed` → `chain` → `pool`."""
    from onnx import helper

    graph = model.graph
    kh, kw = (int(v) for v in node_attr(pool, "kernel_shape"))
    inv = f"{pool.name}_inv_area"
    model.set_initializer(inv, np.asarray(1.0 / (kh * kw), dtype=np.float32))
    cur = model.make_new_valueinfo_name()
    new = [*head, helper.make_node("Mul", [head[-1].output[0], inv], [cur],
                                   name=f"{pool.name}_avg")]
    for node in chain:
        out = model.make_new_valueinfo_name()
        new.append(helper.make_node(node.op_type, [cur, node.input[1]], [out],
                                    name=f"{node.name}_after_pool"))
        cur = out
    new[-1].output[0] = pool.output[0]
    old = [*removed, *chain, pool]
    at = min(list(graph.node).index(n) for n in old)
    for node in old:
        graph.node.remove(node)
    for k, node in enumerate(new):
        graph.node.insert(at + k, node)


class GlobalMaxAsMaxPool(Transformation):
    """ReduceMax over (H, W) and GlobalMaxPool → MaxPool with the map as its kernel (+ a
    Reshape when the max drops the spatial axes, keepdims=0)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.transformation.infer_shapes import InferShapes

        graph = model.graph
        for i, node in enumerate(graph.node):
            if node.op_type not in ("ReduceMax", "GlobalMaxPool"):
                continue
            shape = model.get_tensor_shape(node.input[0])
            if shape is None or len(shape) != 4 or (node.op_type == "ReduceMax"
                                                    and not global_pool_axes(model, node)):
                continue  # check_supported names it
            keep = node.op_type == "GlobalMaxPool" or int(node_attr(node, "keepdims", 1)) == 1
            _reduction_as_pool(model, i, node, "MaxPool", list(shape[2:]), int(keep))
            return model.transform(InferShapes()), True
        return model, False


class ForkedMaxPoolNHWC(Transformation):
    """MaxPool (NCHW) whose output has several consumers → Transpose to NHWC → MaxPoolNHWC →
    Transpose back to the same output tensor, so that every consumer reads what it read
    before; the transposes then cancel against their neighbours (AbsorbConsecutiveTransposes,
    MoveTransposePastFork) as a max-pool's do. Run before each MakeMaxPoolNHWC: FINN's
    rewrites the pool's first consumer only (`find_consumer`) and hands the others the
    pool's input."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import TensorProto, helper
        from qonnx.transformation.infer_shapes import InferShapes

        graph = model.graph
        for i, node in enumerate(graph.node):
            if node.op_type != "MaxPool" or len(model.find_consumers(node.output[0]) or []) < 2:
                continue
            n, c, h, w = model.get_tensor_shape(node.input[0])
            _, _, oh, ow = model.get_tensor_shape(node.output[0])
            nhwc_in, nhwc_out = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            for name, shape in ((nhwc_in, (n, h, w, c)), (nhwc_out, (n, oh, ow, c))):
                graph.value_info.append(
                    helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
            dt = model.get_tensor_datatype(node.input[0])
            first = helper.make_node("Transpose", [node.input[0]], [nhwc_in], perm=[0, 2, 3, 1])
            last = helper.make_node("Transpose", [nhwc_out], [node.output[0]],
                                    perm=[0, 3, 1, 2])
            node.input[0], node.output[0] = nhwc_in, nhwc_out
            node.op_type, node.domain = "MaxPoolNHWC", "qonnx.custom_op.general"
            graph.node.insert(i, first)
            graph.node.insert(i + 2, last)
            model.set_tensor_datatype(nhwc_in, dt)
            model.set_tensor_datatype(nhwc_out, dt)
            return model.transform(InferShapes()), True
        return model, False


class ScalarMulPastMaxPoolNHWC(Transformation):
    """A non-negative Mul (scalar or per channel) → MaxPoolNHWC becomes MaxPoolNHWC → Mul (max
    commutes with a non-negative scale). FINN's MoveMulPastMaxPool takes NCHW MaxPools only; a
    scale reaching a pool after it turned NHWC (a scale coming past a concatenation) would stay
    in front."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for mul in model.graph.node:
            if mul.op_type != "Mul" or model.is_fork_node(mul):
                continue
            c = model.get_initializer(mul.input[1])
            pool = model.find_consumer(mul.output[0])
            if c is None or np.any(c < 0) or pool is None or pool.op_type != "MaxPoolNHWC":
                continue
            channels = model.get_tensor_shape(mul.input[0])[-1]
            if c.size != 1 and list(c.shape) != [1, 1, 1, channels]:
                continue  # a scalar or one per channel (NHWC) commutes with the max
            swap_with_consumer(model, mul, pool, model.get_tensor_shape(pool.output[0]))
            return model, True
        return model, False


def _pool_after_affine(model: Any, node: Any, pool_op: str) -> Any:
    """The `pool_op` node that alone reads `node`, a Mul/Add by a scalar or by one constant
    per channel of an NCHW map; else None."""
    pool = model.find_consumer(node.output[0])
    if pool is None or pool.op_type != pool_op or model.is_fork_node(node):
        return None
    shape = model.get_tensor_shape(node.input[0])
    if shape is None or len(shape) != 4 or channel_values(model, node, shape[1]) is None:
        return None
    c = np.asarray(model.get_initializer(node.input[1]))
    return pool if c.size == 1 or list(c.shape) == [1, shape[1], 1, 1] else None


class ChannelAffinePastGlobalPool(Transformation):
    """Mul/Add by a scalar or per-channel constant → GlobalAveragePool becomes
    GlobalAveragePool → Mul/Add (the mean of s·x + b is s·mean(x) + b). An all-convolutional
    classifier's last 1x1 conv with a bias (or a BatchNorm) before the global pool leaves its
    bias there; FINN's InferGlobalAccPoolLayer takes only integers."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            pool = _pool_after_affine(model, node, "GlobalAveragePool")
            if pool is not None:
                swap_with_consumer(model, node, pool, model.get_tensor_shape(pool.output[0]))
                return model, True
        return model, False


class ChannelAffinePastMaxPool(Transformation):
    """Add (any) or Mul (≥ 0) by a scalar or per-channel constant → MaxPool becomes MaxPool →
    Add/Mul: max(s·x + b) = s·max(x) + b for s ≥ 0, and a padded pool's −∞ stays −∞. A
    conv's bias or scale left before a pool (Conv → MaxPool → BatchNorm → activation, whose
    activation stays after the pool) then meets the thresholds after it. `moved` counts."""

    def __init__(self) -> None:
        super().__init__()
        self.moved = 0

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            pool = _pool_after_affine(model, node, "MaxPool")
            if pool is None or (node.op_type == "Mul" and np.any(
                    model.get_initializer(node.input[1]) < 0)):
                continue
            swap_with_consumer(model, node, pool, model.get_tensor_shape(pool.output[0]))
            self.moved += 1
            return model, True
        return model, False


class ReluPastMaxPool(Transformation):
    """Relu → MaxPool becomes MaxPool → Relu (max commutes with a non-decreasing map; a
    padded pool's −∞ stays below every value either way): a float ReLU before the pool
    (`Conv → BatchNorm → ReLU → MaxPool → quantizer`, XNOR-Net's `Conv → ReLU → MaxPool →
    BatchNorm → sign`) then meets the quantizer or the BatchNorm that takes it. So does
    every other non-decreasing float activation (activation_passes.MONOTONE_OPS)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from xnorflow.compile.frontend.activation_passes import MONOTONE_OPS

        for relu in model.graph.node:
            pool = model.find_consumer(relu.output[0]) \
                if relu.op_type in MONOTONE_OPS else None
            if pool is None or pool.op_type != "MaxPool" or model.is_fork_node(relu) or \
                    len(pool.output) != 1:
                continue
            swap_with_consumer(model, relu, pool, model.get_tensor_shape(pool.output[0]))
            return model, True
        return model, False
