"""Hand-shaped IRs with random weights for the HLS tests: TFC, a small CNV-like net, edge cases."""

from __future__ import annotations

import numpy as np

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import MVAU, LabelSelect, MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.random_ir import random_cnn, random_mlp, random_mvau

UINT8 = DataType.parse("UINT8")


def _thr(rng, name, pixels, channels, out, pe, act_val=0) -> Thresholding:
    n = 1 if out.bits == 1 else (1 << out.bits) - 1
    t = np.sort(rng.integers(0, 256, size=(channels, n)), axis=1)
    return Thresholding(name=name, in_dtype=UINT8, out_dtype=out, pixels=pixels,
                        channels=channels, thresholds=t, act_val=act_val, pe=pe)


def _mvau(rng, name, in_dtype, pixels, mw, mh, pe, simd, out=BIPOLAR) -> MVAU:
    return random_mvau(rng, name, in_dtype, pixels, mw, mh, pe, simd, last=out != BIPOLAR)


def _finish(rng, name, shape, layout, layers) -> DataflowIR:
    n_out = int(np.prod(layers[-1].out_shape))
    ir = DataflowIR(name=name, input_shape=shape, input_layout=layout, layers=layers,
                    output_scale=rng.uniform(0.1, 2.0, size=n_out),
                    output_bias=rng.normal(0, 1, size=n_out))
    ir.validate()
    return ir


def tfc(seed: int = 0) -> DataflowIR:
    """TFC: Thresholding 784 UINT8→BIPOLAR, XNOR MVAUs 784→64→64→64→10, last without activation.

    Foldings differ between neighbours, so width converters sit between every pair of layers;
    fc0 has SIMD = 98, wider than a built-in integer (ap_uint weight words in C-simulation too).
    """
    rng = np.random.default_rng(seed)
    layers = [
        _thr(rng, "thr_in", 1, 784, BIPOLAR, pe=16),
        _mvau(rng, "fc0", BIPOLAR, 1, 784, 64, pe=16, simd=98),  # > 64: ap_uint ROM words
        _mvau(rng, "fc1", BIPOLAR, 1, 64, 64, pe=8, simd=16),
        _mvau(rng, "fc2", BIPOLAR, 1, 64, 64, pe=16, simd=8),
        _mvau(rng, "fc3", BIPOLAR, 1, 64, 10, pe=5, simd=16, out=None),
    ]
    return _finish(rng, "tfc_random", (1, 28, 28), "flat", layers)


def cnv_like(seed: int = 0) -> DataflowIR:
    """A small CNV: 3×12×12 UINT8 → thresholds to INT4 (act_val −8) → 3×3 conv with a
    non-XNOR first MVAU (INT4 × binary weights) → 3×3 XNOR conv → 2×2 max-pool → FC → FC."""
    rng = np.random.default_rng(seed)
    int4 = DataType.parse("INT4")
    layers = [
        _thr(rng, "thr_in", 144, 3, int4, pe=3, act_val=-8),
        SlidingWindow(name="swg0", in_dtype=int4, out_dtype=int4, ifm_dim=(12, 12), channels=3,
                      kernel=3, stride=1, simd=3),
        _mvau(rng, "conv0", int4, 100, 27, 16, pe=4, simd=9),
        SlidingWindow(name="swg1", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(10, 10),
                      channels=16, kernel=3, stride=1, simd=8),
        _mvau(rng, "conv1", BIPOLAR, 64, 144, 32, pe=8, simd=16),
        MaxPool(name="pool0", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(8, 8), channels=32,
                kernel=2, stride=2, pe=4),
        _mvau(rng, "fc0", BIPOLAR, 1, 512, 32, pe=4, simd=32),
        _mvau(rng, "fc1", BIPOLAR, 1, 32, 10, pe=2, simd=8, out=None),
    ]
    return _finish(rng, "cnv_like_random", (3, 12, 12), "nhwc", layers)


