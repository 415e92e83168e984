"""Tiny archives in the real formats, with deterministic bytes (gzip mtime 0, zip dates 1980-01-01,
fixed RNG), for tests and the notebooks' smoke mode (``IGPW_SMOKE=1``) through the same loader code."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .registry import DatasetSpec, RemoteFile, get_spec

__all__ = [
    "FixtureInfo",
    "py2_pickle",
    "cifar_archive_bytes",
    "kather_archive_bytes",
    "malaria_archive_bytes",
    "fixture_archive_bytes",
    "write_zip",
    "write_tar_gz",
    "make_fixture_root",
    "load_smoke_dataset",
    "smoke_enabled",
]

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def smoke_enabled() -> bool:
    """True when ``IGPW_SMOKE=1``: notebooks then use ``load_smoke_dataset`` instead of real data."""
    return os.environ.get("IGPW_SMOKE", "").strip().lower() in ("1", "true", "yes", "on")


# --- a Python-2 style pickle writer (protocol 2, str as BINSTRING), as CIFAR's batches were written ----
def _p2(obj: Any) -> bytes:
    if isinstance(obj, dict):
        body = b"".join(_p2(k) + _p2(v) for k, v in obj.items())
        return b"}" + (b"(" + body + b"u" if obj else b"")
    if isinstance(obj, list):
        return b"]" + (b"(" + b"".join(_p2(x) for x in obj) + b"e" if obj else b"")
    if isinstance(obj, tuple):
        if len(obj) in (1, 2, 3):
            return b"".join(_p2(x) for x in obj) + {1: b"\x85", 2: b"\x86", 3: b"\x87"}[len(obj)]
        return b"(" + b"".join(_p2(x) for x in obj) + b"t"
    if obj is None:
        return b"N"
    if obj is False:
        return b"\x89"
    if obj is True:
        return b"\x88"
    if isinstance(obj, int):
        if 0 <= obj < 256:
            return b"K" + bytes([obj])
        if 0 <= obj < 65536:
            return b"M" + struct.pack("<H", obj)
        return b"J" + struct.pack("<i", obj)
    if isinstance(obj, (str, bytes)):  # a Python-2 str
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<I", len(raw))) + raw
    if isinstance(obj, np.ndarray):
        if obj.dtype != np.uint8:
            raise TypeError("only uint8 arrays are written")
        dtype = b"cnumpy\ndtype\n" + _p2(("u1", 0, 1)) + b"R"
        dtype += _p2((3, "|", None, None, None, -1, -1, 0)) + b"b"
        head = b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + _p2((0,)) + _p2("b")
        head += b"\x87R"
        state = b"(" + _p2(1) + _p2(tuple(obj.shape)) + dtype + _p2(False) + _p2(obj.tobytes()) + b"t"
        return head + state + b"b"
    raise TypeError(f"cannot write {type(obj).__name__}")


def py2_pickle(obj: Any) -> bytes:
    """Pickle ``obj`` the way Python 2's cPickle (protocol 2) wrote the CIFAR batches."""
    return b"\x80\x02" + _p2(obj) + b"."


def write_tar_gz(members: list[tuple[str, bytes | None]]) -> bytes:
    """A deterministic tar.gz: ``(name, bytes)`` files and ``(name, None)`` folders, mtime 0, root owner."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tf:
            for name, data in members:
                ti = tarfile.TarInfo(name)
                ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
                if data is None:
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(ti)
                else:
                    ti.size, ti.mode = len(data), 0o644
                    tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def write_zip(members: list[tuple[str, bytes | None]]) -> bytes:
    """A deterministic zip: entries dated 1980-01-01, deflated, Unix attributes; ``None`` means a folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            zi.create_system = 3
            if data is None:
                zi.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(zi, b"")
            else:
                zi.external_attr = 0o100644 << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(zi, data)
    return buf.getvalue()


