"""The dataflow IR: the graph of layers (dataflow), value types (datatypes), folding.

`from xnorflow.compile.ir import DataflowIR` is the IR itself (compile/ir/dataflow.py). The
names are resolved on first use: the layer plugins import ir.datatypes, and dataflow imports
the plugins, so this package must not import dataflow when it is first loaded.
"""

from typing import Any

__all__ = ["IR_VERSION", "DataflowIR", "IRError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from xnorflow.compile.ir import dataflow

        return getattr(dataflow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
