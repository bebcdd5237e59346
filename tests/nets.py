"""The one builder of test networks: dataflow IRs with random parameters, for every test and
benchmark (it is test support, not part of the package).

- the seeded random generator: MLPs and small CNNs of random shapes, foldings, weights and
  thresholds nobody chose by hand (`random_mlp`, `random_cnn`, `random_mvau`, `random_images`);
  thresholds are drawn near the middle of each accumulator's likely range so that output bits
  are not constant;
- FINN's reference shapes with FINN's test foldings: TFC-1W1A (784-64-64-64-10) and CNV-1W1A
  (32x32x3, 6 convs, 2 pools, 3 FCs), and a small CNV (`tfc_ir`, `cnv_ir`, `small_cnv_ir`);
- hand-shaped networks for particular paths: width converters between every pair of layers
  (`tfc_converters_ir`), a first-layer conv on INT4 (`cnv_like`), signed and overlapping
  windows (`edge_cases`, `windows`), the 8x8 digits MLP (`digits_mlp`), a TFC and a small CNV
  with a random output affine (`affine_tfc_ir`, `uint2_cnv_ir`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import MVAU, LabelSelect, Layer, MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.layers.base import divisors

UINT8 = DataType.parse("UINT8")
INT8 = DataType.parse("INT8")


def _valid(ir: DataflowIR) -> DataflowIR:
    ir.validate()
    return ir


# --- the seeded random generator ------------------------------------------------------------
def _pick(rng: np.random.Generator, values: list[int], cap: int | None = None) -> int:
    values = [v for v in values if cap is None or v <= cap] or values[:1]
    return int(rng.choice(values))


def random_input_threshold(rng, name, pixels, channels, out_bits, pe_cap) -> Thresholding:
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
    layers: list[Layer] = [random_input_threshold(rng, "thr_in", 1, n_in, 1, fold_cap)]
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
    layers: list[Layer] = [random_input_threshold(rng, "thr_in", h * h, c, in_bits, fold_cap)]
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


def random_images(ir: DataflowIR, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *ir.input_shape), dtype=np.uint8)


# --- FINN's reference shapes ------------------------------------------------------------------
# FINN's end-to-end test folding of TFC: (PE, SIMD) of the four MVAUs
TFC_FOLDING = ((16, 49), (8, 8), (8, 8), (10, 8))
# FINN's end-to-end test folding of CNV: (PE, SIMD) of the nine MVAUs
CNV_FOLDING = ((16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1))


def tfc_ir(seed: int = 0, folding=TFC_FOLDING, thr_pe: int = 49) -> DataflowIR:
    """Thresholding 784 UINT8 → BIPOLAR, then MVAU 784→64→64→64→10 (XNOR; last no activation)."""
    rng = np.random.default_rng(seed)
    thr = np.sort(rng.integers(1, 256, size=(784, 1)), axis=1)
    layers: list[Layer] = [Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=BIPOLAR,
                                        pixels=1, channels=784, thresholds=thr, pe=thr_pe)]
    dims = [784, 64, 64, 64, 10]
    for i, (pe, simd) in enumerate(folding):
        mw, mh = dims[i], dims[i + 1]
        layers.append(random_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, pe, simd, i == 3))
    return DataflowIR(name=f"tfc_random_{seed}", input_shape=(1, 28, 28), input_layout="flat",
                      layers=layers, output_scale=np.ones(10), output_bias=np.zeros(10))


def tfc_ram_styles_ir(seed: int = 3) -> DataflowIR:
    """TFC with every weight-memory style: fc0 block RAM (as FINN's TFC test folding), fc1 a
    256-word ROM in LUTs (PE 2: deeper than `auto` puts in LUTs), fc2 block RAM, fc3 auto."""
    from xnorflow.compile.ir.folding import apply_folding

    spec = {"fc0": {"ram_style": "block"}, "fc1": {"PE": 2, "ram_style": "distributed"},
            "fc2": {"ram_style": "block"}}
    return apply_folding(tfc_ir(seed), spec, "<tfc_ram_styles>")


CNV_CONVS = (64, 64, "pool", 128, 128, "pool", 256, 256)
CNV_FCS = (512, 512, 10)
# a small CNV-like network for the tests: 14x14x3 → 3x3 convs 8, 8, pool, 16, 16 → FC 32, 10
SMALL_CONVS = (8, 8, "pool", 16, 16)
SMALL_FCS = (32, 10)
SMALL_FOLDING = ((4, 3), (4, 8), (8, 4), (4, 16), (4, 16), (2, 4))


def cnv_ir(seed: int = 0, dim: int = 32, convs=CNV_CONVS, fcs=CNV_FCS, folding=CNV_FOLDING,
           thr_pe: int = 3) -> DataflowIR:
    """CNV: Thresholding (3 ch, 255 steps → INT8), 3x3 convs (channel counts, "pool" = 2x2
    max-pool), then FCs; the last FC has no activation. `folding`: (PE, SIMD) per MVAU, reduced
    to divisors where a shape needs it. CNV itself is the default."""
    rng = np.random.default_rng(seed)
    thr = np.sort(rng.integers(0, 256, size=(3, 255)), axis=1)
    layers: list[Layer] = [Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=INT8,
                                        pixels=dim * dim, channels=3, thresholds=thr,
                                        act_val=-128, pe=thr_pe)]
    ch, d, dtype, k = 3, dim, INT8, 0
    for item in convs:
        if item == "pool":
            pe = layers[-1].pe
            layers.append(MaxPool(name=f"pool{k}", in_dtype=BIPOLAR, out_dtype=BIPOLAR,
                                  ifm_dim=(d, d), channels=ch, kernel=2, stride=2, pe=pe))
            d //= 2
            continue
        och = item
        pe, simd = folding[k]
        pe, simd = min(pe, och), min(simd, ch)
        while och % pe:
            pe -= 1
        while (9 * ch) % simd or ch % simd:
            simd -= 1
        layers.append(SlidingWindow(name=f"swg{k}", in_dtype=dtype, out_dtype=dtype,
                                    ifm_dim=(d, d), channels=ch, kernel=3, stride=1, simd=simd))
        d -= 2
        layers.append(random_mvau(rng, f"conv{k}", dtype, d * d, 9 * ch, och, pe, simd, False))
        ch, dtype, k = och, BIPOLAR, k + 1
    mw = d * d * ch
    for i, item in enumerate(fcs):
        mh, last = item, i == len(fcs) - 1
        pe, simd = folding[k]
        while mh % pe:
            pe -= 1
        while mw % simd:
            simd -= 1
        layers.append(random_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, pe, simd, last))
        mw, k = mh, k + 1
    return DataflowIR(name=f"cnv_random_{seed}_{dim}", input_shape=(3, dim, dim),
                      input_layout="nhwc", layers=layers, output_scale=np.ones(fcs[-1]),
                      output_bias=np.zeros(fcs[-1]))


def small_cnv_ir(seed: int = 0) -> DataflowIR:
    return cnv_ir(seed, dim=14, convs=SMALL_CONVS, fcs=SMALL_FCS, folding=SMALL_FOLDING)


# --- hand-shaped networks ------------------------------------------------------------------------
def _fixed_threshold(rng, name, pixels, channels, out, pe, act_val=0) -> Thresholding:
    n = 1 if out.bits == 1 else (1 << out.bits) - 1
    t = np.sort(rng.integers(0, 256, size=(channels, n)), axis=1)
    return Thresholding(name=name, in_dtype=UINT8, out_dtype=out, pixels=pixels,
                        channels=channels, thresholds=t, act_val=act_val, pe=pe)


def _fixed_mvau(rng, name, in_dtype, pixels, mw, mh, pe, simd, out=BIPOLAR) -> MVAU:
    return random_mvau(rng, name, in_dtype, pixels, mw, mh, pe, simd, last=out != BIPOLAR)


def _finish(rng, name, shape, layout, layers) -> DataflowIR:
    n_out = int(np.prod(layers[-1].out_shape))
    ir = DataflowIR(name=name, input_shape=shape, input_layout=layout, layers=layers,
                    output_scale=rng.uniform(0.1, 2.0, size=n_out),
                    output_bias=rng.normal(0, 1, size=n_out))
    ir.validate()
    return ir


def tfc_converters_ir(seed: int = 0) -> DataflowIR:
    """TFC: Thresholding 784 UINT8→BIPOLAR, XNOR MVAUs 784→64→64→64→10, last without activation.

    Foldings differ between neighbours, so width converters sit between every pair of layers;
    fc0 has SIMD = 98, wider than a built-in integer (ap_uint weight words in C-simulation too).
    """
    rng = np.random.default_rng(seed)
    layers = [
        _fixed_threshold(rng, "thr_in", 1, 784, BIPOLAR, pe=16),
        _fixed_mvau(rng, "fc0", BIPOLAR, 1, 784, 64, pe=16, simd=98),  # > 64: ap_uint ROM words
        _fixed_mvau(rng, "fc1", BIPOLAR, 1, 64, 64, pe=8, simd=16),
        _fixed_mvau(rng, "fc2", BIPOLAR, 1, 64, 64, pe=16, simd=8),
        _fixed_mvau(rng, "fc3", BIPOLAR, 1, 64, 10, pe=5, simd=16, out=None),
    ]
    return _finish(rng, "tfc_random", (1, 28, 28), "flat", layers)


def cnv_like(seed: int = 0) -> DataflowIR:
    """A small CNV: 3×12×12 UINT8 → thresholds to INT4 (act_val −8) → 3×3 conv with a
    non-XNOR first MVAU (INT4 × binary weights) → 3×3 XNOR conv → 2×2 max-pool → FC → FC."""
    rng = np.random.default_rng(seed)
    int4 = DataType.parse("INT4")
    layers = [
        _fixed_threshold(rng, "thr_in", 144, 3, int4, pe=3, act_val=-8),
        SlidingWindow(name="swg0", in_dtype=int4, out_dtype=int4, ifm_dim=(12, 12), channels=3,
                      kernel=3, stride=1, simd=3),
        _fixed_mvau(rng, "conv0", int4, 100, 27, 16, pe=4, simd=9),
        SlidingWindow(name="swg1", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(10, 10),
                      channels=16, kernel=3, stride=1, simd=8),
        _fixed_mvau(rng, "conv1", BIPOLAR, 64, 144, 32, pe=8, simd=16),
        MaxPool(name="pool0", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(8, 8), channels=32,
                kernel=2, stride=2, pe=4),
        _fixed_mvau(rng, "fc0", BIPOLAR, 1, 512, 32, pe=4, simd=32),
        _fixed_mvau(rng, "fc1", BIPOLAR, 1, 32, 10, pe=2, simd=8, out=None),
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
    mv = _fixed_mvau(rng, "conv0", int3, 4, 24, 12, pe=4, simd=6, out=None)
    pool = MaxPool(name="pool0", in_dtype=mv.out_dtype, out_dtype=mv.out_dtype, ifm_dim=(2, 2),
                   channels=12, kernel=1, stride=1, pe=6)
    layers = [
        _fixed_threshold(rng, "thr_in", 81, 6, int3, pe=6, act_val=-4),
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
        _fixed_threshold(rng, "thr_in", 100, 3, u2, pe=1),
        swg("swg_k3s3", (10, 10), 3, 3, 3, 3),  # → 3×3 × 27 = 243 values
        pool("pool_k3s1", (9, 9), 3, 3, 1, 1),  # → 7×7 × 3 = 147
        swg("swg_k4s1", (7, 7), 3, 4, 1, 1),  # → 4×4 × 48 = 768
        pool("pool_k2s3", (16, 16), 3, 2, 3, 3),  # → 5×5 × 3 = 75
        swg("swg_rect", (5, 15), 1, 2, 2, 1),  # → 2×7 × 4 = 56
        _fixed_mvau(rng, "fc", u2, 1, 56, 10, pe=5, simd=8, out=None),
    ]
    return _finish(rng, "windows", (3, 10, 10), "nhwc", layers)


def digits_mlp(seed: int = 0) -> DataflowIR:
    """An MLP for the 8×8 `digits` data set (input (1, 8, 8), flat), with FINN's default
    folding (PE = SIMD = 1) on the last layer: the CLI's labelled-data path."""
    rng = np.random.default_rng(seed)
    layers = [
        _fixed_threshold(rng, "thr_in", 1, 64, BIPOLAR, pe=8),
        _fixed_mvau(rng, "fc0", BIPOLAR, 1, 64, 32, pe=4, simd=16),
        _fixed_mvau(rng, "fc1", BIPOLAR, 1, 32, 10, pe=1, simd=1, out=None),
    ]
    return _finish(rng, "digits_mlp", (1, 8, 8), "flat", layers)


def affine_tfc_ir(seed: int = 0, pe: int = 16, simd: int = 16) -> DataflowIR:
    rng = np.random.default_rng(seed)
    layers = [Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=BIPOLAR, pixels=1,
                           channels=784, thresholds=rng.integers(64, 192, (784, 1)), pe=simd)]
    widths = [784, 64, 64, 64, 10]
    for i, (mw, mh) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        last = i == len(widths) - 2
        layers.append(
            random_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, 10 if last else pe, simd, last)
        )
    return _valid(DataflowIR(
        name=f"tfc_random_{seed}", input_shape=(1, 28, 28), input_layout="flat", layers=layers,
        output_scale=rng.uniform(0.5, 2.0, 10), output_bias=rng.normal(0, 1, 10),
    ))


