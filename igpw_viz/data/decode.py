"""Decoding: CIFAR pickles (restricted unpickler) and TIFF/PNG image folders (PIL, RGB, zero-pad to a
centred square, nearest resize as in the paper), written once into the memory-mapped cache."""

from __future__ import annotations

import io
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from .archives import SafeZip, normalise_keys, safe_extract_tar, safe_unpickle
from .cache import CacheWriter
from .download import ensure_writable_dir, file_lock
from .registry import DatasetSpec
from .sources import CIFAR_BATCHES, Source, find_extracted

CIF_HINT = "use the registered cifar-10-python.tar.gz (python -m igpw_viz download --dataset cifar10)"

__all__ = ["decode_image", "list_image_files", "decode_image_folders", "decode_cifar", "pad_resize"]


def pad_resize(im: Image.Image, size: int | None) -> np.ndarray:
    """RGB image -> (3, S, S) uint8: zero-pad to a centred square, then nearest-neighbour resize to S
    (``size=None`` keeps the square side)."""
    im = im.convert("RGB")
    w, h = im.size
    s = max(w, h)
    if w != h:
        canvas = Image.new("RGB", (s, s))
        canvas.paste(im, ((s - w) // 2, (s - h) // 2))
        im = canvas
    if size is not None and size != s:
        im = im.resize((size, size), Image.NEAREST)
    return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)  # (3, S, S)


class _TooLarge(ValueError):
    """An image header claiming more than ``MAX_PIXELS`` pixels."""


MAX_PIXELS = 4096 * 4096  # the datasets' images are 150x150 (Kather) and under 400x400 (malaria cells)


def decode_image(data: bytes, name: str, size: int | None) -> np.ndarray:
    """Decode one TIFF/PNG; any failure raises ``ValueError`` naming the file. A header claiming more
    than ``MAX_PIXELS`` pixels is refused before decoding (a small file must not claim gigabytes)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise _TooLarge(f"image {name} claims {im.size[0]}x{im.size[1]} pixels, more than the "
                                 f"{MAX_PIXELS:,} allowed (decode.MAX_PIXELS); the file is damaged or not "
                                 f"from the dataset: replace it")
            im.load()
            return pad_resize(im, size)
    except _TooLarge:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"image {name} cannot be decoded ({type(e).__name__}: {e}); the file is damaged: "
                         f"replace it, or delete the archive and download it again") from e


def list_image_files(spec: DatasetSpec, names: list[str], source: Path) -> list[list[str]]:
    """Per class (label order), the sorted image member names. Picks the outermost folder holding class
    folders (the mirrors' duplicated tree is ignored); non-images such as ``Thumbs.db`` are skipped."""
    suffixes = tuple(s.lower() for s in spec.image_suffixes)
    by_prefix: dict[tuple[str, ...], dict[str, list[str]]] = {}
    for n in names:
        p = PurePosixPath(n.replace("\\", "/"))
        if p.suffix.lower() not in suffixes or len(p.parts) < 2 or p.name.startswith("._"):
            continue
        cls = p.parts[-2]
        if cls in spec.class_folders:
            by_prefix.setdefault(p.parts[:-2], {}).setdefault(cls, []).append(n)
    if not by_prefix:
        raise FileNotFoundError(f"{source}: no {'/'.join(suffixes)} images under any of the class folders "
                                f"{', '.join(spec.class_folders)}")
    prefix = min(by_prefix, key=lambda t: (len(t), t))
    classes = by_prefix[prefix]
    missing = [c for c in spec.class_folders if c not in classes]
    if missing:
        where = "/".join(prefix) or "."
        raise FileNotFoundError(f"{source}: folder {where} is missing class folders: {', '.join(missing)}")
    return [sorted(classes[c], key=lambda s: PurePosixPath(s).name) for c in spec.class_folders]


def _folder_names(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        out += [(rel / f).as_posix() for f in filenames]
    return out


def _bar(total: int, desc: str, enabled: bool):  # noqa: ANN202
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False, file=sys.stderr)


def decode_image_folders(spec: DatasetSpec, source: Source, size: int, writer: CacheWriter | None,
                         *, progress: bool, workers: int | None) -> dict[str, tuple[np.ndarray, np.ndarray,
                                                                                   list[str]]]:
    """Decode every image once into part ``"all"`` (class by class, files sorted). Returns
    {part: (images (N,3,S,S), labels (N,), files)}."""
    zf: SafeZip | None = None
    if source.kind == "archive":
        zf = SafeZip(source.path)
        names = zf.names()
        read: Callable[[str], bytes] = zf.read
    else:
        names = _folder_names(source.path)

        def read(n: str) -> bytes:
            return (source.path / n).read_bytes()
    try:
        per_class = list_image_files(spec, names, source.path)
        files = [f for fs in per_class for f in fs]
        labels = np.concatenate([np.full(len(fs), c, np.int64) for c, fs in enumerate(per_class)])
        shape = (len(files), 3, size, size)
        images = writer.images("all", shape) if writer is not None else np.empty(shape, np.uint8)

        def one(i: int) -> int:
            name = files[i]
            images[i] = decode_image(read(name), f"{source.path}:{name}" if zf else
                                     str(source.path / name), size)
            return i

        nw = workers if workers is not None else min(4, os.cpu_count() or 1)
        bar = _bar(len(files), f"decode {spec.name}", progress)
        try:
            if nw <= 1 or zf is not None:  # zipfile reads share one file handle: keep them sequential
                for i in range(len(files)):
                    one(i)
                    bar.update()
            else:
                with ThreadPoolExecutor(nw) as ex:
                    for _ in ex.map(one, range(len(files))):
                        bar.update()
        finally:
            bar.close()
        if writer is not None:
            writer.finish_part("all", images, labels, files)
        return {"all": (images, labels, files)}
    finally:
        if zf is not None:
            zf.close()


def _iter_cifar_dir(folder: Path) -> Iterator[tuple[str, dict]]:
    for name in CIFAR_BATCHES:
        p = folder / name
        if not p.is_file():
            raise FileNotFoundError(f"{folder}: CIFAR batch file {name} is missing; delete {folder} to extract "
                                    f"it again, or {CIF_HINT}")
        d = safe_unpickle(p.read_bytes(), source=str(p))
        if not isinstance(d, dict):
            raise ValueError(f"{p}: expected a dict, got {type(d).__name__}; {CIF_HINT}")
        yield name, normalise_keys(d)


def _cifar_folder(spec: DatasetSpec, source: Source, data_folder: Path) -> Path:
    """The folder holding the batches: the source folder, or the archive extracted (once, with
    ``filter='data'``) into ``data_folder/<name>/extracted-<sha>``. That extraction is derived data:
    when it is incomplete (a batch deleted, or a run killed before the stamp) it is extracted again."""
    if source.kind == "folder":
        return source.path
    dest = data_folder / spec.name / f"extracted-{source.source_id[:16]}"
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} is a file where the extracted archive belongs; move it away")
    if not _extraction_ok(spec, dest, source):
        ensure_writable_dir(dest.parent)
        with file_lock(dest.parent / f".{dest.name}.lock"):  # one extraction at a time (torchrun ranks)
            if dest.is_dir() and not _extraction_ok(spec, dest, source):
                warnings.warn(f"{dest} is incomplete; extracting {source.path} again", UserWarning,
                              stacklevel=4)
                aside = dest.with_name(f".{dest.name}.{os.getpid()}.extracting")  # a leftover if killed
                os.replace(dest, aside)
                shutil.rmtree(aside, ignore_errors=True)
            if not dest.exists():
                safe_extract_tar(source.path, dest)
                (dest / ".igpw_source_sha256").write_text(source.source_id)
    found = find_extracted(spec, dest)
    if found is None:
        raise FileNotFoundError(f"{source.path}: no {spec.top_folder}/ with CIFAR batches inside; {CIF_HINT}")
    return found


def _extraction_ok(spec: DatasetSpec, dest: Path, source: Source) -> bool:
    """Our stamped extraction of this archive with every batch present."""
    try:
        stamp = (dest / ".igpw_source_sha256").read_text().strip()
        return stamp == source.source_id and find_extracted(spec, dest) is not None
    except OSError:  # no stamp, or a partial extraction (FileNotFoundError)
        return False


def decode_cifar(spec: DatasetSpec, source: Source, size: int | None, writer: CacheWriter | None,
                 data_folder: Path, *, progress: bool) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    """Read the six batches into parts ``"train"`` and ``"test"`` (N, 3, 32, 32), resized if ``size``."""
    folder = _cifar_folder(spec, source, data_folder)
    meta_path = folder / "batches.meta"
    if meta_path.is_file():
        meta = normalise_keys(safe_unpickle(meta_path.read_bytes(), source=str(meta_path)))
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", []))
        if names and names != spec.classes:
            warnings.warn(f"{meta_path}: label names {names} differ from the registry's {spec.classes}",
                          UserWarning, stacklevel=4)
    acc: dict[str, list] = {"train": [], "test": []}
    for name, d in _iter_cifar_dir(folder):
        data = np.asarray(d.get("data"))
        labels = d.get("labels", d.get("fine_labels"))
        src = folder / name
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels is None:
            raise ValueError(f"{src}: expected uint8 data (N, 3072) and labels, got {data.dtype} "
                             f"{data.shape}; {CIF_HINT}")
        if len(labels) != len(data):
            raise ValueError(f"{src}: {len(data)} images but {len(labels)} labels; {CIF_HINT}")
        fnames = [f.decode() if isinstance(f, bytes) else str(f) for f in d.get("filenames", [])]
        fnames = fnames if len(fnames) == len(data) else [f"{name}[{i}]" for i in range(len(data))]
        acc["test" if name == "test_batch" else "train"].append((data.reshape(-1, 3, 32, 32),
                                                                 np.asarray(labels, np.int64), fnames))
    out = {}
    for part, chunks in acc.items():
        imgs = np.concatenate([c[0] for c in chunks])  # (N, 3, 32, 32)
        labels = np.concatenate([c[1] for c in chunks])
        files = [f for c in chunks for f in c[2]]
        if labels.min() < 0 or labels.max() >= len(spec.classes):
            raise ValueError(f"{folder}: labels outside 0..{len(spec.classes) - 1}; {CIF_HINT}")
        if size is not None and size != 32:
            dst = (writer.images(part, (len(imgs), 3, size, size)) if writer is not None
                   else np.empty((len(imgs), 3, size, size), np.uint8))
            bar = _bar(len(imgs), f"resize cifar10 {part}", progress)
            for i in range(len(imgs)):
                dst[i] = pad_resize(Image.fromarray(imgs[i].transpose(1, 2, 0)), size)
                bar.update()
            bar.close()
            imgs = dst
        if writer is not None:
            writer.finish_part(part, imgs, labels, files)
        out[part] = (imgs, labels, files)
    return out
