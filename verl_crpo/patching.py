"""Rebinding a patched verl function in the modules that imported it by name."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["importers_of"]


def importers_of(attribute: str, original: Any, module_names: Iterable[str]) -> list[Any]:
    """The loaded modules among ``module_names`` whose ``attribute`` is still ``original``.

    ``from verl.x import f`` binds ``f`` at import: patching ``verl.x.f`` later leaves those copies
    unpatched, so a patch also assigns its replacement to every module this returns.

    Example:
        >>> import os.path
        >>> importers_of("join", os.path.join, ["os.path", "not.loaded"]) == [os.path]
        True
    """
    loaded = (sys.modules.get(name) for name in module_names)
    return [module for module in loaded if module is not None and getattr(module, attribute, None) is original]
