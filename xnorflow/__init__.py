"""xnorflow: binary neural networks from training to an FPGA.

The Python API (the same work as the CLI commands, returning results instead of printing)::

    import xnorflow

    run = xnorflow.train("tfc", "mnist", data_dir="data", epochs=20, out="runs/tfc")
    build = xnorflow.compile(run.onnx, "build/tfc")          # fastest folding that fits
    with xnorflow.Accelerator.open(build.build, backend="sim") as acc:
        labels, scores = acc.predict(images)                  # uint8 (N, C, H, W)

``xnorflow.train`` and ``xnorflow.compile`` are the subpackages, callable as
:func:`xnorflow.train.api.train` and :func:`xnorflow.compile.pipeline.compile_model`.
"""

from typing import Any

from xnorflow import compile, train  # callable subpackages, see callable_module

__version__ = "0.1.0"
__all__ = ["Accelerator", "compile", "train", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Accelerator":
        from xnorflow.host.accelerator import Accelerator

        return Accelerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
