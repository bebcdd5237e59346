"""Float activations users put around an activation quantizer, which FINN does not convert:
each goes into the quantizer's thresholds or goes.

- `DropClampBeforeQuantizer`: a clamp the quantizer after it clamps at least as much
  (BinaryNet's `nn.Hardtanh()` before a binary quantizer; `nn.ReLU()` before `QuantReLU`).
- `SignedQuantAfterRelu`: a signed quantizer after a Relu → the unsigned one FINN converts.
- `LeakyReluIntoThresholds`: a LeakyReLU right before the thresholds.
- `ClampIntoThresholds`: any non-decreasing float activation — ReLU, clamp/Hardtanh,
  LeakyReLU, PReLU (slopes ≥ 0), Tanh, Sigmoid, Hardsigmoid, ELU, CELU, Softplus, Softsign —
  between a layer and the thresholds that quantize after it (through a BatchNorm): a
  threshold t on f(z) becomes the least z with f(z) ≥ t.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from qonnx.transformation.base import Transformation

from xnorflow.compile.frontend.finn_attrs import node_attr
from xnorflow.compile.frontend.finn_passes import channel_values, compose_affine, sign_vector

# non-decreasing element-wise activations ClampIntoThresholds takes (`monotone_activation`)
MONOTONE_OPS = ("Relu", "Clip", "LeakyRelu", "PRelu", "Tanh", "Sigmoid", "HardSigmoid", "Elu",
                "Celu", "Softplus", "Softsign")


@dataclasses.dataclass
class Monotone:
    """A non-decreasing f, per channel: its infimum and supremum, the largest z where f is
    its infimum and the least z where f is its supremum (None where not reached), and its
    inverse inside (lo, hi)."""

    lo: np.ndarray
    hi: np.ndarray
    lo_at: np.ndarray | None
    hi_at: np.ndarray | None
    inverse: Callable[[np.ndarray], np.ndarray]

    def thresholds(self, t: np.ndarray, up: np.ndarray, beyond: float) -> np.ndarray:
        """Thresholds on σ·z equal to thresholds `t` on σ·f(z), σ = +1 where `up`, else −1:
        [f(z) ≥ t] ⟺ z ≥ f⁻¹(t); [−f(z) ≥ t] ⟺ f(z) ≤ −t ⟺ −z ≥ −f⁻¹(−t); ±`beyond` (past
        every |z|) where always or never."""
        lo, hi = (np.broadcast_to(np.reshape(v, (-1, 1)), t.shape) for v in (self.lo, self.hi))
        never = np.full(t.shape, beyond)

        def at(v: np.ndarray | None) -> np.ndarray:
            return never if v is None else np.broadcast_to(np.reshape(v, (-1, 1)), t.shape)

        u = np.where(up, t, -t)
        with np.errstate(all="ignore"):
            inside = self.inverse(np.clip(u, lo, hi))
        rising = np.where(u <= lo, -beyond, np.where(u > hi, beyond,
                          np.where(u == hi, at(self.hi_at), inside)))
        falling = np.where(u >= hi, -beyond, np.where(u < lo, beyond,
                           np.where(u == lo, -at(self.lo_at), -inside)))
        return np.where(up, rising, falling)


def monotone_activation(model: Any, node: Any, channels: int) -> Monotone | None:
    """The `Monotone` of an activation node, None where it is not one of MONOTONE_OPS with
    constant parameters that make it non-decreasing."""
    op = node.op_type
    inf = np.inf
    if op in ("Relu", "Clip"):
        lo, hi = clip_bounds(model, node)
        return Monotone(np.float64(lo), np.float64(hi), np.float64(lo), np.float64(hi),
                        lambda u: u)
    if op in ("LeakyRelu", "PRelu"):
        if op == "LeakyRelu":
            slope = np.float64(node_attr(node, "alpha", 0.01))
        else:
            init = model.get_initializer(node.input[1])
            if init is None or np.size(init) not in (1, channels):
                return None
            slope = np.asarray(init, dtype=np.float64).reshape(-1)
        slope = np.broadcast_to(slope, (channels,)).reshape(-1, 1)
        if np.any(slope < 0):
            return None
        if np.all(slope == 0):
            return Monotone(np.float64(0), np.float64(inf), np.float64(0), None, lambda u: u)
        if np.any(slope == 0):
            return None
        return Monotone(np.float64(-inf), np.float64(inf), None, None,
                        lambda u: np.where(u >= 0, u, u / slope))
    if op == "Tanh":
        return Monotone(np.float64(-1), np.float64(1), None, None, np.arctanh)
    if op == "Sigmoid":
        return Monotone(np.float64(0), np.float64(1), None, None, lambda u: np.log(u / (1 - u)))
    if op == "Softsign":
        return Monotone(np.float64(-1), np.float64(1), None, None, lambda u: u / (1 - np.abs(u)))
    if op == "Softplus":
        return Monotone(np.float64(0), np.float64(inf), None, None,
                        lambda u: np.log(np.expm1(u)))
    if op == "HardSigmoid":  # max(0, min(1, a·z + b))
        a = float(node_attr(node, "alpha", 0.2))
        b = float(node_attr(node, "beta", 0.5))
        if a <= 0:
            return None
        return Monotone(np.float64(0), np.float64(1), np.float64(-b / a),
                        np.float64((1 - b) / a), lambda u: (u - b) / a)
    if op in ("Elu", "Celu"):  # z above 0; a·(exp(z) − 1) / a·(exp(z / a) − 1) below
        a = float(node_attr(node, "alpha", 1.0))
        if a <= 0:
            return None
        inner = 1.0 if op == "Elu" else a
        return Monotone(np.float64(-a), np.float64(inf), None, None,
                        lambda u: np.where(u >= 0, u, inner * np.log1p(u / a)))
    return None


class ClampIntoThresholds(Transformation):
    """A non-decreasing float activation f (MONOTONE_OPS: XNOR-Net's Conv → ReLU → BatchNorm →
    sign; `nn.Hardtanh()` before a BatchNorm; a LeakyReLU, PReLU, Tanh or Sigmoid before a
    quantizer) between a layer and the thresholds that quantize after it. On its input z (an
    affine s·y + b of integers y, as streamlining leaves it), f(z) → [signs σ] → thresholds T
    becomes z → [σ] → T' (`Monotone.thresholds`: the least z where σ·f(z) reaches each
    threshold, or a value past every |z| where it always or never does). Streamlining then
    puts the affine and the BatchNorm's magnitudes into T'. `rewritten` counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.rewritten = 0

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            if node.op_type in MONOTONE_OPS and \
                    not model.is_fork_node(node) and self._absorb(model, node):
                self.rewritten += 1
                return model, True
        return model, False

    @staticmethod
    def _bound(model: Any, tensor: str, channels: int) -> float | None:
        """max |z| of a tensor that is an affine (per channel) of integers, max-pooled or
        not, or a bounded activation's output, else None."""
        affine: list[Any] = []  # from the integers on
        while not model.get_tensor_datatype(tensor).is_integer():
            producer = model.find_producer(tensor)
            f = monotone_activation(model, producer, channels) \
                if producer is not None and producer.op_type in MONOTONE_OPS else None
            if f is not None and not affine and np.all(np.isfinite([f.lo, f.hi])):
                return float(np.max(np.abs([f.lo, f.hi])))  # Tanh → ReLU → quantizer
            if producer is None or producer.op_type != "MaxPool" and \
                    channel_values(model, producer, channels) is None:
                return None
            if producer.op_type != "MaxPool":  # a max of values keeps their bound
                affine.insert(0, producer)
            tensor = producer.input[0]
        scale, shift = compose_affine(model, affine, channels)
        dt = model.get_tensor_datatype(tensor)
        y = max(abs(float(dt.min())), abs(float(dt.max())))
        return float(np.max(np.abs(scale) * y + np.abs(shift)))

    def _absorb(self, model: Any, node: Any) -> bool:
        shape = model.get_tensor_shape(node.input[0]) or [1, 1]
        f = monotone_activation(model, node, shape[1])
        nxt = model.find_consumer(node.output[0])
        if f is None or nxt is None:
            return False
        signs = np.ones(shape[1])
        if sign_vector(model, nxt) is not None and not model.is_fork_node(nxt):
            values = channel_values(model, nxt, shape[1])
            if values is None:
                return False
            signs, nxt = values, model.find_consumer(nxt.output[0])
        if nxt is None or nxt.op_type != "MultiThreshold" or \
                node_attr(nxt, "data_layout", "NCHW") not in ("NCHW", "NC", ""):
            return False
        bound = self._bound(model, node.input[0], shape[1])
        t = np.asarray(model.get_initializer(nxt.input[1]), dtype=np.float64)
        t = np.broadcast_to(t, (shape[1], t.shape[1])).copy()
        if bound is None:  # only a map onto the whole line needs no bound
            if np.any(np.isfinite(f.lo)) or np.any(np.isfinite(f.hi)):
                return False
            bound = 0.0
        beyond = float(np.float32(2 * bound + 1))  # past every ±z, also in float32
        t = f.thresholds(t, signs[:, None] > 0, beyond)
        model.set_initializer(nxt.input[1], np.sort(t, axis=1).astype(np.float64))
        for c in model.find_consumers(node.output[0]):
            c.input[list(c.input).index(node.output[0])] = node.input[0]
        model.graph.node.remove(node)
        return True


