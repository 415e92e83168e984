"""Safe reading of archives under documented caps (``ArchiveLimits``): tar extraction streamed through
``filter="data"`` after a member check, with the compressed stream read to its end so its CRC is checked,
and zip members read in place with their names, types and expanded sizes checked."""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import UnsafeArchiveError
from .leftovers import remove_leftovers
from .pickles import normalise_keys, safe_unpickle

__all__ = ["UnsafeArchiveError", "ArchiveLimits", "DEFAULT_LIMITS", "check_member_name", "safe_extract_tar",
           "SafeZip", "safe_unpickle", "normalise_keys"]

_MiB = 1 << 20
REDOWNLOAD = "delete it and download it again (python -m igpw_viz download --dataset NAME)"


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what an archive may expand to, counted on the bytes actually decompressed (headers are
    checked too, never trusted alone). The defaults are ~3x (member) and >10x (total) what the course's
    real archives need: CIFAR-10's largest member is 31 MB and it expands to 178 MB; Kather's 5,000 TIFFs
    and malaria's 27,558 PNGs expand to under 400 MB each; all three compress by less than 2x.

    ``max_member_bytes``: one member; ``max_total_bytes``: the whole archive; ``max_members``: entries;
    ``max_ratio``: expanded / compressed bytes, enforced once ``ratio_floor`` bytes have expanded (small,
    very compressible files such as a readme are fine; a bomb is not)."""

    max_member_bytes: int = 512 * _MiB
    max_total_bytes: int = 4096 * _MiB
    max_members: int = 200_000
    max_ratio: float = 100.0
    ratio_floor: int = 4 * _MiB

    def check(self, archive: object, member: str, member_bytes: int, total: int,
              compressed: int | None = None, expanded: int | None = None) -> None:
        """Raise ``UnsafeArchiveError`` naming ``archive`` and ``member`` when a cap is passed; the ratio
        is ``expanded`` (default ``total``) over ``compressed`` (skipped when None)."""
        what = None
        expanded = total if expanded is None else expanded
        if member_bytes > self.max_member_bytes:
            what = f"expands to more than the {self.max_member_bytes:,}-byte cap per member"
        elif total > self.max_total_bytes:
            what = f"takes the archive past the {self.max_total_bytes:,}-byte cap on its expanded size"
        elif (compressed is not None and expanded > self.ratio_floor
              and expanded > self.max_ratio * max(compressed, 1)):
            what = (f"expands {expanded / max(compressed, 1):,.0f}x its compressed size (the cap is "
                    f"{self.max_ratio:g}x: a decompression bomb?)")
        if what is not None:
            raise UnsafeArchiveError(f"{archive}: member {member!r} {what}; refused. If the archive is "
                                     f"genuine, raise the caps with ArchiveLimits(...)")


DEFAULT_LIMITS = ArchiveLimits()


def check_member_name(name: str, archive: str | os.PathLike[str]) -> PurePosixPath:
    """Reject absolute paths, drive letters, ``..`` parts and NUL bytes in a member name."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if (not norm or "\x00" in norm or p.is_absolute() or ".." in p.parts
            or (len(norm) > 1 and norm[1] == ":")):
        raise UnsafeArchiveError(f"{archive}: unsafe member name {name!r} (absolute or escapes the folder)")
    return p


class _Tree:
    """Member names seen so far: refuses duplicates, a file used as a folder, and too many members."""

    def __init__(self, archive: Path, limits: ArchiveLimits):
        self.archive, self.limits = archive, limits
        self.files: set[PurePosixPath] = set()
        self.dirs: set[PurePosixPath] = set()
        self.count = 0

    def add(self, name: str, is_dir: bool) -> PurePosixPath:
        p = check_member_name(name, self.archive)
        self.count += 1
        if self.count > self.limits.max_members:
            raise UnsafeArchiveError(f"{self.archive}: more than {self.limits.max_members:,} members "
                                     f"(at {name!r}); refused")
        clash = p in self.files or (not is_dir and p in self.dirs)
        parent = next((q for q in p.parents if q in self.files), None)
        if clash or parent is not None:
            why = "appears twice" if clash else f"is inside {parent.as_posix()!r}, which is a file"
            raise UnsafeArchiveError(f"{self.archive}: member {name!r} {why}; refused (a damaged or "
                                     f"tampered archive: {REDOWNLOAD})")
        (self.dirs if is_dir else self.files).add(p)
        self.dirs.update(p.parents)
        return p


class _Counted:
    """A read-only file wrapper counting the bytes read through it."""

    def __init__(self, f: IO[bytes]):
        self.f, self.n = f, 0

    def read(self, size: int = -1) -> bytes:
        b = self.f.read(size)
        self.n += len(b)
        return b


class _Limited(_Counted):
    """The decompressed stream, checked against the caps on every read (``member`` names the current
    member in errors)."""

    def __init__(self, f: IO[bytes], raw: _Counted, archive: Path, limits: ArchiveLimits):
        super().__init__(f)
        self.raw, self.archive, self.limits = raw, archive, limits
        self.member, self.member_start = "(tar header)", 0

    def read(self, size: int = -1) -> bytes:
        b = super().read(size)
        self.limits.check(self.archive, self.member, self.n - self.member_start, self.n, self.raw.n)
        return b


def _decompressor(raw: _Counted, head: bytes) -> IO[bytes]:
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[arg-type]
    if head[:3] == b"BZh":
        return bz2.BZ2File(raw, "rb")  # type: ignore[arg-type]
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw, "rb")  # type: ignore[arg-type]
    return raw  # type: ignore[return-value]  # a plain tar


