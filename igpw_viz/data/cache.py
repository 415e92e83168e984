"""On-disk cache of decoded images: uint8 ``.npy`` files opened memory-mapped, written under a temporary
folder name and renamed, keyed by source hash, image size and loader version so any change invalidates."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LOADER_VERSION", "cache_key", "CachedPart", "read_cache", "CacheWriter"]

LOADER_VERSION = 1


def cache_key(source_id: str, image_size: int | None, extra: str = "") -> str:
    """A short hex key for (source hash, image size, loader version, extra)."""
    text = f"v{LOADER_VERSION}|{source_id}|{image_size}|{extra}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class CachedPart:
    """Decoded images (memmap or in-RAM array), labels and the source file names of one part."""

    images: np.ndarray  # (N, 3, H, W) uint8
    labels: np.ndarray  # (N,) int64
    files: tuple[str, ...]


def read_cache(folder: Path) -> tuple[dict[str, CachedPart], dict[str, Any]] | None:
    """Open a complete cache folder (images memory-mapped read-only); ``None`` when absent or unreadable."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        parts = {}
        for part in meta["parts"]:
            images = np.load(folder / f"{part}_images.npy", mmap_mode="r")
            labels = np.load(folder / f"{part}_labels.npy")
            files = tuple(meta["files"][part])
            if len(images) != len(labels) or len(files) != len(labels) or images.dtype != np.uint8:
                return None
            parts[part] = CachedPart(images, labels.astype(np.int64), files)
        return parts, meta
    except (OSError, ValueError, KeyError):
        return None


class CacheWriter:
    """Writes parts into ``<final>.tmp-<pid>``; ``commit`` renames it to ``final``; ``abort`` (or an
    exception inside ``with``) removes the temporary folder, never touching an existing final cache."""

    def __init__(self, final: Path, meta: dict[str, Any]):
        self.final = final
        self.tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        self.meta = dict(meta, parts=[], files={})
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)

    def images(self, part: str, shape: tuple[int, ...]) -> np.ndarray:
        """A writable memmap for a part's images (N, 3, H, W)."""
        return np.lib.format.open_memmap(self.tmp / f"{part}_images.npy", mode="w+", dtype=np.uint8,
                                         shape=shape)

    def finish_part(self, part: str, images: np.ndarray, labels: np.ndarray, files: list[str]) -> None:
        if isinstance(images, np.memmap):
            images.flush()
        else:
            np.save(self.tmp / f"{part}_images.npy", images)
        np.save(self.tmp / f"{part}_labels.npy", np.asarray(labels, dtype=np.int64))
        self.meta["parts"].append(part)
        self.meta["files"][part] = list(files)

    def commit(self) -> Path:
        (self.tmp / "meta.json").write_text(json.dumps(self.meta))
        if self.final.exists():  # another process finished the same key first: keep theirs
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            with contextlib.suppress(OSError):
                self.abort()
