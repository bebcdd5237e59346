"""BNN training diagnostics (Liu et al., ICML 2021): flip-flop ratio, C2I ratio, channel-wise
absolute mean of the latent weights (CAM) and its spread (SDAM), and activation saturation.

For k-bit weights (k = 2..4) a "flip" is a change of the quantized level (the integer
round(clamp(w, −1, 1)·(2^(k−1)−1))), for 1-bit weights a change of sign: FF and C2I count
the weights whose quantized value changes, whatever the bit width.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import hidden_activations, quant_weight_layers, weight_codes

__all__ = ["FlipCounter", "SaturationMonitor", "c2i_ratio", "cam_sdam", "flip_fraction",
           "weight_codes", "weight_signs"]


def weight_signs(model: nn.Module) -> list[torch.Tensor]:
    """The quantized weights' levels (:func:`~.models.weight_codes`): for binary layers their
    signs as bool tensors (True = +1, sign(0) = +1), for k-bit layers the integer levels."""
    return weight_codes(model)


def flip_fraction(before: list[torch.Tensor], after: list[torch.Tensor]) -> float:
    """Fraction of quantized weights whose value (sign, or k-bit level) differs between two
    snapshots."""
    changed = sum(int((a != b).sum()) for a, b in zip(before, after, strict=True))
    total = sum(a.numel() for a in before)
    return changed / total if total else 0.0


def c2i_ratio(initial: list[torch.Tensor], current: list[torch.Tensor]) -> float:
    """C2I ratio = 1 − (fraction of weights whose current sign, or k-bit level, differs from the
    initial).

    Liu et al.'s printed formula carries an extra factor ½ in front of the fraction of changed
    signs, which the values in their own table contradict; this is the table's meaning (1 when
    no weight has changed sign, 0 when all have). "Initial" is the start of binary-weight
    training (step 2 of the two-step recipe). With the gradient filter the first step sets
    θ = −sign(g₁) regardless of the random initial signs, so its C2I sits near 0.5.
    """
    return 1.0 - flip_fraction(initial, current)


class FlipCounter:
    """Averages the flip-flop (FF) ratio — the fraction of quantized weights that change sign
    (k bits: level) in one optimizer step — over the steps since the last :meth:`reset`.

    ``lazy=True`` keeps the counts on the weights' device (no host sync per step, for GPUs):
    :meth:`after_step` then returns a 0-dim tensor; :attr:`mean` is a float either way."""

    def __init__(self, model: nn.Module, lazy: bool = False) -> None:
        self.model = model
        self.lazy = lazy
        self._before: list[torch.Tensor] | None = None
        self.reset()

    def reset(self) -> None:
        self.sum = 0.0
        self.steps = 0

    def before_step(self) -> None:
        self._before = weight_signs(self.model)

    def after_step(self) -> float | torch.Tensor:
        assert self._before is not None, "before_step() first"
        if self.lazy:
            after = weight_signs(self.model)
            total = sum(a.numel() for a in after)
            changed = sum((a != b).sum() for a, b in zip(self._before, after, strict=True))
            ff = changed / total if total else torch.zeros(())
        else:
            ff = flip_fraction(self._before, weight_signs(self.model))
        self.sum += ff
        self.steps += 1
        self._before = None
        return ff

    @property
    def mean(self) -> float:
        return float(self.sum) / self.steps if self.steps else 0.0


def cam_sdam(model: nn.Module) -> tuple[float, float]:
    """Channel-wise absolute mean of the latent weights (mean over each output channel's fan-in
    of |w|), averaged over all channels of all layers (CAM), and its standard deviation across
    those channels (SDAM). With ±1 weights (filter, Bop) CAM is 1 and SDAM 0 by construction."""
    per_channel = [m.weight.detach().abs().flatten(1).mean(1) for m in quant_weight_layers(model)]
    if not per_channel:
        return 0.0, 0.0
    allc = torch.cat(per_channel)
    return float(allc.mean()), float(allc.std(unbiased=False))


class SaturationMonitor:
    """Forward hooks on the inputs of the hidden activations: the fraction of pre-activations
    with |a| > 1 (where the hard-tanh STE passes no gradient; a k-bit activation's STE still
    passes it up to |a| = 1 + 1/(2(2^(k−1)−1)), where rounding reaches ±1), per layer."""

    def __init__(self, model: nn.Module) -> None:
        self.acts = hidden_activations(model)
        self.handles = [a.register_forward_pre_hook(self._hook(i))
                        for i, a in enumerate(self.acts)]
        self.enabled = True
        self.reset()

    def _hook(self, i: int):
        def hook(_module: nn.Module, inputs: tuple) -> None:
            if self.enabled:
                x = inputs[0]
                x = x.value if hasattr(x, "value") else x
                self.sat[i] = self.sat[i] + (x.detach().abs() > 1).sum()  # no host sync
                self.count[i] += x.numel()
        return hook

    def reset(self) -> None:
        self.sat = [0] * len(self.acts)
        self.count = [0] * len(self.acts)

    def per_layer(self) -> list[float]:
        return [float(s) / c if c else 0.0 for s, c in zip(self.sat, self.count, strict=True)]

    def mean(self) -> float:
        c = sum(self.count)
        return float(sum(self.sat)) / c if c else 0.0

    def all_reduce(self) -> None:
        """Sum the counts over the ranks of a distributed run (after an epoch)."""
        import torch.distributed as dist

        if not (dist.is_initialized() and dist.get_world_size() > 1) or not self.acts:
            return
        dev = next((s.device for s in self.sat if isinstance(s, torch.Tensor)), "cpu")
        t = torch.tensor([[float(s) for s in self.sat], [float(c) for c in self.count]],
                         dtype=torch.float64, device=dev)
        dist.all_reduce(t)
        self.sat = [int(v) for v in t[0].tolist()]
        self.count = [int(v) for v in t[1].tolist()]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
