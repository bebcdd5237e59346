"""Label select (FINN's LabelSelect with k = 1): the index of the largest score.

Ties go to the lowest index, as numpy's and PyTorch's argmax do.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import Layer, divisors


@dataclasses.dataclass(frozen=True, eq=False)
class LabelSelect(Layer):
    kind = "label_select"

    labels: int = 2
    pe: int = 1

    @property
    def in_shape(self) -> tuple[int, int]:
        return (1, self.labels)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (1, 1)

    @property
    def in_fold(self) -> int:
        return self.pe

    @property
    def out_fold(self) -> int:
        return 1

    def folding(self) -> dict[str, int]:
        return {"PE": self.pe}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"PE": divisors(self.labels)}

    def exp_cycles(self) -> int:
        return self.labels // self.pe

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        return np.argmax(x[:, 0, :], axis=1).astype(np.int64).reshape(-1, 1, 1)
