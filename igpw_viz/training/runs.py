"""Run folders: what a run folder holds and how one is chosen, claimed, resumed or found (one place).

A run folder ``runs/<name>/`` holds ``config.json``, ``history.csv``, ``last.pt`` (everything needed to
resume), ``best.pt`` (the best-validation weights), ``metrics.json`` (written at the end),
``status.json`` and ``.lock``. A comparison (``train --models a,b``) is a folder of run folders named by
model tag. A process claims a folder before writing it: it creates the folder with one ``mkdir`` (no
check-then-create race) and holds an exclusive ``flock`` on ``.lock`` while it writes, so two runs never
write one folder; the kernel drops the lock when the process ends, however it ends (no stale locks).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: folders are still created atomically, but not locked while in use
    fcntl = None  # type: ignore[assignment]

from ..core.files import atomic_temp_pattern

__all__ = ["CONFIG", "HISTORY", "LAST", "BEST", "METRICS", "STATUS", "LOCK", "RUN_FILES", "RunFolderExists",
           "RunFolderBusy", "RunLock", "new_run_dir", "unique_run_dir", "claim_run_dir", "clean_leftovers",
           "is_run_folder", "find_run_folders"]

CONFIG, HISTORY, LAST, BEST, METRICS, STATUS = (
    "config.json", "history.csv", "last.pt", "best.pt", "metrics.json", "status.json")
RUN_FILES = (CONFIG, HISTORY, LAST, BEST, METRICS, STATUS)
LOCK = ".lock"
LEFTOVER = atomic_temp_pattern(RUN_FILES)  # what an atomic write of a run file leaves when killed


class RunFolderExists(ValueError):
    """The run folder exists and neither --resume nor --overwrite was given."""


class RunFolderBusy(ValueError):
    """Another process is writing this run folder right now."""


class RunLock:
    """The claim on a run folder: an exclusive, non-blocking ``flock`` on ``<folder>/.lock`` (released by
    ``release()`` or when the process ends). ``path`` is the folder."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._file = open(path / LOCK, "a+")  # held until release()
        except OSError as e:
            raise PermissionError(f"cannot write in run folder {path}: {e.strerror}") from None
        if fcntl is None:
            return
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            pid = self._file.read().strip() or "?"
            self._file.close()
            raise RunFolderBusy(f"run folder {path} is in use by another training process (pid {pid}); "
                                f"wait for it to finish or choose another --name") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing the file drops the flock


def _entries(path: Path) -> list[str]:
    """What the folder holds besides our lock file and leftovers of killed writes."""
    return [n for n in os.listdir(path) if n != LOCK and not LEFTOVER.fullmatch(n)]


def _check_target(path: Path) -> None:
    if path.is_symlink():
        raise ValueError(f"run folder {path} is a symbolic link; runs are only written to real folders "
                         f"(point --runs-root at the real location instead)")
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"run folder {path} exists and is not a folder; choose another --name")


def _make_root(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(f"{root} (or a folder above it) is a file, not a folder; "
                                 f"choose another --runs-root") from None


def clean_leftovers(path: Path, before: float | None = None) -> list[Path]:
    """Delete the temporary files of killed writes in ``path`` (our names only, modified before ``before``,
    default now); verified files (``last.pt`` ...) never match. Call it while holding the folder's lock."""
    before = time.time() if before is None else before
    gone = []
    for name in os.listdir(path):
        p = path / name
        if LEFTOVER.fullmatch(name) and p.is_file() and not p.is_symlink() and p.stat().st_mtime < before:
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def new_run_dir(path: str | os.PathLike[str], *, overwrite: bool = False) -> RunLock:
    """Create and claim ``path``. Of two processes racing for one name exactly one gets it (one ``mkdir``,
    then the lock); a folder with files is an error unless ``overwrite`` (which deletes the run files)."""
    path = Path(path)
    _check_target(path)
    _make_root(path.parent)
    exists = RunFolderExists(f"run folder {path} already exists; pass --resume to continue it, "
                             f"--overwrite to replace it, or choose another --name")
    try:
        path.mkdir()
    except FileExistsError:
        _check_target(path)
        if _entries(path) and not overwrite:
            raise exists from None
    lock = RunLock(path)
    try:
        if _entries(path):  # filled by another process between our mkdir and our lock
            if not overwrite:
                raise exists
            for name in RUN_FILES:
                (path / name).unlink(missing_ok=True)
        clean_leftovers(path)
    except BaseException:
        lock.release()
        raise
    return lock


def unique_run_dir(root: str | os.PathLike[str], base: str) -> RunLock:
    """Claim ``root/base``, or ``root/base-2``, ``-3``... : the first name not taken (never overwrites)."""
    root = Path(root)
    _make_root(root)
    for k in range(1, 100000):
        cand = root / (base if k == 1 else f"{base}-{k}")
        try:
            cand.mkdir()
            return RunLock(cand)
        except (FileExistsError, RunFolderBusy):
            continue
    raise RuntimeError(f"no free run name under {root}")


def claim_run_dir(root: str | os.PathLike[str], name: str | None, default_name: str, *, resume: bool,
                  overwrite: bool, needs: str | None = LAST) -> RunLock:
    """Claim the folder a run (or a comparison) writes: ``root/name`` when named, else a fresh
    ``root/<default_name>[-N]``. ``resume``: the named folder must exist (holding ``needs``, when given);
    otherwise a named folder must be new or empty unless ``overwrite``. Release the lock when done."""
    root = Path(root)
    if not resume:
        return unique_run_dir(root, default_name) if name is None else new_run_dir(root / name,
                                                                                   overwrite=overwrite)
    if name is None:
        raise ValueError("--resume needs the run folder's --name")
    path = root / name
    _check_target(path)
    if not path.is_dir():
        raise FileNotFoundError(f"nothing to resume: {path} does not exist")
    if needs is not None and not (path / needs).is_file():
        raise FileNotFoundError(f"nothing to resume: {path / needs} does not exist (no epoch was saved; "
                                f"start again with --overwrite)")
    lock = RunLock(path)
    clean_leftovers(path)
    return lock


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / CONFIG).is_file()


def find_run_folders(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself when it is a run folder, else every run folder below it (sorted)."""
    path = Path(path)
    if is_run_folder(path):
        return [path]
    return sorted(c.parent for c in path.rglob(CONFIG)) if path.is_dir() else []