def edge_cases(seed: int = 0) -> DataflowIR:
    """Kernels off the beaten path: signed max-pool with overlapping 3×3/2 windows, a stride-2
    sliding window, a signed no-activation first-layer MVAU output, a label select on signed
    scores, and width converters between folds that do not divide each other (6 → 4)."""
    rng = np.random.default_rng(seed)
    int3 = DataType.parse("INT3")
    swg = SlidingWindow(name="swg0", in_dtype=int3, out_dtype=int3, ifm_dim=(4, 4), channels=6,
                        kernel=2, stride=2, simd=3)
    mv = _mvau(rng, "conv0", int3, 4, 24, 12, pe=4, simd=6, out=None)
    pool = MaxPool(name="pool0", in_dtype=mv.out_dtype, out_dtype=mv.out_dtype, ifm_dim=(2, 2),
                   channels=12, kernel=1, stride=1, pe=6)
    layers = [
        _thr(rng, "thr_in", 81, 6, int3, pe=6, act_val=-4),
        MaxPool(name="pool_in", in_dtype=int3, out_dtype=int3, ifm_dim=(9, 9), channels=6,
                kernel=3, stride=2, pe=2),
        swg,
        mv,
        pool,
        SlidingWindow(name="flat", in_dtype=mv.out_dtype, out_dtype=mv.out_dtype, ifm_dim=(2, 2),
                      channels=12, kernel=2, stride=1, simd=4),
        LabelSelect(name="top1", in_dtype=mv.out_dtype, out_dtype=DataType.parse("UINT6"),
                    labels=48, pe=6),
    ]
    return _finish(rng, "edge_cases", (6, 9, 9), "nhwc", layers)


def default_random() -> dict[str, DataflowIR]:
    """The random IRs of the default suite: 5 MLPs and 5 CNNs from the compiler's generator."""
    irs = {f"mlp{s}": random_mlp(s) for s in range(5)}
    irs.update({f"cnn{s}": random_cnn(s) for s in range(5)})
    return irs


def slow_random() -> dict[str, DataflowIR]:
    irs = {f"mlp{s}": random_mlp(s, max_in=256, max_width=128) for s in range(100, 110)}
    irs.update({f"cnn{s}": random_cnn(s, fold_cap=None) for s in range(100, 110)})
    return irs


def windows(seed: int = 0) -> DataflowIR:
    """Window geometries: strides larger than, equal to and smaller than the kernel, a 4×4
    kernel, non-square images, a single channel — chained through reshapes (UINT2 values)."""
    rng = np.random.default_rng(seed)
    u2 = DataType.parse("UINT2")

    def swg(name, dim, c, k, s, simd):
        return SlidingWindow(name=name, in_dtype=u2, out_dtype=u2, ifm_dim=dim, channels=c,
                             kernel=k, stride=s, simd=simd)

    def pool(name, dim, c, k, s, pe):
        return MaxPool(name=name, in_dtype=u2, out_dtype=u2, ifm_dim=dim, channels=c, kernel=k,
                       stride=s, pe=pe)

    layers = [
        _thr(rng, "thr_in", 100, 3, u2, pe=1),
        swg("swg_k3s3", (10, 10), 3, 3, 3, 3),  # → 3×3 × 27 = 243 values
        pool("pool_k3s1", (9, 9), 3, 3, 1, 1),  # → 7×7 × 3 = 147
        swg("swg_k4s1", (7, 7), 3, 4, 1, 1),  # → 4×4 × 48 = 768
        pool("pool_k2s3", (16, 16), 3, 2, 3, 3),  # → 5×5 × 3 = 75
        swg("swg_rect", (5, 15), 1, 2, 2, 1),  # → 2×7 × 4 = 56
        _mvau(rng, "fc", u2, 1, 56, 10, pe=5, simd=8, out=None),
    ]
    return _finish(rng, "windows", (3, 10, 10), "nhwc", layers)


def digits_mlp(seed: int = 0) -> DataflowIR:
    """An MLP for the 8×8 `digits` data set (input (1, 8, 8), flat), with FINN's default
    folding (PE = SIMD = 1) on the last layer: the CLI's labelled-data path."""
    rng = np.random.default_rng(seed)
    layers = [
        _thr(rng, "thr_in", 1, 64, BIPOLAR, pe=8),
        _mvau(rng, "fc0", BIPOLAR, 1, 64, 32, pe=4, simd=16),
        _mvau(rng, "fc1", BIPOLAR, 1, 32, 10, pe=1, simd=1, out=None),
    ]
    return _finish(rng, "digits_mlp", (1, 8, 8), "flat", layers)
