"""What every dataflow layer of the IR has in common.

A layer maps a frame of shape (in_pixels, in_channels) to one of shape (out_pixels,
out_channels). On a stream, a frame is its values in row-major order (pixel-major, channel
minor, i.e. NHWC flattened); a beat carries `in_fold` (resp. `out_fold`) consecutive values,
value i of a beat at bits [i*bits, (i+1)*bits) — element 0 in the least significant bits.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from xnorflow.compile.ir.datatypes import DataType

if TYPE_CHECKING:
    from xnorflow.compile.rtl.common import Instance, RtlOptions


class LayerError(ValueError):
    """A layer's parameters are inconsistent or its folding is not allowed."""


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclasses.dataclass(frozen=True, eq=False)
class Layer:
    """Base of IR layer records: one plugin per layer kind.

    A subclass sets `kind` and adds its fields, its reference, folding rules, and:
    - its FINN mapping: `finn_ops` (FINN op type → the specialised variant whose resource
      estimate stands for it), `finn_name` (the op name of folding files' Defaults), and
      `read_finn` (FINN node(s) → the record; `claims_finn` says which nodes it reads);
    - its RTL writer `rtl_instance` with its template `rtl_template` (hw_templates/rtl/,
      default "<kind>.sv");
    - its HLS emitter `hls_emit` with its kernel `hls_template` (hw_templates/hls/, default
      "<kind>.hpp").
    Every stage dispatches on these; none keeps a table of kinds.
    """

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Layer]]] = {}
    n_inputs: ClassVar[int] = 1  # streams the layer takes (a join takes 2)
    n_consumers: ClassVar[int] = 1  # layers that take its output stream (a fork feeds 2)
    finn_ops: ClassVar[dict[str, str]] = {}
    finn_name: ClassVar[str] = ""
    rtl_template: ClassVar[str] = ""
    hls_template: ClassVar[str] = ""

    name: str
    in_dtype: DataType
    out_dtype: DataType
    # the layers whose output streams this one takes, by name (DataflowIR's GRAPH_INPUT for the
    # model's input); () = the layer before it in the IR's list (a chain, the common case)
    inputs: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:  # templates named after the kind, FINN's name its first op, unless set
            cls.rtl_template = cls.__dict__.get("rtl_template") or f"{cls.kind}.sv"
            cls.hls_template = cls.__dict__.get("hls_template") or f"{cls.kind}.hpp"
            cls.finn_name = cls.__dict__.get("finn_name") or next(iter(cls.finn_ops), "")
            Layer.registry[cls.kind] = cls

    # --- FINN mapping, RTL writer, HLS emitter (overridden) -------------------------------
    @classmethod
    def claims_finn(cls, node: Any, nxt: Any = None) -> bool:
        """Whether this kind reads the FINN HW node `node` (`nxt`: the node after it, if one
        node takes its output)."""
        return node.op_type in cls.finn_ops

    @classmethod
    def read_finn(cls, reader: Any, node: Any, nxt: Any) -> tuple[Layer, list[Any]]:
        """(the record, the FINN nodes it came from) for `node` (and `nxt` if it takes it);
        `reader` (frontend/from_finn.py) gives initializers (`init`) and errors (`fail`)."""
        raise NotImplementedError

    def finn_folding(self, node: Any) -> dict[str, int | str]:
        """The FINN node's folding attributes for this layer's folding (for its estimate)."""
        return {**self.folding(), **self.styles()}

    def rtl_instance(self, ident: str, folder: Path, options: RtlOptions) -> Instance:
        """The instance of `rtl_template` for this layer; memory files go under folder/mem."""
        raise NotImplementedError

    def hls_emit(self, name: str) -> tuple[str, str]:
        """(the params header's body: config struct + arrays, the call line with {i}/{o})."""
        raise NotImplementedError

    # --- shape and stream interface (overridden) ---------------------------------------
    @property
    def in_shape(self) -> tuple[int, int]:
        raise NotImplementedError

    @property
    def out_shape(self) -> tuple[int, int]:
        raise NotImplementedError

    @property
    def in_fold(self) -> int:
        """Values per input beat."""
        raise NotImplementedError

    @property
    def out_fold(self) -> int:
        """Values per output beat."""
        raise NotImplementedError

    def exp_cycles(self) -> int:
        """Cycles per frame in steady state (the analytic initiation interval)."""
        raise NotImplementedError

    def reference(self, x: np.ndarray) -> np.ndarray:
        """Bit-exact model: (N, in_pixels, in_channels) int → (N, out_pixels, out_channels) int."""
        raise NotImplementedError

    def folding(self) -> dict[str, int]:
        """This layer's folding parameters (FINN's names: PE, SIMD)."""
        return {}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {}

    def styles(self) -> dict[str, str]:
        """How this layer's memories are built, as a folding file sets it (FINN's names:
        ram_style); the values are among style_options'."""
        return {}

    def style_options(self) -> dict[str, tuple[str, ...]]:
        return {}

    def with_folding(self, **fold: int | str) -> Layer:
        """A copy with new folding (and styles), validated."""
        names = {"PE": "pe", "SIMD": "simd"}
        layer = dataclasses.replace(self, **{names.get(k, k): v for k, v in fold.items()})
        layer.validate()
        return layer

    def weight_bits(self) -> int:
        """Bits of on-chip parameter memory (weights + thresholds)."""
        return 0

    def lag_pixels(self) -> float:
        """At most how many input pixels this layer takes ahead of the output it has given
        (its buffers, in pixels of its input frame). The glue pass sums it along a residual
        branch to size the FIFO on the shortcut beside it. A pixel in, a pixel registered and
        an output FIFO of a few beats for a layer that does not override it."""
        return 4.0

    def input_fifo_depth(self) -> int:
        """Entries of a FIFO in front of this layer that let its producer run on while this
        layer takes no input for a stretch (0: none needed). The stream glue pass
        (compile/ir/glue.py) puts it there; without it such pauses add to the II."""
        return 0

    def join_fifo_beats(self, port: int) -> int:
        """Beats a FIFO on a join's input `port` holds while the join takes its other inputs
        (a concatenation takes a pixel's channels of one input, then of the other; its
        producers run on meanwhile). 0 for a layer that takes all its inputs together."""
        return 0

    # --- derived -----------------------------------------------------------------------
    @property
    def in_width(self) -> int:
        """Input stream width in bits."""
        return self.in_fold * self.in_dtype.bits

    @property
    def input_dtypes(self) -> tuple[DataType, ...]:
        """The type of each input stream (a join's may differ)."""
        return (self.in_dtype,)

    @property
    def input_widths(self) -> tuple[int, ...]:
        """Bits per beat of each input stream."""
        return (self.in_width,)

    @property
    def input_shapes(self) -> tuple[tuple[int, int], ...]:
        """The frame shape of each input stream (a concatenation's differ in channels)."""
        return (self.in_shape,) * type(self).n_inputs

    @property
    def out_width(self) -> int:
        return self.out_fold * self.out_dtype.bits

    def validate(self) -> None:
        """Raise LayerError naming the layer if a folding parameter is not allowed."""
        for key, allowed in self.allowed_folding().items():
            value = self.folding()[key]
            if value not in allowed:
                raise LayerError(
                    f"layer {self.name!r} ({self.kind}): {key}={value} is not allowed; "
                    f"allowed values: {allowed}"
                )
        for key, options in self.style_options().items():
            value = self.styles()[key]
            if value not in options:
                raise LayerError(f"layer {self.name!r} ({self.kind}): {key}={value!r} is not "
                                 f"one of {', '.join(options)}")
        ip, ic = self.in_shape
        if (ip * ic) % self.in_fold or (np.prod(self.out_shape) % self.out_fold):
            raise LayerError(f"layer {self.name!r}: folding does not divide the frame")

    def check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3 or tuple(x.shape[1:]) != self.in_shape:
            raise LayerError(
                f"layer {self.name!r}: input shape {x.shape[1:]} != expected {self.in_shape}"
            )
        return x.astype(np.int64, copy=False)

    # --- serialisation -----------------------------------------------------------------
    def to_json(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able record, arrays keyed '<layer name>/<field>')."""
        record: dict[str, Any] = {"kind": self.kind}
        arrays: dict[str, np.ndarray] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "inputs" and not v or f.metadata.get("omit_default") and v == f.default:
                continue  # records stay as they were (and the IR's fingerprint) unless set
            if isinstance(v, np.ndarray):
                key = f"{self.name}/{f.name}"
                arrays[key] = v
                record[f.name] = {"array": key, "shape": list(v.shape), "dtype": str(v.dtype)}
            elif isinstance(v, DataType):
                record[f.name] = v.name
            elif isinstance(v, tuple):
                record[f.name] = list(v)
            else:
                record[f.name] = v
        record["derived"] = {
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "in_width": self.in_width,
            "out_width": self.out_width,
            "exp_cycles": self.exp_cycles(),
        }
        return record, arrays

    @staticmethod
    def from_json(record: dict[str, Any], arrays: dict[str, np.ndarray]) -> Layer:
        cls = Layer.registry[record["kind"]]
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in record:
                continue
            v = record[f.name]
            if isinstance(v, dict) and "array" in v:
                v = np.asarray(arrays[v["array"]])
            elif f.type in ("DataType", DataType):
                v = DataType.parse(v)
            elif isinstance(v, list):
                v = tuple(v)
            kwargs[f.name] = v
        return cls(**kwargs)

    def equals(self, other: Layer) -> bool:
        if type(self) is not type(other):
            return False
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True


class ChannelFolded:
    """Mixin of the layers that pass PE channels per beat in and out (PE divides `channels`):
    thresholding, max-pool, global pool, fork and join."""

    pe: int
    channels: int

    @property
    def in_fold(self) -> int:
        return self.pe

    @property
    def out_fold(self) -> int:
        return self.pe

    def folding(self) -> dict[str, int]:
        return {"PE": self.pe}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"PE": divisors(self.channels)}


class SimdFolded:
    """Mixin of the layers that pass SIMD channels per beat in and out (padding, sliding
    window, concatenation); allowed values are the layer's own."""

    simd: int

    @property
    def in_fold(self) -> int:
        return self.simd

    @property
    def out_fold(self) -> int:
        return self.simd

    def folding(self) -> dict[str, int]:
        return {"SIMD": self.simd}


class Pixelwise(ChannelFolded):
    """Mixin of the layers whose frame keeps its shape, `pixels` × `channels` (thresholding,
    fork, join)."""

    pixels: int

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.pixels, self.channels)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.pixels, self.channels)
