"""Data sets as uint8 images, and the one mapping from uint8 to the model's float input.

Every loader returns ``(images, labels)``: ``images`` uint8 of shape (N, C, H, W), ``labels``
int64 of shape (N,). The model input is ``x = images / 255`` as float32 (values in [0, 1]);
the network itself then computes ``2x − 1`` and quantizes it (1 bit: sign, i.e. pixel ≥ 128 →
+1; 8 bit: round(128·(2x − 1)) / 128 clipped to [−1, 127/128]). Hardware receives the uint8
image, so FINN's convention applies: a /255 in front of the exported graph, input UINT8.

Supported data sets (``name``):

- ``digits``: scikit-learn's bundled 8x8 digits (values 0..16, scaled to uint8 by
  ``round(v · 255 / 16)``), 1797 images split deterministically 80 % train / 20 % test
  (a fixed permutation with seed 0). Needs no files.
- ``mnist``, ``fashion-mnist``: the four idx files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw
  or ``.gz``) in ``data_dir`` (or ``data_dir/<name>``).
- ``cifar10``: in ``data_dir`` (or ``data_dir/cifar10``) one of: ``cifar10-jpeg.npz`` (JPEG bytes
  + offsets + labels + classes); the python pickle batches ``data_batch_1..5`` / ``test_batch``
  (optionally inside ``cifar-10-batches-py/``); folders ``train|test/<class>/*.png|jpg``; or a tar
  (``.tar``/``.tar.gz``/``.tgz``) of those folders.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import UserError

__all__ = ["DATASETS", "INPUT_SCALE", "class_names", "load_dataset", "to_model_input"]

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
INPUT_SCALE = 1.0 / 255.0

_CLASSES = {
    "digits": [str(i) for i in range(10)],
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}

_IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_IMG_EXT = (".png", ".jpg", ".jpeg")


def class_names(name: str) -> list[str]:
    """Class names in label order."""
    return list(_CLASSES[_check_name(name)])


def to_model_input(images: np.ndarray):
    """uint8 (N, C, H, W) → float32 torch tensor ``images / 255`` (the model's input)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).float().mul_(INPUT_SCALE)


def load_dataset(name: str, data_dir: str | Path | None = None,
                 split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load a split as (uint8 images (N, C, H, W), int64 labels); see the module docstring."""
    name = _check_name(name)
    if split not in ("train", "test"):
        raise UserError(f"split must be 'train' or 'test', got {split!r}")
    if name == "digits":
        return _digits(split)
    if data_dir is None:
        raise UserError(f"data set {name!r} needs --data-dir (a folder with its files)")
    images, labels = _load_cached(name, str(Path(data_dir).expanduser().resolve()), split)
    return images, labels


def _check_name(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    if key == "fashionmnist":
        key = "fashion-mnist"
    if key not in DATASETS:
        raise UserError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    return key


@lru_cache(maxsize=4)
def _load_cached(name: str, data_dir: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    root = Path(data_dir)
    if not root.exists():
        raise UserError(f"data directory {root} does not exist")
    if name in ("mnist", "fashion-mnist"):
        return _idx_pair(_pick_dir(root, name, _IDX["train"][0]), name, split)
    return _cifar10(_pick_dir(root, "cifar10", None), split)


def _pick_dir(root: Path, name: str, probe: str | None) -> Path:
    sub = root / name
    if probe is not None:
        for d in (root, sub):
            if any((d / (probe + ext)).exists() for ext in ("", ".gz")):
                return d
        return root
    return sub if sub.is_dir() else root


def _digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.rint(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[:, None]
    labels = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    n_train = int(round(0.8 * len(labels)))
    idx = order[:n_train] if split == "train" else order[n_train:]
    return np.ascontiguousarray(images[idx]), labels[idx]


# ---- idx (MNIST, Fashion-MNIST) -------------------------------------------------------------

def _open_idx(folder: Path, stem: str, name: str) -> bytes:
    for ext in ("", ".gz"):
        p = folder / (stem + ext)
        if p.exists():
            raw = p.read_bytes()
            return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    expected = ", ".join(f"{a}[.gz], {b}[.gz]" for a, b in _IDX.values())
    raise UserError(f"{name}: {folder / stem}[.gz] not found; the folder must hold the four idx "
                    f"files: {expected}")


def _parse_idx(raw: bytes, where: str) -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{where} is not an unsigned-byte idx file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise UserError(f"{where}: size {data.size} does not match its header {dims}")
    return data.reshape(dims)


def _idx_pair(folder: Path, name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    img_stem, lab_stem = _IDX[split]
    images = _parse_idx(_open_idx(folder, img_stem, name), str(folder / img_stem))
    labels = _parse_idx(_open_idx(folder, lab_stem, name), str(folder / lab_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise UserError(f"{name} in {folder}: image/label files do not match")
    return np.ascontiguousarray(images[:, None]), labels.astype(np.int64)


# ---- CIFAR-10 ---------------------------------------------------------------------------------

def _decode(blob: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)


def _cifar10(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    npz = root / "cifar10-jpeg.npz"
    if npz.exists():
        return _cifar_npz(npz, split)
    for d in (root, root / "cifar-10-batches-py"):
        if (d / "test_batch").exists() or (d / "data_batch_1").exists():
            return _cifar_pickle(d, split)
    if (root / split).is_dir():
        return _cifar_folder(root / split)
    tars = sorted(p for p in root.iterdir()
                  if p.name.endswith((".tar", ".tar.gz", ".tgz"))) if root.is_dir() else []
    if tars:
        return _cifar_tar(tars[0], split)
    raise UserError(
        f"cifar10: nothing found in {root}; expected cifar10-jpeg.npz, the pickle batches "
        "data_batch_1..5 + test_batch (optionally in cifar-10-batches-py/), folders "
        "train|test/<class>/*.png|jpg, or a .tar/.tar.gz of those folders")


def _cifar_npz(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(path)
    blob, off = d[f"{split}_jpeg"], d[f"{split}_offsets"]
    images = np.stack([_decode(blob[off[i]:off[i + 1]].tobytes()) for i in range(len(off) - 1)])
    return images, d[f"{split}_labels"].astype(np.int64)


def _cifar_pickle(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    files = [folder / f"data_batch_{i}" for i in range(1, 6)] if split == "train" \
        else [folder / "test_batch"]
    xs, ys = [], []
    for f in files:
        if not f.exists():
            raise UserError(f"cifar10: {f} not found (expected data_batch_1..5 and test_batch)")
        with open(f, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _class_index(cls: str) -> int:
    if cls not in _CLASSES["cifar10"]:
        raise UserError(f"cifar10: unknown class folder {cls!r}; expected one of "
                        f"{', '.join(_CLASSES['cifar10'])}")
    return _CLASSES["cifar10"].index(cls)


def _cifar_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for cls_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        label = _class_index(cls_dir.name)
        for f in sorted(cls_dir.iterdir()):
            if f.suffix.lower() in _IMG_EXT:
                xs.append(_decode(f.read_bytes()))
                ys.append(label)
    if not xs:
        raise UserError(f"cifar10: no images under {folder}/<class>/*.png|jpg")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def _cifar_tar(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    with tarfile.open(path) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        for m in members:
            parts = Path(m.name).parts
            if len(parts) < 3 or parts[-3] != split or Path(m.name).suffix.lower() not in _IMG_EXT:
                continue
            fh = tar.extractfile(m)
            if fh is None:
                continue
            xs.append(_decode(fh.read()))
            ys.append(_class_index(parts[-2]))
    if not xs:
        raise UserError(f"cifar10: no {split}/<class>/*.png|jpg images inside {path}")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)
