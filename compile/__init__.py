"""xnorflow.compile: QONNX → FINN → the dataflow IR → RTL / HLS, estimates, simulation.

The package is callable as :func:`xnorflow.compile.pipeline.compile_model` (what ``xnorflow
compile`` runs): ``xnorflow.compile("run/model.onnx", "build")`` returns a CompileResult.
"""

from xnorflow.callable_module import make_callable

make_callable(__name__, "xnorflow.compile.pipeline:compile_model")
