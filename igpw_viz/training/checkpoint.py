"""Checkpoints and the files of a run folder (`runs.py` says which): atomic writes, ``weights_only=True``
reads, resume checks. ``last.pt`` holds everything needed to resume: model, optimizer, scheduler, RNG
states, epoch, best metric, history and config."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import torch

from ..core.files import atomic_write_bytes, atomic_write_text

__all__ = ["ConfigMismatch", "write_json", "save_checkpoint", "load_checkpoint", "write_history",
           "read_history", "check_resumable"]


class ConfigMismatch(ValueError):
    """A checkpoint was written by another configuration."""


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


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
