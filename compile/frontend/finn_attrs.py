"""Reading FINN's HW-layer nodes: attributes, datatypes, thresholds and window geometry.

Shared by the layer plugins' `read_finn` (compile/layers/) and the frontend's walk over the
graph (compile/frontend/from_finn.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType


def node_attrs(node: Any) -> dict[str, Any]:
    """The node's attributes as Python values (bytes decoded)."""
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def node_attr(node: Any, name: str, default: Any = None) -> Any:
    """One attribute of the node as a Python value (bytes decoded), or `default`."""
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def pad_spec(model: Any, node: Any) -> tuple[list[int] | None, float | None, str]:
    """(pads, constant value, mode) of an ONNX Pad (opset < 11 attributes or ≥ 11 inputs);
    None where they are not constants."""
    mode = node_attr(node, "mode", "constant")
    pads = node_attr(node, "pads", None)
    if pads is None and len(node.input) > 1:
        init = model.get_initializer(node.input[1])
        pads = None if init is None else np.asarray(init).reshape(-1)
    value = node_attr(node, "value", 0.0)
    if len(node.input) > 2 and node.input[2]:
        init = model.get_initializer(node.input[2])
        value = None if init is None else float(np.asarray(init).reshape(-1)[0])
    return (None if pads is None else [int(p) for p in pads]), value, mode


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


def is_depthwise_window(node: Any) -> bool:
    """A window generator that feeds a pool (FINN's depthwise ConvolutionInputGenerator, or
    the Im2Col that InferPool leaves)."""
    return node.op_type == "Im2Col" or (node.op_type == "ConvolutionInputGenerator"
                                        and int(node_attrs(node).get("depthwise", 0)) == 1)


def finn_window(node: Any, fail: Any
                ) -> tuple[tuple[int, int], int, tuple[int, int], tuple[int, int]]:
    """(input (H, W), channels, kernel (kh, kw), stride (sh, sw)) of a ConvolutionInputGenerator
    or Im2Col; `fail(node, why)` makes the CompileError for geometry xnorflow does not build
    (padding inside the window generator, dilation != 1)."""
    a = node_attrs(node)
    if node.op_type == "Im2Col":
        shape = [int(v) for v in a["input_shape"].strip("()").split(",")]
        ifm, ch = (shape[1], shape[2]), shape[3]
        k, s = list(a["kernel_size"]), list(a["stride"])
        if any(a.get("pad_amount", [0])):
            raise fail(node, "pads its input; padding is not supported")
        dil = list(a.get("dilations", [1, 1]))
    else:
        ifm, ch = tuple(a["IFMDim"]), int(a["IFMChannels"])
        k, s, dil = list(a["ConvKernelDim"]), list(a["Stride"]), list(a.get("Dilation", [1, 1]))
    if any(int(d) != 1 for d in dil):
        raise fail(node, f"has dilation {dil} (kernel {k}, stride {s}, input {list(ifm)}); "
                   "only dilation 1 is supported")
    if len(k) != 2 or len(s) != 2 or len(ifm) != 2:
        raise fail(node, f"has kernel {k}, stride {s}, input {list(ifm)}; expected 2-D")
    return ((int(ifm[0]), int(ifm[1])), int(ch), (int(k[0]), int(k[1])),
            (int(s[0]), int(s[1])))
