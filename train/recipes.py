"""Training recipes: one step, or Liu et al.'s two steps (ICML 2021).

Two-step: step 1 trains with quantized (binary or k-bit) activations and real-valued weights
(the weight quantizers switched off) with Adam and weight decay; step 2 switches the weight
quantizers on, starts from step 1's weights and trains with the chosen optimizer and weight
decay 0. The epochs are split ``floor(E/2)`` for step 1 and the rest for step 2. Step 2 is
called ``step2-binary-weights`` for 1-bit weights, ``step2-quantized-weights`` for k-bit ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError

__all__ = ["RECIPES", "Phase", "phases"]

RECIPES = ("one-step", "two-step")


@dataclass(frozen=True)
class Phase:
    """A run of epochs with one optimizer: ``[first_epoch, first_epoch + epochs)``.

    ``binary_weights``: the weight quantizers are on (binary or k-bit weights)."""

    name: str
    first_epoch: int
    epochs: int
    binary_weights: bool


def phases(recipe: str, epochs: int, weight_bits: int = 1) -> list[Phase]:
    """The phases of ``recipe`` over ``epochs`` epochs (0-based epoch numbers)."""
    if epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {epochs}")
    if recipe == "one-step":
        return [Phase("one-step", 0, epochs, True)]
    if recipe == "two-step":
        if epochs < 2:
            raise UserError("--recipe two-step needs --epochs >= 2 (split between the steps)")
        e1 = epochs // 2
        return [Phase("step1-real-weights", 0, e1, False),
                Phase("step2-binary-weights" if weight_bits == 1 else "step2-quantized-weights",
                      e1, epochs - e1, True)]
    raise UserError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
