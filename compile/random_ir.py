"""Seeded generator of random, valid dataflow IRs (MLPs and small CNNs).

Used to test the reference executor, the RTL and the HLS backends on shapes, foldings,
weights and thresholds nobody chose by hand. Thresholds are drawn near the middle of each
accumulator's likely range so that output bits are not constant.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import MVAU, Layer, MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.layers.base import divisors

UINT8 = DataType.parse("UINT8")


def _pick(rng: np.random.Generator, values: list[int], cap: int | None = None) -> int:
    values = [v for v in values if cap is None or v <= cap] or values[:1]
    return int(rng.choice(values))


def _input_threshold(rng, name, pixels, channels, out_bits, pe_cap) -> Thresholding:
    n_thr = 1 if out_bits == 1 else (1 << out_bits) - 1
    thr = np.sort(rng.integers(0, 256, size=(channels, n_thr)), axis=1)
    return Thresholding(
        name=name,
        in_dtype=UINT8,
        out_dtype=BIPOLAR if out_bits == 1 else DataType.parse(f"UINT{out_bits}"),
        pixels=pixels,
        channels=channels,
        thresholds=thr,
        act_val=0,
        pe=_pick(rng, divisors(channels), pe_cap),
    )


def random_mvau(
    rng: np.random.Generator,
    name: str,
    in_dtype: DataType,
    pixels: int,
    mw: int,
    mh: int,
    pe: int = 1,
    simd: int = 1,
    last: bool = False,
) -> MVAU:
    """An MVAU with random weights; thresholds near the accumulator's middle, or none if last."""
    w = rng.integers(0, 2, size=(mh, mw), dtype=np.uint8)
    if in_dtype.bipolar:
        centre, spread = mw / 2, max(1.0, np.sqrt(mw) / 2)
    else:
        centre, spread = 0.0, max(1.0, np.sqrt(mw) * in_dtype.max() / 2)
    thr = None if last else np.round(centre + rng.normal(0, spread, size=(mh, 1))).astype(np.int64)
    layer = MVAU(
        name=name,
        in_dtype=in_dtype,
        out_dtype=BIPOLAR,
        pixels=pixels,
        mw=mw,
        mh=mh,
        weights=w,
        thresholds=thr,
        pe=pe,
        simd=simd,
    )
    if last:
        layer = dataclasses.replace(layer, out_dtype=layer.acc_dtype())
    layer.validate()
    return layer


def _mvau(rng, name, in_dtype, pixels, mw, mh, last, fold_cap) -> MVAU:
    layer = random_mvau(rng, name, in_dtype, pixels, mw, mh, last=last)
    return layer.with_folding(
        PE=_pick(rng, divisors(mh), fold_cap), SIMD=_pick(rng, divisors(mw), fold_cap)
    )


def random_mlp(
    seed: int, max_in: int = 64, max_width: int = 64, max_depth: int = 3, fold_cap: int | None = 16
) -> DataflowIR:
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(4, max_in + 1))
    widths = [
        int(rng.integers(2, max_width + 1)) for _ in range(int(rng.integers(1, max_depth + 1)))
    ]
    n_out = int(rng.integers(2, 11))
    layers: list[Layer] = [_input_threshold(rng, "thr_in", 1, n_in, 1, fold_cap)]
    mw = n_in
    for i, mh in enumerate([*widths, n_out]):
        last = i == len(widths)
        layers.append(_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, last, fold_cap))
        mw = mh
    return _finish(rng, f"random_mlp_{seed}", (n_in,), "flat", layers)


def random_cnn(seed: int, fold_cap: int | None = 8) -> DataflowIR:
    """Input thresholding (1 or 2 bits) → convs (k×k, stride 1) with optional max-pools → FCs."""
    rng = np.random.default_rng(seed)
    c, h = int(rng.integers(1, 4)), int(rng.integers(6, 11))
    in_bits = int(rng.choice([1, 2]))
    layers: list[Layer] = [_input_threshold(rng, "thr_in", h * h, c, in_bits, fold_cap)]
    dtype, dim, ch = layers[0].out_dtype, h, c
    for i in range(int(rng.integers(1, 3))):
        k = int(rng.choice([k for k in (1, 2, 3) if k <= dim]))
        swg = SlidingWindow(
            name=f"swg{i}",
            in_dtype=dtype,
            out_dtype=dtype,
            ifm_dim=(dim, dim),
            channels=ch,
            kernel=k,
            stride=1,
            simd=_pick(rng, divisors(ch), fold_cap),
        )
        dim = swg.ofm_dim[0]
        och = int(rng.integers(2, 17))
        layers += [swg, _mvau(rng, f"conv{i}", dtype, dim * dim, k * k * ch, och, False, fold_cap)]
        dtype, ch = BIPOLAR, och
        if dim >= 4 and rng.random() < 0.6:
            pool = MaxPool(
                name=f"pool{i}",
                in_dtype=dtype,
                out_dtype=dtype,
                ifm_dim=(dim, dim),
                channels=ch,
                kernel=2,
                stride=2,
                pe=_pick(rng, divisors(ch), fold_cap),
            )
            layers.append(pool)
            dim = pool.ofm_dim[0]
    mw = dim * dim * ch
    n_fc = int(rng.integers(1, 3))
    for i in range(n_fc):
        last = i == n_fc - 1
        mh = int(rng.integers(2, 11)) if last else int(rng.integers(4, 33))
        layers.append(_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, last, fold_cap))
        mw = mh
    return _finish(rng, f"random_cnn_{seed}", (c, h, h), "nhwc", layers)


def _finish(rng, name, input_shape, layout, layers) -> DataflowIR:
    n_out = layers[-1].mh
    ir = DataflowIR(
        name=name,
        input_shape=input_shape,
        input_layout=layout,
        layers=layers,
        output_scale=rng.uniform(0.1, 2.0, size=n_out),
        output_bias=rng.normal(0, 1, size=n_out),
    )
    ir.validate()
    return ir


def random_images(ir: DataflowIR, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *ir.input_shape), dtype=np.uint8)
