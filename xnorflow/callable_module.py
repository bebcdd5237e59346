"""Subpackages that are also functions: ``xnorflow.train(...)`` and ``xnorflow.compile(...)``.

``xnorflow.train`` is the training subpackage; importing any of its modules binds that name on
the ``xnorflow`` package to the module, so a plain function of the same name would be replaced
at the first ``import xnorflow.train.models``. Giving the module object a class with
``__call__`` (module ``__class__`` assignment, Python ≥ 3.5) makes both spellings work.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def make_callable(module_name: str, target: str) -> None:
    """Make the module `module_name` callable as the function `target` ("pkg.mod:func"),
    imported at the first call (so that importing the package stays cheap)."""
    mod_path, func_name = target.split(":")

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(mod_path), func_name)(*args, **kwargs)

    CallableModule.__call__.__doc__ = f"Calls {target} (see its docstring)."
    sys.modules[module_name].__class__ = CallableModule
