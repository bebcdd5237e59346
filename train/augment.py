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

__all__ = ["AUGMENTS", "apply_augment", "apply_jitter", "augment_images", "draw_augment",
           "draw_jitter", "jitter", "resolve_augment"]

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
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (dy.to(dev)[:, None] + torch.arange(h, device=dev))[:, :, None]  # n, h, 1
    cols = (dx.to(dev)[:, None] + torch.arange(w, device=dev))[:, None, :]  # n, 1, w
    # advanced indices around a slice: the result is (n, h, w, c)
    return padded[torch.arange(n, device=dev)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)


def _pad_of(kind: str, shift: int) -> int:
    return 4 if kind == "crop-flip" else shift


def draw_augment(n: int, kind: str, gen: torch.Generator, shift: int = 1) -> dict:
    """The random draws of :func:`augment_images` for ``n`` images (offsets dy, dx and, for
    crop-flip, the flips), in the order augment_images draws them."""
    if kind == "none":
        return {}
    pad = _pad_of(kind, shift)
    out = {"dy": torch.randint(0, 2 * pad + 1, (n,), generator=gen),
           "dx": torch.randint(0, 2 * pad + 1, (n,), generator=gen)}
    if kind == "crop-flip":
        out["flip"] = torch.rand(n, generator=gen) < 0.5
    return out


def apply_augment(x: torch.Tensor, kind: str, draws: dict, shift: int = 1) -> torch.Tensor:
    """Apply draws of :func:`draw_augment` (one per image of ``x``, on any device)."""
    if kind == "none":
        return x
    out = _crops(x, _pad_of(kind, shift), draws["dy"], draws["dx"])
    if "flip" in draws:
        flip = draws["flip"].to(x.device)
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    return out


def augment_images(x: torch.Tensor, kind: str, gen: torch.Generator,
                   shift: int = 1) -> torch.Tensor:
    """crop-flip: random crop of the image padded by 4 + horizontal flip with p = 1/2 (CIFAR);
    shift: random translation by up to ``shift`` pixels each way, zero fill. uint8 NCHW in/out."""
    if kind == "none":
        return x
    return apply_augment(x, kind, draw_augment(x.shape[0], kind, gen, shift), shift)


def draw_jitter(n: int, amount: float, gen: torch.Generator) -> torch.Tensor | None:
    """The per-image offsets of :func:`jitter` (None when ``amount`` is 0)."""
    if amount <= 0:
        return None
    return (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * amount


def apply_jitter(x: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
    """Add offsets of :func:`draw_jitter` to the [0, 1] inputs, clipped to [0, 1]."""
    if u is None:
        return x
    return (x + u.to(x.device)).clamp(0.0, 1.0)


def jitter(x: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Add one U[−amount, amount] offset per image to the [0, 1] inputs, clipped to [0, 1]."""
    return apply_jitter(x, draw_jitter(x.shape[0], amount, gen))
