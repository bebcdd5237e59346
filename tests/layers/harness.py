"""What every layer kind's tests share: one random record → a single-layer IR → the RTL template
under cocotb (random gaps and back-pressure, TLAST per packet) and the HLS kernel in
C-simulation, both bit-exact against the record's reference.

A layer kind's test module (tests/layers/test_<kind>.py) holds its random cases, its reference
tests against a naive formula, and one RTL and one HLS test per case, built from here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from xnorflow.compile.backends import BackendOptions
from xnorflow.compile.hls import codegen as hls_codegen
from xnorflow.compile.hls import csim
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.layers import MVAU, Layer
from xnorflow.compile.rtl import codegen as rtl_codegen
from xnorflow.compile.stream import beats_to_ints, pack_beats, unpack_beats

Case = Callable[[np.random.Generator], Layer]


def pick(rng: np.random.Generator, values: list[int]) -> int:
    return int(rng.choice(values))


def fields(layer: Layer) -> dict:
    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}


def single_layer_ir(case: Case, name: str, seed: int) -> DataflowIR:
    """The case's layer (drawn with `seed`) as a one-layer IR with byte-padded stream ports."""
    layer = case(np.random.default_rng(seed))
    n_values = int(np.prod(layer.in_shape))
    return DataflowIR(name=f"{name}_{seed}", input_shape=(n_values,), input_layout="flat",
                      layers=[layer], output_scale=np.ones(1), output_bias=np.zeros(1),
                      input_dtype=layer.in_dtype)


def random_input(layer: Layer, n: int, seed: int) -> np.ndarray:
    """(n, pixels, channels) stored values of the layer's input type."""
    rng = np.random.default_rng(seed)
    dt = layer.in_dtype
    return rng.integers(dt.min(), dt.max() + 1, size=(n, *layer.in_shape))


def run_cocotb(cache: Path, name: str, sources: list[Path], toplevel: str, case: dict,
               parameters: dict | None = None, test_dir: Path | None = None,
               test_module: str = "tests.rtl.cocotb_stream", n_tests: int = 9) -> None:
    """Build `sources` with Verilator (cached by their hash) and run the cocotb `test_module`
    on the stimulus `case` (passed in the file named by $XNF_CASE)."""
    from cocotb_tools.runner import get_runner

    from xnorflow.tools import apply_tool_env

    apply_tool_env()
    h = hashlib.sha256(json.dumps(parameters or {}, sort_keys=True).encode())
    for s in sources:
        h.update(s.read_bytes())
    build_dir = cache / f"{name}_{h.hexdigest()[:12]}"
    build_dir.mkdir(parents=True, exist_ok=True)
    case_file = build_dir / "case.json"
    case_file.write_text(json.dumps(case))
    runner = get_runner("verilator")
    runner.build(sources=sources, hdl_toplevel=toplevel, parameters=parameters or {},
                 build_dir=build_dir, build_args=["-Wno-fatal", "-O2"], always=False)
    env = {"XNF_CASE": str(case_file)}
    # the runner passes this process's sys.path on, which holds the repository root
    xml = runner.test(test_module=test_module, hdl_toplevel=toplevel,
                      build_dir=build_dir, test_dir=test_dir or build_dir, extra_env=env,
                      results_xml=str(build_dir / "results.xml"))
    text = Path(xml).read_text()
    assert "<failure" not in text and "<error" not in text, f"cocotb failures, see {xml}"
    assert text.count("<testcase") == n_tests


