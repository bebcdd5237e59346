"""Folding (PE, SIMD per layer): from a JSON file, or chosen automatically for a target FPS
(or, by compile/fit.py, for a part).

File format (FINN's folding-config convention)::

    {"Defaults": {"PE": 1},
     "MVAU_0": {"PE": 16, "SIMD": 49},
     "Thresholding_0": {"PE": 8}}

Keys are IR layer names, which are FINN's node names (`MVAU_0`, `Thresholding_0`,
`ConvolutionInputGenerator_1`, `Pool_0`); FINN's specialised names (`MVAU_hls_0`,
`ConvolutionInputGenerator_rtl_1`) are accepted too. "Defaults" values (an int, or FINN's
`[value, ["MVAU", ...]]` with op names or "all") apply to every layer that has the parameter
and allows the value; explicit entries are checked strictly. An MVAU's "ram_style" is
honoured as FINN's: "block" (weights in block RAM), "distributed" (a ROM in LUTs), "auto"
(LUTs up to 64 words, hw_templates/rtl/mvau.sv) — FINN's TFC test folding puts the first
layer's weights in block RAM. FINN-only keys that have no meaning here (mem_mode, resType,
a sliding window's ram_style, ...) are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.layers import Layer

log = logging.getLogger(__name__)

FINN_ONLY_KEYS = {
    "ram_style", "mem_mode", "resType", "runtime_writeable_weights", "depth_trigger_uram",
    "depth_trigger_bram", "impl_style", "parallel_window", "inFIFODepths", "outFIFODepths",
    "ram_style_thresholds", "preferred_impl_style",
}


def _canonical(name: str) -> str:
    """FINN's specialised node names → the HW-layer name: MVAU_hls_0 → MVAU_0."""
    return re.sub(r"_(hls|rtl)(_\d+)$", r"\2", name)


def load_folding(path: Path) -> dict[str, dict[str, Any]]:
    """Parse a folding JSON file; CompileError if it is not `{name: {param: value}}`."""
    path = Path(path)
    if not path.is_file():
        raise CompileError(f"folding file {path} not found")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CompileError(f"folding file {path} is not valid JSON ({err})") from err
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise CompileError(f"folding file {path}: expected an object {{\"<layer>\": {{\"PE\": n, "
                           "\"SIMD\": m}}, \"Defaults\": {{...}}}}")
    return doc


def _default_value(value: Any, layer: Layer) -> int | str | None:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], list):
        base = type(layer).finn_name
        if not any(o in ("all", base) or o.startswith(base + "_") for o in value[1]):
            return None
        value = value[0]
    return value if isinstance(value, (int, str)) else None


def apply_folding(ir: DataflowIR, spec: dict[str, dict[str, Any]], source: str) -> DataflowIR:
    """A copy of `ir` with the folding of `spec` (see the module doc); CompileError if invalid."""
    by_name = {layer.name: i for i, layer in enumerate(ir.layers)}
    layers = list(ir.layers)
    defaults = spec.get("Defaults", {})
    for i, layer in enumerate(layers):
        allowed = {**layer.allowed_folding(), **layer.style_options()}
        fold = {}
        for key, value in defaults.items():
            v = _default_value(value, layer)
            if key in allowed and v is not None and v in allowed[key]:
                fold[key] = v
        if fold:
            layers[i] = layer.with_folding(**fold)
    for raw_name, params in spec.items():
        if raw_name == "Defaults":
            continue
        name = _canonical(raw_name)
        if name not in by_name:
            raise CompileError(f"folding file {source}: no layer named {raw_name!r}; the layers "
                               f"are: {', '.join(by_name)}")
        i = by_name[name]
        layer = layers[i]
        allowed = layer.allowed_folding()
        styles = layer.style_options()
        fold = {}
        for key, value in params.items():
            if key in styles:
                if value not in styles[key]:
                    raise CompileError(
                        f"folding file {source}: layer {raw_name!r} ({layer.kind}): "
                        f"{key}={value!r} is not supported; choose one of "
                        f"{', '.join(styles[key])}")
                fold[key] = value
                continue
            if key in FINN_ONLY_KEYS:
                continue
            if key not in allowed:
                raise CompileError(
                    f"folding file {source}: layer {raw_name!r} ({layer.kind}) has no parameter "
                    f"{key!r}; its folding parameters: {', '.join(allowed) or 'none'}")
            if not isinstance(value, int) or isinstance(value, bool) or value not in allowed[key]:
                raise CompileError(
                    f"folding file {source}: layer {raw_name!r} ({layer.kind}): {key}={value!r} "
                    f"is not allowed; allowed values (divisors): {allowed[key]}")
            fold[key] = value
        if fold:
            layers[i] = layer.with_folding(**fold)
    return _with_layers(ir, layers)


