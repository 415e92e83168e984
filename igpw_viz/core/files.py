"""Safe file writes shared by the data and training packages (pure Python): atomic writes, the names
their temporary files take (so a killed write's leftover can be recognised), one-line error text."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path


def _temp_affixes(name: str) -> tuple[str, str]:
    """Prefix and suffix of the temporary file `atomic_write_bytes` writes before renaming it to ``name``."""
    return f".{name}.", ".tmp"


def atomic_temp_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """Matches the temporary-file names an interrupted `atomic_write_bytes` of any of ``names`` leaves."""
    alternatives = []
    for name in names:
        prefix, suffix = _temp_affixes(name)
        alternatives.append(re.escape(prefix) + ".+" + re.escape(suffix))
    return re.compile("|".join(alternatives))


def error_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (or its type name), for one-line errors about a file."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:limit]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``: readers see the old
    file or the new one, never a half-written one; the temporary file is removed on any failure."""
    path = Path(path)
    prefix, suffix = _temp_affixes(path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode())
