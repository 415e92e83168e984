"""Checkpoints and the files of a run folder (`runs.py` says which): atomic writes, ``weights_only=True``
reads, resume checks. ``last.pt`` holds everything needed to resume: model, optimizer, scheduler, RNG
states, epoch, best metric, history and config. A write that fails (full disk, quota, read-only) raises
``WriteFailed`` naming the file; the file's previous version is left as it was (atomic rename)."""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from ..core.files import atomic_write_bytes, error_line

__all__ = ["ConfigMismatch", "WriteFailed", "DiskFull", "write_json", "save_checkpoint", "load_checkpoint",
           "load_resume_checkpoint", "write_history", "read_history", "check_resumable", "RESUME_KEYS"]

FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class ConfigMismatch(ValueError):
    """A checkpoint was written by another configuration."""


class WriteFailed(RuntimeError):
    """A run file could not be written (its previous version is intact)."""


class DiskFull(WriteFailed):
    """No space (ENOSPC), quota (EDQUOT) or file-size limit (EFBIG) while writing a run file."""


def _write(path: Path, data: bytes) -> None:
    """`atomic_write_bytes`, with an OSError turned into one line naming ``path`` and what to do."""
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        what = os.strerror(e.errno).lower() if e.errno else str(e)
        if e.errno in FULL:
            raise DiskFull(f"cannot write {path}: {what}; free space on that disk and run again (--resume "
                           f"continues from the last saved epoch); files saved before are intact") from None
        raise WriteFailed(f"cannot write {path}: {what}; files saved before are intact") from None


def write_json(path: Path, obj: Any) -> None:
    _write(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    _write(path, buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code from a file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt or foreign file; torch's message can span many lines: keep the first
        raise ValueError(f"cannot read checkpoint {path} ({error_line(e)}); it is damaged or not a checkpoint of "
                         f"this package: use another file or start a new run") from None


RESUME_KEYS = ("model", "optimizer", "scheduler", "rng", "epoch", "history", "best")


def load_resume_checkpoint(path: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """``path`` read for resuming: a training checkpoint (``last.pt``, every `RESUME_KEYS` entry) written by
    this configuration; else ValueError/ConfigMismatch naming the file and what is wrong."""
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt, dict):
        raise ValueError(f"cannot resume from {path}: it holds a {type(ckpt).__name__}, not a training "
                         f"checkpoint; start a new run (--overwrite)")
    missing = [k for k in RESUME_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"cannot resume from {path}: not a training checkpoint (no {', '.join(missing)}; "
                         f"only a last.pt written by train can be resumed); start a new run (--overwrite)")
    check_resumable(ckpt.get("config_identity", {}), identity, path)
    return ckpt


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
    _write(path, buf.getvalue().encode())


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows of ``history.csv``; ValueError naming the file (and line) when it is damaged."""
    fix = "the run folder is damaged: restore the file or delete the run folder"
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [k for k in HISTORY_FIELDS if k not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(f"{path} has no column {missing[0]!r}; {fix}")
            rows = []
            for row in reader:
                try:
                    rows.append({k: float(row[k]) if row[k] not in ("", None) else math.nan
                                 for k in HISTORY_FIELDS})
                except (TypeError, ValueError):
                    raise ValueError(f"{path} line {reader.line_num} is not a row of numbers; {fix}") from None
            return rows
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path} is not a readable CSV file ({e}); {fix}") from None
