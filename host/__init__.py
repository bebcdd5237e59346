"""xnorflow.host: the runtime — Accelerator over the reference, sim and pynq backends."""

from typing import Any

__all__ = ["Accelerator"]


def __getattr__(name: str) -> Any:  # lazy: `xnorflow --help` does not import numpy backends
    if name == "Accelerator":
        from xnorflow.host.accelerator import Accelerator

        return Accelerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
