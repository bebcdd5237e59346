"""IR layer records: one module per hardware layer (docs/ir.md lists the kinds)."""

from xnorflow.compile.layers.add_streams import AddStreams
from xnorflow.compile.layers.base import Layer, LayerError
from xnorflow.compile.layers.concat_streams import ConcatStreams
from xnorflow.compile.layers.duplicate_streams import DuplicateStreams
from xnorflow.compile.layers.global_acc_pool import GlobalAccPool
from xnorflow.compile.layers.label_select import LabelSelect
from xnorflow.compile.layers.maxpool import MaxPool
from xnorflow.compile.layers.mvau import MVAU
from xnorflow.compile.layers.padding import Padding
from xnorflow.compile.layers.sliding_window import SlidingWindow
from xnorflow.compile.layers.sum_pool import SumPool
from xnorflow.compile.layers.thresholding import Thresholding

__all__ = ["Layer", "LayerError", "AddStreams", "ConcatStreams", "DuplicateStreams",
           "GlobalAccPool", "LabelSelect", "MaxPool", "MVAU", "Padding", "SlidingWindow",
           "SumPool", "Thresholding"]
