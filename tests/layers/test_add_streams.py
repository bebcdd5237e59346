"""The fork and join records: the join's sum type and reference against loops (bipolar bits
as ±1, signed and unsigned), refusals, FINN's ElementwiseAdd / DuplicateStreams read and
executed by FINN agreeing with the reference, and a residual IR's JSON round trip (the
templates' own cocotb and C-simulation tests are in test_fork_join_templates.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir.datatypes import DataType
from xnorflow.compile.layers import AddStreams, DuplicateStreams
from xnorflow.compile.layers.add_streams import sum_type
from xnorflow.compile.layers.base import LayerError

TYPES = ["BIPOLAR", "INT2", "UINT1", "UINT3", "INT4", "INT8"]


def _stored(rng, dt: DataType, shape) -> np.ndarray:
    return rng.integers(dt.min(), dt.max() + 1, size=shape)


@pytest.mark.parametrize("a", TYPES)
@pytest.mark.parametrize("b", ["BIPOLAR", "INT2", "UINT3"])
def test_join_reference_matches_loops(a, b):
    da, db = DataType.parse(a), DataType.parse(b)
    layer = AddStreams(name="add", in_dtype=da, b_dtype=db, out_dtype=sum_type(da, db),
                       pixels=5, channels=6, pe=3)
    rng = np.random.default_rng(len(a) + 7 * len(b))
    x, y = _stored(rng, da, (2, 5, 6)), _stored(rng, db, (2, 5, 6))
    want = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        va = 2 * x[idx] - 1 if da.bipolar else x[idx]
        vb = 2 * y[idx] - 1 if db.bipolar else y[idx]
        want[idx] = va + vb
    out = layer.reference(x, y)
    np.testing.assert_array_equal(out, want)
    layer.out_dtype.check(out, "sums")
    # every extreme fits the type, and the type is the narrowest that holds them
    lo = int(da.decode(da.min()) + db.decode(db.min()))
    hi = int(da.decode(da.max()) + db.decode(db.max()))
    assert layer.out_dtype.min() <= lo and layer.out_dtype.max() >= hi
    assert layer.exp_cycles() == 5 * 6 // 3


def test_sum_types():
    for a, b, want in (("BIPOLAR", "BIPOLAR", "INT3"), ("INT2", "INT2", "INT3"),
                       ("UINT2", "UINT2", "UINT3"), ("BIPOLAR", "UINT1", "INT3"),
                       ("INT4", "UINT3", "INT5")):
        assert sum_type(DataType.parse(a), DataType.parse(b)).name == want, (a, b)


def test_refusals():
    int2 = DataType.parse("INT2")
    with pytest.raises(LayerError, match="cannot hold the sums"):
        AddStreams(name="add", in_dtype=int2, b_dtype=int2, out_dtype=int2, pixels=1,
                   channels=2)
    with pytest.raises(LayerError, match="passes its input type on"):
        DuplicateStreams(name="dup", in_dtype=int2, out_dtype=DataType.parse("INT3"))
    with pytest.raises(LayerError, match="PE=4 is not allowed"):
        AddStreams(name="add", in_dtype=int2, out_dtype=DataType.parse("INT3"), pixels=1,
                   channels=6, pe=4).validate()


def _reader():
    def fail(node, why):
        return CompileError(f"node {node.name!r} ({node.op_type}) {why}")

    return SimpleNamespace(fail=fail, source="test.onnx", init=lambda name: None)


@pytest.mark.parametrize(("a", "b"), [("INT2", "BIPOLAR"), ("UINT2", "UINT2"), ("INT3", "INT2")])
def test_finn_join_agrees(a, b):
    """FINN's ElementwiseAdd node (as InferElementwiseBinaryOperation writes it), read into the
    record; FINN's own execution of the node gives the record's reference."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType as QDataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    shape = [1, 3, 4, 5]
    node = helper.make_node("ElementwiseAdd", ["a", "b"], ["y"], name="ElementwiseAdd_0",
                            domain="finn.custom_op.fpgadataflow", backend="fpgadataflow",
                            lhs_shape=shape, rhs_shape=shape, out_shape=shape, lhs_dtype=a,
                            rhs_dtype=b, out_dtype="INT32", lhs_style="input",
                            rhs_style="input")
    assert AddStreams.claims_finn(node)
    layer, nodes = AddStreams.read_finn(_reader(), node, None)
    assert nodes == [node] and (layer.pixels, layer.channels) == (12, 5)
    rng = np.random.default_rng(3)
    da, db = DataType.parse(a), DataType.parse(b)
    x, y = _stored(rng, da, (1, 12, 5)), _stored(rng, db, (1, 12, 5))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT,
                                                                          shape)
                                            for n in ("a", "b")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(helper.make_model(graph))
    model.set_tensor_datatype("a", QDataType[a])
    model.set_tensor_datatype("b", QDataType[b])
    ctx = {"a": da.decode(x).reshape(shape).astype(np.float32),
           "b": db.decode(y).reshape(shape).astype(np.float32)}
    getCustomOp(node).execute_node(ctx, model.graph)
    np.testing.assert_array_equal(ctx["y"].reshape(1, 12, 5), layer.reference(x, y))


def test_residual_ir_round_trip(tmp_path):
    """A residual IR (a fork, a branch, a join naming its inputs) saves and loads equal, and
    its reference is the block's arithmetic."""
    from xnorflow.compile.ir import DataflowIR

    int2, int3 = DataType.parse("INT2"), DataType.parse("INT3")
    dup = DuplicateStreams(name="dup", in_dtype=int2, out_dtype=int2, pixels=4, channels=2)
    add = AddStreams(name="add", in_dtype=int2, b_dtype=int2, out_dtype=int3, pixels=4,
                     channels=2, pe=2, inputs=("dup", "dup"))
    ir = DataflowIR(name="x_plus_x", input_shape=(8,), input_layout="flat", layers=[dup, add],
                    output_scale=np.ones(1), output_bias=np.zeros(1), input_dtype=int2)
    ir.validate()
    ir.save(tmp_path / "ir")
    back = DataflowIR.load(tmp_path / "ir")
    assert back.equals(ir) and not back.is_chain()
    x = np.random.default_rng(0).integers(-2, 2, size=(3, 8))
    np.testing.assert_array_equal(back.run(x), 2 * x)


def test_fork_reads_two_way_only():
    """FINN's DuplicateStreams with NumOutputStreams 2 is a fork record; three outputs (a
    tensor used by three layers) are refused naming the node."""
    from onnx import helper

    def node(n_out):
        return helper.make_node("DuplicateStreams", ["x"], [f"y{k}" for k in range(n_out)],
                                name="DuplicateStreams_0", domain="finn.custom_op.fpgadataflow",
                                NumChannels=4, PE=1, inputDataType="INT2",
                                numInputVectors=[1, 3, 3], NumOutputStreams=n_out)

    layer, nodes = DuplicateStreams.read_finn(_reader(), node(2), None)
    assert (layer.pixels, layer.channels, layer.in_dtype.name) == (9, 4, "INT2")
    with pytest.raises(CompileError, match="DuplicateStreams_0.*forks a tensor to 3 layers"):
        DuplicateStreams.read_finn(_reader(), node(3), None)