def safe_extract_tar(archive: str | os.PathLike[str], dest: str | os.PathLike[str], *,
                     limits: ArchiveLimits = DEFAULT_LIMITS) -> list[str]:
    """Extract ``archive`` (tar, .tar.gz/.bz2/.xz) into ``dest`` (created) with ``filter="data"``.

    Members are checked before they are written: names (no escape), types (files and folders only: no
    links, devices or sparse files), no duplicates, and the caps of ``limits`` on the bytes streamed.
    The compressed stream is read to its end so its CRC and length are verified: a flipped byte is an
    error, not silently wrong data. Extraction goes to ``.<dest>.<pid>.extracting``, renamed at the end;
    such folders left by a killed run are removed first. Returns the member names."""
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; not extracting over it (delete it to extract again)")
    remove_leftovers(dest.parent, f".{dest.name}.", ".extracting")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with open(archive, "rb") as f:
            raw = _Counted(f)
            head = f.read(6)
            f.seek(0)
            stream = _Limited(_decompressor(raw, head), raw, archive, limits)
            names = _extract_members(stream, archive, tmp, limits)
            stream.member = "(after the last member)"
            while stream.read(_MiB):  # to the end: gzip/bz2/xz check their CRC and length here
                pass
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():  # else another process extracted the same archive first: keep theirs
                raise
        return names
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as e:
        if isinstance(e, OSError) and e.errno is not None and not isinstance(e, gzip.BadGzipFile):
            if e.errno == errno.ENOSPC:
                raise OSError(e.errno, f"no space left on the device while extracting {archive} into "
                                       f"{dest.parent}; free some space or choose another data folder "
                                       f"(root=... or IGPW_DATA_DIR)") from e
            raise
        raise ValueError(f"{archive}: truncated or corrupted archive ({type(e).__name__}: {e}); "
                         f"{REDOWNLOAD}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_members(stream: _Limited, archive: Path, tmp: Path, limits: ArchiveLimits) -> list[str]:
    tree = _Tree(archive, limits)
    names: list[str] = []
    tmp.mkdir(parents=True)
    with tarfile.open(fileobj=stream, mode="r|") as tf:  # type: ignore[call-overload]
        for m in tf:
            tree.add(m.name, m.isdir())
            if not (m.isfile() or m.isdir()) or m.issparse():
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link, device or sparse file; "
                                         f"refused (the datasets hold plain files only)")
            limits.check(archive, m.name, m.size, stream.n + m.size)  # the header; then the real bytes
            stream.member, stream.member_start = m.name, stream.n
            try:
                tf.extract(m, tmp, filter="data")
            except tarfile.FilterError as e:
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} refused ({e})") from e
            names.append(m.name)
    return names


_READABLE = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
             zipfile.ZIP_LZMA: "lzma"}
_METHODS = {9: "Deflate64", 6: "Implode", 93: "Zstandard", 98: "PPMd", 99: "AES-encrypted"}


class SafeZip:
    """A zip opened read-only; member names, types, duplicates and declared sizes checked on open;
    members read into memory (no extraction) with the expanded bytes counted against ``limits``."""

    def __init__(self, path: str | os.PathLike[str], limits: ArchiveLimits = DEFAULT_LIMITS):
        self.path, self.limits = Path(path), limits
        try:
            self._zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
                raise
            raise ValueError(f"{self.path}: truncated or corrupted zip archive ({e}); {REDOWNLOAD}") from e
        self.infos = list(self._zf.infolist())
        self._by_name = {i.filename: i for i in self.infos}
        self._total = 0
        try:
            self._check_members()
        except BaseException:
            self._zf.close()
            raise

    def _check_members(self) -> None:
        """Names, types, duplicates and the declared sizes (the real bytes are counted on read)."""
        tree = _Tree(self.path, self.limits)
        declared = 0
        for info in self.infos:
            tree.add(info.filename, info.is_dir())
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"{self.path}: member {info.filename!r} is a symbolic link; refused "
                                         f"(the datasets hold plain files only)")
            declared += info.file_size
            self.limits.check(self.path, info.filename, info.file_size, declared, info.compress_size,
                              info.file_size)

    def names(self) -> list[str]:
        """File (not folder) member names, as stored."""
        return [i.filename for i in self.infos if not i.is_dir()]

    def _check_supported(self, info: zipfile.ZipInfo) -> None:
        fix = ("re-pack it with plain Deflate (e.g. `zip -r`) or pass the extracted folder as archive=..., "
               "or download the registered archive (python -m igpw_viz download --dataset NAME)")
        if info.flag_bits & 0x1:
            raise ValueError(f"{self.path}: member {info.filename!r} is encrypted (password-protected), "
                             f"which this loader does not read; {fix}")
        if info.compress_type not in _READABLE:
            method = _METHODS.get(info.compress_type, f"method {info.compress_type}")
            raise ValueError(f"{self.path}: member {info.filename!r} is compressed with {method}, which "
                             f"Python's zipfile cannot read; {fix}")

    def read(self, name: str) -> bytes:
        """The bytes of one member, streamed and counted against the caps; CRC or truncation errors,
        encryption and unsupported compression name the archive and the member."""
        info = self._by_name.get(name)
        if info is None:
            raise FileNotFoundError(f"{self.path}: no member {name!r}")
        self._check_supported(info)
        out = bytearray()
        try:
            with self._zf.open(info) as f:
                while chunk := f.read(_MiB):
                    out += chunk
                    self.limits.check(self.path, name, len(out), self._total + len(out),
                                      info.compress_size, len(out))
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError, NotImplementedError,
                RuntimeError) as e:
            raise ValueError(f"{self.path}: member {name!r} cannot be read ({e}); the archive is "
                             f"corrupted: {REDOWNLOAD}") from e
        self._total += len(out)
        return bytes(out)

    def close(self) -> None:
        self._zf.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
