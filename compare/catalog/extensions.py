"""Catalog entries from outside the project: the modules an environment variable names, imported
so that they register themselves. The children of a comparison inherit the variable, so they find
the same catalog. Imports no framework (unless a named module does)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path


def import_named_modules(variable: str) -> None:
    """Import each module `variable` names (comma-separated, importable from the working folder);
    one that cannot be imported is an error that names it and the variable."""
    for name in filter(None, (part.strip() for part in os.environ.get(variable, "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ImportError(
                f"{variable} names {name!r}, which cannot be imported from {Path.cwd()} ({error}); "
                f"name a module on the Python path, or unset {variable}"
            ) from error
