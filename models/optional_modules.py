"""Importing parts of the system that an installation may leave out."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(name: str) -> ModuleType | None:
    """The module ``name``, or ``None`` when it (or a package above it) is not installed.

    An import that fails inside the module (it exists but one of its own imports is
    missing) still raises.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and name.startswith(err.name):
            return None
        raise
