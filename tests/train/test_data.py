"""Data loaders: uint8 NCHW images + int64 labels from every supported layout."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from xnorflow.train.data import class_names, load_dataset, to_model_input
from xnorflow.train.errors import UserError


def test_digits_builtin_deterministic():
    x, y = load_dataset("digits", split="train")
    xt, yt = load_dataset("digits", split="test")
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert x.shape[1:] == (1, 8, 8) and len(x) + len(xt) == 1797
    assert x.max() == 255 and x.min() == 0
    x2, y2 = load_dataset("digits", split="train")
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    from sklearn.datasets import load_digits

    raw = load_digits()
    values = set(np.unique(x).tolist())
    assert values <= {int(round(v * 255 / 16)) for v in range(17)}
    assert len(raw.target) == 1797


def test_to_model_input_is_div_255():
    u8 = np.array([[[[0, 1, 128, 255]]]], dtype=np.uint8)
    x = to_model_input(u8)
    assert x.dtype.is_floating_point
    assert x.flatten().tolist() == pytest.approx([0.0, 1 / 255, 128 / 255, 1.0])


def _write_idx(path, arr, gz):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files(tmp_path, gz):
    rng = np.random.default_rng(0)
    for split, stem in (("train", "train"), ("test", "t10k")):
        imgs = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
        labs = rng.integers(0, 10, 7, dtype=np.uint8)
        _write_idx(tmp_path / f"{stem}-images-idx3-ubyte", imgs, gz)
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", labs, gz)
        x, y = load_dataset("fashion-mnist", tmp_path, split)
        assert x.shape == (7, 1, 28, 28) and np.array_equal(x[:, 0], imgs)
        assert y.dtype == np.int64 and np.array_equal(y, labs)


def test_missing_files_name_path_and_expected(tmp_path):
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte.*t10k-labels"):
        load_dataset("mnist", tmp_path, "train")
    with pytest.raises(UserError, match="cifar10-jpeg.npz"):
        load_dataset("cifar10", tmp_path, "test")
    with pytest.raises(UserError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nope", "train")
    with pytest.raises(UserError, match="--data-dir"):
        load_dataset("mnist", None, "train")
    with pytest.raises(UserError, match="unknown data set"):
        load_dataset("imagenet", tmp_path)


def _png(arr):
    buf = io.BytesIO()
    Image.fromarray(arr.transpose(1, 2, 0)).save(buf, format="PNG")
    return buf.getvalue()


def test_cifar_pickle_folder_tar(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    labels = [0, 3, 9, 3]
    pk = tmp_path / "pk" / "cifar-10-batches-py"
    pk.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(pk / name, "wb") as f:
            pickle.dump({b"data": imgs.reshape(4, -1), b"labels": labels}, f)
    x, y = load_dataset("cifar10", tmp_path / "pk", "test")
    assert np.array_equal(x, imgs) and y.tolist() == labels
    assert len(load_dataset("cifar10", tmp_path / "pk", "train")[0]) == 20

    classes = class_names("cifar10")
    folder = tmp_path / "fold"
    tar_path = tmp_path / "tarred" / "cifar.tar.gz"
    tar_path.parent.mkdir()
    with tarfile.open(tar_path, "w:gz") as tar:
        for i, (img, lab) in enumerate(zip(imgs, labels, strict=True)):
            d = folder / "test" / classes[lab]
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{i:05d}.png").write_bytes(_png(img))
            tar.add(d / f"{i:05d}.png", arcname=f"cifar/test/{classes[lab]}/{i:05d}.png")
    for root in (folder, tar_path.parent):
        x, y = load_dataset("cifar10", root, "test")
        order = np.argsort(labels, kind="stable")
        assert np.array_equal(x, imgs[order]) and y.tolist() == sorted(labels)


def test_real_mnist(shared_data):
    x, y = load_dataset("mnist", shared_data / "mnist", "test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.uint8
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    x, _ = load_dataset("fashion-mnist", shared_data, "test")  # finds the sub-folder
    assert x.shape == (10000, 1, 28, 28)


def test_real_cifar10_npz(shared_data):
    x, y = load_dataset("cifar10", shared_data / "cifar10", "test")
    assert x.shape == (10000, 3, 32, 32) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10
