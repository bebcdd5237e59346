"""xnorflow.train: Brevitas BNNs (and 1–4-bit networks), their optimizers and diagnostics, data,
QONNX export.

Public entry points for the other subpackages:

- :func:`xnorflow.train.data.load_dataset` (uint8 NCHW images + int64 labels) and
  :func:`xnorflow.train.data.to_model_input` (``x = uint8 / 255``);
- :func:`xnorflow.train.models.get_model`, :func:`~xnorflow.train.models.build_mlp`,
  :func:`~xnorflow.train.models.build_cnn` (random networks for compiler tests);
- :func:`xnorflow.train.export.export_qonnx` / :func:`~xnorflow.train.export.check_qonnx`;
- :func:`xnorflow.train.api.train` behind the ``xnorflow train`` command; the package itself
  is callable as that function: ``xnorflow.train(model="tfc", dataset="mnist", ...)``.

Modules import torch/Brevitas; this package file does not, so the CLI stays fast.
"""

from xnorflow.callable_module import make_callable

make_callable(__name__, "xnorflow.train.api:train")
