"""Replacing a file whole: write a temporary file beside it, then rename it into place.

A reader sees the old file or the new one, never half of one. Each writer gets its own
temporary name, so two writers (threads of one process, or processes sharing a data
directory) never write into, or rename away, each other's file; the last rename wins.

Example::

    >>> from pathlib import Path
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "state.json"
    >>> write_text_atomically(target, "{}")
    >>> target.read_text()
    '{}'
"""

from __future__ import annotations

import uuid
from pathlib import Path


def temporary_beside(path: Path, suffix: str = ".tmp") -> Path:
    """A new hidden name in ``path``'s folder, unique to this call, ending in ``suffix``."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{suffix}")


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) through a temporary file renamed into place."""
    temporary = temporary_beside(path)
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