def _with_layers(ir: DataflowIR, layers: list[Layer]) -> DataflowIR:
    out = dataclasses.replace(ir, layers=layers, meta=dict(ir.meta))
    out.validate()
    return out


def _candidates(layer: Layer) -> list[dict[str, int]]:
    allowed = layer.allowed_folding()
    combos: list[dict[str, int]] = [{}]
    for key, values in allowed.items():
        combos = [{**c, key: v} for c in combos for v in values]
    return combos


def _cost(fold: dict[str, int]) -> int:
    """LUT proxy: the number of parallel lanes (PE·SIMD)."""
    cost = 1
    for v in fold.values():
        cost *= v
    return cost


def _options(layer: Layer) -> list[tuple[int, int, list, Layer]]:
    """(cost, cycles, folding, folded layer) for every folding the layer allows."""
    out = []
    for fold in _candidates(layer):
        cand = layer.with_folding(**fold) if fold else layer
        out.append((_cost(fold), cand.exp_cycles(), sorted(fold.items()), cand))
    return out


def layer_options(ir: DataflowIR) -> dict[str, list[tuple[int, int, list, Layer]]]:
    """Every layer's foldings, computed once for a search over many budgets."""
    return {layer.name: _options(layer) for layer in ir.layers}


def candidate_cycles(ir: DataflowIR, options: dict | None = None) -> list[int]:
    """The distinct cycle budgets worth trying, ascending: every layer's cycles at each of its
    foldings, from the fastest II the design can reach (the slowest layer fully unfolded)."""
    options = options or layer_options(ir)
    floor = max(min(o[1] for o in opts) for opts in options.values())
    values = {o[1] for opts in options.values() for o in opts}
    return sorted(v for v in values if v >= floor)


def fold_for_budget(ir: DataflowIR, budget: float, options: dict | None = None) -> DataflowIR:
    """Each layer at its cheapest folding (least PE·SIMD) needing at most `budget` cycles per
    frame; CompileError naming the first layer that cannot. `options`: layer_options(ir)."""
    layers = []
    for layer in ir.layers:
        options_ = options[layer.name] if options else _options(layer)
        ok = [o for o in options_ if o[1] <= budget]
        if not ok:
            best = min(options_, key=lambda o: o[1])
            raise CompileError(
                f"layer {layer.name!r} ({layer.kind}) needs {best[1]} cycles per frame even "
                f"fully unfolded ({dict(best[2])}), more than the {budget:.0f} allowed")
        layers.append(min(ok, key=lambda o: (o[0], o[1], o[2]))[3])
    return _with_layers(ir, layers)


def auto_folding(ir: DataflowIR, target_fps: float, clock_mhz: float) -> DataflowIR:
    """Cheapest folding (least PE·SIMD per layer) whose every layer meets `target_fps`.

    A layer's budget is clock/target_fps cycles per frame; each layer is folded independently
    (its cycles depend only on its own folding). CompileError if a layer cannot meet the target
    even fully unfolded, naming it and the best FPS it can reach.
    """
    if target_fps <= 0 or clock_mhz <= 0:
        raise CompileError(f"--target-fps ({target_fps}) and --clock-mhz ({clock_mhz}) must be "
                           "positive")
    budget = clock_mhz * 1e6 / target_fps
    options = layer_options(ir)
    for layer in ir.layers:
        best = min(options[layer.name], key=lambda o: o[1])
        if best[1] > budget:
            raise CompileError(
                f"--target-fps {target_fps:g} at {clock_mhz:g} MHz needs at most {budget:.0f} "
                f"cycles per frame, but layer {layer.name!r} ({layer.kind}) needs {best[1]} even "
                f"fully unfolded ({dict(best[2])}): at most "
                f"{clock_mhz * 1e6 / best[1]:.1f} FPS; lower the target or raise the clock")
    return fold_for_budget(ir, budget, options)


def folding_json(ir: DataflowIR) -> dict[str, Any]:
    """The folding in use, as a file `--folding` accepts."""
    doc: dict[str, Any] = {"Defaults": {}}
    for layer in ir.layers:
        styles = {k: v for k, v in layer.styles().items() if v != "auto"}
        if layer.folding() or styles:
            doc[layer.name] = {**layer.folding(), **styles}
    return doc
