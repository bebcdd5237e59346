"""The stream contract (compile/stream.py): quantize, lay out, pack; unpack, affine, argmax."""

from __future__ import annotations

import numpy as np
import pytest

from tests.nets import random_cnn, random_images, random_mlp
from xnorflow.compile import stream
from xnorflow.compile.interface import ir_fingerprint, runtime_spec
from xnorflow.compile.stream import HostInputError, RuntimeSpec, RuntimeSpecError


def _all_irs(irs):
    return [*irs.values(), *(random_mlp(s) for s in range(4)), *(random_cnn(s) for s in range(4))]


def test_pack_input_is_the_ir_frame_packed(irs):
    """Input beats = stream.pack_beats of the IR's own frames, with the first layer's fold."""
    for ir in _all_irs(irs):
        spec = runtime_spec(ir)
        x = random_images(ir, 7, seed=3)
        beats = stream.pack_input(spec, x)
        frames = ir.input_frames(x).reshape(7, -1)
        first = ir.layers[0]
        assert beats.shape == (7, spec.in_beats, spec.in_beat_bytes)
        assert spec.in_beat_bytes * 8 >= first.in_width
        np.testing.assert_array_equal(beats, stream.pack_beats(frames, 8, first.in_fold))


def test_output_path_matches_ir_predict(irs):
    """Packing the IR's outputs as the hardware does and unpacking gives ir.predict's results."""
    for ir in _all_irs(irs):
        spec = runtime_spec(ir)
        x = random_images(ir, 20, seed=1)
        ref_labels, ref_scores = ir.predict(x)
        last = ir.layers[-1]
        beats = stream.pack_beats(ref_scores, last.out_dtype.bits, last.out_fold)
        scores = stream.unpack_output(spec, beats)
        np.testing.assert_array_equal(scores, ref_scores)
        np.testing.assert_array_equal(stream.labels(spec, scores), ref_labels)
        np.testing.assert_allclose(stream.logits(spec, scores), ir.logits(ref_scores))


def test_float_images_map_to_the_same_uint8(irs):
    spec = runtime_spec(irs["cnv"])
    x = random_images(irs["cnv"], 5)
    for f in (x / 255.0, (x / 255.0).astype(np.float32)):
        np.testing.assert_array_equal(stream.pack_input(spec, f),
                                      stream.pack_input(spec, x))
    # out-of-range floats clip to the input type's range
    q = stream.quantize_images(spec, np.full((1, *spec.input_shape), 2.0))
    assert q.max() == 255
    q = stream.quantize_images(spec, np.full((1, *spec.input_shape), -0.5))
    assert q.min() == 0


def test_one_image_without_batch_axis(irs):
    spec = runtime_spec(irs["tfc"])
    x = random_images(irs["tfc"], 1)
    np.testing.assert_array_equal(stream.pack_input(spec, x[0]), stream.pack_input(spec, x))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 3, 8, 9), np.uint8), r"shape \(2, 3, 8, 9\).*\(N, 3, 8, 8\)"),
    (np.zeros((2, 8, 8, 3), np.uint8), r"shape \(2, 8, 8, 3\)"),
    (np.zeros((3, 8), np.uint8), r"shape \(3, 8\)"),
    (np.zeros((2, 3, 8, 8), np.complex64), r"dtype complex64"),
    (np.array([["a"]]), r"dtype <U1"),
    (np.full((2, 3, 8, 8), 256, np.int32), r"values in \[256, 256\].*\[0, 255\]"),
    (np.full((2, 3, 8, 8), -1, np.int16), r"values in \[-1, -1\]"),
    (np.full((2, 3, 8, 8), np.nan), r"NaN"),
])
def test_bad_images_raise_clear_errors(irs, bad, match):
    spec = runtime_spec(irs["cnv"])
    with pytest.raises(HostInputError, match=match):
        stream.pack_input(spec, bad)


def test_wrong_output_beats_raise(irs):
    spec = runtime_spec(irs["tfc"])
    with pytest.raises(RuntimeSpecError, match="accelerator of 'tfc_random_0' sends"):
        stream.unpack_output(spec, np.zeros((2, spec.out_beats + 1, spec.out_beat_bytes),
                                                np.uint8))


def test_spec_json_round_trip_and_version(tmp_path, irs):
    spec = runtime_spec(irs["cnv"])
    spec.save(tmp_path / "runtime.json")
    assert RuntimeSpec.load(tmp_path / "runtime.json") == spec
    doc = spec.to_json()
    doc["version"] = 99
    with pytest.raises(RuntimeSpecError, match="runtime version 99"):
        RuntimeSpec.from_json(doc)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(RuntimeSpecError, match="not valid JSON"):
        RuntimeSpec.load(tmp_path / "bad.json")
    with pytest.raises(RuntimeSpecError, match="not found"):
        RuntimeSpec.load(tmp_path / "missing.json")


def test_fingerprint_tells_models_apart(irs):
    from tests.nets import affine_tfc_ir
    assert ir_fingerprint(irs["tfc"]) == ir_fingerprint(affine_tfc_ir(0))
    assert ir_fingerprint(irs["tfc"]) != ir_fingerprint(affine_tfc_ir(1))
    assert ir_fingerprint(irs["tfc"]) != ir_fingerprint(irs["cnv"])


def test_float_scale_follows_the_compilers_input_scale(irs):
    import dataclasses

    ir = irs["cnv"]
    x = random_images(ir, 3)
    for scale in (1 / 255, 1 / 256, 1 / 100):
        ir2 = dataclasses.replace(ir, input_scale=scale)
        spec = runtime_spec(ir2)
        assert spec.float_scale == pytest.approx(1 / scale)
        q = np.minimum(x, 100) if scale == 1 / 100 else x
        np.testing.assert_array_equal(stream.quantize_images(spec, q * scale), q)
