"""Padding the way PyTorch users write it, as FINN lowers it.

- `CeilModePoolAsPads`: `nn.MaxPool2d(..., ceil_mode=True)` keeps a last, partial window at
  the bottom and right; with padding that window is complete. Right before InferPool (qonnx's
  MaxPoolNHWC takes only even pads) the pool becomes one without ceil mode whose end pads are
  that much larger (padding, for a max, with the minimum).
- `PadPoolWithMinimum`: a padded max-pool (`nn.MaxPool2d(3, 2, padding=1)`, a ResNet stem)
  pads with −∞; FINN's InferPool gives its Im2Col the input type's minimum as pad value, which
  InferConvInpGen then refuses (FINN's FMPadding pads zeros only). The padding becomes an
  ONNX Pad by that minimum in front of an unpadded Im2Col; the IR reads it as a Padding layer
  with that value (compile/layers/padding.py). Unsigned types pad 0 and stay FINN's FMPadding.
- `ZeroPadIntoConv`: `nn.ZeroPad2d` / `F.pad` by zero right before a convolution → the
  convolution's own padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qonnx.transformation.base import Transformation

from xnorflow.compile.frontend.finn_attrs import node_attr, pad_spec


def ceil_mode_size(size: int, kernel: int, stride: int, begin: int, end: int) -> int:
    """A ceil-mode pool's output size as qonnx computes it (no window dropped)."""
    return -(-(size + begin + end - kernel) // stride) + 1


def ceil_mode_drops_window(size: int, kernel: int, stride: int, begin: int, end: int) -> bool:
    """Whether PyTorch drops the last ceil-mode window, which would start in the end pad
    (qonnx's shape inference keeps it)."""
    return (ceil_mode_size(size, kernel, stride, begin, end) - 1) * stride >= size + begin


class CeilModePoolAsPads(Transformation):
    """MaxPool / MaxPoolNHWC with ceil_mode=1 → ceil_mode=0 and the end pads a floor-mode pool
    needs for the same output. check_supported refuses the pools where PyTorch drops a window
    (ceil_mode_drops_window)."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        for node in model.graph.node:
            if node.op_type not in ("MaxPool", "MaxPoolNHWC") \
                    or not int(node_attr(node, "ceil_mode", 0)):
                continue
            shape = model.get_tensor_shape(node.input[0])
            hw = shape[1:3] if node.op_type == "MaxPoolNHWC" else shape[2:]
            kernel = list(node_attr(node, "kernel_shape", []))
            n = len(kernel)
            strides = list(node_attr(node, "strides", [1] * n))
            pads = list(node_attr(node, "pads", [0] * 2 * n))
            ends = [(ceil_mode_size(size, k, s, b, e) - 1) * s + k - size - b
                    for size, k, s, b, e in zip(hw, kernel, strides, pads[:n], pads[n:],
                                                strict=True)]
            for a in list(node.attribute):
                if a.name in ("ceil_mode", "pads"):
                    node.attribute.remove(a)
            node.attribute.append(helper.make_attribute(
                "pads", pads[:n] + [max(e, p) for e, p in zip(ends, pads[n:], strict=True)]))
        return model, False


class PadPoolWithMinimum(Transformation):
    """Im2Col with padding and a non-zero pad value (InferPool's, for a max-pool) → ONNX Pad
    (NHWC, constant = the pad value) → Im2Col without padding. Run between FINN's InferPool
    and InferConvInpGen."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import TensorProto, helper

        for i, node in enumerate(model.graph.node):
            if node.op_type != "Im2Col":
                continue
            pads = [int(p) for p in node_attr(node, "pad_amount", [0, 0, 0, 0])]
            value = float(node_attr(node, "pad_value", 0))
            if not any(pads) or value == 0:
                continue
            _, h, w, c = model.get_tensor_shape(node.input[0])
            top, left, bottom, right = pads
            padded = [1, h + top + bottom, w + left + right, c]
            name = f"PadMin_{node.name}"
            out = model.make_new_valueinfo_name()
            model.graph.value_info.append(
                helper.make_tensor_value_info(out, TensorProto.FLOAT, padded))
            model.set_tensor_datatype(out, model.get_tensor_datatype(node.input[0]))
            model.set_initializer(f"{name}_pads",
                                  np.array([0, top, left, 0, 0, bottom, right, 0], np.int64))
            model.set_initializer(f"{name}_value", np.array(value, np.float32))
            pad = helper.make_node("Pad", [node.input[0], f"{name}_pads", f"{name}_value"],
                                   [out], name=name, mode="constant")
            model.graph.node.insert(i, pad)
            node.input[0] = out
            for a in node.attribute:
                if a.name == "pad_amount":
                    a.ints[:] = [0, 0, 0, 0]
                elif a.name == "input_shape":
                    a.s = f"({','.join(str(d) for d in padded)})".encode()
            return model, True  # the node list changed: start again
        return model, False


class ZeroPadIntoConv(Transformation):
    """`nn.ZeroPad2d` / `F.pad(x, ...)` (an ONNX Pad by 0 of the height and width) right before
    a convolution → that convolution's own zero padding, which FINN lowers to FMPadding.
    Other Pads stay and check_supported names them."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        for node in model.graph.node:
            if node.op_type != "Pad":
                continue
            consumers = model.find_consumers(node.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type != "Conv" \
                    or consumers[0].input[0] != node.output[0]:
                continue
            conv = consumers[0]
            pads, value, mode = pad_spec(model, node)
            rank = len(pads or []) // 2
            if mode != "constant" or value != 0.0 or rank < 3 \
                    or any(pads[i] for i in (0, 1, rank, rank + 1)) or min(pads) < 0:
                continue
            n = rank - 2
            old = list(node_attr(conv, "pads", [0] * 2 * n))
            if node_attr(conv, "auto_pad", "NOTSET") not in ("NOTSET", ""):
                continue  # ExplicitConvPads runs first
            merged = ([a + b for a, b in zip(old[:n], pads[2:rank], strict=True)]
                      + [a + b for a, b in zip(old[n:], pads[rank + 2:], strict=True)])
            for a in list(conv.attribute):
                if a.name == "pads":
                    conv.attribute.remove(a)
            conv.attribute.append(helper.make_attribute("pads", merged))
            conv.input[0] = node.input[0]
            model.graph.node.remove(node)
            return model, True
        return model, False
