"""The dataflow IR: the one seam between FINN's graph and everything after it.

A graph of layers (compile/layers/) joined by streams, kept in topological order in `layers`.
Each layer's output is one stream named after the layer; a layer takes the streams named in its
`inputs` — by default the stream of the layer before it in the list (a chain, the common case,
as simple to build and read as a list). The model's input is the stream GRAPH_INPUT; its
output is the last layer's stream. On every edge producer and consumer agree on the frame size
and datatype; a change of (pixels, channels) shape across an edge is a pure reshape (the
stream order — row-major, NHWC — is unchanged), as when a flatten feeds the first FC layer.

Input: uint8 images. `input_layout` says how an image becomes the first layer's frame:
"nhwc" (convolutional: pixels = H·W, channels = C) or "flat" (MLP: one pixel holding the
image flattened in PyTorch's C, H, W order). Output: the last layer's integers; the host
applies `logits = out · output_scale + output_bias` (per class) and argmax.
Saved as ir.json (records) + ir_arrays.npz (weights, thresholds, scales); see docs/ir.md.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow.compile.ir.datatypes import DataType
from xnorflow.compile.layers import Layer, LayerError

IR_VERSION = 1
GRAPH_INPUT = "input"  # the name of the model's input stream


class IRError(ValueError):
    """The IR is inconsistent (shapes or datatypes of neighbouring layers disagree)."""


@dataclasses.dataclass(eq=False)
class DataflowIR:
    name: str
    input_shape: tuple[int, ...]  # the model's input, PyTorch order: (C, H, W) or (features,)
    input_layout: str  # "nhwc" or "flat"
    layers: list[Layer]
    output_scale: np.ndarray  # (n_out,) float64
    output_bias: np.ndarray  # (n_out,) float64
    input_dtype: DataType = dataclasses.field(default_factory=lambda: DataType.parse("UINT8"))
    clock_mhz: float = 100.0
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    # the model's float input per uint8 unit (float input = image · input_scale); None: not
    # known (a hand-built IR), taken as 1/255 where a float image must be quantized
    input_scale: float | None = None

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(v) for v in self.input_shape)
        self.output_scale = np.asarray(self.output_scale, dtype=np.float64).reshape(-1)
        self.output_bias = np.asarray(self.output_bias, dtype=np.float64).reshape(-1)

    # --- consistency -------------------------------------------------------------------
    def validate(self) -> None:
        """Check every edge of the graph; IRError naming the layer and what is wrong."""
        if self.input_layout not in ("nhwc", "flat"):
            raise IRError(f"input_layout must be 'nhwc' or 'flat', got {self.input_layout!r}")
        if not self.layers:
            raise IRError("the IR has no layers")
        produced = {GRAPH_INPUT: (self.frame_shape(), self.input_dtype)}
        consumed: dict[str, int] = {}
        for i, layer in enumerate(self.layers):
            layer.validate()
            if layer.name in produced:
                raise IRError(f"two streams are named {layer.name!r}: layer names must be unique "
                              f"and differ from {GRAPH_INPUT!r}")
            sources = self.sources(i)
            if len(sources) != type(layer).n_inputs:
                raise IRError(f"layer {layer.name!r} ({layer.kind}) takes "
                              f"{type(layer).n_inputs} stream(s), {len(sources)} given")
            for src, want, in_shape in zip(sources, layer.input_dtypes, layer.input_shapes,
                                           strict=True):
                if src not in produced:
                    raise IRError(f"layer {layer.name!r} takes stream {src!r}, which no earlier "
                                  "layer produces (the layers must be in topological order)")
                shape, dtype = produced[src]
                if np.prod(in_shape) != np.prod(shape) or want != dtype:
                    raise IRError(
                        f"layer {layer.name!r} takes {in_shape} {want} but "
                        f"receives {shape} {dtype} from {src!r}"
                    )
                consumed[src] = consumed.get(src, 0) + 1
            produced[layer.name] = (layer.out_shape, layer.out_dtype)
        if consumed.get(self.layers[-1].name):
            raise IRError(f"the output layer {self.layers[-1].name!r} feeds another layer; the "
                          "model's output must be the last layer in the list")
        fanout = {GRAPH_INPUT: 1, **{x.name: type(x).n_consumers for x in self.layers[:-1]}}
        unused = [n for n in fanout if not consumed.get(n)]
        if unused:
            raise IRError(f"stream(s) {', '.join(map(repr, unused))} reach no layer; every "
                          "stream but the last layer's must be consumed")
        for stream, want in fanout.items():
            if consumed.get(stream, 0) != want:
                raise IRError(
                    f"stream {stream!r} is taken by {consumed[stream]} layers; it can feed "
                    f"{want} (a stream goes to one layer; a duplicate_streams layer's to two)")
        n_out = self.n_out
        for what, arr in (("output_scale", self.output_scale), ("output_bias", self.output_bias)):
            if arr.size not in (1, n_out):
                raise IRError(f"{what} has {arr.size} values, expected 1 or {n_out}")

    # --- the graph -----------------------------------------------------------------------
    def sources(self, i: int) -> tuple[str, ...]:
        """The streams layer i takes: its `inputs`, or the stream of the layer before it."""
        layer = self.layers[i]
        if layer.inputs:
            return tuple(layer.inputs)
        return (self.layers[i - 1].name,) if i else (GRAPH_INPUT,)

    def consumers(self) -> dict[str, list[tuple[int, int]]]:
        """Each stream's consumers as (layer index, input port), in list order: a fork's
        output k goes to its k-th consumer."""
        out: dict[str, list[tuple[int, int]]] = {}
        for i in range(len(self.layers)):
            for port, src in enumerate(self.sources(i)):
                out.setdefault(src, []).append((i, port))
        return out

    def is_chain(self) -> bool:
        """Every layer takes the stream of the layer before it, and only it takes it."""
        return all(self.sources(i) == ((self.layers[i - 1].name,) if i else (GRAPH_INPUT,))
                   for i in range(len(self.layers)))

    def frame_shape(self) -> tuple[int, int]:
        """(pixels, channels) of the input frame."""
        if self.input_layout == "flat":
            return (1, int(np.prod(self.input_shape)))
        c, h, w = self.input_shape
        return (h * w, c)

    # --- execution ---------------------------------------------------------------------
    def input_frames(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, *input_shape) → (N, pixels, channels) int64 frames (1-D signals
        (N, C, L) for a model of input_shape (C, 1, L))."""
        from xnorflow.compile.stream import as_images

        images = as_images(np.asarray(images), self.input_shape)
        if images.shape[1:] != self.input_shape:
            raise IRError(
                f"images of shape {images.shape[1:]} given, the model takes {self.input_shape}"
            )
        self.input_dtype.check(images, "input images")
        n = images.shape[0]
        if self.input_layout == "flat":
            return images.reshape(n, 1, -1).astype(np.int64)
        return images.transpose(0, 2, 3, 1).reshape(n, *self.frame_shape()).astype(np.int64)

    def run_frames(self, frames: np.ndarray, upto: int | None = None) -> list[np.ndarray]:
        """Outputs of every layer (or of the first `upto`) for input frames, in list order."""
        streams = {GRAPH_INPUT: frames}
        outs = []
        for i, layer in enumerate(self.layers[:upto]):
            args = [streams[s].reshape(frames.shape[0], *shape)
                    for s, shape in zip(self.sources(i), layer.input_shapes, strict=True)]
            out = layer.reference(*args)
            streams[layer.name] = out
            outs.append(out)
        return outs

    def run(self, images: np.ndarray, batch: int = 1024) -> np.ndarray:
        """Integer outputs (N, n_out) of the whole chain for uint8 images."""
        res = []
        for s in range(0, len(images), batch):
            out = self.run_frames(self.input_frames(images[s : s + batch]))[-1]
            res.append(out.reshape(out.shape[0], -1))
        return np.concatenate(res) if res else np.zeros((0, self.n_out), np.int64)

    @property
    def n_out(self) -> int:
        return int(np.prod(self.layers[-1].out_shape))

    def logits(self, outputs: np.ndarray) -> np.ndarray:
        """The model's outputs: the output affine, then its final (Log)Softmax if any."""
        from xnorflow.compile.stream import output_function

        affine = outputs.astype(np.float64) * self.output_scale + self.output_bias
        return output_function(self.meta.get("output_function", ""), affine)

    def labels_of(self, outputs: np.ndarray) -> np.ndarray:
        """Class labels from the chain's integer outputs: a label select's output is the label,
        otherwise the argmax of the logits."""
        outputs = np.asarray(outputs)
        if self.layers[-1].kind == "label_select":
            return outputs[:, 0].astype(np.int64)
        return np.argmax(self.logits(outputs), axis=1)

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, integer outputs)."""
        out = self.run(images)
        return self.labels_of(out), out

    # --- performance model -------------------------------------------------------------
    def initiation_interval(self) -> int:
        return max(layer.exp_cycles() for layer in self.layers)

    def fps(self, clock_mhz: float | None = None) -> float:
        return (clock_mhz or self.clock_mhz) * 1e6 / self.initiation_interval()

    # --- files -------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        records, arrays = [], {"output_scale": self.output_scale, "output_bias": self.output_bias}
        for layer in self.layers:
            rec, arr = layer.to_json()
            records.append(rec)
            arrays.update(arr)
        doc = {
            "version": IR_VERSION,
            "name": self.name,
            "input_shape": list(self.input_shape),
            "input_layout": self.input_layout,
            "input_dtype": self.input_dtype.name,
            "clock_mhz": self.clock_mhz,
            "input_scale": self.input_scale,
            "output_scale": {"array": "output_scale"},
            "output_bias": {"array": "output_bias"},
            "initiation_interval": self.initiation_interval(),
            "meta": self.meta,
            "layers": records,
        }
        np.savez_compressed(folder / "ir_arrays.npz", **arrays)
        (folder / "ir.json").write_text(json.dumps(doc, indent=1))

    @staticmethod
    def load(folder: Path) -> DataflowIR:
        folder = Path(folder)
        path = folder / "ir.json"
        if not path.is_file():
            raise IRError(
                f"{path} not found: is {folder} a build folder made by `xnorflow compile`?"
            )
        doc = json.loads(path.read_text())
        if doc.get("version") != IR_VERSION:
            raise IRError(
                f"{path}: IR version {doc.get('version')}, this xnorflow reads {IR_VERSION}"
            )
        with np.load(folder / "ir_arrays.npz") as z:
            arrays = {k: z[k] for k in z.files}
        try:
            layers = [Layer.from_json(rec, arrays) for rec in doc["layers"]]
        except (KeyError, TypeError, LayerError) as err:
            raise IRError(f"{path}: malformed layer record ({err})") from err
        ir = DataflowIR(
            name=doc["name"],
            input_shape=tuple(doc["input_shape"]),
            input_layout=doc["input_layout"],
            layers=layers,
            output_scale=arrays["output_scale"],
            output_bias=arrays["output_bias"],
            input_dtype=DataType.parse(doc["input_dtype"]),
            clock_mhz=doc["clock_mhz"],
            meta=doc.get("meta", {}),
            input_scale=doc.get("input_scale", doc.get("meta", {}).get("input_scale")),
        )
        ir.validate()
        return ir

    def equals(self, other: DataflowIR) -> bool:
        return (
            self.name == other.name
            and self.input_shape == other.input_shape
            and self.input_layout == other.input_layout
            and self.input_dtype == other.input_dtype
            and self.clock_mhz == other.clock_mhz
            and self.input_scale == other.input_scale
            and len(self.layers) == len(other.layers)
            and all(a.equals(b) for a, b in zip(self.layers, other.layers, strict=True))
            and np.array_equal(self.output_scale, other.output_scale)
            and np.array_equal(self.output_bias, other.output_bias)
        )
