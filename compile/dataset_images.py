"""Images to feed a build, from a data set name: what `simulate`, `csim` and `run` share.

`random` gives seeded uniform uint8 images of the model's input shape (no labels); any other
name is read with `xnorflow.train.data.load_dataset` and reshaped when an MLP takes the
flattened image (PyTorch's C, H, W order). Images that do not fit the model are a user error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RANDOM_DATASET = "random"


class DatasetError(ValueError):
    """The data set cannot feed this model (missing files, wrong image shape, no images)."""


def images_for(
    input_shape: tuple[int, ...],
    input_layout: str,
    dataset: str,
    data_dir: Path | None,
    n: int | None,
    seed: int = 0,
    split: str = "test",
) -> tuple[np.ndarray, np.ndarray | None]:
    """(uint8 images shaped as the model's input, labels or None); n=None: all (1000 random)."""
    if dataset == RANDOM_DATASET:
        count = 1000 if n is None else n
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, size=(count, *input_shape), dtype=np.uint8), None
    from xnorflow.train.data import load_dataset
    from xnorflow.train.errors import UserError

    try:
        images, labels = load_dataset(dataset, data_dir, split)
    except UserError as err:
        raise DatasetError(str(err)) from None
    if n is not None:
        images, labels = images[:n], labels[:n]
    if images.shape[1:] != tuple(input_shape):
        flat_fits = int(np.prod(images.shape[1:])) == int(np.prod(input_shape))
        if input_layout == "flat" and flat_fits:
            images = images.reshape(len(images), *input_shape)
        else:
            raise DatasetError(
                f"data set {dataset!r} has images of shape {images.shape[1:]}, the model in the "
                f"build folder takes {tuple(input_shape)}: pick the data set it was trained on"
            )
    if len(images) == 0:
        raise DatasetError(f"data set {dataset!r} ({split}) has no images")
    return images, np.asarray(labels)