def check_rtl(case: Case, kind: str, seed: int, cache: Path) -> None:
    """The layer's RTL template in a generated single-layer top, under cocotb."""
    ir = single_layer_ir(case, kind, seed)
    layer = ir.layers[0]
    folder = cache / f"{kind}_{seed}_src"
    bank_depth = None
    if isinstance(layer, MVAU) and seed % 2:
        # odd seeds split the weights into several banks (about three), even seeds keep one
        words = (layer.mh // layer.pe) * (layer.mw // layer.simd)
        bank_depth = 1 << max(0, (words // 3).bit_length() - 1)
    rtl = rtl_codegen.write(ir, folder / "rtl", bank_depth=bank_depth)
    n = 8
    x = random_input(layer, n, seed)
    y = layer.reference(x)
    ins = pack_beats(x.reshape(n, -1), layer.in_dtype.bits, layer.in_fold)
    outs = pack_beats(y.reshape(n, -1), layer.out_dtype.bits, layer.out_fold)
    cuts = sorted(np.random.default_rng(seed).choice(np.arange(1, n), 2, replace=False))
    stim = {
        "seed": seed, "exp_cycles": layer.exp_cycles(),
        # TLAST per packet of frames
        "packets": [int(b - a) for a, b in zip([0, *cuts], [*cuts, n], strict=True)],
        "frames_in": [beats_to_ints(f) for f in ins],
        "frames_out": [beats_to_ints(f) for f in outs],
    }
    desc = json.loads((rtl / "rtl.json").read_text())
    sources = [rtl / f for f in desc["files"]]
    run_cocotb(cache, f"{kind}_{seed}", sources, rtl_codegen.TOP, stim, test_dir=rtl)


def check_lint(case: Case, kind: str, seed: int, folder: Path) -> None:
    """The layer's RTL template in a generated single-layer top, Verilator -Wall clean."""
    import subprocess

    from xnorflow.tools import require, tool_env

    rtl = rtl_codegen.write(single_layer_ir(case, kind, seed), folder / "rtl")
    files = (rtl / "filelist.f").read_text().split()
    verilator = require("verilator", "bash scripts/setup.sh")
    res = subprocess.run([verilator, "--lint-only", "-Wall", "--top-module", rtl_codegen.TOP,
                          *files], cwd=rtl, env=tool_env(), capture_output=True, text=True)
    assert res.returncode == 0 and "%Warning" not in res.stderr, res.stderr[-3000:]


def check_hls(case: Case, kind: str, seed: int, folder: Path) -> None:
    """The layer's HLS kernel in a generated single-layer top, C-simulated with g++."""
    ir = single_layer_ir(case, kind, seed)
    layer = ir.layers[0]
    hls_codegen.write(ir, folder / "hls", BackendOptions())
    binary = csim.build_csim(folder / "hls")
    n = 6
    x = random_input(layer, n, seed)
    beats = pack_beats(x.reshape(n, -1), layer.in_dtype.bits, layer.in_fold)
    out = csim.csim_beats(ir, binary, beats, tlast_batch=2)
    got = unpack_beats(out, layer.out_dtype.bits, layer.out_fold, layer.out_dtype.signed)
    np.testing.assert_array_equal(got, layer.reference(x).reshape(n, -1))


def layer_tests(cases: dict[str, Case]) -> tuple[Callable, Callable, Callable]:
    """The RTL and HLS tests of a layer kind's `cases`, for its test module to bind as
    test_rtl_template, test_rtl_template_more_seeds (slow) and test_hls_kernel."""
    import pytest

    names = pytest.mark.parametrize("name", sorted(cases))

    @pytest.mark.sim
    @names
    def rtl_template(name, rtl_cache):
        check_rtl(cases[name], name, 1, rtl_cache)

    @pytest.mark.slow
    @pytest.mark.sim
    @pytest.mark.parametrize("seed", [2, 3, 4])
    @names
    def rtl_template_more_seeds(name, seed, rtl_cache):
        check_rtl(cases[name], name, seed, rtl_cache)

    @pytest.mark.sim
    @pytest.mark.parametrize("seed", [1, 2])
    @names
    def hls_kernel(name, seed, tmp_path):
        check_hls(cases[name], name, seed, tmp_path)

    return rtl_template, rtl_template_more_seeds, hls_kernel
