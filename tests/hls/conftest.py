"""Builds of the HLS C-simulation, made once per test session.

Each design is a build folder (ir.json + hls/) under pytest's cache dir; compile/hls/csim.py keeps
its g++ binary there keyed by a hash of the generated sources, so an unchanged design is not
recompiled on the next run, and ccache (set up by tool_env) speeds up a changed one. Without
pytest-xdist the designs the session will need are compiled two at a time in the background
as soon as the first one is asked for (the CI machine has 2 cores).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import nets
from tests.compile.layer_nets import COMPILED_DEFAULT, COMPILED_SLOW
from xnorflow.compile.backends import BackendOptions
from xnorflow.compile.hls import codegen as hls_codegen
from xnorflow.compile.hls import csim
from xnorflow.compile.ir import DataflowIR

FIXED = {
    "tfc": nets.tfc_converters_ir,
    "cnv_like": nets.cnv_like,
    "edge_cases": nets.edge_cases,
    "windows": nets.windows,
    "digits_mlp": nets.digits_mlp,
    **COMPILED_DEFAULT,
    **COMPILED_SLOW,
}


class Builder:
    """name → (IR, build folder with a compiled csim.bin), compiled at most once."""

    def __init__(self, root: Path, irs: dict[str, Callable[[], DataflowIR]], jobs: int):
        self.root, self.irs = root, irs
        self.pool = ThreadPoolExecutor(max_workers=jobs)
        self.futures: dict[str, Future] = {}
        self.lock = threading.Lock()

    def _build(self, name: str) -> tuple[DataflowIR, Path]:
        ir = self.irs[name]()
        folder = self.root / name
        ir.save(folder)
        hls_codegen.write(ir, folder / "hls", BackendOptions(clock_mhz=ir.clock_mhz))
        csim.build_csim(folder / "hls")
        return ir, folder

    def prefetch(self, names: list[str]) -> None:
        with self.lock:
            for name in names:
                if name not in self.futures:
                    self.futures[name] = self.pool.submit(self._build, name)

    def get(self, name: str) -> tuple[DataflowIR, Path]:
        self.prefetch([name])
        return self.futures[name].result()


def _all_irs() -> dict[str, Callable[[], DataflowIR]]:
    irs: dict[str, Callable[[], DataflowIR]] = dict(FIXED)
    for group in (nets.default_random, nets.slow_random):
        for name in group():
            irs[name] = lambda n=name, g=group: g()[n]
    return irs


@pytest.fixture(scope="session")
def hls_builds(request: pytest.FixtureRequest) -> Builder:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    root = request.config.cache.mkdir("xnorflow_hls") / worker
    builder = Builder(root, _all_irs(), jobs=1 if worker != "main" else 2)
    if worker == "main":
        # compile every design this session's selected tests use, two at a time
        wanted = []
        for item in request.session.items:
            callspec = getattr(item, "callspec", None)
            if callspec and callspec.params.get("design") in builder.irs:
                wanted.append(callspec.params["design"])
            # tests that ask for a design by name list it in their module's HLS_DESIGNS
            named = getattr(item.module, "HLS_DESIGNS", {}).get(item.originalname)
            if named:
                wanted.append(named)
        builder.prefetch(list(dict.fromkeys(wanted)))
    yield builder
    builder.pool.shutdown(wait=True, cancel_futures=True)
