"""Result types: a lazy uint8 image view over a (possibly memory-mapped) array, one split, and the
dataset with its train/val/test splits and class names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["ImageView", "Split", "DatasetSplits", "FLIP_NONE", "FLIP_H", "FLIP_V", "FLIP_HV"]

FLIP_NONE, FLIP_H, FLIP_V, FLIP_HV = 0, 1, 2, 3


class ImageView:
    """N x 3 x H x W uint8 images: rows ``index`` of ``base`` (an array or a read-only memmap), each
    optionally flipped (``flips``: 0 none, 1 horizontal, 2 vertical, 3 both). Indexing returns a torch
    uint8 tensor and reads only the requested rows, so a 4 GB memmap need not fit in RAM."""

    def __init__(self, base: np.ndarray, index: np.ndarray | None = None, flips: np.ndarray | None = None):
        if base.ndim != 4 or base.dtype != np.uint8:
            raise ValueError(f"ImageView base must be uint8 N x C x H x W, got {base.dtype} {base.shape}")
        self.base = base
        self.index = (np.arange(len(base), dtype=np.int64) if index is None
                      else np.asarray(index, dtype=np.int64))
        self.flips = None if flips is None else np.asarray(flips, dtype=np.int8)
        if self.flips is not None and self.flips.shape != self.index.shape:
            raise ValueError("ImageView flips must have one entry per index")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.index), *self.base.shape[1:])  # type: ignore[return-value]

    @property
    def dtype(self) -> torch.dtype:
        return torch.uint8

    @property
    def nbytes(self) -> int:
        return int(len(self.index) * np.prod(self.base.shape[1:]))

    @property
    def is_memmap(self) -> bool:
        return isinstance(self.base, np.memmap)

    def __len__(self) -> int:
        return len(self.index)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Rows (positions in this view) as a new uint8 array, reading the base in sorted order."""
        rows = np.asarray(rows, dtype=np.int64)
        src = self.index[rows]  # (n,)
        order = np.argsort(src, kind="stable")
        out = np.empty((len(rows), *self.base.shape[1:]), dtype=np.uint8)  # (n, 3, H, W)
        out[order] = self.base[src[order]]
        if self.flips is not None:
            f = self.flips[rows]
            for code, axes in ((FLIP_H, (3,)), (FLIP_V, (2,)), (FLIP_HV, (2, 3))):
                sel = np.flatnonzero(f == code)
                if len(sel):
                    out[sel] = np.flip(out[sel], axis=axes)
        return out

    def __getitem__(self, key: Any) -> torch.Tensor:
        if isinstance(key, (int, np.integer)):
            k = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= k < len(self):
                raise IndexError(f"image index {key} out of range for {len(self)} images")
            return torch.from_numpy(self.gather(np.array([k]))[0])  # (3, H, W)
        if isinstance(key, slice):
            rows = np.arange(len(self))[key]
        elif isinstance(key, torch.Tensor):
            rows = key.cpu().numpy()
        else:
            rows = np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return torch.from_numpy(self.gather(rows))  # (n, 3, H, W)

    def take(self, rows: np.ndarray) -> ImageView:
        """A sub-view (no copy)."""
        rows = np.asarray(rows, dtype=np.int64)
        return ImageView(self.base, self.index[rows], None if self.flips is None else self.flips[rows])

    def numpy(self) -> np.ndarray:
        """All images in RAM as a numpy array."""
        return self.gather(np.arange(len(self)))

    def tensor(self) -> torch.Tensor:
        """All images in RAM as a torch uint8 tensor (N, 3, H, W)."""
        return torch.from_numpy(self.numpy())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        kind = "memmap" if self.is_memmap else "array"
        return f"ImageView({len(self)} x {tuple(self.base.shape[1:])} uint8, {kind})"


@dataclass(frozen=True)
class Split:
    """One part of a dataset; also a map-style ``torch.utils.data.Dataset`` of (uint8 image, label)."""

    images: ImageView
    labels: torch.Tensor  # (N,) int64
    files: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"Split: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])

    def class_counts(self, n_classes: int) -> list[int]:
        return torch.bincount(self.labels, minlength=n_classes).tolist()


@dataclass(frozen=True)
class DatasetSplits:
    """What ``load_dataset`` returns: ``train``, ``val``, ``test`` splits and ``classes`` in label order."""

    name: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        return int(self.train.images.shape[-1])

    def __repr__(self) -> str:
        return (f"DatasetSplits({self.name!r}, classes={len(self.classes)}, train={len(self.train)}, "
                f"val={len(self.val)}, test={len(self.test)}, images {tuple(self.train.images.shape[1:])})")
