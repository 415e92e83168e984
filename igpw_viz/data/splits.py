"""Split rules: the paper's (CIFAR first-10% validation; every-10th then every-9th per sorted class list),
a seeded stratified split, and malaria's patient-disjoint split. All return index arrays, no images."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SplitIndices",
    "paper_class_split",
    "paper_split",
    "cifar_paper_split",
    "stratified_split",
    "patient_id_from_filename",
    "read_patient_csvs",
    "patient_split",
    "check_disjoint",
]


@dataclass(frozen=True)
class SplitIndices:
    """Indices into one array of samples, one int64 array per part."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


def paper_class_split(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's rule on one class's sorted list of ``n`` items: validation = positions 0, 10, 20, ...;
    of the rest, test = positions 0, 9, 18, ...; train = what remains. Returns (train, val, test)
    positions. For n=625: 499/63/63; for n=13,779: 11,023/1,378/1,378."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    pos = np.arange(n, dtype=np.int64)
    val_mask = pos % 10 == 0
    val, rest = pos[val_mask], pos[~val_mask]
    test_mask = np.arange(len(rest)) % 9 == 0
    return rest[~test_mask], val, rest[test_mask]


def paper_split(labels: np.ndarray, n_classes: int) -> SplitIndices:
    """Apply ``paper_class_split`` per class. ``labels`` must follow the sorted file list within a class
    (the loaders store images class by class, files sorted)."""
    labels = np.asarray(labels)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        for k, sub in enumerate(paper_class_split(len(idx))):
            parts[k].append(idx[sub])
    return SplitIndices(*(np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts))


def cifar_paper_split(n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR rule: validation = the first 10% of the training arrays (5,000 of 50,000). Returns
    (train, val) indices."""
    n_val = n_train // 10
    return np.arange(n_val, n_train, dtype=np.int64), np.arange(n_val, dtype=np.int64)


def stratified_split(labels: np.ndarray, n_classes: int, seed: int, val_fraction: float = 0.1,
                     test_fraction: float = 0.1) -> SplitIndices:
    """Per class, a seeded shuffle; the first ``round(val_fraction*n)`` go to validation, the next
    ``round(test_fraction*n)`` to test, the rest to train."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"fractions must be in [0,1) and sum below 1, got {val_fraction}, {test_fraction}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in range(n_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        nv, nt = round(val_fraction * len(idx)), round(test_fraction * len(idx))
        parts[1].append(idx[:nv])
        parts[2].append(idx[nv:nv + nt])
        parts[0].append(idx[nv + nt:])
    return SplitIndices(*(np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64)
                          for p in parts))


_SLIDE = re.compile(r"^(C\d+(?:P\d+)?)", re.IGNORECASE)


def patient_id_from_filename(name: str) -> str:
    """The slide/patient prefix of an NIH malaria cell file name: ``C189P150ThinF_IMG_..._cell_0.png`` ->
    ``C189P150``; ``C1_thinF_IMG_...`` -> ``C1``. Names without that prefix fall back to the text before
    the first underscore."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = _SLIDE.match(base)
    if m:
        return m.group(1).upper()
    return base.split("_", 1)[0]


def read_patient_csvs(paths: Sequence[str | Path]) -> dict[str, str]:
    """Map cell file name -> patient id from NIH's patient CSVs. Assumed format (unverified, the files
    could not be fetched here): each row starts with the patient id; fields ending in ``.png`` are cells."""
    mapping: dict[str, str] = {}
    for p in paths:
        with open(p, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.reader(f):
                fields = [x.strip() for x in row if x.strip()]
                if not fields:
                    continue
                pid = fields[0]
                for cell in fields[1:]:
                    if cell.lower().endswith(".png"):
                        mapping[cell.rsplit("/", 1)[-1]] = pid
    if not mapping:
        raise ValueError(f"no patient-to-cell rows found in {', '.join(map(str, paths))}; fetch them again "
                         f"(python -m igpw_viz download --dataset malaria --patient-csvs) or delete them "
                         f"to use the patient ids in the file names")
    return mapping


def patient_split(files: Sequence[str], seed: int, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  mapping: Mapping[str, str] | None = None) -> SplitIndices:
    """Patient-disjoint split: group cells by patient (``mapping`` from NIH's CSVs, else parsed from the
    file name), shuffle the groups with ``seed`` and fill test, then validation, to at least their
    fractions of the cells; the remaining patients train. Class balance is not enforced."""
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        base = f.replace("\\", "/").rsplit("/", 1)[-1]
        pid = mapping.get(base) if mapping is not None else None
        groups.setdefault(pid if pid is not None else patient_id_from_filename(base), []).append(i)
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    n = len(files)
    parts: list[list[int]] = [[], [], []]
    targets = [(2, test_fraction * n), (1, val_fraction * n)]
    t = 0
    for o in order:
        g = groups[keys[o]]
        while t < len(targets) and len(parts[targets[t][0]]) >= targets[t][1]:
            t += 1
        parts[targets[t][0] if t < len(targets) else 0].extend(g)
    return SplitIndices(*(np.sort(np.asarray(p, dtype=np.int64)) for p in parts))


def check_disjoint(split: SplitIndices) -> None:
    """Raise if any index appears in two parts (a guard used by the loaders and tests)."""
    a, b, c = (set(x.tolist()) for x in (split.train, split.val, split.test))
    if a & b or a & c or b & c:
        raise AssertionError("split parts overlap")