def _class_image(rng: np.random.Generator, label: int, n_classes: int, h: int, w: int) -> np.ndarray:
    """A learnable toy image: a class-specific colour and stripe frequency plus noise, (h, w, 3) uint8."""
    hue = np.array([np.cos(2 * np.pi * label / n_classes), np.sin(2 * np.pi * label / n_classes), 0.0])
    base = 128 + 80 * hue
    yy = np.arange(h)[:, None] / max(h, 1)
    stripes = 40 * np.sin(2 * np.pi * (label + 1) * yy)  # (h, 1)
    img = base[None, None, :] + stripes[..., None] + rng.normal(0, 12, size=(h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def cifar_archive_bytes(per_batch: int = 20, test: int = 20, seed: int = 0) -> bytes:
    """``cifar-10-python.tar.gz`` in the real layout: ``data_batch_1..5``, ``test_batch``, ``batches.meta``
    (Python-2 pickles), ``readme.html``; ``per_batch`` images per training batch."""
    spec = get_spec("cifar10")
    rng = np.random.default_rng(seed)
    top = spec.top_folder
    members: list[tuple[str, bytes | None]] = [(top, None)]
    batches = [(f"data_batch_{k}", f"training batch {k} of 5", per_batch) for k in range(1, 6)]
    batches.append(("test_batch", "testing batch 1 of 1", test))
    for fname, label, n in batches:
        labels = [int(x) for x in rng.integers(0, 10, size=n)]
        data = np.stack([_class_image(rng, y, 10, 32, 32).transpose(2, 0, 1).reshape(-1) for y in labels]) \
            if n else np.zeros((0, 3072), np.uint8)
        d = {"batch_label": label, "labels": labels, "data": data,
             "filenames": [f"{spec.classes[y]}_s_{i:06d}.png" for i, y in enumerate(labels)]}
        members.append((f"{top}/{fname}", py2_pickle(d)))
    members.append((f"{top}/batches.meta", py2_pickle({"num_cases_per_batch": per_batch,
                                                        "label_names": list(spec.classes), "num_vis": 3072})))
    members.append((f"{top}/readme.html", b"<meta HTTP-EQUIV=\"REFRESH\" content=\"0; "
                                          b"URL=http://www.cs.toronto.edu/~kriz/cifar.html\">\n"))
    return write_tar_gz(members)


def _encode(img: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt)
    return buf.getvalue()


def kather_archive_bytes(per_class: int = 10, seed: int = 0, nested: bool = False) -> bytes:
    """``Kather_texture_2016_image_tiles_5000.zip``: 8 class folders of 150x150 RGB TIFFs named like the
    real tiles, plus a stray non-image (``.DS_Store``). ``nested`` adds the mirror's extra top level."""
    spec = get_spec("colorectal_histology")
    rng = np.random.default_rng(seed)
    top = spec.top_folder + ("/" + spec.top_folder if nested else "")
    members: list[tuple[str, bytes | None]] = [(top + "/", None)]
    for label, cls in enumerate(spec.class_folders):
        members.append((f"{top}/{cls}/", None))
        for i in range(per_class):
            row, col = 1 + 150 * (i % 20), 1 + 150 * (i // 20)
            name = (f"{10 + label:X}{i % 7}A{i:02d}_CRC-Prim-HE-{label + 1:02d}_{i:03d}.tif"
                    f"_Row_{row}_Col_{col}.tif")
            members.append((f"{top}/{cls}/{name}", _encode(_class_image(rng, label, 8, 150, 150), "TIFF")))
    members.append((f"{top}/01_TUMOR/.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(32)))
    return write_zip(members)


ImageMaker = Callable[[np.random.Generator, int, int, int, int], np.ndarray]  # rng, label, classes, h, w


def malaria_archive_bytes(per_class: int = 20, seed: int = 0, nested: bool = False, *,
                          sizes: Callable[[np.random.Generator], tuple[int, int]] | None = None,
                          image: ImageMaker | None = None) -> bytes:
    """``cell_images.zip``: ``Parasitized``/``Uninfected`` PNGs of mixed sizes (40-120 px) with NIH-style
    names from several slides/patients, and a ``Thumbs.db`` in each folder. ``nested`` duplicates the
    tree one level down, like a known mirror. ``sizes`` and ``image`` replace the size draw and the
    picture (the full-size rehearsal draws the real spread of sizes and cell-like images)."""
    spec = get_spec("malaria")
    rng = np.random.default_rng(seed)
    slides = ["C33P1ThinF", "C39P4thinF", "C100P61ThinF", "C101P62ThinF", "C189P150ThinF", "C1_thinF",
              "C2_thinF", "C3_thinF"]
    top = spec.top_folder
    tops = [top, f"{top}/{top}"] if nested else [top]
    members: list[tuple[str, bytes | None]] = []
    files: list[tuple[str, bytes]] = []
    for label, cls in enumerate(spec.class_folders):
        for i in range(per_class):
            slide = slides[(i + 3 * label) % len(slides)]
            stem = f"{slide}_IMG_2015{(i * 37) % 10000:04d}_{100000 + i * 13:06d}_cell_{i:03d}.png"
            h, w = sizes(rng) if sizes is not None else (int(x) for x in rng.integers(40, 121, size=2))
            files.append((f"{cls}/{stem}", _encode((image or _class_image)(rng, label, 2, h, w), "PNG")))
    for t in tops:
        members.append((t + "/", None))
        for cls in spec.class_folders:
            members.append((f"{t}/{cls}/", None))
            members += [(f"{t}/{n}", b) for n, b in files if n.startswith(cls + "/")]
            members.append((f"{t}/{cls}/Thumbs.db", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(56)))
    return write_zip(members)


def fixture_archive_bytes(name: str, *, size: int = 10, seed: int = 0) -> bytes:
    """The fixture archive for ``name``; ``size`` is images per class (per batch for CIFAR)."""
    spec = get_spec(name)
    if spec.name == "cifar10":
        return cifar_archive_bytes(per_batch=size, test=size, seed=seed)
    if spec.name == "colorectal_histology":
        return kather_archive_bytes(per_class=size, seed=seed)
    if spec.name == "malaria":
        return malaria_archive_bytes(per_class=size, seed=seed)
    raise ValueError(f"no fixture for dataset {name!r}")


@dataclass(frozen=True)
class FixtureInfo:
    """A written fixture: ``spec`` (the registry entry with the fixture's size and SHA-256), ``archive``
    (its path), ``root`` (the data folder to pass as ``root=``)."""

    spec: DatasetSpec
    archive: Path
    root: Path


def make_fixture_root(name: str, folder: str | os.PathLike[str], *, size: int = 10, seed: int = 0,
                      url: str | None = None) -> FixtureInfo:
    """Write the fixture archive as ``<folder>/<name>/<real file name>`` and return a ``DatasetSpec``
    registering its size and SHA-256, so ``load_dataset(info.spec, root=info.root)`` runs the real
    verify-decode-cache-split path. Idempotent: identical bytes are not rewritten."""
    spec = get_spec(name)
    data = fixture_archive_bytes(spec.name, size=size, seed=seed)
    root = Path(folder)
    dest = root / spec.name / spec.archive.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not (dest.is_file() and dest.read_bytes() == data):
        if dest.exists():
            raise FileExistsError(f"{dest} exists with other content; not overwriting it")
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    remote = RemoteFile(spec.archive.filename, url or f"http://127.0.0.1/fixtures/{spec.archive.filename}",
                        len(data), hashlib.sha256(data).hexdigest(), note="fixture")
    fspec = spec.replace(archive=remote, per_class=None, train_count=None, test_count=None)
    return FixtureInfo(fspec, dest, root)


def load_smoke_dataset(name: str, folder: str | os.PathLike[str] | None = None, *, size: int = 10,
                       seed: int = 0, **kwargs: Any):  # noqa: ANN201 - returns DatasetSplits
    """A tiny dataset through the real loader: fixture archive + ``load_dataset``. ``folder`` defaults
    to ``<tmp>/igpw_viz_smoke``; ``kwargs`` go to ``load_dataset`` (e.g. ``image_size=64``)."""
    from .loaders import load_dataset

    folder = Path(folder) if folder is not None else Path(tempfile.gettempdir()) / "igpw_viz_smoke"
    info = make_fixture_root(name, folder / f"{get_spec(name).name}-s{size}-r{seed}", size=size, seed=seed)
    kwargs.setdefault("progress", False)
    return load_dataset(info.spec, root=info.root, download=False, **kwargs)
