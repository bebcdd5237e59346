"""BUILD/driver/: a self-contained board bundle, run as `python3 driver.py --input frames.npy`.

The driver runs in a subprocess under `python -S` with only the site-packages directory on
PYTHONPATH: numpy imports, xnorflow does not (its editable install needs a .pth file that only
`site` reads), so the bundle's own copies of the modules are what runs. `pynq` is the emulation
(host/pynq_emulation.py) through a shim, over the reference executor or the Verilator sim.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.nets import random_images
from xnorflow.compile.driver_bundle import (
    BUNDLE_MODULES,
    bundle_is_current,
    ensure_driver,
    write_driver,
)
from xnorflow.host import pynq_emulation as emu


def run_driver(build: Path, args: list[str], shim_dir: Path, backend: str = "reference",
               with_pynq: bool = True) -> subprocess.CompletedProcess:
    paths = ([str(shim_dir)] if with_pynq else []) + emu.site_packages()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=os.pathsep.join(paths), XNORFLOW_PYNQ_EMULATION_BACKEND=backend)
    return subprocess.run(
        [sys.executable, "-S", str(build / "driver" / "driver.py"), *args],
        env=env, capture_output=True, text=True, timeout=300, cwd=build,
    )


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pynq_shim")
    emu.write_pynq_shim(folder)
    return folder


def test_bundle_contents_are_copies(builds, irs):
    folder = builds["cnv"] / "driver"
    for dest, src in BUNDLE_MODULES.items():
        text = (folder / dest).read_text()
        assert text.startswith("# Copied by xnorflow")
        source = Path(__file__).parents[2] / src  # compile/stream.py, host/pynq_driver.py
        assert text.split("\n", 1)[1] == source.read_text()
    doc = json.loads((folder / "runtime.json").read_text())
    assert doc["model"] == irs["cnv"].name and doc["derived"]["in_beats"] == 64
    assert bundle_is_current(irs["cnv"], folder)
    assert not bundle_is_current(irs["tfc"], folder)


def test_bundle_keeps_bitstream_and_refreshes(fresh_build, irs):
    build = fresh_build("tfc")
    (build / "driver" / "xnorflow.bit").write_bytes(b"\x00bits")
    (build / "driver" / "stream.py").write_text("# edited\n")
    assert not bundle_is_current(irs["tfc"], build / "driver")
    ensure_driver(irs["tfc"], build)
    assert bundle_is_current(irs["tfc"], build / "driver")
    assert (build / "driver" / "xnorflow.bit").read_bytes() == b"\x00bits"
    assert not list((build / "driver").glob(".writing-*"))


def test_bundle_imports_without_xnorflow(builds, shim):
    """The bundle's modules import with numpy alone (no xnorflow, no pynq needed at import)."""
    code = ("import sys; import driver, stream, pynq_driver; "
            "assert 'xnorflow' not in sys.modules, sorted(sys.modules); "
            "assert 'pynq' not in sys.modules; print(stream.__file__)")
    folder = builds["tfc"] / "driver"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(folder), *emu.site_packages()])
    res = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, cwd=folder)
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.strip()).parent == folder
    res = subprocess.run([sys.executable, "-S", "-c", "import xnorflow"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=folder)
    assert res.returncode != 0  # the isolation really holds


@pytest.mark.parametrize("model", ["tfc", "cnv"])
def test_driver_subprocess_equals_reference(model, emulated_builds, irs, shim, tmp_path):
    ir, build = irs[model], emulated_builds[model]
    x = random_images(ir, 40, seed=2)
    true = np.arange(40) % 10
    np.save(tmp_path / "frames.npy", x)
    np.save(tmp_path / "labels.npy", true)
    out = tmp_path / "pred.npz"
    res = run_driver(build, ["--input", str(tmp_path / "frames.npy"), "--labels",
                             str(tmp_path / "labels.npy"), "--output", str(out)], shim)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    ref_labels, ref_scores = ir.predict(x)
    with np.load(out) as z:
        np.testing.assert_array_equal(z["scores"], ref_scores)
        np.testing.assert_array_equal(z["labels"], ref_labels)
        np.testing.assert_allclose(z["logits"], ir.logits(ref_scores))
    assert summary["frames"] == 40 and summary["fps"] > 0
    assert summary["accuracy"] == pytest.approx(np.mean(ref_labels == true))


def test_driver_errors(emulated_builds, builds, shim, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((3, 3, 8, 8), np.uint8))
    res = run_driver(emulated_builds["tfc"], ["--input", str(tmp_path / "wrong.npy")], shim)
    assert res.returncode == 2
    assert "error: images of shape (3, 3, 8, 8)" in res.stderr and "Traceback" not in res.stderr
    res = run_driver(emulated_builds["tfc"], ["--input", str(tmp_path / "none.npy")], shim)
    assert res.returncode == 2 and "not found" in res.stderr
    np.save(tmp_path / "ok.npy", np.zeros((3, 3, 8, 8), np.uint8))
    res = run_driver(builds["cnv"], ["--input", str(tmp_path / "ok.npy")], shim)
    assert res.returncode == 2 and "build_bitstream.tcl" in res.stderr
    assert "Traceback" not in res.stderr


def test_write_driver_is_a_compile_backend(tmp_path, irs):
    from xnorflow.compile.backends import BACKENDS
    assert ("driver", write_driver) in BACKENDS
