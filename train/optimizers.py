"""Optimizers for quantized weights: the gradient filter (no latent weights), Bop, and the
latent Adam/SGD baselines with clipping — all behind one :class:`OptimizerSet` the loop steps.

The quantized weights are the ``weight`` parameters of the QuantLinear/QuantConv2d layers;
every other parameter (BatchNorm, TensorNorm) is real-valued and trains with Adam (for
``filter`` and ``bop``) or with the same latent optimizer (``adam``, ``sgd``).

``filter`` and ``bop`` store ±1 in the weight itself (no latent weight), so they train binary
(1-bit) weights only; k-bit weights (k = 2..4) need a latent weight that the quantizer rounds
to its levels: ``adam`` or ``sgd`` (:func:`check_optimizer_bits`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from .defaults import OPTIMIZER_DEFAULTS
from .errors import UserError
from .models import quant_weight_layers, weight_bits_of

__all__ = ["BINARY_ONLY", "DECAYS", "OPTIMIZERS", "Bop", "GradientFilter", "OptimizerSet",
           "build_optimizer", "check_optimizer_bits", "decay_factor", "sign_pm1"]

OPTIMIZERS = ("filter", "adam", "sgd", "bop")
BINARY_ONLY = ("filter", "bop")  # no latent weight: they hold ±1 in the parameter
_F, _B = OPTIMIZER_DEFAULTS["filter"], OPTIMIZER_DEFAULTS["bop"]
DECAYS = ("cosine", "linear", "none")


def decay_factor(kind: str, t: int, total: int) -> float:
    """Schedule multiplier at step ``t`` of ``total``: cosine ½(1+cos πt/T), linear 1−t/T, none 1.

    Step 0 gets 1; the factor reaches 0 only after the last step.
    """
    if kind == "none" or total <= 0:
        return 1.0
    frac = min(max(t / total, 0.0), 1.0)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    if kind == "linear":
        return 1.0 - frac
    raise UserError(f"unknown decay {kind!r}; choose one of {', '.join(DECAYS)}")


def check_optimizer_bits(kind: str, weight_bits: int) -> None:
    """A :class:`UserError` if optimizer ``kind`` cannot train ``weight_bits``-bit weights."""
    if kind in BINARY_ONLY and weight_bits > 1:
        how = ("sets each weight to the sign of its filtered gradient"
               if kind == "filter" else "flips the sign of ±1 weights")
        raise UserError(
            f"--optimizer {kind} trains binary weights only: it {how} and keeps no latent "
            f"weight to round to {weight_bits}-bit levels. With --weight-bits {weight_bits} "
            "use --optimizer adam (the default for multi-bit weights) or sgd, which train "
            "latent weights clipped to [-1, 1]; or train 1-bit weights with --weight-bits 1")


def sign_pm1(x: torch.Tensor) -> torch.Tensor:
    """Sign in {−1, +1} with sign(0) = +1 (Brevitas' binary quantizer convention)."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class GradientFilter(torch.optim.Optimizer):
    """Latent-free optimizer for binary weights (Quist, Li & van Gemert, ICLR 2023).

    Per step, with ∇ the gradient of the loss w.r.t. the binary weight θ used in the forward:
    ``m ← (1−γ)m + γ∇``;  ``g ← (1−α_t)g + α_t m``;  ``θ ← −sign(g)`` (a uniformly random sign
    where g is exactly 0). m = g = 0 at the start; α_t = α·decay(t). No learning rate, weight
    decay, clipping or latent weight: the parameter holds ±1 at all times. On construction the
    parameters are set to the sign of their current value (the models' U(−1, 1) init, i.e.
    uniformly random signs).

    The random signs come from the optimizer's own generator, seeded with ``seed`` (on the
    parameters' device, saved in :meth:`state_dict`): in a data-parallel run every rank holds
    the same all-reduced gradient and the same generator, so every rank draws the same signs
    and the weights stay identical, whatever else (dropout) each rank draws. On CUDA the draw
    covers the whole tensor and is merged with ``torch.where`` (no host sync per step); on CPU
    only the zero entries are drawn.
    """

    def __init__(self, params: Iterable[nn.Parameter], alpha: float = _F["alpha"],
                 gamma: float = _F["gamma"],
                 alpha_decay: str = "cosine", total_steps: int = 0, seed: int = 0) -> None:
        if not 0 < alpha <= 1 or not 0 < gamma <= 1:
            raise UserError(f"--alpha and --gamma must be in (0, 1], got {alpha}, {gamma}")
        decay_factor(alpha_decay, 0, 1)
        defaults = dict(alpha=alpha, gamma=gamma, alpha_decay=alpha_decay,
                        total_steps=total_steps, t=0)
        super().__init__(params, defaults)
        self.seed = seed
        self._gens: dict[torch.device, torch.Generator] = {}
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    p.copy_(sign_pm1(p))

    def _generator(self, device: torch.device) -> torch.Generator:
        if device not in self._gens:
            self._gens[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._gens[device]

    def state_dict(self) -> dict:  # noqa: D102 - adds the sign generators' states
        out = super().state_dict()
        out["sign_generators"] = {str(d): g.get_state() for d, g in self._gens.items()}
        return out

    def load_state_dict(self, state_dict: dict) -> None:  # noqa: D102
        state_dict = dict(state_dict)
        gens = state_dict.pop("sign_generators", {})
        super().load_state_dict(state_dict)
        devices = {p.device for g in self.param_groups for p in g["params"]}
        for dev in devices:
            saved = gens.get(str(dev))
            if saved is None:  # another index of the same kind (cuda:1 → cuda:0)
                saved = next((v for k, v in gens.items()
                              if torch.device(k).type == dev.type), None)
            if saved is not None:  # else (cpu ↔ cuda) the stream starts afresh from the seed
                self._generator(dev).set_state(saved.cpu())

    def current_alpha(self) -> float:
        g = self.param_groups[0]
        return g["alpha"] * decay_factor(g["alpha_decay"], g["t"], g["total_steps"])

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - see the class docstring
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            a = group["alpha"] * decay_factor(group["alpha_decay"], group["t"],
                                              group["total_steps"])
            gam = group["gamma"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["m"] = torch.zeros_like(p)
                    st["g"] = torch.zeros_like(p)
                m, g = st["m"], st["g"]
                m.mul_(1 - gam).add_(p.grad, alpha=gam)
                g.mul_(1 - a).add_(m, alpha=a)
                new = -sign_pm1(g)
                zero = g == 0
                gen = self._generator(p.device)
                if p.device.type != "cpu":  # no host sync: draw everywhere, keep the zeros'
                    rnd = torch.randint(0, 2, p.shape, device=p.device, generator=gen)
                    new = torch.where(zero, (rnd * 2 - 1).to(p.dtype), new)
                elif zero.any():
                    rnd = torch.randint(0, 2, (int(zero.sum()),), generator=gen)
                    new[zero] = (rnd * 2 - 1).to(p.dtype)
                p.copy_(new)
            group["t"] += 1
        return loss


class Bop(torch.optim.Optimizer):
    """Binary optimizer (Helwegen et al., NeurIPS 2019): ``m ← (1−γ)m + γ∇``; flip w where
    ``|m| > τ`` and ``sign(m) = sign(w)``. The parameters are set to ±1 on construction."""

    def __init__(self, params: Iterable[nn.Parameter], gamma: float = _B["gamma"],
                 tau: float = _B["tau"]) -> None:
        if not 0 < gamma <= 1 or tau < 0:
            raise UserError(f"Bop needs 0 < --gamma <= 1 and --tau >= 0, got {gamma}, {tau}")
        super().__init__(params, dict(gamma=gamma, tau=tau, t=0))
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    p.copy_(sign_pm1(p))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - see the class docstring
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            gam, tau = group["gamma"], group["tau"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["m"] = torch.zeros_like(p)
                m = st["m"]
                m.mul_(1 - gam).add_(p.grad, alpha=gam)
                flip = (m.abs() > tau) & (torch.sign(m) == torch.sign(p))
                p.copy_(torch.where(flip, -p, p))
            group["t"] += 1
        return loss


class OptimizerSet:
    """The optimizers of one training phase, stepped together with their schedules.

    ``binary`` updates the binary-weight parameters, ``real`` the rest (may be the same
    optimizer for latent Adam/SGD). Learning rates follow a cosine schedule over ``total_steps``;
    latent weights are clipped to [−1, 1] after each step (the bnn_pynq recipe).
    """

    def __init__(self, kind: str, optimizers: list[torch.optim.Optimizer],
                 clip_params: list[nn.Parameter], total_steps: int) -> None:
        self.kind = kind
        self.optimizers = optimizers
        self.clip_params = clip_params
        self.total_steps = total_steps
        self.t = 0
        self.base_lrs = [[g.get("lr") for g in o.param_groups] for o in optimizers]

    def zero_grad(self) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=True)

    def step(self) -> None:
        f = decay_factor("cosine", self.t, self.total_steps)
        for o, lrs in zip(self.optimizers, self.base_lrs, strict=True):
            for g, lr in zip(o.param_groups, lrs, strict=True):
                if lr is not None:
                    g["lr"] = lr * f
            o.step()
        with torch.no_grad():
            for p in self.clip_params:
                p.clamp_(-1.0, 1.0)
        self.t += 1

    def set_total_steps(self, total: int) -> None:
        """Stretch the schedules over ``total`` steps (a resumed run with more epochs)."""
        self.total_steps = total
        for o in self.optimizers:
            for g in o.param_groups:
                if "total_steps" in g:
                    g["total_steps"] = total

    def hparams(self) -> dict[str, float]:
        """The current step sizes, for the metrics log."""
        out: dict[str, float] = {}
        for o in self.optimizers:
            if isinstance(o, GradientFilter):
                out["alpha"] = o.current_alpha()
            elif "lr" in o.param_groups[0]:
                out["lr"] = float(o.param_groups[0]["lr"])
        return out

    def state_dict(self) -> dict:
        return {"t": self.t, "optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        self.t = int(state["t"])
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)


def build_optimizer(model: nn.Module, kind: str, *, lr: float, weight_decay: float = 0.0,
                    alpha: float = _F["alpha"], gamma: float = _F["gamma"],
                    alpha_decay: str = _F["alpha_decay"], tau: float = _B["tau"],
                    momentum: float = OPTIMIZER_DEFAULTS["sgd"]["momentum"], total_steps: int = 0,
                    seed: int = 0) -> OptimizerSet:
    """The optimizer set for ``kind`` ∈ {filter, adam, sgd, bop}; see :class:`OptimizerSet`.

    ``weight_decay`` applies to the quantized layers' weights only (latent Adam/SGD); ``seed``
    seeds the filter's random signs (:class:`GradientFilter`). Raises
    :class:`UserError` for filter/bop on a model with multi-bit weights.
    """
    layers = quant_weight_layers(model)
    check_optimizer_bits(kind, max((weight_bits_of(m) for m in layers), default=1))
    weights = [m.weight for m in layers]
    ids = {id(p) for p in weights}
    real = [p for p in model.parameters() if id(p) not in ids]
    if kind == "filter":
        opts: list[torch.optim.Optimizer] = [
            GradientFilter(weights, alpha=alpha, gamma=gamma, alpha_decay=alpha_decay,
                           total_steps=total_steps, seed=seed)]
        clip: list[nn.Parameter] = []
    elif kind == "bop":
        opts = [Bop(weights, gamma=gamma, tau=tau)]
        clip = []
    elif kind in ("adam", "sgd"):
        groups = [{"params": weights, "weight_decay": weight_decay},
                  {"params": real, "weight_decay": 0.0}]
        if kind == "adam":
            opts = [torch.optim.Adam(groups, lr=lr)]
        else:
            opts = [torch.optim.SGD(groups, lr=lr, momentum=momentum)]
        return OptimizerSet(kind, opts, weights, total_steps)
    else:
        raise UserError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")
    if real:
        opts.append(torch.optim.Adam(real, lr=lr))
    return OptimizerSet(kind, opts, clip, total_steps)
