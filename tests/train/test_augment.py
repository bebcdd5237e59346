"""Training-time augmentation: what each transform does to a batch, and its defaults."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xnorflow.train.augment import augment_images, jitter, resolve_augment
from xnorflow.train.errors import UserError


def _batch(n=16, c=3, h=7, w=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, c, h, w), generator=g, dtype=torch.int32).to(torch.uint8)


def _translated(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """img moved by (dy, dx) pixels (content at [y, x] goes to [y + dy, x + dx]), zero fill."""
    out = np.zeros_like(img)
    _, h, w = img.shape
    ys, yd = slice(max(0, -dy), min(h, h - dy)), slice(max(0, dy), min(h, h + dy))
    xs, xd = slice(max(0, -dx), min(w, w - dx)), slice(max(0, dx), min(w, w + dx))
    out[:, yd, xd] = img[:, ys, xs]
    return out


@pytest.mark.parametrize("shift", [1, 2])
def test_shift_translates_each_image_with_zero_fill(shift):
    x = _batch()
    out = augment_images(x, "shift", torch.Generator().manual_seed(5), shift)
    assert out.shape == x.shape and out.dtype == torch.uint8
    moves = set()
    for a, b in zip(x.numpy(), out.numpy(), strict=True):
        # the pixels are 1..255: the zero border shows the move
        found = [(dy, dx) for dy in range(-shift, shift + 1) for dx in range(-shift, shift + 1)
                 if np.array_equal(_translated(a, dy, dx), b)]
        assert len(found) == 1
        moves.add(found[0])
    assert len(moves) > 3  # the moves vary from image to image


def test_crop_flip_is_a_padded_crop_then_maybe_a_mirror():
    x = _batch(n=32)
    out = augment_images(x, "crop-flip", torch.Generator().manual_seed(1))
    flips = 0
    for a, b in zip(x.numpy(), out.numpy(), strict=True):
        found = [(dy, dx, f) for f in (False, True) for dy in range(-4, 5) for dx in range(-4, 5)
                 if np.array_equal(_translated(a, dy, dx)[..., ::-1] if f
                                   else _translated(a, dy, dx), b)]
        assert found, "not a crop of the zero-padded image"
        flips += found[0][2]
    assert 4 < flips < 28


def test_none_and_determinism():
    x = _batch()
    assert augment_images(x, "none", torch.Generator()) is x
    a = augment_images(x, "shift", torch.Generator().manual_seed(3), 1)
    b = augment_images(x, "shift", torch.Generator().manual_seed(3), 1)
    assert torch.equal(a, b)


def test_jitter_is_one_clipped_offset_per_image():
    x = torch.rand(64, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    out = jitter(x, 0.2, torch.Generator().manual_seed(2))
    assert out.min() >= 0 and out.max() <= 1
    offsets = []
    for a, b in zip(x, out, strict=True):
        inside = (b > 0) & (b < 1)  # not clipped
        d = (b - a)[inside]
        assert torch.allclose(d, d[0].expand_as(d), atol=1e-6)
        offsets.append(float(d[0]))
    assert max(abs(o) for o in offsets) <= 0.2 + 1e-6
    assert min(offsets) < -0.1 and max(offsets) > 0.1  # spread over U[-0.2, 0.2]
    assert jitter(x, 0.0, torch.Generator()) is x


def test_auto_is_crop_flip_for_cifar10_only():
    assert resolve_augment("auto", "cifar10") == "crop-flip"
    assert resolve_augment("auto", "mnist") == "none"
    assert resolve_augment("shift", "cifar10") == "shift"
    with pytest.raises(UserError, match="unknown --augment"):
        resolve_augment("cutout", "mnist")
