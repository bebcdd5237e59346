"""QONNX → FINN HW-layer graph, with FINN's own transformations.

The sequence is the one of FINN's end-to-end BNN test (tests/end2end/test_end2end_bnn_pynq.py
in FINN's repository):

1. load + check (corrupt file, dynamic shapes, float model, bit widths, unsupported ops) —
   before FINN sees the graph, so that a user mistake gives one clear `CompileError`;
2. qonnx cleanup → ConvertQONNXtoFINN → tidy-up;
3. input scaling: a `Mul` by `input_scale` (default 1/255) in front of the graph, the new
   graph input marked UINT8 — the IR's input is the uint8 image and the input quantizer
   becomes integer thresholds on it;
4. streamline: MoveScalarLinearPastInvariants, Streamline, LowerConvsToMatMul, MakeMaxPoolNHWC,
   AbsorbTransposeIntoMultiThreshold, BipolarToTernaryWhereZeroMatters (ours: bipolar values
   that meet zero padding, a global pool or multi-bit weights become INT2, see
   finn_passes.py), ConvertBipolarMatMulToXnorPopcount, Streamline, RoundAndClipThresholds,
   InferGlobalAccPoolLayer + Streamline (its 1/N scale moves past the next MatMul);
5. HW layers: InferBinaryMatrixVectorActivation, InferQuantizedMatrixVectorActivation,
   InferThresholdingLayer, CeilModePoolAsPads + InferPool + PadPoolWithMinimum (ours: a
   ceil-mode pool's last window becomes padding, a padded max-pool's pad by the type's
   minimum an ONNX Pad, see padding_passes.py), InferConvInpGen (after
   InferPool, so that the pool's depthwise Im2Col becomes a ConvolutionInputGenerator too;
   zero padding becomes FMPadding),
   RemoveCNVtoFCFlatten; after InferBinaryMatrixVectorActivation, RestoreXnorActVal (ours:
   FINN sets a binary MVAU's ActVal to its output type's minimum, not the activation's bias).

FINN's Vivado-only steps (HLS synthesis, rtlsim, the builder) are never called; `finn.builder`
is never imported. FINN writes its scratch files under `scratch` (FINN_BUILD_DIR and
FINN_SETTINGS point there), never to ~/.finn.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.finn_attrs import node_attr

log = logging.getLogger(__name__)

# ONNX ops a Brevitas BNN export may contain (after qonnx cleanup) that the lowering handles
SUPPORTED_OPS = (
    "Quant", "BipolarQuant", "MatMul", "Gemm", "Conv", "BatchNormalization", "Mul", "Add",
    "Sub", "Div", "Pow", "Sqrt", "Reshape", "Flatten", "Transpose", "MaxPool", "Identity",
    "Squeeze", "Unsqueeze", "Dropout", "GlobalAveragePool", "ReduceMean", "AveragePool",
    "Relu", "Concat", "LeakyRelu", "Trunc",
)
MAX_WEIGHT_BITS = 8  # signed weights the MVAU multiplies (1 = binary, XNOR where it can)
MAX_ACT_BITS = 8     # activations between layers (2^bits - 1 thresholds per channel)
QUANT_OPS = ("Quant", "BipolarQuant")
WEIGHT_OPS = ("MatMul", "Gemm", "Conv")


@contextmanager
def finn_scratch(scratch: Path):
    """Point FINN's build dir and settings file into `scratch` for the duration."""
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    keys = ("FINN_BUILD_DIR", "FINN_SETTINGS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ["FINN_BUILD_DIR"] = str(scratch)
    os.environ["FINN_SETTINGS"] = str(scratch / "finn_settings.yaml")
    # FINN's passes log notes for its developers (layout guesses, type changes) on every
    # model; a user sees xnorflow's own errors and the equivalence checks instead
    finn_log = logging.getLogger("finn_logger")
    level = finn_log.level
    finn_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield scratch
    finally:
        finn_log.setLevel(level)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# an arithmetic op is an identity when its constant is 0 (Add/Sub) or 1 up to the float32
# rounding of scale products (Mul/Div): 2^-20 is 8 ulps of 1
IDENTITY_MUL_TOL = 2.0 ** -20


@contextmanager
def exact_identity_ops():
    """qonnx's RemoveIdentityOps (run by ConvertQONNXtoFINN and FINN's streamlining) drops a
    Mul/Div by anything within 2e-5 of 1 and an Add/Sub of anything within 1e-5 of 0: a
    per-tensor weight scale of 0.99999 (max |w| of a trained layer) vanished with it and moved
    thresholds across integers. For the duration it removes only true identities (Pad,
    Identity and Dropout as before)."""
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.remove import RemoveIdentityOps, remove_node_and_rewire

    original = RemoveIdentityOps.apply

    def apply(self: Any, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            if node.op_type not in ("Add", "Sub", "Mul", "Div") or len(node.input) < 2:
                continue
            const = model.get_initializer(node.input[1])
            if const is None:
                continue
            gap = np.abs(np.asarray(const, np.float64) - (node.op_type in ("Mul", "Div")))
            if np.all(gap <= (IDENTITY_MUL_TOL if node.op_type in ("Mul", "Div") else 0.0)):
                remove_node_and_rewire(model, node)
                return model.transform(InferShapes()), True
        atol, self.atol = self.atol, -1.0  # no arithmetic op passes the original's test
        try:
            return original(self, model)
        finally:
            self.atol = atol

    RemoveIdentityOps.apply = apply
    try:
        yield
    finally:
        RemoveIdentityOps.apply = original


# --- loading and checks ---------------------------------------------------------------------
def load_qonnx(path: Path) -> Any:
    """Read an ONNX file into a qonnx ModelWrapper, after qonnx's cleanup; CompileError if bad."""
    import onnx
    from google.protobuf.message import DecodeError
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    from xnorflow.compile.frontend.activation_passes import (
        DropClampBeforeQuantizer,
        SignedQuantAfterRelu,
    )
    from xnorflow.compile.frontend.finn_passes import (
        CollapseReshapes,
        Conv1dAs2d,
        ExplicitConvPads,
        UnitScaleBipolarActivations,
        ZeroPointWeightsAsSigned,
    )
    from xnorflow.compile.frontend.padding_passes import ZeroPadIntoConv
    from xnorflow.compile.frontend.pool_passes import (
        GlobalMaxAsMaxPool,
        ReluPastMaxPool,
        SpatialMeanAsAveragePool,
        SumAsMean,
        TruncAsQuant,
    )
    from xnorflow.train.export import distinct_node_inputs

    path = Path(path)
    if not path.is_file():
        raise CompileError(f"{path}: no such file; give the QONNX model written by "
                           "`xnorflow train` or by brevitas.export.export_qonnx")
    try:
        proto = onnx.load(str(path))
    except (DecodeError, OSError, ValueError, RuntimeError) as err:
        raise CompileError(f"{path}: not a readable ONNX file ({type(err).__name__}: {err}); "
                           "export the model with brevitas.export.export_qonnx") from err
    if not proto.graph.node:
        raise CompileError(f"{path}: not an ONNX model (the graph has no nodes); "
                           "export the model with brevitas.export.export_qonnx")
    distinct_node_inputs(proto)
    batch = single_image_batch(proto)
    if batch != 1:
        log.info("%s: exported with batch %s; compiled for one image at a time", path, batch)
    check_static_shapes(proto, path)
    try:
        model = cleanup_model(ModelWrapper(proto))
        signal = Conv1dAs2d()
        for t in (SumAsMean(), ExplicitConvPads(), ZeroPadIntoConv(), signal, ExplicitConvPads(),
                  UnitScaleBipolarActivations(), ReluPastMaxPool(), DropClampBeforeQuantizer(),
                  SignedQuantAfterRelu(), ZeroPointWeightsAsSigned(), TruncAsQuant(),
                  GlobalMaxAsMaxPool(), SpatialMeanAsAveragePool(), CollapseReshapes()):
            model = model.transform(t)
        pads = [n for n in model.graph.node if n.op_type == "Pad"]
        mode = node_attr(pads[0], "mode", "constant") if pads else "constant"
        if mode != "constant":
            raise CompileError(
                f"node {pads[0].name!r} pads in mode {mode!r} (a conv's padding_mode="
                f"{mode!r}, nn.ReflectionPad2d/ReplicationPad2d); the hardware pads zeros "
                "only — use padding_mode='zeros' (the default)")
        if pads:
            raise CompileError(
                f"node {pads[0].name!r} is a Pad (nn.ZeroPad2d / F.pad) that is not a zero "
                "padding of the height and width right before a convolution, the only one "
                "xnorflow compiles (it becomes the convolution's padding); give the padding to "
                "the convolution (QuantConv2d(..., padding=p) or padding=\"same\") or to the "
                "max-pool (nn.MaxPool2d(..., padding=p))")
        if signal.shape is not None:  # a 1-D network, compiled as images of height 1
            model.set_metadata_prop("xnorflow.signal_shape", json.dumps(list(signal.shape)))
        out_shape = model.get_tensor_shape(model.graph.output[0].name)
        if not out_shape or any(not isinstance(d, int) or d < 1 for d in out_shape):
            raise CompileError(f"output {model.graph.output[0].name!r} has shape {out_shape} "
                               "after shape inference; only static shapes are supported — "
                               "export with a fixed dummy input (dynamic_axes may name the "
                               "batch only)")
    except CompileError as err:  # a pass's own message, about a node
        raise CompileError(f"{path}: {err}") from err
    except Exception as err:  # qonnx raises all kinds on malformed graphs
        raise CompileError(f"{path}: qonnx could not read the graph ({type(err).__name__}: "
                           f"{err}); is it a valid QONNX export?") from err
    return model


def single_image_batch(proto: Any) -> int | str:
    """Set the batch of a model exported with a batch of N > 1 (a batch from the user's data
    loader) or a dynamic batch (`dynamic_axes={"x": {0: "batch"}}`) to 1, the one image the
    hardware takes at a time; returns the batch it had (N, the dynamic dimension's name, or 1).

    The tracer writes N into the shapes of every tensor and into the constant target of each
    `x.view(x.size(0), -1)`; those become 1, the other dimensions stay. qonnx's shape inference
    then derives the rest from the input.
    """
    g = proto.graph
    inits = {i.name: i for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1 or len(g.output) != 1:
        return 1  # check_static_shapes names the problem
    dims = [vi.type.tensor_type.shape.dim for vi in (inputs[0], g.output[0])]
    if not dims[0] or not dims[1]:
        return 1
    if any(d.dim_param for d in dims[1]):  # the exporter lost track: shape inference knows
        g.output[0].type.tensor_type.ClearField("shape")
    batch = dims[0][0].dim_param or dims[0][0].dim_value
    if batch == 1 or batch == 0:
        return 1
    for d in dims:
        if d and (d[0].dim_param or d[0].dim_value == batch):
            d[0].dim_value = 1  # clears a dim_param (one of the two)
    del g.value_info[:]
    if isinstance(batch, int):
        from onnx import numpy_helper

        for node in g.node:
            if node.op_type == "Reshape" and node.input[1] in inits:
                shape = numpy_helper.to_array(inits[node.input[1]]).copy()
                if shape.ndim == 1 and shape.size and shape[0] == batch:
                    shape[0] = 1
                    inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    return batch


def check_static_shapes(proto: Any, path: Path) -> None:
    """One input and one output, every dimension a fixed positive number."""
    g = proto.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1 or len(g.output) != 1:
        raise CompileError(f"{path}: the model has {len(inputs)} inputs and {len(g.output)} "
                           "outputs; xnorflow compiles single-input, single-output classifiers")
    for what, vi in (("input", inputs[0]), ("output", g.output[0])):
        if what == "output" and not vi.type.tensor_type.HasField("shape"):
            continue  # single_image_batch left it to shape inference (checked after cleanup)
        dims = vi.type.tensor_type.shape.dim
        bad = [d.dim_param or str(d.dim_value) for d in dims if d.dim_param or d.dim_value <= 0]
        if not dims or bad:
            raise CompileError(
                f"{path}: {what} {vi.name!r} has dynamic shape "
                f"{[d.dim_param or d.dim_value for d in dims]}; only static shapes are supported — "
                "export with a fixed dummy input (dynamic_axes may name the batch only)")


def _quant_bits(model: Any, node: Any) -> int:
    if node.op_type == "BipolarQuant":
        return 1
    bw = model.get_initializer(node.input[3])
    return int(np.asarray(bw).reshape(-1)[0]) if bw is not None else -1


OUTPUT_FUNCTION_OPS = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}
UNSUPPORTED_HINTS = {  # what users meant by the ops they write most often
    "Clip": " here (a float nn.Hardtanh/torch.clamp goes into the quantizer it reaches, through "
            "a BatchNorm at most); quantize instead: QuantHardTanh(bit_width=k, "
            "min_val=lo, max_val=hi)",
    "Sign": " (torch.sign is not a Brevitas quantizer): binarize with QuantIdentity("
            "act_quant=brevitas.quant.SignedBinaryActPerTensorConst)",
    "Softmax": " except as the model's last op over the classes",
    "LogSoftmax": " except as the model's last op over the classes",
}


def split_output_function(model: Any, path: Path) -> tuple[Any, str]:
    """A final Softmax or LogSoftmax over the classes (PyTorch's `F.log_softmax(x, dim=1)`)
    → (a copy of the model without it, "softmax" or "log_softmax"); the host applies it to
    the accelerator's logits (compile/stream.py output_function). Else (model, "")."""
    import copy

    out = model.graph.output[0].name
    node = model.find_producer(out)
    if node is None or node.op_type not in OUTPUT_FUNCTION_OPS:
        return model, ""
    shape = model.get_tensor_shape(out)
    axis = int(node_attr(node, "axis", -1))
    feeds = model.find_consumers(node.input[0]) or []
    if shape is None or len(shape) != 2 or axis not in (1, -1) or len(feeds) != 1:
        raise CompileError(
            f"{path}: the final {node.op_type} {node.name or out!r} is over axis {axis} of an "
            f"output of shape {shape}; xnorflow applies a final (Log)Softmax on the host only "
            "over the classes of a flat output (N, classes) — flatten before it, or drop it "
            "(the labels are the argmax either way)")
    model = copy.deepcopy(model)
    node = model.find_producer(out)
    producer = model.find_producer(node.input[0])
    if producer is None:
        raise CompileError(f"{path}: the model is only a {node.op_type}")
    producer.output[list(producer.output).index(node.input[0])] = out
    model.graph.node.remove(node)
    return model, OUTPUT_FUNCTION_OPS[node.op_type]


def check_supported(model: Any, path: Path) -> None:
    """Ops, quantization and bit widths FINN + xnorflow support; CompileError naming the node."""
    graph = model.graph
    from xnorflow.compile.frontend.activation_passes import (
        MONOTONE_OPS,
        clamp_before_quantizer,
        monotone_activation,
    )

    for n in graph.node:
        if n.op_type in MONOTONE_OPS and n.op_type not in (*SUPPORTED_OPS, "Clip"):
            channels = (model.get_tensor_shape(n.input[0]) or [1, 1])[1]
            readers = model.find_consumers(n.output[0]) or []
            if n.op_type == "Sigmoid" and any(r.op_type == "Mul" and n.input[0] in r.input
                                              for r in readers):
                raise CompileError(
                    f"{path}: node {n.name or n.output[0]!r} is the sigmoid of x·sigmoid(x) "
                    "(nn.SiLU / Swish), which is not monotone, so no thresholds compute it; "
                    "use a ReLU, LeakyReLU, PReLU, Tanh or Sigmoid before the quantizer, or a "
                    "quantized activation")
            if not clamp_before_quantizer(model, n):
                raise CompileError(
                    f"{path}: node {n.name or n.output[0]!r} is a float {n.op_type} that no "
                    "activation quantizer reads (directly or through a BatchNorm); xnorflow "
                    "moves a float activation into the thresholds of the quantizer after it — "
                    "put one there (e.g. QuantIdentity(bit_width=k)) or use a quantized "
                    "activation")
            if monotone_activation(model, n, channels) is None:
                raise CompileError(
                    f"{path}: node {n.name or n.output[0]!r} is a {n.op_type} that decreases "
                    "somewhere (a negative slope or scale); xnorflow moves only non-decreasing "
                    "float activations into a quantizer's thresholds — keep its slopes ≥ 0 "
                    "(nn.PReLU: clamp the weight at 0) or drop it")
    bad = [n for n in graph.node if n.op_type not in SUPPORTED_OPS and
           not (n.op_type in MONOTONE_OPS and clamp_before_quantizer(model, n))]
    if bad:
        n = bad[0]
        hint = UNSUPPORTED_HINTS.get(n.op_type, "")
        raise CompileError(
            f"{path}: node {n.name or n.output[0]!r} is a {n.op_type}, which xnorflow does not "
            f"compile{hint}; supported ONNX ops: {', '.join(SUPPORTED_OPS)} (a chain of "
            "quantized linear/conv layers with BatchNorm, quantized activations, max-pool, "
            "global average pool and residual adds of quantized tensors)")
    for n in graph.node:
        readers = model.find_consumers(n.output[0]) or []
        if n.op_type == "Relu" and any(r.op_type == "BipolarQuant" for r in readers):
            raise CompileError(
                f"{path}: node {n.name or n.output[0]!r} is a ReLU read by a binary (±s) "
                "quantizer, whose output is then always +s; this is how Brevitas exports "
                "QuantReLU(bit_width=1), whose values are {0, s} — compile the module itself "
                "(xnorflow.compile(module, build, input_shape=...)), which exports it as the "
                "unsigned 1-bit quantizer it is, or use a binary activation "
                "(QuantIdentity(act_quant=SignedBinaryActPerTensorConst))")
        if n.op_type == "LeakyRelu" and (
                float(node_attr(n, "alpha", 0.01)) <= 0 or len(readers) != 1
                or (readers[0].op_type not in (*QUANT_OPS, "Relu")
                    and not clamp_before_quantizer(model, n))):
            raise CompileError(
                f"{path}: node {n.name or n.output[0]!r} is a float LeakyReLU that no activation "
                "quantizer reads (directly or through a BatchNorm); xnorflow moves a LeakyReLU "
                "(slope > 0) into the thresholds of that quantizer — put one there (e.g. "
                "QuantIdentity(bit_width=k)) or use a quantized activation")
    quants = [n for n in graph.node if n.op_type in QUANT_OPS]
    if not quants:
        raise CompileError(f"{path}: the model is not quantized (no Quant/BipolarQuant node): "
                           "xnorflow compiles binary networks — train with Brevitas binary "
                           "weight and activation quantizers and export with export_qonnx")
    # a tensor feeding several nodes is a fork (a residual block's input); FINN duplicates it
    for node in graph.node:  # element-wise maths must be affine: one side a constant
        const = [model.get_initializer(i) is not None for i in node.input]
        if node.op_type in ("Mul", "Sub", "Div") and not any(const):
            raise CompileError(
                f"{path}: node {node.name or node.output[0]!r} ({node.op_type}) combines two "
                "computed tensors; only element-wise operations with a constant (scales, "
                "offsets such as 2x - 1, BatchNorm) lower to thresholds — compute such "
                "features before the model or drop the operation")
        if node.op_type in ("Pow", "Sqrt") and not const[0]:
            raise CompileError(
                f"{path}: node {node.name or node.output[0]!r} ({node.op_type}) applies a "
                "non-linear function to computed values; only affine maps (scale, offset) "
                "may precede a quantizer — move it into the data pre-processing")
    seen_weight_layer = False
    for node in graph.node:  # qonnx keeps the graph topologically sorted
        if node.op_type in WEIGHT_OPS:
            seen_weight_layer = True
            w_src = model.find_producer(node.input[1])
            if w_src is None or w_src.op_type not in QUANT_OPS:
                raise CompileError(
                    f"{path}: node {node.name!r} ({node.op_type}) has unquantized (float) "
                    "weights (a float nn.Conv2d/nn.Linear); every weight must go through a "
                    "Brevitas weight quantizer of 1-bit (binary: QuantConv2d/QuantLinear with "
                    "weight_quant=SignedBinaryWeightPerTensorConst) to 8 bits (weight_bit_width="
                    "8, e.g. for a first or last layer kept wider)")
            bits = _quant_bits(model, w_src)
            if not 1 <= bits <= MAX_WEIGHT_BITS:
                raise CompileError(
                    f"{path}: node {node.name!r} ({node.op_type}) has {bits}-bit weights "
                    f"(quantizer {w_src.name!r}); xnorflow supports weights of 1 (binary) to "
                    f"{MAX_WEIGHT_BITS} bits — lower the weight quantizer's bit_width")
            if node.op_type == "Conv":
                _check_conv(model, node, path)
        elif node.op_type in QUANT_OPS and model.get_initializer(node.input[0]) is None:
            bits = _quant_bits(model, node)
            if node.op_type == "Quant" and bits == 1 and int(node_attr(node, "signed", 1)):
                raise CompileError(
                    f"{path}: activation quantizer {node.name!r} is a signed 1-bit Quant, whose "
                    "values are {−s, 0}; FINN takes every 1-bit quantizer for a binary (±s) "
                    "one — use BipolarQuant (Brevitas: act_quant=SignedBinaryActPerTensorConst)"
                    " or 2 bits")
            if seen_weight_layer and not 1 <= bits <= MAX_ACT_BITS:
                raise CompileError(
                    f"{path}: activation quantizer {node.name!r} is {bits}-bit; hidden "
                    f"activations may have 1 (binary) to {MAX_ACT_BITS} bits — lower its "
                    "bit_width")
            if not seen_weight_layer and not 1 <= bits <= 8:
                raise CompileError(
                    f"{path}: input quantizer {node.name!r} is {bits}-bit; the input may be "
                    "quantized to 1..8 bits")
        elif node.op_type == "MaxPool":
            _check_pool(model, node, path)
        elif node.op_type in ("ReduceMean", "AveragePool"):
            from xnorflow.compile.frontend.finn_passes import global_pool_axes

            if not global_pool_axes(model, node):
                _check_average_pool(model, node, path)
    if not seen_weight_layer:
        raise CompileError(f"{path}: the model has no MatMul/Gemm/Conv layer to compile")


def _check_average_pool(model: Any, node: Any, path: Path) -> None:
    """A partial average pool: any kernel and strides, zero padding counted in the average,
    no ceil mode."""
    if node.op_type != "AveragePool":
        from xnorflow.compile.frontend.finn_passes import reduce_axes

        raise CompileError(
            f"{path}: node {node.name!r} ({node.op_type}) averages over axes "
            f"{reduce_axes(model, node)} of a {model.get_tensor_shape(node.input[0])} tensor; "
            "xnorflow pools over the height and width of a feature map (x.mean((2, 3)), "
            "x.mean(2), x.sum(3), ...), not over the channels or the batch")
    k = list(node_attr(node, "kernel_shape", []))
    pads = list(node_attr(node, "pads", [0] * 2 * len(k)))
    ceil = int(node_attr(node, "ceil_mode", 0))
    include_pad = int(node_attr(node, "count_include_pad", 0))
    if node.op_type != "AveragePool" or len(k) != 2 or ceil or (any(pads) and not include_pad):
        raise CompileError(
            f"{path}: node {node.name!r} ({node.op_type}) averages over part of the feature "
            f"map (kernel {k}, pads {pads}, ceil_mode {ceil}, count_include_pad "
            f"{include_pad}); xnorflow builds average pools "
            "without ceil mode whose padding counts in the average (nn.AvgPool2d(k, s, p), "
            "count_include_pad=True, the default; nn.AvgPool1d) and global average pools "
            "(nn.AdaptiveAvgPool2d(1), x.mean((2, 3)))")


def _check_conv(model: Any, node: Any, path: Path) -> None:
    k = list(node_attr(node, "kernel_shape", []))
    auto_pad = node_attr(node, "auto_pad", "NOTSET")
    if len(k) != 2 or auto_pad not in ("NOTSET", ""):
        raise CompileError(
            f"{path}: conv node {node.name!r} has kernel {k}, auto_pad {auto_pad}; supported: "
            "2-D kernels (any size, rectangular too), any stride, dilation, groups and zero "
            "padding, explicit pads")


def _check_pool(model: Any, node: Any, path: Path) -> None:
    from xnorflow.compile.frontend.padding_passes import ceil_mode_drops_window

    k = list(node_attr(node, "kernel_shape", []))
    dil = list(node_attr(node, "dilations", [1, 1]))
    auto_pad = node_attr(node, "auto_pad", "NOTSET")
    if len(k) != 2 or any(d != 1 for d in dil) or auto_pad not in ("NOTSET", ""):
        raise CompileError(
            f"{path}: max-pool node {node.name!r} has kernel {k}, dilations {dil}, auto_pad "
            f"{auto_pad}; supported: 2-D kernels with any stride and explicit padding (ceil "
            "mode too), dilation 1")
    shape = model.get_tensor_shape(node.input[0])
    strides = list(node_attr(node, "strides", [1, 1]))
    pads = list(node_attr(node, "pads", [0, 0, 0, 0]))
    if int(node_attr(node, "ceil_mode", 0)) and any(
            ceil_mode_drops_window(*args) for args in
            zip(shape[2:], k, strides, pads[:2], pads[2:], strict=True)):
        raise CompileError(
            f"{path}: max-pool node {node.name!r} (input {shape[2:]}, kernel {k}, stride "
            f"{strides}, pads {pads}) in ceil mode would start its last window in the padding, "
            "a window PyTorch drops and FINN's shape inference keeps; use ceil_mode=False "
            "with padding, or a padding one smaller")


# --- the FINN transformation sequence -------------------------------------------------------
def tidy_up(model: Any) -> Any:
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
        RemoveUnusedTensors,
    )
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(),
              InferDataTypes(), RemoveStaticGraphInputs(), RemoveUnusedTensors()):
        model = model.transform(t)
    return model


