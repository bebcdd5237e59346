"""QONNX export of a trained BNN (or 1–4-bit network), checked by executing it with qonnx
against PyTorch.

1-bit tensors export as BipolarQuant nodes, k-bit ones (k = 2..4, and the 8-bit CNN input)
as Quant nodes carrying their bit width; padded/strided convolutions as Conv with their pads
and strides, the global average pool as GlobalAveragePool.

The exported graph takes exactly the float input the PyTorch model takes (the uint8 image
divided by 255, shape (1, C, H, W)); ``model.json`` beside it says so for the compiler and host.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["ExportCheck", "check_qonnx", "distinct_node_inputs", "export_qonnx",
           "write_model_json"]

log = logging.getLogger(__name__)


class ExportCheck(dict):
    """Result of :func:`check_qonnx`: n, labels_equal, max_abs_diff, max_abs_out (PyTorch's
    largest output magnitude), ok."""


def export_qonnx(model: nn.Module, path: str | Path) -> Path:
    """Export ``model`` (in eval mode, on CPU) to QONNX with the fast TorchScript exporter."""
    from brevitas.export import export_qonnx as _export

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    m = copy.deepcopy(model).cpu().eval()
    dummy = torch.zeros(1, *m.in_shape)
    _export(m, dummy, str(path), dynamo=False)
    return path


def distinct_node_inputs(proto) -> int:
    """A node taking one tensor twice (`torch.cat((h, f(h), h))`) gets a copy of the tensor's
    producer for each repeat, in place in the ONNX `proto`; returns how many copies. qonnx
    renames only the first of repeated inputs (ModelWrapper.rename_tensor), so its cleanup
    would leave the repeat naming no tensor; the copy computes the same values."""
    nodes = list(proto.graph.node)
    producers = {t: n for n in nodes for t in n.output}
    copies = 0
    for node in nodes:
        seen: set[str] = set()
        for k, t in enumerate(node.input):
            if t in seen and t in producers and len(producers[t].output) == 1:
                twin = type(producers[t])()
                twin.CopyFrom(producers[t])
                twin.name = f"{twin.name}_copy{copies}"
                del twin.output[:]
                twin.output.append(f"{t}_copy{copies}")
                proto.graph.node.insert(list(proto.graph.node).index(node), twin)
                node.input[k] = twin.output[0]
                copies += 1
            seen.add(node.input[k])
    return copies


def check_qonnx(model: nn.Module, path: str | Path, images: torch.Tensor,
                atol: float = 1e-4) -> ExportCheck:
    """Run the QONNX file with qonnx (after its cleanup) on each image and compare with PyTorch.

    ``images`` is the float model input (N, C, H, W). Returns labels_equal, max_abs_diff and ok
    (labels equal and logits within ``atol``).
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    wrapper = ModelWrapper(str(path))
    distinct_node_inputs(wrapper.model)
    wrapper = cleanup_model(wrapper)
    in_name = wrapper.graph.input[0].name
    out_name = wrapper.graph.output[0].name
    m = copy.deepcopy(model).cpu().eval()
    with torch.no_grad():
        out = m(images.float().cpu())
        ref = getattr(out, "value", out).numpy()  # the value of a QuantTensor output
    got = np.stack([
        execute_onnx(wrapper, {in_name: images[i:i + 1].float().cpu().numpy()})[out_name][0]
        for i in range(images.shape[0])
    ])
    diff = float(np.max(np.abs(got - ref))) if got.size else 0.0
    labels_equal = bool(np.array_equal(got.argmax(1), ref.argmax(1)))
    return ExportCheck(n=int(images.shape[0]), labels_equal=labels_equal, max_abs_diff=diff,
                       max_abs_out=float(np.max(np.abs(ref))) if ref.size else 0.0,
                       ok=labels_equal and diff <= atol)


def write_model_json(path: str | Path, info: dict) -> Path:
    """Write the small description the compiler/host read beside model.onnx."""
    path = Path(path)
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path
