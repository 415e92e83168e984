"""``load_dataset``: find or fetch the source, decode once into the memory-mapped cache, and apply the
paper's (or a seeded stratified, or malaria's patient-disjoint) split."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import LOADER_VERSION, CacheCorrupt, CacheWriter, cache_key, discard_cache, read_cache
from .decode import decode_cifar, decode_image_folders
from .download import DownloadConfig, data_dir, ensure_writable_dir, file_lock
from .registry import MALARIA_PATIENT_CSVS, DatasetSpec, get_spec
from .sources import locate_source
from .splits import (
    SplitIndices,
    check_disjoint,
    cifar_paper_split,
    paper_split,
    patient_split,
    read_patient_csvs,
    stratified_split,
)
from .views import FLIP_H, FLIP_HV, FLIP_NONE, FLIP_V, DatasetSplits, ImageView, Split

__all__ = ["load_dataset", "SPLITS"]

SPLITS = ("paper", "stratified", "patient")


def _check_counts(spec: DatasetSpec, parts: dict[str, tuple[np.ndarray, np.ndarray, Any]],
                  where: Path) -> None:
    if spec.layout == "cifar-pickle":
        got = (len(parts["train"][1]), len(parts["test"][1]))
        want = (spec.train_count, spec.test_count)
        if None not in want and got != want:
            warnings.warn(f"{where}: {spec.name} has {got[0]:,} train / {got[1]:,} test images, the real "
                          f"dataset {want[0]:,} / {want[1]:,} (a subset?)", UserWarning, stacklevel=3)
        return
    counts = np.bincount(parts["all"][1], minlength=len(spec.classes))
    if spec.per_class is not None and (counts != spec.per_class).any():
        warnings.warn(f"{where}: {spec.name} has {counts.tolist()} images per class, the real dataset "
                      f"{spec.per_class:,} per class (a subset?)", UserWarning, stacklevel=3)


def _split_for(spec: DatasetSpec, split: str, seed: int, labels: np.ndarray, files: list[str],
               dsdir: Path) -> SplitIndices:
    n_classes = len(spec.classes)
    if split == "paper":
        return paper_split(labels, n_classes)
    if split == "stratified":
        return stratified_split(labels, n_classes, seed)
    if split == "patient":
        if spec.name != "malaria":
            raise ValueError(f"split='patient' is only defined for malaria, not {spec.name!r}")
        csvs = [dsdir / f.filename for f in MALARIA_PATIENT_CSVS]
        mapping = read_patient_csvs(csvs) if all(p.is_file() for p in csvs) else None
        return patient_split(files, seed, mapping=mapping)
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _val_flipped(view: ImageView, labels: torch.Tensor, files: tuple[str, ...] | None) -> Split:
    """Validation x4: originals, then horizontal, vertical and both flips (the paper's enlargement)."""
    n = len(view)
    index = np.tile(view.index, 4)
    flips = np.repeat(np.array([FLIP_NONE, FLIP_H, FLIP_V, FLIP_HV], np.int8), n)
    return Split(ImageView(view.base, index, flips), labels.repeat(4),
                 None if files is None else files * 4)


def _make_split(base: np.ndarray, labels: np.ndarray, files: list[str], idx: np.ndarray) -> Split:
    return Split(ImageView(base, idx), torch.from_numpy(labels[idx].astype(np.int64)),
                 tuple(files[i] for i in idx))


def load_dataset(name: str | DatasetSpec, root: str | os.PathLike[str] | None = None, *,
                 download: bool = True, archive: str | os.PathLike[str] | None = None,
                 image_size: int | None = None, split: str | None = None, seed: int = 0,
                 val_flips: bool | None = None,
                 cache: bool | str | os.PathLike[str] = True, offline: bool | None = None,
                 progress: bool = True, workers: int | None = None,
                 download_config: DownloadConfig | None = None) -> DatasetSplits:
    """Load ``cifar10``, ``colorectal_histology`` or ``malaria`` (or a ``DatasetSpec``) as uint8 images;
    ``digits`` (embedded) returns its seeded stratified 60/20/20 split: it takes ``seed`` (and the
    harmless ``download``, ``offline``, ``progress``); any other option given is a ``ValueError``.

    ``root``: the data folder (else ``$IGPW_DATA_DIR``, else the XDG cache); it may also hold the extracted
    dataset. ``archive``: a file (or extracted folder) the user already has; a file that is not the
    registered one is read by structure (restricted unpickler, checked zip names) with a warning.
    ``image_size``: side of the square images (default 224 for colorectal and malaria; CIFAR keeps its
    native 32 unless given). ``split``: ``"paper"`` (the default: the authors' rules; ``seed`` unused),
    ``"stratified"``
    (seeded, 80/10/10 per class; CIFAR keeps its official test set) or ``"patient"`` (malaria only: patients
    disjoint, from NIH's CSVs in ``<root>/malaria/`` when present, else parsed from file names).
    ``val_flips``: enlarge validation x4 with flips; default on for ``split="paper"`` on colorectal and
    malaria, as in the paper. ``cache``: True caches decoded arrays under ``<root>/<name>/cache``; a path
    puts the cache there; False decodes into RAM every time.
    """
    spec = get_spec(name)
    if spec.layout == "embedded":  # the digits: in memory, nothing to download, decode or cache
        from .digits import load_digits_splits

        _reject_for_embedded(spec.name, root=root is not None, archive=archive is not None,
                             image_size=image_size is not None, split=split not in (None, "stratified"),
                             val_flips=val_flips is not None, cache=cache is not True,
                             workers=workers is not None, download_config=download_config is not None)
        return load_digits_splits(seed)
    split = "paper" if split is None else split
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 8):
        raise ValueError(f"image_size must be an int >= 8 or None, got {image_size!r}")
    cfg = download_config or DownloadConfig(progress=progress)
    folder = data_dir(root)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"data folder {folder} is a file; pass a folder as root= (or IGPW_DATA_DIR)")
    size = image_size if image_size is not None else spec.default_image_size
    source = locate_source(spec, folder, archive, download=download, offline=offline, config=cfg)
    dsdir = folder / spec.name
    key = cache_key(source.source_id, size, spec.layout + "|" + ",".join(spec.class_folders))
    parts: dict[str, tuple[np.ndarray, np.ndarray, Any]]
    cache_path: Path | None = None
    if cache is False:
        parts = _decode(spec, source, size, None, folder, progress, workers)
    else:
        cache_root = Path(cache) if not isinstance(cache, bool) else dsdir / "cache"
        cache_path = cache_root / f"{spec.name}-{key}"
        hit = _read_or_repair(cache_path, source.path, repair=False)
        if hit is None:
            ensure_writable_dir(cache_root, "cache folder", "pass cache=DIR (a writable folder) or cache=False")
            with file_lock(cache_root / f".{cache_path.name}.lock"):
                hit = _read_or_repair(cache_path, source.path, repair=True)  # another rank may have built it
                if hit is None:
                    meta = {"dataset": spec.name, "source": str(source.path), "source_id": source.source_id,
                            "image_size": size, "loader_version": LOADER_VERSION,
                            "n_classes": len(spec.classes)}
                    with CacheWriter(cache_path, meta) as w:
                        _decode(spec, source, size, w, folder, progress, workers)
                        w.commit()
                    try:
                        hit = read_cache(cache_path)
                    except CacheCorrupt as e:
                        raise OSError(f"{e}; it was just written: check the disk, or pass cache=False") from e
                    if hit is None:
                        raise OSError(f"cache {cache_path} was written but cannot be read back")
        parts = {k: (p.images, p.labels, list(p.files)) for k, p in hit[0].items()}
    _check_counts(spec, parts, source.path)

    if spec.layout == "cifar-pickle":
        tr_img, tr_lab, tr_files = parts["train"]
        if split == "patient":
            raise ValueError("split='patient' is only defined for malaria, not 'cifar10'")
        if split == "paper":
            tr_idx, va_idx = cifar_paper_split(len(tr_lab))
        else:
            s = stratified_split(tr_lab, len(spec.classes), seed, val_fraction=0.1, test_fraction=0.0)
            tr_idx, va_idx = s.train, s.val
        te_img, te_lab, te_files = parts["test"]
        train = _make_split(tr_img, tr_lab, tr_files, tr_idx)
        val = _make_split(tr_img, tr_lab, tr_files, va_idx)
        test = _make_split(te_img, te_lab, te_files, np.arange(len(te_lab)))
        flips_default = False
    else:
        img, lab, files = parts["all"]
        s = _split_for(spec, split, seed, lab, files, dsdir)
        check_disjoint(s)
        train, val, test = (_make_split(img, lab, files, i) for i in (s.train, s.val, s.test))
        flips_default = split == "paper"
    if val_flips if val_flips is not None else flips_default:
        val = _val_flipped(val.images, val.labels, val.files)
    info = {"source": str(source.path), "source_kind": source.kind, "source_sha256_or_id": source.source_id,
            "verified": source.verified, "cache": str(cache_path) if cache_path else None,
            "image_size": size, "split": split, "seed": seed}
    return DatasetSplits(spec.name, spec.classes, train, val, test, info)


