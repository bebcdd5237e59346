"""Training-time input augmentation (`xnorflow train --augment/--shift/--jitter`).

Geometric transforms work on the uint8 NCHW batch; the brightness jitter on the [0, 1] floats
the model receives. For a 1-bit input model (TFC/SFC/LFC) the jitter moves the binarisation
threshold per image (2x-1 > 0 at x = 0.5 becomes x + u = 0.5), i.e. thinner or thicker
strokes — the variation the binarised digits lack. Every draw comes from the run's data
generator, so runs stay deterministic and resumable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import UserError

__all__ = ["AUGMENTS", "augment_images", "jitter", "resolve_augment"]

AUGMENTS = ("auto", "none", "crop-flip", "shift")


def resolve_augment(kind: str, dataset: str) -> str:
    """`auto` is crop-flip for cifar10 (the bnn_pynq recipe) and none otherwise."""
    if kind not in AUGMENTS:
        raise UserError(f"unknown --augment {kind!r}; choose one of {', '.join(AUGMENTS)}")
    if kind == "auto":
        return "crop-flip" if dataset == "cifar10" else "none"
    return kind


def _crops(x: torch.Tensor, pad: int, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Per image, the h×w window at (dy, dx) of the zero-padded image."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # n, h, 1
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # n, 1, w
    # advanced indices around a slice: the result is (n, h, w, c)
    return padded[torch.arange(n)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)


def augment_images(x: torch.Tensor, kind: str, gen: torch.Generator,
                   shift: int = 1) -> torch.Tensor:
    """crop-flip: random crop of the image padded by 4 + horizontal flip with p = 1/2 (CIFAR);
    shift: random translation by up to ``shift`` pixels each way, zero fill. uint8 NCHW in/out."""
    if kind == "none":
        return x
    n = x.shape[0]
    pad = 4 if kind == "crop-flip" else shift
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    out = _crops(x, pad, dy, dx)
    if kind == "crop-flip":
        flip = torch.rand(n, generator=gen) < 0.5
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    return out


def jitter(x: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Add one U[−amount, amount] offset per image to the [0, 1] inputs, clipped to [0, 1]."""
    if amount <= 0:
        return x
    u = (torch.rand(x.shape[0], 1, 1, 1, generator=gen) * 2 - 1) * amount
    return (x + u.to(x.device)).clamp(0.0, 1.0)
