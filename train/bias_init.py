"""Random bias initialisation (Li & Partovi Nia): spread the sign thresholds at the start.

Every pre-activation shift feeding a binary activation — here the bias of the BatchNorm in
front of each hidden sign — is drawn from U[−λ, λ]. λ = 0 keeps the usual zero init.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import UserError
from .models import preactivation_norms

__all__ = ["random_bias_init"]


def random_bias_init(model: nn.Module, lam: float,
                     generator: torch.Generator | None = None) -> int:
    """Draw the pre-activation biases from U[−λ, λ] in place; returns how many were set."""
    if lam < 0:
        raise UserError(f"--bias-init must be >= 0, got {lam}")
    n = 0
    with torch.no_grad():
        for bn in preactivation_norms(model):
            if lam == 0:
                bn.bias.zero_()
            else:
                u = torch.rand(bn.bias.shape, generator=generator, dtype=bn.bias.dtype)
                bn.bias.copy_((2 * u - 1) * lam)
            n += bn.bias.numel()
    return n