class LeakyReluIntoThresholds(Transformation):
    """A float LeakyReLU (slope a > 0 below 0) right before an activation quantizer's
    thresholds: leaky(x) ≥ t ⇔ x ≥ t for t ≥ 0 and x ≥ t / a for t < 0 (leaky is increasing
    and ≥ 0 exactly where x ≥ 0), so the thresholds move to x and the LeakyReLU goes."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            consumers = model.find_consumers(node.output[0]) or []
            if node.op_type != "LeakyRelu" or len(consumers) != 1 or \
                    consumers[0].op_type != "MultiThreshold":
                continue
            slope = float(node_attr(node, "alpha", 0.01))
            mt = consumers[0]
            t = np.asarray(model.get_initializer(mt.input[1]), dtype=np.float64)
            model.set_initializer(mt.input[1], np.where(t >= 0, t, t / slope).astype(np.float64))
            mt.input[0] = node.input[0]
            model.graph.node.remove(node)
            return model, True
        return model, False


def clip_bounds(model: Any, node: Any) -> tuple[float, float]:
    """(lo, hi) of a Clip (its attributes before opset 11, its inputs after) or a Relu (0, ∞);
    a missing bound is infinite."""
    if node.op_type == "Relu":
        return 0.0, np.inf
    lo, hi = node_attr(node, "min", None), node_attr(node, "max", None)  # opset < 11
    bounds = [model.get_initializer(t) if t else None for t in list(node.input[1:3])]
    if len(bounds) > 0 and bounds[0] is not None:
        lo = float(np.asarray(bounds[0]).reshape(-1)[0])
    if len(bounds) > 1 and bounds[1] is not None:
        hi = float(np.asarray(bounds[1]).reshape(-1)[0])
    return (-np.inf if lo is None else float(lo)), (np.inf if hi is None else float(hi))


def clamp_before_quantizer(model: Any, node: Any) -> bool:
    """Whether a float activation (one of MONOTONE_OPS) reaches a quantizer through per-tensor
    or per-channel affine nodes (a BatchNorm) and other such activations (QuantReLU's ReLU)
    only, one reader each: ClampIntoThresholds takes it."""
    tensor = node.output[0]
    while True:
        readers = model.find_consumers(tensor) or []
        if len(readers) != 1:
            return False
        nxt = readers[0]
        if nxt.op_type in ("Quant", "BipolarQuant"):
            return True
        if nxt.op_type not in (*MONOTONE_OPS, "BatchNormalization") and (
                nxt.op_type not in ("Mul", "Add", "Sub", "Div") or
                model.get_initializer(nxt.input[1]) is None):
            return False
        tensor = nxt.output[0]


class DropClampBeforeQuantizer(Transformation):
    """A float clamp right before a quantizer that clamps at least as much: BinaryNet's
    `nn.Hardtanh()` (ONNX Clip) before a binary quantizer — sign(clip(x, lo, hi)) = sign(x)
    for lo < 0 ≤ hi — or before a k-bit one whose range lies inside [lo, hi]; and a Relu
    before another Relu (`nn.ReLU()` then `QuantReLU`). FINN converts neither; the result is
    the same without them."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            consumers = model.find_consumers(node.output[0]) or []
            if len(consumers) != 1 or model.find_producer(node.input[0]) is None:
                continue
            nxt = consumers[0]
            after = model.find_consumers(nxt.output[0]) or []
            relu_quant = nxt.op_type == "Relu" and len(after) == 1  # QuantReLU: Relu → Quant
            if (node.op_type in ("Relu", "LeakyRelu") and nxt.op_type == "Relu") or \
                    (node.op_type == "Clip" and self._inside(model, node, nxt)) or \
                    (node.op_type == "Clip" and relu_quant and
                     self._inside(model, node, after[0], after_relu=True)):
                for c in model.find_consumers(node.output[0]):
                    c.input[list(c.input).index(node.output[0])] = node.input[0]
                model.graph.node.remove(node)
                return model, True
        return model, False

    @staticmethod
    def _inside(model: Any, clip: Any, quant: Any, after_relu: bool = False) -> bool:
        """Whether quantizing after `clip` equals quantizing without it (`after_relu`: with a
        Relu between them, as QuantReLU exports: nn.ReLU6() then QuantReLU)."""
        lo, hi = clip_bounds(model, clip)
        if quant.op_type == "BipolarQuant":
            return lo < 0 <= hi
        if quant.op_type != "Quant":
            return False
        scale, zero, bits = (model.get_initializer(t) for t in quant.input[1:4])
        if scale is None or zero is None or bits is None or np.size(scale) != 1 \
                or np.any(np.asarray(zero) != 0):
            return False
        if str(node_attr(quant, "rounding_mode", "ROUND")).upper() != "ROUND":
            return False
        s, b = float(np.ravel(scale)[0]), int(np.ravel(bits)[0])
        signed, narrow = int(node_attr(quant, "signed", 1)), int(node_attr(quant, "narrow", 0))
        q_lo = (-(2 ** (b - 1)) + narrow) if signed else 0
        q_hi = 2 ** (b - 1) - 1 if signed else 2**b - 1 - narrow
        # the clamp changes nothing when its ends already quantize to the end codes
        low_ok = lo <= 0 if after_relu else lo < (q_lo + 0.5) * s
        return low_ok and (q_hi - 0.5) * s < hi


class SignedQuantAfterRelu(Transformation):
    """A signed k-bit quantizer reading a Relu (`F.relu(x)` or `nn.ReLU()` then
    `QuantIdentity(bit_width=k)`) → an unsigned (k−1)-bit one of the same scale: on inputs ≥ 0
    both give clamp(round(x/s), 0, 2^(k−1) − 1). FINN converts Relu → Quant only unsigned."""

    def apply(self, model: Any) -> tuple[Any, bool]:
        for quant in model.graph.node:
            relu = model.find_producer(quant.input[0]) if quant.op_type == "Quant" else None
            if relu is None or relu.op_type != "Relu" or not int(node_attr(quant, "signed", 1)):
                continue
            zero, bits = (model.get_initializer(t) for t in quant.input[2:4])
            if zero is None or bits is None or np.any(np.asarray(zero) != 0) or \
                    np.size(bits) != 1 or float(np.ravel(bits)[0]) < 2:
                continue
            narrower = model.make_new_valueinfo_name()  # the bit width may be shared
            model.set_initializer(narrower, (np.asarray(bits) - 1).astype(np.float32))
            quant.input[3] = narrower
            for a in quant.attribute:
                if a.name in ("signed", "narrow"):
                    a.i = 0
            if not any(a.name == "signed" for a in quant.attribute):
                from onnx import helper
                quant.attribute.append(helper.make_attribute("signed", 0))
            return model, True
        return model, False
