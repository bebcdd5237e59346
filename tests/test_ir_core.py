"""The IR's own pieces: layer references against naive formulas, save/load, stream packing,
the graph's edges."""

import dataclasses
import json

import numpy as np
import pytest

from tests.nets import random_cnn, random_images, random_mlp, random_mvau
from xnorflow.compile.ir import DataflowIR, IRError
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import LayerError
from xnorflow.compile.stream import pack_beats, unpack_beats


def test_invalid_folding_names_layer_and_allowed_values():
    ir = random_mlp(0)
    with pytest.raises(
        LayerError, match=r"layer 'fc0' \(mvau\): PE=5 is not allowed; allowed values"
    ):
        ir.layers[1].with_folding(PE=5)


@pytest.mark.parametrize("seed", range(10))
def test_save_load_round_trip(tmp_path, seed):
    for ir in (random_mlp(seed), random_cnn(seed)):
        folder = tmp_path / ir.name
        ir.save(folder)
        back = DataflowIR.load(folder)
        assert back.equals(ir)
        x = random_images(ir, 4, seed)
        np.testing.assert_array_equal(back.run(x), ir.run(x))


def test_load_names_a_missing_build(tmp_path):
    with pytest.raises(IRError, match="not found: is .* a build folder"):
        DataflowIR.load(tmp_path)


@pytest.mark.parametrize(
    "bits,signed", [(1, False), (8, False), (5, True), (13, False), (32, True)]
)
def test_packing_round_trip(bits, signed):
    rng = np.random.default_rng(bits)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    v = rng.integers(lo, hi, (3, 24))
    for per_beat in (1, 3, 8, 24):
        packed = pack_beats(v, bits, per_beat)
        assert packed.shape == (3, 24 // per_beat, -(-bits * per_beat // 8))
        np.testing.assert_array_equal(unpack_beats(packed, bits, per_beat, signed), v)


def test_packing_puts_element_zero_in_the_lsb():
    assert pack_beats(np.array([[1, 0, 1, 1]]), 1, 4).tolist() == [[[0b1101]]]
    assert pack_beats(np.array([[0x12, 0x34]]), 8, 2).tolist() == [[[0x12, 0x34]]]


def test_labels_of_a_label_select_chain_are_its_output():
    from xnorflow.compile.layers import LabelSelect

    ir = random_mlp(3)
    last = ir.layers[-1]
    sel = LabelSelect(name="top1", in_dtype=last.out_dtype, out_dtype=DataType.parse("UINT4"),
                      labels=last.mh)
    with_select = DataflowIR(name="sel", input_shape=ir.input_shape, input_layout="flat",
                             layers=[*ir.layers, sel], output_scale=[1.0], output_bias=[0.0])
    x = random_images(ir, 50, 1)
    scores = ir.run(x)
    labels, out = with_select.predict(x)
    np.testing.assert_array_equal(out[:, 0], np.argmax(scores, axis=1))
    np.testing.assert_array_equal(labels, np.argmax(scores, axis=1))


# --- the IR as a graph ----------------------------------------------------------------------
def _with_inputs(ir: DataflowIR, inputs: dict[str, tuple[str, ...]]) -> DataflowIR:
    layers = [dataclasses.replace(layer, inputs=inputs.get(layer.name, layer.inputs))
              for layer in ir.layers]
    return dataclasses.replace(ir, layers=layers)


def test_explicit_streams_of_a_chain_are_the_chain(tmp_path):
    ir = random_cnn(2)
    names = [layer.name for layer in ir.layers]
    explicit = _with_inputs(ir, {n: (p,) for p, n in zip(["input", *names], names, strict=False)})
    explicit.validate()
    assert explicit.is_chain() and ir.is_chain()
    assert [explicit.sources(i) for i in range(len(names))] == \
        [ir.sources(i) for i in range(len(names))]
    x = random_images(ir, 5, seed=3)
    np.testing.assert_array_equal(explicit.run(x), ir.run(x))
    explicit.save(tmp_path / "g")
    loaded = DataflowIR.load(tmp_path / "g")
    assert loaded.equals(explicit) and loaded.layers[1].inputs == (names[0],)
    # a chain's records carry no inputs: its ir.json (and fingerprint) are what they were
    ir.save(tmp_path / "c")
    assert all("inputs" not in rec for rec in json.loads((tmp_path / "c" / "ir.json")
                                                          .read_text())["layers"])


@pytest.mark.parametrize(("inputs", "match"), [
    ({"fc1": ("nowhere",)}, "takes stream 'nowhere', which no earlier layer produces"),
    ({"fc0": ("fc1",)}, "which no earlier layer produces"),  # not topological
    ({"fc1": ("thr_in",)}, "takes .* but receives"),  # shape of another stream
    ({"fc1": ("fc0", "fc0")}, "takes 1 stream"),
])
def test_every_edge_is_checked(inputs, match):
    ir = random_mlp(7)
    assert [layer.name for layer in ir.layers][:3] == ["thr_in", "fc0", "fc1"]
    with pytest.raises(IRError, match=match):
        _with_inputs(ir, inputs).validate()


def test_a_branch_must_reach_the_output():
    """A fork whose one branch ends nowhere: the IR can say it, validation names the stream."""
    ir = random_mlp(7)
    rng = np.random.default_rng(0)
    thr = ir.layers[0]
    side = random_mvau(rng, "side", BIPOLAR, 1, thr.channels, 4)
    main = dataclasses.replace(ir.layers[1], inputs=("thr_in",))
    branched = dataclasses.replace(ir, layers=[thr, side, main, *ir.layers[2:]])
    with pytest.raises(IRError, match="stream\\(s\\) 'side' reach no layer"):
        branched.validate()
    assert not branched.is_chain()
    # the stream 'thr' feeding two layers without a fork is refused as well
    fed_twice = dataclasses.replace(ir, layers=[thr, dataclasses.replace(side, inputs=("thr_in",)),
                                                main, *ir.layers[2:]])
    with pytest.raises(IRError, match="reach no layer|taken by 2 layers"):
        fed_twice.validate()


def test_names_are_unique_streams():
    ir = random_mlp(7)
    layers = list(ir.layers)
    layers[1] = dataclasses.replace(layers[1], name="input")
    with pytest.raises(IRError, match="two streams are named 'input'"):
        dataclasses.replace(ir, layers=layers).validate()
