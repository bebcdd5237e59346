"""The compiler's user-facing error.

A `CompileError` is a mistake the user can fix (a bad model file, an unsupported layer or bit
width, a wrong folding file). Its message names the file or node, says what is supported, and
what to do; the CLI prints it alone (no traceback) and exits with code 2.
"""

from __future__ import annotations


class CompileError(Exception):
    """A user-caused compile failure; str(err) is the complete message shown to the user."""
