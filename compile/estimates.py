"""FINN's own resource estimates (LUT, BRAM18) for each IR layer.

FINN's analytic models live on its specialised ops: MVAU_hls and Thresholding_hls carry
`lut_estimation()`/`bram_estimation()` formulas, the sliding window only has an RTL variant
(ConvolutionInputGenerator_rtl), the max-pool an HLS one (Pool_hls). These are formulas in
Python: no Vivado is run. For each IR layer we copy its FINN node(s), set the IR's folding
(PE, SIMD) on the copy, re-type it as the specialised op and ask for the estimates. The figures
are FINN's models of *its* HLS/RTL implementations — a yardstick for ours, not a measurement.
They go into report.json only; the IR never depends on FINN.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.layers import Layer

log = logging.getLogger(__name__)

def variant(op: str) -> str:
    """The specialised variant (hls | rtl) of FINN op `op` whose estimate a layer plugin uses."""
    return next(cls.finn_ops[op] for cls in Layer.registry.values() if op in cls.finn_ops)


def _finn_op(node: Any, fold: dict[str, int | str]) -> Any:
    from onnx import helper
    from qonnx.custom_op.registry import getCustomOp

    kind = variant(node.op_type)
    spec = copy.deepcopy(node)
    spec.op_type = f"{node.op_type}_{kind}"
    spec.domain = f"finn.custom_op.fpgadataflow.{kind}"
    names = {a.name for a in spec.attribute}
    for key, value in fold.items():
        if key in names or isinstance(value, str):  # a style (ram_style) may be unset there
            for a in list(spec.attribute):
                if a.name == key:
                    spec.attribute.remove(a)
            spec.attribute.append(helper.make_attribute(
                key, value if isinstance(value, str) else int(value)))
    return getCustomOp(spec)


def estimate_layer(layer: Layer, finn_nodes: list[Any], part: str) -> dict[str, Any]:
    """{"lut": int, "bram18": int, "finn_ops": [...]} for one IR layer at its folding."""
    lut = bram = 0
    ops = []
    for node in finn_nodes:
        if not node.domain.startswith("finn.custom_op.fpgadataflow"):
            ops.append(f"{node.op_type} (ONNX; no FINN estimate)")  # a max-pool's Pad
            continue
        try:
            op = _finn_op(node, layer.finn_folding(node))
            lut += int(round(float(op.lut_estimation(part))))
            bram += int(round(float(op.bram_estimation(part))))
            ops.append(f"{node.op_type}_{variant(node.op_type)}")
        except Exception as err:  # an estimate FINN cannot make is reported, not fatal
            log.warning("FINN has no estimate for %s: %s", node.name, err)
            ops.append(f"{node.op_type} (no estimate: {type(err).__name__})")
    return {"lut": lut, "bram18": bram, "finn_ops": ops}


def layer_nodes(ir: DataflowIR, hw_model: Any) -> dict[str, list[Any]]:
    """{IR layer name: the FINN nodes it came from}."""
    nodes = {n.name: n for n in hw_model.graph.node}
    return {layer.name: [nodes[n] for n in ir.meta.get("finn_nodes", {}).get(layer.name, [])]
            for layer in ir.layers}


def estimate(ir: DataflowIR, hw_model: Any, part: str) -> dict[str, dict[str, Any]]:
    """{layer name: {"lut": int, "bram18": int, "finn_ops": [...]}} from FINN's formulas."""
    finn = layer_nodes(ir, hw_model)
    return {layer.name: estimate_layer(layer, finn[layer.name], part) for layer in ir.layers}
