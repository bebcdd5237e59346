"""Generated files from template files: `@NAME@` placeholders filled from a dict.

Tops, testbenches and scripts live as files under hw_templates/ (package data), readable and
diffable as what they are; the code generators only fill in names and numbers. `@NAME@` does
not clash with Tcl's `$var` and braces or with C++.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def template_text(subdir: str, name: str) -> str:
    """The text of hw_templates/<subdir>/<name>."""
    return (importlib.resources.files("xnorflow.hw_templates") / subdir / name).read_text()


def render(subdir: str, name: str, **values: Any) -> str:
    """hw_templates/<subdir>/<name> with every @NAME@ replaced by str(values[NAME]);
    ValueError when the template and the values do not match one to one."""
    text = template_text(subdir, name)
    wanted = set(PLACEHOLDER.findall(text))
    missing, unused = wanted - set(values), set(values) - wanted
    if missing or unused:
        raise ValueError(f"template {subdir}/{name}: placeholders without a value "
                         f"{sorted(missing)}, values without a placeholder {sorted(unused)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def template_path_of(subdir: str, name: str) -> Path:
    """The path of hw_templates/<subdir>/<name> (for files copied as they are)."""
    return Path(str(importlib.resources.files("xnorflow.hw_templates") / subdir / name))
