"""Find a dataset's source: an archive the user hands over, a verified archive in the data folder, an
already-extracted folder (with the known mirrors' extra nesting), or a fresh download."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .download import (
    DownloadConfig,
    download_file,
    is_offline,
    manual_instructions,
    sha256_file,
    verify_file,
)
from .registry import DatasetSpec

__all__ = ["Source", "locate_source", "find_extracted", "folder_fingerprint", "CIFAR_BATCHES"]

CIFAR_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


@dataclass(frozen=True)
class Source:
    """Where the data comes from: ``kind`` is ``"archive"`` or ``"folder"``; ``source_id`` keys the cache;
    ``verified`` is True when the archive matched the registry's SHA-256."""

    kind: str
    path: Path
    source_id: str
    verified: bool


def _candidates(spec: DatasetSpec, folder: Path) -> list[Path]:
    top = spec.top_folder
    bases = [folder, folder / spec.name]
    out: list[Path] = []
    for b in bases:
        out += [b, b / top, b / top / top]
    return out


def _looks_like(spec: DatasetSpec, cand: Path) -> tuple[bool, list[str]]:
    """(matches, missing pieces): a candidate matches when any expected entry is present."""
    if not cand.is_dir():
        return False, []
    want = list(CIFAR_BATCHES) if spec.layout == "cifar-pickle" else list(spec.class_folders)
    present = [w for w in want if (cand / w).exists()]
    return bool(present), [w for w in want if w not in present]


def find_extracted(spec: DatasetSpec, folder: Path) -> Path | None:
    """The first candidate folder holding the extracted dataset (all classes / batches), else None.
    A folder holding only some of them raises ``FileNotFoundError`` naming what is missing."""
    partial: tuple[Path, list[str]] | None = None
    for cand in _candidates(spec, folder):
        ok, missing = _looks_like(spec, cand)
        if ok and not missing:
            return cand
        if ok and partial is None:
            partial = (cand, missing)
    if partial is not None:
        what = "CIFAR batch files" if spec.layout == "cifar-pickle" else "class folders"
        raise FileNotFoundError(f"{partial[0]}: extracted {spec.name} is incomplete; missing {what}: "
                                f"{', '.join(partial[1])}; restore them, or move the folder away so the "
                                f"archive is used")
    return None


def folder_fingerprint(folder: Path) -> str:
    """A hash of the relative file list and sizes under ``folder`` (cache key for extracted data)."""
    h = hashlib.sha256()
    stamp = folder / ".igpw_source_sha256"
    if stamp.is_file():  # our own extraction of a verified archive
        return "archive:" + stamp.read_text().strip()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            h.update(f"{p.relative_to(folder).as_posix()}\0{p.stat().st_size}\n".encode())
    return "folder:" + h.hexdigest()


def locate_source(spec: DatasetSpec, folder: Path, archive: str | os.PathLike[str] | None, *,
                  download: bool, offline: bool | None, config: DownloadConfig) -> Source:
    """Resolve the source in this order: ``archive`` argument; the registered archive in ``folder/<name>``
    or ``folder``; an extracted folder under ``folder``; a download into ``folder/<name>``."""
    if archive is not None:
        p = Path(archive).expanduser()
        if p.is_dir():
            found = find_extracted(spec, p)
            if found is None:
                raise FileNotFoundError(f"archive={p} is a folder without an extracted {spec.name} "
                                        f"(expected {spec.top_folder}/...)")
            return Source("folder", found, folder_fingerprint(found), False)
        if p.exists() and not p.is_file():
            raise ValueError(f"archive={p} is not a regular file (a device, pipe or socket?); pass the "
                             f"archive file or its extracted folder")
        if not p.is_file():
            raise FileNotFoundError(f"archive={p} does not exist")
        digest = sha256_file(p, progress=config.progress)
        verified = spec.archive.sha256 is not None and digest == spec.archive.sha256
        if not verified:
            warnings.warn(f"{p} is not the registered {spec.archive.filename} (SHA-256 {digest[:16]}...); "
                          f"it is read by structure only", UserWarning, stacklevel=3)
        return Source("archive", p, digest, verified)
    dsdir = folder / spec.name
    for d in (dsdir, folder):
        f = d / spec.archive.filename
        if f.is_file():
            return Source("archive", f, verify_file(f, spec.archive, progress=config.progress), True)
    found = find_extracted(spec, folder)
    if found is not None:
        return Source("folder", found, folder_fingerprint(found), False)
    if not download:
        raise FileNotFoundError(f"{spec.name} not found in {folder} and download=False. Put the archive "
                                f"there:\n{manual_instructions(spec.archive, dsdir, spec.name)}")
    if offline is None:
        offline = is_offline()
    f = download_file(spec.archive, dsdir, offline=offline, config=config, dataset=spec.name)
    return Source("archive", f, verify_file(f, spec.archive), True)
