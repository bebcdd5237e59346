"""A PyTorch/Brevitas module → a QONNX file checked against it, for `xnorflow.compile(module,
...)`.

Compiling an ONNX file trusts that the file computes what the network did in PyTorch.
Brevitas' QONNX exporter writes every 1-bit quantizer as BipolarQuant (±s), also those whose
values are {−s, 0} (`QuantIdentity(bit_width=1)` with Brevitas' default integer quantizer) or
{0, s} (`QuantReLU(bit_width=1)`): such a file, and hardware built from it, computes another
network. From the module both can be checked: its 1-bit quantizers are binary or {0, s}
activations (exported here as the unsigned 1-bit Quant they are), and the exported file,
executed by qonnx, gives PyTorch's outputs on random images.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.errors import CompileError

CHECK_IMAGES = 8  # random uint8 images the export is checked on
RTOL = 1e-4  # of the largest output, for float rounding between PyTorch and qonnx


def is_module(obj: Any) -> bool:
    """Whether `obj` is a torch.nn.Module (without importing torch for a path)."""
    return hasattr(obj, "named_modules") and hasattr(obj, "state_dict")


def _tensor_quant(proxy: Any) -> Any:
    fused = getattr(proxy, "fused_activation_quant_proxy", None)
    return getattr(proxy, "tensor_quant", None) or getattr(fused, "tensor_quant", None)


def _is_binary(proxy: Any) -> bool:
    tq = _tensor_quant(proxy)
    return tq is not None and "Binary" in type(tq).__name__


def check_binary_quantizers(module: Any) -> None:
    """CompileError naming the first 1-bit quantizer of `module` that is neither binary (±s)
    nor an unsigned activation quantizer ({0, s}, `unsigned_one_bit_exported_as_quant`)."""
    for name, m in module.named_modules():
        for attr in ("input_quant", "weight_quant", "act_quant"):
            proxy = getattr(m, attr, None)
            if proxy is None or not getattr(proxy, "is_quant_enabled", False):
                continue
            try:
                bits = int(proxy.bit_width())
            except Exception:  # a proxy without a bit width of its own
                continue
            signed = getattr(proxy, "is_signed", True)
            if bits != 1 or _is_binary(proxy) or (attr == "act_quant" and not signed):
                continue
            values = "{−s, 0}" if signed else "{0, s}"
            what = {"input_quant": "input", "weight_quant": "weight"}.get(attr, "activation")
            raise CompileError(
                f"module {name or '<root>'!r} ({type(m).__name__}) has a 1-bit {what} quantizer "
                f"that is not binary: Brevitas' integer quantizer at 1 bit gives {values}, but "
                "Brevitas exports every 1-bit quantizer as BipolarQuant (±s), so the exported "
                "model — and the hardware — would compute another network. Use a binary "
                "quantizer: act_quant=brevitas.quant.SignedBinaryActPerTensorConst (or "
                "bnn_pynq's CommonActQuant with bit_width=1, min_val=-1.0, max_val=1.0), "
                "weight_quant=SignedBinaryWeightPerTensorConst; or 2 bits or more")


@contextlib.contextmanager
def unsigned_one_bit_exported_as_quant():
    """While open, Brevitas exports an unsigned 1-bit activation quantizer
    (`QuantReLU(bit_width=1)`: codes {0, 1}) as the Quant node it is, not as BipolarQuant."""
    from brevitas.export.onnx.qonnx.function import BrevitasQuantOp
    from brevitas.export.onnx.qonnx.handler import BrevitasActQuantProxyHandler

    own = "prepare_for_export" in vars(BrevitasActQuantProxyHandler)
    original = BrevitasActQuantProxyHandler.prepare_for_export

    def prepare_for_export(self: Any, proxy: Any) -> None:
        original(self, proxy)
        kwargs = getattr(self, "symbolic_kwargs", None) or {}
        if proxy.is_quant_enabled and int(kwargs.get("bit_width", 0)) == 1 and \
                not kwargs.get("signed", True) and not _is_binary(proxy):
            self.quant_op = BrevitasQuantOp

    BrevitasActQuantProxyHandler.prepare_for_export = prepare_for_export
    try:
        yield
    finally:
        if own:
            BrevitasActQuantProxyHandler.prepare_for_export = original
        else:
            del BrevitasActQuantProxyHandler.prepare_for_export


def unwrap(module: Any) -> Any:
    """The network inside the wrappers a training script leaves around it:
    nn.DataParallel / DistributedDataParallel (`.module`) and torch.compile (`._orig_mod`),
    which ONNX export does not take."""
    for _ in range(8):
        inner = getattr(module, "_orig_mod", None)
        if inner is None and type(module).__name__ in ("DataParallel",
                                                       "DistributedDataParallel"):
            inner = getattr(module, "module", None)
        if inner is None:
            return module
        module = inner
    return module


def export_checked(module: Any, input_shape: tuple[int, ...], path: Path,
                   input_scale: float, seed: int = 0) -> Path:
    """Export `module` (a copy, in eval mode on the CPU) to QONNX at `path` and check it:
    binary 1-bit quantizers, and qonnx's execution of the file equal to PyTorch (within
    float rounding) on CHECK_IMAGES random uint8 images · `input_scale`."""
    import torch
    from brevitas.export import export_qonnx

    from xnorflow.train.export import check_qonnx

    shape = tuple(int(d) for d in input_shape)
    if len(shape) not in (1, 2, 3) or min(shape) < 1:
        raise CompileError(f"input_shape {input_shape!r}: give one input's shape — (C, H, W),"
                           " (C, L) or (features,) — without the batch dimension")
    module = unwrap(module)
    check_binary_quantizers(module)
    m = copy.deepcopy(module).cpu().eval()
    path = Path(path)
    try:
        with warnings.catch_warnings(), unsigned_one_bit_exported_as_quant():
            warnings.simplefilter("ignore")
            export_qonnx(m, torch.zeros(1, *shape), str(path), dynamo=False)
    except Exception as err:  # Brevitas' and torch's exporters raise all kinds
        raise CompileError(f"Brevitas could not export the module to QONNX "
                           f"({type(err).__name__}: {err})") from err
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(
        rng.integers(0, 256, (CHECK_IMAGES, *shape)).astype(np.float32) * np.float32(input_scale))
    check = check_qonnx(m, path, images, atol=0.0)
    tol = RTOL * max(1.0, check["max_abs_out"])
    if not check["max_abs_diff"] <= tol:
        raise CompileError(
            f"the QONNX export of the module differs from PyTorch (largest output difference "
            f"{check['max_abs_diff']:.4g} on {CHECK_IMAGES} random images, allowed {tol:.2g}): "
            "some layer exports as something else; compile the exported file with `xnorflow "
            "compile` and compare its outputs to find it")
    return path
