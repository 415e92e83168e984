"""Safe reading of archives: tar extraction through ``filter="data"`` after a member check, zip members
read in place with their names checked, and a restricted unpickler that rebuilds numpy arrays only."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

__all__ = ["UnsafeArchiveError", "check_member_name", "safe_extract_tar", "SafeZip", "safe_unpickle",
           "normalise_keys"]


class UnsafeArchiveError(ValueError):
    """An archive member would escape the target folder, is a link or device, or a pickle asks for code."""


def check_member_name(name: str, archive: str | os.PathLike[str]) -> PurePosixPath:
    """Reject absolute paths, drive letters, ``..`` parts and NUL bytes in a member name."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if (not norm or "\x00" in norm or p.is_absolute() or ".." in p.parts
            or (len(norm) > 1 and norm[1] == ":")):
        raise UnsafeArchiveError(f"{archive}: unsafe member name {name!r} (absolute or escapes the folder)")
    return p


def safe_extract_tar(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[str]:
    """Extract ``archive`` into ``dest`` (created) with ``filter="data"``, after refusing any member that
    is unsafe; extraction goes to a temporary folder renamed at the end, so nothing partial is left.
    Returns the member names. Truncated/corrupt archives raise ``ValueError`` naming the file."""
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; not extracting over it")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()
            for m in members:
                check_member_name(m.name, archive)
                if not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link or special file")
            tmp.mkdir(parents=True)
            tf.extractall(tmp, members=members, filter="data")
        os.replace(tmp, dest)
        return [m.name for m in members]
    except (tarfile.TarError, EOFError, OSError, zlib_error()) as e:
        if isinstance(e, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{archive}: truncated or corrupted tar archive ({type(e).__name__}: {e})") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def zlib_error() -> type[BaseException]:
    import zlib

    return zlib.error


class SafeZip:
    """A zip opened read-only; member names checked on open; members read into memory (no extraction)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self._zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            if isinstance(e, (FileNotFoundError, PermissionError)):
                raise
            raise ValueError(f"{self.path}: truncated or corrupted zip archive ({e})") from e
        self.infos = [i for i in self._zf.infolist()]
        for info in self.infos:
            check_member_name(info.filename, self.path)

    def names(self) -> list[str]:
        """File (not folder) member names, as stored."""
        return [i.filename for i in self.infos if not i.is_dir()]

    def read(self, name: str) -> bytes:
        """The bytes of one member; CRC or truncation errors name the member."""
        try:
            return self._zf.read(name)
        except (zipfile.BadZipFile, EOFError, OSError, zlib_error()) as e:
            raise ValueError(f"{self.path}: member {name!r} cannot be read ({e}); archive corrupted?") from e

    def close(self) -> None:
        self._zf.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The globals a numpy-array pickle needs (old and new numpy module paths), mapped to the real objects.
def _allowed_globals() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = _reconstruct
        allowed[(mod, "scalar")] = scalar
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits numpy array reconstruction and plain containers; any other global raises."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            msg = f"pickle asks for {module}.{name}; only numpy arrays are allowed"
            raise UnsafeArchiveError(msg) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeArchiveError("pickle uses persistent ids; refused")


def safe_unpickle(data: bytes, *, source: str = "<pickle>", encoding: str = "bytes") -> Any:
    """Load a pickle that may only rebuild numpy arrays, lists, dicts, strings and numbers."""
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()
    except UnsafeArchiveError as e:
        raise UnsafeArchiveError(f"{source}: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError) as e:
        raise ValueError(f"{source}: not a readable pickle ({type(e).__name__}: {e})") from e


def normalise_keys(obj: dict[Any, Any]) -> dict[str, Any]:
    """Bytes keys (Python-2 pickles loaded with ``encoding='bytes'``) become str keys."""
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


