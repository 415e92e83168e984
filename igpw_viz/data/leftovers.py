"""Removal of the temporary files and folders an interrupted run of ours left behind: only names made by
this package (``<prefix><pid><suffix>``) whose process is gone; nothing verified or user-owned."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

__all__ = ["pid_alive", "remove_leftovers"]


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (or may: no permission to signal it)."""
    if pid <= 0:
        return True  # not a real process id: keep whatever it names
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def remove_leftovers(folder: Path, prefix: str, suffix: str = "") -> list[Path]:
    """Delete entries of ``folder`` named exactly ``prefix + <digits> + suffix`` whose process id is not
    alive and is not ours; symlinks are never followed. Returns what was removed (errors are ignored)."""
    pattern = re.compile(re.escape(prefix) + r"(\d{1,10})" + re.escape(suffix))
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = pattern.fullmatch(p.name)
        if m is None or int(m.group(1)) == os.getpid() or pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
    return removed
