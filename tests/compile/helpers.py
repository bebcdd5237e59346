"""Shared by the compiler tests: Brevitas test models and the equivalence chain.

The chain, for uint8 images u and the model's float input x = u · input_scale:
PyTorch(x) ≡ QONNX execution(x) ≡ FINN python-mode execution of the HW-layer graph(u) ≡
IR reference executor(u). Integer outputs of the last layer must be equal bit for bit
(FINN vs IR; and PyTorch's logits mapped back through the output affine), logits within float
rounding, labels equal (a tie in the integer outputs may resolve either way in float).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from xnorflow.compile.pipeline import CompileResult
from xnorflow.compile.stream import output_function


def randomize(model, seed: int):
    """Random binary weights (latent U[-1, 1]), layer biases and BatchNorm/TensorNorm
    statistics, all from `seed` (PyTorch's default initialisation would draw biases from the
    global generator, differently in every test order), scaled to each layer's fan-in so that
    activations are not constant; some negative BN scales (FINN must absorb their sign).
    Returns the model in eval mode."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    fan_in = 1
    with torch.no_grad():
        for m in model.modules():
            w = getattr(m, "weight", None)
            if hasattr(m, "weight_quant") and w is not None:
                w.copy_(torch.rand(w.shape, generator=gen) * 2 - 1)
                fan_in = int(np.prod(w.shape[1:]))
                if getattr(m, "bias", None) is not None:  # PyTorch's U(±1/√fan_in), seeded
                    m.bias.copy_((torch.rand(m.bias.shape, generator=gen) * 2 - 1)
                                 / np.sqrt(fan_in))
            elif hasattr(m, "running_mean") and hasattr(m, "running_var"):
                shape = m.running_mean.shape
                n = max(fan_in, 1)
                m.running_mean.copy_(torch.randn(shape, generator=gen) * np.sqrt(n) * 0.3)
                m.running_var.copy_((torch.rand(shape, generator=gen) + 0.5) * n)
                if getattr(m, "weight", None) is not None:
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.3)
    return model.eval()


def calibrate_batchnorms(model, images: np.ndarray):
    """BatchNorm statistics of uint8 `images` / 255 (the rest of the model stays in eval
    mode): deep random networks with random statistics go constant. Returns the model in
    eval mode."""
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
            m.train()
    with torch.no_grad():
        model(torch.from_numpy(images).float() / 255)
    return model.eval()


