"""Run folders: what a run folder holds and how one is chosen, created, resumed or found (one place).

A run folder ``runs/<name>/`` holds ``config.json``, ``history.csv``, ``last.pt`` (everything needed to
resume), ``best.pt`` (the best-validation weights), ``metrics.json`` (written at the end) and
``status.json``. A comparison (``train --models a,b``) is a folder of run folders named by model tag.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CONFIG", "HISTORY", "LAST", "BEST", "METRICS", "STATUS", "RUN_FILES", "RunFolderExists",
           "new_run_dir", "unique_run_dir", "choose_run_dir", "is_run_folder", "find_run_folders"]

CONFIG, HISTORY, LAST, BEST, METRICS, STATUS = (
    "config.json", "history.csv", "last.pt", "best.pt", "metrics.json", "status.json")
RUN_FILES = (CONFIG, HISTORY, LAST, BEST, METRICS, STATUS)


class RunFolderExists(ValueError):
    """The run folder exists and neither --resume nor --overwrite was given."""


def new_run_dir(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Create ``path``; an existing folder with run files is an error unless ``overwrite``."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise RunFolderExists(f"run folder {path} already exists; pass --resume to continue it, "
                                  f"--overwrite to replace it, or choose another --name")
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def unique_run_dir(root: str | os.PathLike[str], base: str) -> Path:
    """``root/base``, or ``root/base-2``, ``-3``... : the first name not taken (never overwrites)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for k in range(1, 100000):
        cand = root / (base if k == 1 else f"{base}-{k}")
        try:
            cand.mkdir()
            return cand
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run name under {root}")


def choose_run_dir(root: str | os.PathLike[str], name: str | None, default_name: str, *, resume: bool,
                   overwrite: bool, needs: str | None = LAST) -> Path:
    """The folder a run (or a comparison) goes to: ``root/name`` when named, else a fresh
    ``root/<default_name>[-N]``. ``resume``: the named folder must exist (holding ``needs``, when given);
    otherwise a named folder must be new or empty unless ``overwrite``."""
    root = Path(root)
    if resume:
        if name is None:
            raise ValueError("--resume needs the run folder (--name or --run-dir)")
        path = root / name
        if needs is not None and not (path / needs).is_file():
            raise FileNotFoundError(f"nothing to resume: {path / needs} does not exist")
        if not path.is_dir():
            raise FileNotFoundError(f"nothing to resume: {path} does not exist")
        return path
    if name is None:
        return unique_run_dir(root, default_name)
    return new_run_dir(root / name, overwrite=overwrite)


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / CONFIG).is_file()


def find_run_folders(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself when it is a run folder, else every run folder below it (sorted)."""
    path = Path(path)
    if is_run_folder(path):
        return [path]
    return sorted(c.parent for c in path.rglob(CONFIG)) if path.is_dir() else []
