"""``xnorflow compile``: a QONNX BNN → a build folder (IR, report, folding, RTL/HLS code).

FINN, qonnx and onnx are imported inside the command so that ``xnorflow --help`` stays fast.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import typer

from xnorflow.compile.board.boards import BOARD_NAMES as OPEN_BOARDS
from xnorflow.compile.parts import DEFAULT_BOARD, DEFAULT_PART, VIVADO_BOARDS

__all__ = ["compile_cmd"]


def compile_cmd(
    model: Path = typer.Argument(..., help="QONNX model: from `xnorflow train` (model.onnx) or "
                                 "any Brevitas export_qonnx of a binary network."),
    output: Path = typer.Option(..., "--output", "--out", "-o", help="Build folder to write "
                                "(replaced if it is an earlier build)."),
    folding: Path = typer.Option(None, "--folding", help="Folding JSON: {\"<layer>\": {\"PE\": "
                                 "n, \"SIMD\": m}, \"Defaults\": {...}} (FINN's convention; "
                                 "an MVAU's \"ram_style\": block | distributed | auto places "
                                 "its weights; BUILD/folding.json of an earlier build is a "
                                 "template)."),
    target_fps: float = typer.Option(None, "--target-fps", help="Choose the cheapest folding "
                                     "(least PE·SIMD) whose slowest layer meets this FPS. "
                                     "Neither this nor --folding: the fastest folding that fits "
                                     "--part."),
    clock_mhz: float = typer.Option(100.0, "--clock-mhz", help="Clock for FPS figures and "
                                    "--target-fps."),
    input_scale: float = typer.Option(None, "--input-scale", help="Float model input per "
                                      "uint8 unit (default: model.json beside the model, else "
                                      "1/255)."),
    part: str = typer.Option(None, "--part", help="FPGA part the default folding "
                             "must fit (xc7z020 = PYNQ-Z2, xck26 = KV260, LFE5U-12F/25F/45F/85F, "
                             "iCE40HX8K, iCE40UP5K; see compile/parts.py); a Xilinx part also "
                             f"goes to the HLS/Vivado scripts. Default {DEFAULT_PART}, or the "
                             "--board's FPGA."),
    max_util: float = typer.Option(0.8, "--max-utilisation", help="Default folding: at most "
                                   "this fraction of the part's LUTs and block RAMs (FINN's "
                                   "estimates)."),
    board: str = typer.Option(None, "--board", help=" | ".join(VIVADO_BOARDS) + ": the "
                              f"Zynq board of the Vivado block design (default {DEFAULT_BOARD}); "
                              "or an open-flow board (" + " | ".join(OPEN_BOARDS) + "): fold for "
                              "its FPGA, then `xnorflow bitstream BUILD --board NAME`."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary table."),
) -> None:
    """Lower a quantized QONNX model with FINN into xnorflow's dataflow IR and generate hardware.

    Supported: linear/conv layers with weights and activations of 1 (binary) to 8 bits,
    BatchNorm, max-pool (before or after BatchNorm and activation; padding and ceil mode
    too), average pools (global, or nn.AvgPool2d/AvgPool1d over part of the map), an input quantizer
    of up to 8 bits, residual blocks (pre-activation ones too), concatenations along the
    channels (torch.cat of a DenseNet, Inception or SqueezeNet fire block), BatchNorms of
    either sign anywhere before an activation, a final
    affine and a final Softmax/LogSoftmax (applied by the host). Convolutions: any kernel,
    stride, dilation, groups (depthwise too) and zero padding; 1-D networks (QuantConv1d on (C, L)
    signals) too. Exports with any batch (or a dynamic one) compile for one image at a time.

    Not supported: ceil-mode average pools, dynamic
    dimensions other than the batch. From Python, xnorflow.compile(module,
    input_shape=...) also checks the export against the module.
    """
    from xnorflow.compile.errors import CompileError
    from xnorflow.compile.fit import fit_summary
    from xnorflow.compile.pipeline import compile_model
    from xnorflow.compile.report import print_summary

    logging.basicConfig(level=logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = compile_model(model, output, folding=folding, target_fps=target_fps,
                                   clock_mhz=clock_mhz, input_scale=input_scale, part=part,
                                   board=board, max_utilisation=max_util)
    except CompileError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if not quiet:
        print_summary(result.report, result.build)
    if "fit" in result.report:
        typer.echo(fit_summary(result.report["fit"]))
