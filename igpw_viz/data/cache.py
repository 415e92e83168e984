"""On-disk cache of decoded images: uint8 ``.npy`` files opened memory-mapped, written under a temporary
folder name and renamed, keyed by source hash, image size and loader version so any change invalidates.
A cache that is truncated, grown, unreadable or from another loader version raises ``CacheCorrupt`` on
read, so the loader discards and rebuilds it from the source (it is derived data, never the only copy)."""

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

from .leftovers import remove_leftovers

__all__ = ["LOADER_VERSION", "cache_key", "CachedPart", "CacheCorrupt", "read_cache", "discard_cache",
           "CacheWriter"]

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


class CacheCorrupt(ValueError):
    """A cache folder exists but cannot be used (truncated, altered, or written by another version)."""


def read_cache(folder: Path) -> tuple[dict[str, CachedPart], dict[str, Any]] | None:
    """Open a complete cache folder (images memory-mapped read-only); ``None`` when there is none.
    Raises ``CacheCorrupt`` naming the folder and the reason when it is there but unusable: a missing or
    unreadable file, a file whose size differs from the one recorded, another loader version, lengths
    that disagree, or labels outside the recorded class count."""
    if not folder.exists():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("loader_version") != LOADER_VERSION:
            raise CacheCorrupt(f"written by loader version {meta.get('loader_version')}, "
                               f"this is {LOADER_VERSION}")
        for name, size in meta.get("sizes", {}).items():  # caches before sizes were recorded skip this
            got = (folder / name).stat().st_size
            if got != size:
                raise CacheCorrupt(f"{name} is {got:,} bytes, {size:,} were written (truncated or altered)")
        parts = {}
        for part in meta["parts"]:
            images = np.load(folder / f"{part}_images.npy", mmap_mode="r")
            labels = np.load(folder / f"{part}_labels.npy").astype(np.int64)
            files = tuple(meta["files"][part])
            if len(images) != len(labels) or len(files) != len(labels) or images.dtype != np.uint8:
                raise CacheCorrupt(f"part {part!r}: {len(images)} images, {len(labels)} labels, "
                                   f"{len(files)} names, dtype {images.dtype}")
            n = meta.get("n_classes")
            if len(labels) and (labels.min() < 0 or (n is not None and labels.max() >= n)):
                raise CacheCorrupt(f"part {part!r}: labels outside 0..{n}")
            parts[part] = CachedPart(images, labels, files)
        return parts, meta
    except CacheCorrupt as e:
        raise CacheCorrupt(f"cache {folder} is unusable: {e}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CacheCorrupt(f"cache {folder} is unusable: {type(e).__name__}: {e}") from e


def discard_cache(folder: Path) -> None:
    """Remove a cache folder that ``read_cache`` rejected: renamed aside first (readers holding memmaps
    keep their pages), then deleted; a leftover is cleaned by the next ``CacheWriter``."""
    aside = folder.with_name(f".{folder.name}.broken-{os.getpid()}")
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(folder, aside)
    shutil.rmtree(aside, ignore_errors=True)


class CacheWriter:
    """Writes parts into ``<final>.tmp-<pid>``; ``commit`` renames it to ``final``; ``abort`` (or an
    exception inside ``with``) removes the temporary folder, never touching an existing final cache.
    Temporary and discarded folders of this key left by killed runs (dead process ids) are removed."""

    def __init__(self, final: Path, meta: dict[str, Any]):
        self.final = final
        for kind in ("tmp", "broken"):
            remove_leftovers(final.parent, f".{final.name}.{kind}-")
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
        """Record the files' sizes (checked on read), write ``meta.json`` last, rename into place."""
        self.meta["sizes"] = {p.name: p.stat().st_size for p in sorted(self.tmp.iterdir())}
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
