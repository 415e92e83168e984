"""Run folders and checkpoints: atomic writes, ``weights_only=True`` reads, resume checks.

A run folder ``runs/<name>/`` holds ``config.json``, ``history.csv``, ``last.pt`` (everything needed to
resume: model, optimizer, scheduler, RNG states, epoch, best metric, history, config), ``best.pt`` (the
best-validation weights), ``metrics.json`` (written at the end) and ``status.json``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["RunFolderExists", "ConfigMismatch", "new_run_dir", "unique_run_dir", "atomic_write_bytes",
           "atomic_write_text", "write_json", "save_checkpoint", "load_checkpoint", "write_history",
           "read_history", "check_resumable"]


class RunFolderExists(ValueError):
    """The run folder exists and neither --resume nor --overwrite was given."""


class ConfigMismatch(ValueError):
    """A checkpoint was written by another configuration."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path`` (never half-written)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def new_run_dir(path: Path, *, overwrite: bool = False) -> Path:
    """Create ``path``; an existing folder with run files is an error unless ``overwrite``."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise RunFolderExists(f"run folder {path} already exists; pass --resume to continue it, "
                                  f"--overwrite to replace it, or choose another --name")
        for name in ("config.json", "history.csv", "last.pt", "best.pt", "metrics.json", "status.json"):
            (path / name).unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def unique_run_dir(root: Path, base: str) -> Path:
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


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code from a file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt or foreign file
        raise ValueError(f"cannot read checkpoint {path}: {e}") from e


def check_resumable(saved: dict[str, Any], identity: dict[str, Any], where: Path) -> None:
    """ConfigMismatch when the checkpoint's configuration differs from this run's in a field that matters."""
    diff = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
    if diff:
        detail = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs now {identity.get(k)!r}" for k in diff[:6])
        raise ConfigMismatch(f"checkpoint {where} was written by another configuration ({detail}); "
                             f"start a new run instead of --resume")


HISTORY_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s",
                  "images_per_s", "best")


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def read_history(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: (float(v) if v not in ("", None) else float("nan")) for k, v in row.items()}
                for row in csv.DictReader(f)]
