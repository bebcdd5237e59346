"""Brevitas quantizers: 1-bit and 2–4-bit weights/activations, and the 8-bit image input.

Kept in one place so every model (the zoo and the builder) uses exactly the forms that FINN's
lowering recognises: BipolarQuant for the binary tensors, a Quant node for the k-bit ones
(k = 2..4, ``brevitas_examples.bnn_pynq``'s CommonWeightQuant/CommonActQuant) and an 8-bit
Quant with a power-of-two scale for the CNV-style input.

k-bit tensors are signed and narrow-range: integers in [−(2^(k−1)−1), 2^(k−1)−1] times the
scale 1/(2^(k−1)−1), i.e. values in [−1, 1] (2 bits: {−1, 0, +1}; 3 bits: multiples of 1/3;
4 bits: multiples of 1/7). The bit width is given per layer: ``weight_bit_width=k`` on
QuantLinear/QuantConv2d, ``bit_width=k`` on QuantIdentity, as bnn_pynq does.
"""

from __future__ import annotations

from brevitas.core.bit_width import BitWidthImplType
from brevitas.core.quant import BinaryQuant
from brevitas.core.restrict_val import FloatToIntImplType, RestrictValueType
from brevitas.core.scaling import ScalingImplType
from brevitas.core.zero_point import ZeroZeroPoint
from brevitas.inject import ExtendedInjector
from brevitas.inject.enum import QuantType
from brevitas.quant.base import SignedBinaryClampedConst
from brevitas.quant.binary import SignedBinaryActPerTensorConst
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver

__all__ = ["BinaryActQuant", "BinaryWeightQuant", "Int8InputQuant", "IntActQuant",
           "IntWeightQuant"]


class BinaryWeightQuant(SignedBinaryClampedConst, WeightQuantSolver):
    """±1 weights (scale 1) with a pure straight-through estimator.

    Unlike Brevitas' preset this does not clamp the latent weight, so the gradient a latent
    parameter receives is exactly the gradient with respect to the binary weight used in the
    forward pass. The latent-weight optimizers clip to [−1, 1] after each step themselves
    (the bnn_pynq recipe); the gradient-filtering optimizer and Bop store ±1 directly.
    """

    tensor_quant = BinaryQuant
    scaling_const = 1.0


class BinaryActQuant(SignedBinaryActPerTensorConst):
    """Sign activation in {−1, +1}; backward is the hard-tanh STE (zero where |a| > 1)."""

    scaling_const = 1.0


class Int8InputQuant(ActQuantSolver):
    """Signed 8-bit input in [−1, 1 − 2⁻⁷] with scale 2⁻⁷ (Q1.7, as bnn_pynq's CNV input)."""

    quant_type = QuantType.INT
    bit_width = 8
    bit_width_impl_type = BitWidthImplType.CONST
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.POWER_OF_TWO
    float_to_int_impl_type = FloatToIntImplType.ROUND
    zero_point_impl = ZeroZeroPoint
    scaling_per_output_channel = False
    narrow_range = False
    signed = True
    min_val = -1.0
    max_val = 1.0 - 2.0**-7


class _IntQuant(ExtendedInjector):
    """bnn_pynq's CommonQuant for k ≥ 2 bits: signed, narrow range, constant scale, round."""

    quant_type = QuantType.INT
    bit_width_impl_type = BitWidthImplType.CONST
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    zero_point_impl = ZeroZeroPoint
    float_to_int_impl_type = FloatToIntImplType.ROUND
    scaling_per_output_channel = False
    narrow_range = True
    signed = True


class IntWeightQuant(_IntQuant, WeightQuantSolver):
    """k-bit weights (bnn_pynq's CommonWeightQuant): round(clamp(w, −1, 1)·n)/n, n = 2^(k−1)−1.

    The backward pass is the identity (the clamp is a straight-through one), like
    :class:`BinaryWeightQuant`; the latent-weight optimizers clip to [−1, 1] after each step.
    """

    scaling_const = 1.0


class IntActQuant(_IntQuant, ActQuantSolver):
    """k-bit activation (bnn_pynq's CommonActQuant): hard-tanh to [−1, 1], then k-bit levels;
    backward is the hard-tanh STE. Also the MLP input quantizer at k bits."""

    min_val = -1.0
    max_val = 1.0