def blocky_images(n: int, side: int, seed: int, channels: int = 3) -> np.ndarray:
    """uint8 images of 4 × 4 random cells: uniform noise averages to the same global pool
    in every image."""
    cells = np.random.default_rng(seed).integers(0, 256, (n, channels, 4, 4))
    return np.kron(cells, np.ones((side // 4, side // 4), dtype=np.int64)).astype(np.uint8)


def export(model, in_shape: tuple[int, ...], path: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model, torch.zeros(1, *in_shape), str(path), dynamo=False)
    return path


def bnn_pynq(name: str, seed: int):
    """brevitas_examples' TFC/SFC/LFC/CNV-1W1A with random weights and BN statistics."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    model, _ = model_with_cfg(name, False)
    shape = (3, 32, 32) if name.startswith("cnv") else (1, 28, 28)
    return randomize(model, seed), shape


def torch_logits(model, images: np.ndarray, scale: float, shape=None) -> np.ndarray:
    """PyTorch's outputs for uint8 `images`, reshaped to (N, *shape) first when given (a 1-D
    model's (C, L) signals, compiled as (C, 1, L) images)."""
    import torch

    if shape is not None:
        images = images.reshape(len(images), *shape)
    with torch.no_grad():
        x = torch.from_numpy(images.astype(np.float32)) * np.float32(scale)
        return model(x).double().numpy().reshape(len(images), -1)


def qonnx_logits(result: CompileResult, images: np.ndarray, scale: float) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    m = result.finn["qonnx"]
    iname, oname = m.graph.input[0].name, m.graph.output[0].name
    outs = [execute_onnx(m, {iname: images[i : i + 1].astype(np.float32) * np.float32(scale)})
            [oname] for i in range(len(images))]
    return np.concatenate([o.reshape(1, -1) for o in outs]).astype(np.float64)


def finn_outputs(result: CompileResult, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(integer outputs of the last HW layer, logits) from FINN's python-mode execution."""
    from qonnx.core.onnx_exec import execute_onnx

    from xnorflow.compile.frontend.finn_lowering import finn_scratch

    m = result.finn["hw"]
    iname, oname = m.graph.input[0].name, m.graph.output[0].name
    last_hw = [n for n in m.graph.node if n.domain == "finn.custom_op.fpgadataflow"][-1]
    ints, logits = [], []
    with finn_scratch(result.build / ".." / f".{result.build.name}-finn-exec"):
        for i in range(len(images)):
            ctx = execute_onnx(m, {iname: images[i : i + 1].astype(np.float32)},
                               return_full_exec_context=True)
            ints.append(ctx[last_hw.output[0]].reshape(1, -1))
            logits.append(ctx[oname].reshape(1, -1))
    return np.concatenate(ints), np.concatenate(logits).astype(np.float64)


def check_chain(model, result: CompileResult, images: np.ndarray, with_qonnx: bool = True,
                rtol: float = 1e-4) -> dict:
    """Run the whole chain on `images` and assert every equivalence; returns the figures."""
    ir = result.ir
    scale = ir.input_scale
    ir_ints = ir.run(images)
    ir_logits = ir.logits(ir_ints)
    finn_ints, finn_logits = finn_outputs(result, images)
    # a final (Log)Softmax is the host's (FINN's HW graph ends before it)
    finn_logits = output_function(ir.meta.get("output_function", ""), finn_logits)
    ref = torch_logits(model, images, scale, ir.meta.get("signal_shape"))
    tol = rtol * max(1.0, float(np.abs(ref).max()))

    # bit for bit: FINN's HW graph and the IR give the same integers
    assert np.array_equal(finn_ints.astype(np.int64), ir_ints), "FINN HW graph ≠ IR integers"
    assert np.all(finn_ints == np.round(finn_ints)), "FINN HW graph output not integer"
    # PyTorch's logits, mapped back through the output affine, are the IR's integers (past a
    # final (Log)Softmax only the outputs themselves compare, below)
    if not ir.meta.get("output_function"):
        back = (ref - ir.output_bias) / ir.output_scale
        # PyTorch's float32 last layer rounds in its 24th bit: 8-bit × 8-bit layers give
        # integers of 15+ bits, mapped back within 1e-6 of their size, far from the next one
        assert np.abs(back - ir_ints).max() < 0.01 + 1e-6 * np.abs(ir_ints).max(), \
            "PyTorch ≠ IR integers"
    for what, got in (("FINN", finn_logits), ("IR", ir_logits)):
        assert np.abs(got - ref).max() <= tol, f"{what} logits differ from PyTorch"
    q_diff = None
    if with_qonnx:
        q = qonnx_logits(result, images, scale)
        q_diff = float(np.abs(q - ref).max())
        assert q_diff <= tol, "QONNX execution differs from PyTorch"
    # labels: equal, unless the logits tie (then float rounding picks among the tied; with
    # per-class output biases, different integers can give logits equal up to rounding)
    ir_labels = np.argmax(ir_logits, axis=1)
    ref_labels = np.argmax(ref, axis=1)
    rounding = 1e-6 * max(1.0, float(np.abs(ref).max()))
    for i in np.nonzero(ir_labels != ref_labels)[0]:
        tied = np.isclose(ir_logits[i], ir_logits[i].max(), rtol=0, atol=rounding)
        assert tied[ref_labels[i]], f"image {i}: label {ir_labels[i]} (IR) ≠ {ref_labels[i]}"
    return {"n": len(images), "max_abs_diff": float(np.abs(ir_logits - ref).max()),
            "qonnx_diff": q_diff, "labels_equal": float(np.mean(ir_labels == ref_labels)),
            "distinct_outputs": len({tuple(r) for r in ir_ints})}


def seed_params(default: list[int], slow: list[int]) -> list:
    """Seeds for one parametrized test: `default` in the default suite, `slow` marked slow."""
    import pytest

    return [*default, *(pytest.param(s, marks=pytest.mark.slow) for s in slow)]


def compiled_ir(model, in_shape: tuple[int, ...], **compile_kw):
    """The IR `xnorflow compile` makes of a PyTorch/Brevitas model (its default folding unless
    `compile_kw` says otherwise); the build folder is temporary."""
    import tempfile

    from xnorflow.compile.pipeline import compile_model

    with tempfile.TemporaryDirectory() as tmp:
        path = export(model, in_shape, Path(tmp) / "m.onnx")
        return compile_model(path, Path(tmp) / "build", backends=False, **compile_kw).ir


def compile_drawn(net, seed: int, folder: Path):
    """(model, what was drawn, CompileResult) of the random network `net(seed)` returns as
    (model, input shape, drawn); a CompileError fails the test naming the seed and the draw."""
    from xnorflow.compile.errors import CompileError
    from xnorflow.compile.pipeline import compile_model

    model, shape, drawn = net(seed)
    path = export(model, shape, Path(folder) / "m.onnx")
    try:
        return model, drawn, compile_model(path, Path(folder) / "build", backends=False)
    except CompileError as err:
        raise AssertionError(f"seed {seed} ({drawn}): {err}") from err


def check_drawn(model, drawn, result: CompileResult, seed: int, with_qonnx: bool) -> dict:
    """`check_chain` on 8 random images of `seed` for a drawn network; a failure names the
    seed and what it drew."""
    from tests.nets import random_images

    try:
        return check_chain(model, result, random_images(result.ir, 8, seed=seed),
                           with_qonnx=with_qonnx)
    except AssertionError as err:
        raise AssertionError(f"seed {seed} ({drawn}): {err}") from err