def uint2_cnv_ir(seed: int = 0) -> DataflowIR:
    rng = np.random.default_rng(seed)
    uint2 = DataType.parse("UINT2")
    layers = [
        Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=uint2, pixels=64, channels=3,
                     thresholds=np.sort(rng.integers(0, 256, (3, 3)), axis=1), pe=3),
        SlidingWindow(name="swg0", in_dtype=uint2, out_dtype=uint2, ifm_dim=(8, 8), channels=3,
                      kernel=3, stride=1, simd=3),
        random_mvau(rng, "conv0", uint2, 36, 27, 16, pe=8, simd=3),
        SlidingWindow(name="swg1", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(6, 6),
                      channels=16, kernel=3, stride=1, simd=8),
        random_mvau(rng, "conv1", BIPOLAR, 16, 144, 16, pe=8, simd=16),
        MaxPool(name="pool0", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(4, 4), channels=16,
                kernel=2, stride=2, pe=8),
        random_mvau(rng, "fc0", BIPOLAR, 1, 64, 32, pe=8, simd=16),
        random_mvau(rng, "fc1", BIPOLAR, 1, 32, 10, pe=5, simd=8, last=True),
    ]
    return _valid(DataflowIR(
        name=f"cnv_small_random_{seed}", input_shape=(3, 8, 8), input_layout="nhwc",
        layers=layers, output_scale=rng.uniform(0.5, 2.0, 10), output_bias=rng.normal(0, 1, 10),
    ))
