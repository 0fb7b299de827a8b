"""Safe outputs: no command overwrites a file unasked, and no interrupt leaves a half-written one.

Every command that writes results (``prepare``, ``generate``, ``evaluate``, ``study``) goes
through these two functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "refuse_existing"]


def refuse_existing(paths: Iterable[str | os.PathLike], overwrite: bool) -> None:
    """Raise ``ValueError`` naming every path that exists, unless ``overwrite``.

    Example:
        >>> refuse_existing(["/nonexistent/report.md"], overwrite=False)  # nothing there: fine
    """
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        raise ValueError(f"output already exists: {', '.join(existing)}; pass --overwrite to replace it")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> str:
    """Call ``write(temporary)`` on a temporary file beside ``path``, then rename it to ``path``.

    The rename is atomic on one file system: an interrupt (or any error) leaves ``path`` as it
    was, and no temporary file behind. Returns ``str(path)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return str(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "out.txt"
        >>> atomic_write_text(target, "done") == str(target), target.read_text()
        (True, 'done')
    """
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