def to_finn(model: Any) -> Any:
    """QONNX (Quant/BipolarQuant) → FINN-ONNX (MultiThreshold, bipolar initializers)."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN

    from xnorflow.compile.frontend.activation_passes import LeakyReluIntoThresholds
    from xnorflow.compile.frontend.finn_passes import (
        ReduceMeanToGlobalAveragePool,
        first_thresholds,
        floor_thresholds,
        initializers_as,
        quantizer_grids,
        rounding_activations,
        tag_rounding_thresholds,
        thresholds_on_grid,
        unsigned_one_bit_activations,
    )
    from xnorflow.compile.frontend.pool_passes import TruncAsQuant

    model = model.transform(TruncAsQuant(True)).transform(ReduceMeanToGlobalAveragePool())
    one_bit = unsigned_one_bit_activations(model)
    rounding, grids = rounding_activations(model), quantizer_grids(model)
    model = model.transform(ConvertQONNXtoFINN())
    initializers_as(model, np.float64)
    floor_thresholds(model, grids)
    thresholds_on_grid(model, grids)
    model = model.transform(LeakyReluIntoThresholds())
    first_thresholds(model, one_bit)
    tag_rounding_thresholds(model, rounding)
    return tidy_up(model)


def insert_input_scaling(model: Any, scale: float) -> Any:
    """global_in (float) → Mul(uint8 input, scale) → the old input; the new input is UINT8.

    As FINN's end-to-end test does with its ToTensor pre-processing: streamlining then folds
    the scale into the input quantizer's thresholds, which become integers on the image.
    """
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType

    old_in = model.graph.input[0]
    shape = model.get_tensor_shape(old_in.name)
    new_name = "global_in_uint8"
    scale_name = "input_scale_const"
    model.graph.input.remove(old_in)
    new_in = helper.make_tensor_value_info(new_name, TensorProto.FLOAT, shape)
    model.graph.input.insert(0, new_in)
    model.set_initializer(scale_name, np.asarray(scale, dtype=np.float32))
    mul = helper.make_node("Mul", [new_name, scale_name], [old_in.name], name="InputScale")
    model.graph.node.insert(0, mul)
    model.graph.value_info.append(old_in)
    model.set_tensor_datatype(new_name, DataType["UINT8"])
    return tidy_up(model)


class _UniqueValueVectorize:
    """numpy, except that `vectorize(f)(arr)` calls f once per *distinct* value of arr.

    FINN's Absorb1BitMulIntoMatMul/Conv check every weight with np.vectorize(DataType.allowed):
    one Python call per weight (~1 minute for LFC's 1024x1024 layers). `allowed` is a pure
    function of the value, so evaluating it on np.unique(arr) and scattering back gives the
    identical array; binary weights have two distinct values.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def vectorize(fn: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return np.vectorize(fn, *args, **kwargs)

        def call(arr: Any) -> np.ndarray:
            arr = np.asarray(arr)
            values, inverse = np.unique(arr, return_inverse=True)
            results = np.array([fn(v) for v in values])
            return results[inverse.reshape(-1)].reshape(arr.shape)

        return call


@contextmanager
def _fast_weight_checks():
    """Scope FINN's absorb module onto `_UniqueValueVectorize` (same results, faster)."""
    import finn.transformation.streamline.absorb as absorb

    saved = absorb.np
    absorb.np = _UniqueValueVectorize()
    try:
        yield
    finally:
        absorb.np = saved


def streamline(model: Any) -> Any:
    with _fast_weight_checks():
        return _streamline(model)


def _streamline(model: Any) -> Any:
    from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import (
        InferGlobalAccPoolLayer,
    )
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.absorb import (
        AbsorbConsecutiveTransposes,
        AbsorbSignBiasIntoMultiThreshold,
        AbsorbTransposeIntoMultiThreshold,
    )
    from finn.transformation.streamline.reorder import (
        MakeMaxPoolNHWC,
        MoveMaxPoolPastMultiThreshold,
        MoveScalarLinearPastInvariants,
    )
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from xnorflow.compile.frontend.activation_passes import ClampIntoThresholds
    from xnorflow.compile.frontend.concat_passes import (
        CommonConcatTypes,
        ConcatOnChannelsLast,
        FloatConcatsUntyped,
        PairwiseConcats,
    )
    from xnorflow.compile.frontend.finn_passes import (
        BipolarToTernaryWhereZeroMatters,
        ChannelMulPastGroupedConv,
        DenseConvKernels,
        RoundTiesHalfEven,
        SignsIntoThresholds,
        ThresholdIntegers,
        XnorPopcountForks,
    )
    from xnorflow.compile.frontend.pool_passes import (
        AveragePoolAsSum,
        ChannelAffinePastGlobalPool,
        ChannelAffinePastMaxPool,
        ForkedMaxPoolNHWC,
    )

    for t in (PairwiseConcats(), ChannelMulPastGroupedConv(), DenseConvKernels(),
              AbsorbSignBiasIntoMultiThreshold(),
              AveragePoolAsSum(), MoveMaxPoolPastMultiThreshold(),
              MoveScalarLinearPastInvariants(), Streamline()):
        model = model.transform(t)
    model = concat_scales(model).transform(RoundTiesHalfEven())
    clamps = ClampIntoThresholds()
    model = model.transform(clamps)
    if clamps.rewritten:  # the affine before each clamp goes into the thresholds
        model = model.transform(Streamline())
    moved, pooled = ThresholdIntegers(), ChannelAffinePastMaxPool()
    model = model.transform(moved).transform(pooled)
    if moved.rewritten or pooled.moved:  # the biases left go into the next thresholds
        model = model.transform(Streamline())
    for t in (LowerConvsToMatMul(), ConcatOnChannelsLast(), ForkedMaxPoolNHWC(),
              MakeMaxPoolNHWC(), SignsIntoThresholds(),
              AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(),
              AbsorbConsecutiveTransposes(),
              BipolarToTernaryWhereZeroMatters(), CommonConcatTypes(), XnorPopcountForks(),
              ConvertBipolarMatMulToXnorPopcount(),
              Streamline(), FloatConcatsUntyped(), RoundTiesHalfEven(), RoundAndClipThresholds(),
              InferDataLayouts()):
        model = model.transform(t)
    if any(is_join_add(model, n) or n.op_type == "Concat" for n in model.graph.node):
        model = _streamline_joins(model)
    if any(n.op_type == "GlobalAveragePool" for n in model.graph.node):
        model = concat_scales(model.transform(ChannelAffinePastGlobalPool())
                              .transform(InferGlobalAccPoolLayer()).transform(Streamline()))
        # thresholds after the pool (a TruncAvgPool2d's) are on its integer sums only now
        for t in (CommonConcatTypes(), FloatConcatsUntyped(), RoundTiesHalfEven(),
                  RoundAndClipThresholds(), InferDataLayouts()):
            model = model.transform(t)
    return tidy_up(model)


def concat_scales(model: Any) -> Any:
    """The scales on a concatenation's inputs (a conv's weight scale, an activation's) moved
    past it, where BatchNorm thresholds absorb them, before thresholds are rounded (one
    concatenation of a chain a round, a BatchNorm's Add and its Mul in two: the Add comes
    past first), until nothing moves."""
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import (
        MoveAddPastJoinConcat,
        MoveLinearPastFork,
        MoveMulPastJoinConcat,
    )

    from xnorflow.compile.frontend.concat_passes import ScalesPastConcat, UniformScalesAsScalars

    for _ in range(2 * sum(n.op_type == "Concat" for n in model.graph.node)):
        before = model.model.SerializeToString()
        for t in (MoveLinearPastFork(), ScalesPastConcat(), MoveMulPastJoinConcat(),
                  MoveAddPastJoinConcat(), UniformScalesAsScalars(), Streamline()):
            model = model.transform(t)
        if model.model.SerializeToString() == before:
            break
    return model


def is_join_add(model: Any, node: Any) -> bool:
    """An Add of two computed tensors: a residual block's join."""
    return node.op_type == "Add" and all(model.get_initializer(t) is None for t in node.input)


def is_integer_join(model: Any, node: Any) -> bool:
    """A join of two integer tensors: what the add_streams layer computes (a float operand —
    a BatchNorm output added before its quantizer — stays and is reported by the reader)."""
    return is_join_add(model, node) and all(model.get_tensor_datatype(t).is_integer()
                                            for t in node.input)


def _streamline_joins(model: Any) -> Any:
    """Residual blocks: the NCHW↔NHWC transposes LowerConvsToMatMul leaves around a join move
    past the fork and the Add, where they cancel or go into the next thresholds, so that the
    Add joins two NHWC integer streams."""
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.absorb import (
        AbsorbConsecutiveTransposes,
        AbsorbTransposeIntoMultiThreshold,
    )
    from finn.transformation.streamline.reorder import (
        MakeMaxPoolNHWC,
        MoveAddPastJoinConcat,
        MoveLinearPastEltwiseAdd,
        MoveLinearPastFork,
        MoveMulPastJoinConcat,
        MoveTransposePastFork,
        MoveTransposePastJoinAdd,
        MoveTransposePastJoinConcat,
    )
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.general import SortGraph
    from qonnx.transformation.infer_data_layouts import InferDataLayouts

    from xnorflow.compile.frontend.concat_passes import (
        CommonConcatTypes,
        FlattenedConcatIntoWeights,
        FloatConcatsUntyped,
        ScalesPastConcat,
        UniformScalesAsScalars,
    )
    from xnorflow.compile.frontend.finn_passes import RoundTiesHalfEven, SignsIntoThresholds
    from xnorflow.compile.frontend.pool_passes import ForkedMaxPoolNHWC, ScalarMulPastMaxPoolNHWC

    # a pool on a shortcut turns NHWC only once its transposes have moved; a scale moves past
    # one concatenation of a chain of them (a DenseNet block) a round
    rounds = 3 + sum(n.op_type == "Concat" for n in model.graph.node)
    for _ in range(rounds):
        before = model.model.SerializeToString()
        for t in (MoveLinearPastFork(), MoveLinearPastEltwiseAdd(), Streamline(),
                  UniformScalesAsScalars(), Streamline(),
                  MoveTransposePastFork(), MoveTransposePastJoinAdd(),
                  MoveTransposePastJoinConcat(), ScalesPastConcat(), MoveMulPastJoinConcat(),
                  MoveAddPastJoinConcat(), UniformScalesAsScalars(), CommonConcatTypes(),
                  ScalarMulPastMaxPoolNHWC(), FlattenedConcatIntoWeights(),
                  AbsorbConsecutiveTransposes(), SignsIntoThresholds(),
                  AbsorbTransposeIntoMultiThreshold(),
                  ForkedMaxPoolNHWC(), MakeMaxPoolNHWC(), AbsorbConsecutiveTransposes(),
                  SortGraph(), InferDataLayouts()):
            model = model.transform(t)
        if model.model.SerializeToString() == before:
            break
    return model.transform(FloatConcatsUntyped()).transform(RoundTiesHalfEven()) \
        .transform(RoundAndClipThresholds())


def to_hw_layers(model: Any) -> Any:
    """Streamlined graph → FINN HW layers (MVAU, Thresholding, ConvolutionInputGenerator,
    FMPadding, Pool, GlobalAccPool)."""
    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
        InferBinaryMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.concat import InferConcatLayer
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import (
        InferDuplicateStreamsLayer,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
        InferElementwiseBinaryOperation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import (
        InferThresholdingLayer,
    )
    from finn.transformation.streamline.absorb import (
        AbsorbConsecutiveTransposes,
        AbsorbTransposeIntoMultiThreshold,
    )
    from qonnx.transformation.general import GiveUniqueNodeNames, SortGraph
    from qonnx.transformation.infer_data_layouts import InferDataLayouts

    from xnorflow.compile.frontend.concat_passes import (
        BinaryJoins,
        CommonConcatTypes,
        FlattenCNVtoFCBesideJoins,
        TwoWayForks,
    )
    from xnorflow.compile.frontend.finn_passes import (
        NarrowAccumulators,
        NarrowJoinSums,
        RestoreXnorActVal,
        SignsIntoThresholds,
        initializers_as,
        xnor_activation_biases,
    )
    from xnorflow.compile.frontend.padding_passes import CeilModePoolAsPads, PadPoolWithMinimum

    biases = xnor_activation_biases(model)
    # a join's inputs are of one type (CommonConcatTypes), so its type — qonnx gives a Concat
    # its first input's — is right for the layers after it; the joins become StreamingConcat
    # last, and one of BINARY bits stays BINARY (FINN types it UINT1)
    for t in (SignsIntoThresholds(), AbsorbTransposeIntoMultiThreshold(),
              AbsorbConsecutiveTransposes(), CommonConcatTypes(),
              InferBinaryMatrixVectorActivation(),
              RestoreXnorActVal(biases),
              InferQuantizedMatrixVectorActivation(), InferThresholdingLayer(),
              CeilModePoolAsPads(), InferPool(), PadPoolWithMinimum(), InferConvInpGen(),
              InferElementwiseBinaryOperation(is_integer_join), NarrowAccumulators(),
              NarrowJoinSums(),
              InferDuplicateStreamsLayer(), TwoWayForks(), InferConcatLayer(), BinaryJoins(),
              SortGraph(),
              FlattenCNVtoFCBesideJoins(),
              AbsorbConsecutiveTransposes(), GiveUniqueNodeNames(), InferDataLayouts()):
        model = model.transform(t)
    initializers_as(model, np.float32)  # executed with onnxruntime's float32 ops
    return model


def lower(path: Path, scratch: Path, input_scale: float = 1 / 255) -> dict[str, Any]:
    """The whole lowering of the QONNX file `path`.

    Returns {"qonnx": cleaned QONNX model, "streamlined": ..., "hw": the HW-layer graph}
    (ModelWrappers; the first two for equivalence checks) and "output_function" (the final
    Softmax/LogSoftmax the host applies, or ""). Raises CompileError on anything
    the user can fix.
    """
    path = Path(path)
    with finn_scratch(scratch), exact_identity_ops():
        qonnx_model = load_qonnx(path)
        lowered, out_function = split_output_function(qonnx_model, path)
        check_supported(lowered, path)
        try:
            finn_model = to_finn(lowered)
            scaled = insert_input_scaling(finn_model, input_scale)
            streamlined = streamline(scaled)
            hw = to_hw_layers(streamlined)
        except CompileError:
            raise
        except Exception as err:  # FINN's own errors: name the step, keep the cause
            raise CompileError(
                f"{path}: FINN could not lower the model ({type(err).__name__}: {err}); "
                "is it made of the quantized layers `xnorflow compile --help` lists?") from err
    return {"qonnx": qonnx_model, "finn": finn_model, "streamlined": streamlined, "hw": hw,
            "output_function": out_function}