def _read_or_repair(path: Path, source: Path, *, repair: bool) -> Any:
    """``read_cache``; an unusable cache is ``None`` (rebuild) and, with ``repair``, is discarded
    (``repair``: we hold the lock) with a warning naming it and the source it is rebuilt from."""
    try:
        return read_cache(path)
    except CacheCorrupt as e:
        if repair:
            warnings.warn(f"{e}; rebuilding it from {source}", UserWarning, stacklevel=3)
            discard_cache(path)
        return None


def _reject_for_embedded(name: str, **given: bool) -> None:
    """One line naming the first option given that does not apply to the embedded dataset ``name``."""
    for option, is_given in given.items():
        if is_given:
            raise ValueError(f"{option}= does not apply to {name!r} (embedded 8x8 images with one seeded "
                             "stratified split; only seed= applies); leave it out")


def _decode(spec: DatasetSpec, source: Any, size: int | None, writer: CacheWriter | None, folder: Path,
            progress: bool, workers: int | None) -> dict[str, tuple[np.ndarray, np.ndarray, Any]]:
    if spec.layout == "cifar-pickle":
        return decode_cifar(spec, source, size, writer, folder, progress=progress)
    assert size is not None
    return decode_image_folders(spec, source, size, writer, progress=progress, workers=workers)
