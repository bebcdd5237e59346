"""Random Brevitas BNNs (MLPs and CNNs: random widths, depths, kernels, pools, input bits,
foldings, weights and BatchNorm statistics), each lowered by FINN and checked along the whole
chain. 12 in the default suite, 52 more under `slow`."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compile.helpers import check_chain, export, randomize, seed_params
from tests.nets import random_images
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.folding import apply_folding
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = list(range(12))
SLOW_SEEDS = list(range(12, 64))


def random_brevitas(seed: int):
    """(model, input shape, description) — an MLP for even seeds, a CNN for odd ones."""
    from xnorflow.train.models import build_cnn, build_mlp

    rng = np.random.default_rng(seed)
    in_bits = int(rng.choice([1, 8]))
    n_classes = int(rng.integers(2, 11))
    if seed % 2 == 0:
        shape = (1, int(rng.integers(3, 9)), int(rng.integers(3, 9)))
        hidden = [int(rng.integers(2, 49)) for _ in range(int(rng.integers(1, 4)))]
        model = build_mlp(shape, hidden, n_classes, in_bits=in_bits)
        desc = f"mlp {shape} {hidden} -> {n_classes}, in_bits {in_bits}"
    else:
        k = int(rng.choice([1, 2, 3]))
        size = int(rng.integers(k + 3, 13))
        shape = (int(rng.integers(1, 4)), size, size)
        convs, pools, dim = [], [], size
        for i in range(int(rng.integers(1, 4))):
            if dim - k + 1 < 1:
                break
            dim = dim - k + 1
            convs.append(int(rng.integers(2, 17)))
            if dim >= 2 and rng.random() < 0.5:
                pools.append(i)
                dim //= 2
        fc = [int(rng.integers(4, 33)) for _ in range(int(rng.integers(0, 3)))]
        model = build_cnn(shape, convs, pools, fc, n_classes, in_bits=in_bits, kernel_size=k)
        desc = f"cnn {shape} k{k} {convs} pools {pools} fc {fc} -> {n_classes}, in_bits {in_bits}"
    return randomize(model, seed), shape, desc


def random_folding(ir: DataflowIR, rng: np.random.Generator) -> dict:
    spec = {"Defaults": {}}
    for layer in ir.layers:
        spec[layer.name] = {k: int(rng.choice(v)) for k, v in layer.allowed_folding().items()}
    return spec


def _check_seed(seed: int, tmp_path) -> None:
    model, shape, desc = random_brevitas(seed)
    path = export(model, shape, tmp_path / "m.onnx")
    rng = np.random.default_rng(1000 + seed)
    target = float(rng.choice([0, 1e3, 1e4, 1e5]))
    try:
        result = compile_model(path, tmp_path / "build", target_fps=target or None,
                               backends=False)
    except Exception as err:
        raise AssertionError(f"seed {seed} ({desc}): {err}") from err
    ir = result.ir
    if target:
        assert ir.fps() >= target, desc
    images = random_images(ir, 8, seed=seed)
    check_chain(model, result, images, with_qonnx=seed % 3 == 0)
    # a random folding: saved, loaded back equal, same outputs
    folded = apply_folding(ir, random_folding(ir, rng), "<random>")
    folded.save(tmp_path / "folded")
    loaded = DataflowIR.load(tmp_path / "folded")
    assert loaded.equals(folded), desc
    assert np.array_equal(loaded.run(images), ir.run(images)), desc


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_random_model_chain(seed, tmp_path):
    _check_seed(seed, tmp_path)
