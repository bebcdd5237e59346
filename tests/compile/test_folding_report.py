"""Folding (file and automatic), FINN's estimates, the report, and the IR executor against a
naive float formula on random IRs (cheap coverage without FINN)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.compile.helpers import export, randomize
from tests.nets import random_cnn, random_images, random_mlp
from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.folding import _cost, apply_folding, auto_folding, folding_json
from xnorflow.compile.layers import MVAU, MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.pipeline import compile_model


def _random_irs(n: int):
    return [random_mlp(s) if s % 2 == 0 else random_cnn(s) for s in range(n)]


@pytest.mark.parametrize("target", [1e3, 3e4, 1e5, 1e6])
def test_auto_folding_meets_target_at_least_cost(target):
    for ir in _random_irs(20):
        try:
            folded = auto_folding(ir, target, 100.0)
        except CompileError as err:
            assert "fully unfolded" in str(err)
            continue
        budget = 100e6 / target
        assert folded.fps() >= target
        for layer in folded.layers:
            assert layer.exp_cycles() <= budget
            # no cheaper allowed folding meets the budget (brute force over all combinations)
            combos = [{}]
            for key, values in layer.allowed_folding().items():
                combos = [{**c, key: v} for c in combos for v in values]
            cheaper = [c for c in combos if _cost(c) < _cost(layer.folding())
                       and layer.with_folding(**c).exp_cycles() <= budget]
            assert not cheaper, (layer.name, layer.folding(), cheaper)


def test_folding_file_conventions():
    ir = random_mlp(4)
    mv = [layer for layer in ir.layers if layer.kind == "mvau"][0]
    thr_pe = ir.layers[0].allowed_folding()["PE"][-1]
    spec = {
        # FINN's [value, [ops]] Defaults apply to the named ops only, and only where allowed
        "Defaults": {"PE": [2, ["MVAU"]], "SIMD": 1},
        mv.name: {"PE": mv.mh, "mem_mode": "internal_decoupled"},  # FINN-only: ignored
        "thr_in": {"PE": thr_pe},
    }
    folded = apply_folding(ir, spec, "<test>")
    assert folded.layers[0].folding() == {"PE": thr_pe}
    assert folded.layers[1].folding() == {"PE": mv.mh, "SIMD": 1}
    for layer in folded.layers[2:]:
        assert layer.folding()["PE"] == (2 if layer.mh % 2 == 0 else ir.layers[
            [x.name for x in ir.layers].index(layer.name)].pe)
        assert layer.folding()["SIMD"] == 1
    # folding.json round trip
    again = apply_folding(ir, folding_json(folded), "<round trip>")
    assert again.equals(folded)


def test_ram_style(tmp_path):
    ir = random_mlp(5)
    mvaus = [layer.name for layer in ir.layers if layer.kind == "mvau"]
    # FINN's [value, [ops]] Defaults, then an explicit entry
    spec = {"Defaults": {"ram_style": ["distributed", ["MVAU"]]}, mvaus[0]: {"ram_style": "block"}}
    folded = apply_folding(ir, spec, "<test>")
    styles = {layer.name: layer.styles().get("ram_style") for layer in folded.layers}
    assert styles[mvaus[0]] == "block"
    assert all(styles[name] == "distributed" for name in mvaus[1:])
    assert folded.layers[0].styles() == {}  # thresholding: no weight memory
    # folding.json keeps it; the IR saves it, and leaves `auto` out of the records (the
    # fingerprint of a build without ram_style stays what it was)
    assert folding_json(folded)[mvaus[0]]["ram_style"] == "block"
    assert "ram_style" not in folding_json(ir)[mvaus[0]]
    folded.save(tmp_path / "styled")
    assert DataflowIR.load(tmp_path / "styled").equals(folded)
    ir.save(tmp_path / "plain")
    records = json.loads((tmp_path / "plain" / "ir.json").read_text())["layers"]
    assert all("ram_style" not in rec for rec in records)
    with pytest.raises(CompileError, match=r"ram_style='ultra'.*auto, block, distributed"):
        apply_folding(ir, {mvaus[0]: {"ram_style": "ultra"}}, "<test>")


def test_ram_style_in_rtl_and_estimates(tmp_path):
    from xnorflow.compile.rtl.common import RtlOptions
    from xnorflow.train.models import build_mlp

    ir = random_mlp(5)
    mv = next(layer for layer in ir.layers if layer.kind == "mvau")
    words = (mv.mh // mv.pe) * (mv.mw // mv.simd)
    opts = RtlOptions(bank_depth=4)  # shallower banks than the memory
    block = mv.with_folding(ram_style="block").rtl_instance("b", tmp_path, opts)
    assert block.params["LUTROM_DEPTH"] == 0
    lut = mv.with_folding(ram_style="distributed").rtl_instance("d", tmp_path, opts)
    assert lut.params["LUTROM_DEPTH"] == words >= 4  # one bank however deep: a ROM in LUTs
    assert lut.params["WBANK_DEPTH"] >= words and len(list(tmp_path.glob("mem/d_w_*"))) == 1
    assert "LUTROM_DEPTH" not in mv.rtl_instance("a", tmp_path, opts).params
    # FINN's estimate sees the style: LUTRAM weights take no block RAM
    model = randomize(build_mlp((1, 8, 8), [64], 4), seed=3)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")

    def mvau0_bram18(style: str) -> int:
        fold = {"MVAU_0": {"PE": 1, "SIMD": 1, "ram_style": style}}
        res = compile_model(path, tmp_path / style, folding=fold, backends=False)
        rows = json.loads((res.build / "report.json").read_text())["layers"]
        return next(row["bram18_finn"] for row in rows if row["name"] == "MVAU_0")

    assert mvau0_bram18("distributed") == 0 < mvau0_bram18("block")


def test_finn_specialised_names(tmp_path):
    from xnorflow.train.models import build_mlp

    model = randomize(build_mlp((1, 4, 4), [8], 4), seed=1)
    path = export(model, (1, 4, 4), tmp_path / "m.onnx")
    folding = {"MVAU_hls_0": {"PE": 4, "SIMD": 8}, "Thresholding_rtl_0": {"PE": 2}}
    result = compile_model(path, tmp_path / "b", folding=folding, backends=False)
    by_name = {layer.name: layer for layer in result.ir.layers}
    assert by_name["MVAU_0"].folding() == {"PE": 4, "SIMD": 8}
    assert by_name["Thresholding_0"].folding() == {"PE": 2}
    saved = json.loads((tmp_path / "b" / "folding.json").read_text())
    assert saved["MVAU_0"] == {"PE": 4, "SIMD": 8}


@pytest.fixture(scope="module")
def cnn_builds(tmp_path_factory):
    """One small CNN compiled twice: all-1 folding (a folding file with no entries) and a
    parallel one."""
    from xnorflow.train.models import build_cnn

    folder = tmp_path_factory.mktemp("cnn")
    model = randomize(build_cnn((2, 10, 10), [8, 16], [0], [16], 6, in_bits=8), seed=2)
    path = export(model, (2, 10, 10), folder / "m.onnx")
    slow = compile_model(path, folder / "slow", folding={"Defaults": {}}, backends=False)
    fast = compile_model(path, folder / "fast", target_fps=1e5, backends=False)
    return slow, fast


def test_report_figures(cnn_builds):
    for result in cnn_builds:
        rep = json.loads((result.build / "report.json").read_text())
        ir = result.ir
        cycles = [layer.exp_cycles() for layer in ir.layers]
        assert rep["initiation_interval_cycles"] == max(cycles) == ir.initiation_interval()
        assert rep["latency_cycles"] == sum(cycles)
        assert rep["fps"] == pytest.approx(100e6 / max(cycles))
        assert [r["name"] for r in rep["layers"]] == [layer.name for layer in ir.layers]
        for row, layer in zip(rep["layers"], ir.layers, strict=True):
            assert row["cycles"] == layer.exp_cycles()
            assert row["weight_bits"] == layer.weight_bits()
            assert row["PE"] == layer.folding().get("PE")
            assert isinstance(row["lut_finn"], int) and isinstance(row["bram18_finn"], int)
        mvaus = [r for r in rep["layers"] if r["kind"] == "mvau"]
        assert all(r["lut_finn"] > 0 for r in mvaus)
        assert rep["total_lut_finn"] == sum(r["lut_finn"] for r in rep["layers"])


def test_estimates_follow_folding(cnn_builds):
    slow, fast = (json.loads((r.build / "report.json").read_text()) for r in cnn_builds)
    assert fast["fps"] >= 1e5 > slow["fps"]
    pairs = zip(slow["layers"], fast["layers"], strict=True)
    grown = [f for s, f in pairs if f["kind"] == "mvau" and (f["PE"] * f["SIMD"]) >
             (s["PE"] * s["SIMD"])]
    assert grown
    slow_by = {r["name"]: r for r in slow["layers"]}
    for f in grown:  # FINN's LUT model grows with the parallelism we set
        assert f["lut_finn"] > slow_by[f["name"]]["lut_finn"]


# --- the executor against a naive float formula ----------------------------------------------
def naive_run(ir: DataflowIR, images: np.ndarray) -> np.ndarray:
    """Float matmuls on decoded values; loops for windows; the definition, slowly."""
    x = ir.input_frames(images).astype(np.float64)
    for layer in ir.layers:
        x = x.reshape(x.shape[0], *layer.in_shape)
        if isinstance(layer, Thresholding):
            x = (x[..., None] >= layer.thresholds[None, None]).sum(-1) + layer.act_val
        elif isinstance(layer, MVAU):
            w = layer.weight_values.astype(np.float64)
            if layer.xnor:
                acc = ((2 * x - 1) @ w.T + layer.mw) / 2  # popcount of XNOR
            else:
                acc = x @ w.T
            if layer.has_activation:
                x = (acc[..., None] >= layer.thresholds[None, None]).sum(-1) + layer.act_val
            else:
                x = acc
        elif isinstance(layer, (SlidingWindow, MaxPool)):
            n, (ih, iw), (kh, kw), (sh, sw), c = x.shape[0], layer.ifm_dim, layer.kernel_hw, \
                layer.stride_hw, layer.channels
            img = x.reshape(n, ih, iw, c)
            oh, ow = layer.ofm_dim
            out = []
            for oy in range(oh):
                for ox in range(ow):
                    win = img[:, oy * sh : oy * sh + kh, ox * sw : ox * sw + kw, :]
                    out.append(win.reshape(n, -1) if isinstance(layer, SlidingWindow)
                               else win.max(axis=(1, 2)))
            x = np.stack(out, axis=1)
        else:
            raise AssertionError(layer.kind)
    return x.reshape(x.shape[0], -1)


@pytest.mark.parametrize("seed", range(40))
def test_executor_matches_naive_formula(seed, tmp_path):
    ir = random_mlp(seed) if seed % 2 == 0 else random_cnn(seed)
    images = random_images(ir, 16, seed=seed)
    out = ir.run(images, batch=5)
    assert np.array_equal(out, naive_run(ir, images).astype(np.int64))
    ir.save(tmp_path)
    loaded = DataflowIR.load(tmp_path)
    assert loaded.equals(ir) and np.array_equal(loaded.run(images), out)
