"""The dataflow IR: the graph of layers (dataflow), value types (datatypes), folding.

`from xnorflow.compile.ir import DataflowIR` is the IR itself (compile/ir/dataflow.py).
"""

from xnorflow.compile.ir.dataflow import IR_VERSION, DataflowIR, IRError

__all__ = ["IR_VERSION", "DataflowIR", "IRError"]
