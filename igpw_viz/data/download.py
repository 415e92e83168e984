"""One standard-library downloader: stream to ``.part``, resume with HTTP Range, retry with backoff, check
size and SHA-256, then rename into place, so a half-written file never sits under the final name."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ..core.files import atomic_write_text
from .registry import RemoteFile

__all__ = [
    "DownloadError",
    "OfflineError",
    "ChecksumError",
    "DownloadConfig",
    "data_dir",
    "is_offline",
    "sha256_file",
    "verify_file",
    "download_file",
    "ensure_writable_dir",
    "manual_instructions",
    "file_lock",
]

_CHUNK = 1 << 20
_REPLACE = ("it is kept as it is: move it away and download it again "
            "(python -m igpw_viz download --dataset NAME)")


class DownloadError(RuntimeError):
    """The file could not be fetched (network failure after all retries, or an HTTP error)."""


class RedirectRefused(DownloadError):
    """The server redirected to a scheme other than http(s) (``file:``, ``ftp:``, ``data:``...)."""


class OfflineError(DownloadError):
    """``IGPW_OFFLINE=1`` (or ``offline=True``) forbids the network and the file is not there."""


class ChecksumError(ValueError):
    """A file's size or SHA-256 does not match the registry."""


@dataclass(frozen=True)
class DownloadConfig:
    """Retry policy; tests shrink ``backoff`` so they run fast. ``max_unsized_bytes`` bounds a download
    whose size the registry does not know, so a server streaming without end cannot fill the disk."""

    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 60.0
    progress: bool = True
    user_agent: str = "igpw_viz-data/1"
    max_unsized_bytes: int = 256 << 20  # a file without a registered size (the patient CSVs: ~1 MB)

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.timeout <= 0:
            raise ValueError("DownloadConfig: retries and backoff must be >= 0 and timeout > 0")


def data_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$IGPW_DATA_DIR``, else ``$XDG_CACHE_HOME/igpw_viz``
    (``~/.cache/igpw_viz`` when XDG is unset)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("IGPW_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "igpw_viz"


def is_offline() -> bool:
    """True when ``IGPW_OFFLINE`` is set to 1/true/yes."""
    return os.environ.get("IGPW_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def sha256_file(path: str | os.PathLike[str], progress: bool = False) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    path = Path(path)
    with open(path, "rb") as f:
        bar = _bar(path.stat().st_size, f"sha256 {path.name}", progress)
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
            bar.update(len(chunk))
        bar.close()
    return h.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def verify_file(path: str | os.PathLike[str], remote: RemoteFile, *, progress: bool = False,
                advice: bool = True) -> str:
    """Check size and SHA-256 of ``path`` against ``remote``; return the SHA-256 (computed, or from a stamp
    written by an earlier check of the same size and mtime). Raises ``ChecksumError`` naming the file
    (and, with ``advice``, saying what to do: the file is never deleted here)."""
    path = Path(path)
    todo = f"; {_REPLACE}" if advice else ""
    st = path.stat()
    if remote.size is not None and st.st_size != remote.size:
        raise ChecksumError(f"{path}: size {st.st_size:,} bytes, expected {remote.size:,} "
                            f"(truncated or a different file); {remote.url}{todo}")
    stamp = _stamp_path(path)
    with contextlib.suppress(OSError, ValueError, KeyError):
        rec = json.loads(stamp.read_text())
        if rec["size"] == st.st_size and rec["mtime_ns"] == st.st_mtime_ns and (
                remote.sha256 is None or rec["sha256"] == remote.sha256):
            return str(rec["sha256"])
    digest = sha256_file(path, progress=progress)
    if remote.sha256 is not None and digest != remote.sha256:
        raise ChecksumError(f"{path}: SHA-256 {digest} does not match the expected {remote.sha256} "
                            f"(corrupted or a different file); {remote.url}{todo}")
    with contextlib.suppress(OSError):  # the stamp is an optimisation; a read-only folder is fine
        rec = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        atomic_write_text(stamp, json.dumps(rec))
    return digest


def ensure_writable_dir(folder: Path, what: str = "data folder", hint: str | None = None) -> Path:
    """Create ``folder`` if needed and check that it is writable (else a clear PermissionError whose
    ``hint`` says what to do)."""
    hint = hint or "choose another with root=... or the IGPW_DATA_DIR environment variable"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"{what} {folder} cannot be created ({e.strerror}); {hint}") from e
    if not folder.is_dir():
        raise NotADirectoryError(f"{what} {folder} exists but is not a folder; {hint}")
    probe = folder / f".igpw-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError as e:
        raise PermissionError(f"{what} {folder} is not writable ({e.strerror}); {hint}") from e
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return folder


def manual_instructions(remote: RemoteFile, folder: Path, dataset: str | None = None) -> str:
    """The text telling a user how to put the file in place by hand; every command it names exists
    (``download --archive`` imports a file, ``train --data-root`` reads a folder)."""
    size = f"{remote.size:,} bytes" if remote.size is not None else "size unknown"
    sha = remote.sha256 or "none published (unverified)"
    name = dataset or "NAME"
    return (f"  file:   {remote.filename}\n  size:   {size}\n  SHA-256: {sha}\n  URL:    {remote.url}\n"
            f"  copy it into: {folder}\n"
            f"  or import a copy: python -m igpw_viz download --dataset {name} --archive PATH "
            f"(Python: load_dataset('{name}', archive=PATH))\n"
            f"  or use an extracted copy: python -m igpw_viz train --dataset {name} --data-root DIR "
            f"(Python: load_dataset('{name}', root=DIR))")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (POSIX ``flock``) so torchrun ranks don't download or decode twice."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, still atomic renames
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _bar(total: int | None, desc: str, enabled: bool, initial: int = 0):  # noqa: ANN202
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                disable=not enabled, leave=False, file=sys.stderr)  # stdout stays clean for logs


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only; any other scheme raises ``RedirectRefused`` (not retried)."""

    def http_error_302(self, req, fp, code, msg, headers):  # noqa: ANN001, ANN201 - urllib's API
        target = headers.get("location") or headers.get("uri")
        if target is not None:
            new = urljoin(req.full_url, target)
            if urlsplit(new).scheme.lower() not in ("http", "https"):
                fp.close()
                raise RedirectRefused(f"{req.full_url} redirects to {new!r}, which is not http(s); refused. "
                                      f"Download the file by hand from a trusted source and import it with "
                                      f"python -m igpw_viz download --dataset NAME --archive PATH")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects())


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def download_file(remote: RemoteFile, folder: str | os.PathLike[str], *, offline: bool | None = None,
                  config: DownloadConfig | None = None, dataset: str | None = None) -> Path:
    """Fetch ``remote`` into ``folder`` and return the verified final path.

    An existing final file is verified and returned (never re-downloaded or deleted; a mismatch raises).
    Bytes stream into ``<name>.part``; a retry resumes with ``Range`` (and starts over if the server
    answers 200, keeps only the agreed prefix if a 206 starts earlier than asked, and starts over if it
    starts later); only after size and SHA-256 match is it renamed to ``<name>``. A mismatching download
    is removed and ``ChecksumError`` raised. Redirects are followed to http(s) only. ``dataset`` names
    the dataset in the by-hand instructions.
    """
    cfg = config or DownloadConfig()
    folder = Path(folder)
    final = folder / remote.filename
    for p in (final, folder / (remote.filename + ".part")):
        if (p.exists() and not p.is_file()) or (p.name.endswith(".part") and p.is_symlink()):
            raise ValueError(f"{p} is a folder, link or special file where the download belongs (it would be "
                             f"written through); move it away")
    if final.exists():
        verify_file(final, remote, progress=cfg.progress)
        return final
    if offline is None:
        offline = is_offline()
    if offline:
        raise OfflineError(f"offline (IGPW_OFFLINE=1): {remote.filename} is not in {folder}. Fetch it on a "
                           f"connected machine and copy it here:\n{manual_instructions(remote, folder, dataset)}")
    if not remote.url.startswith(("http://", "https://")):
        raise ValueError(f"only http(s) URLs are downloaded, got {remote.url!r} for {remote.filename}; give "
                         f"the RemoteFile an http(s) URL, or copy the file into {folder}")
    ensure_writable_dir(folder)
    part = folder / (remote.filename + ".part")
    with file_lock(folder / (remote.filename + ".lock")):
        if final.exists():  # another process finished it while we waited
            verify_file(final, remote, progress=cfg.progress)
            return final
        last_error: BaseException | None = None
        for attempt in range(cfg.retries + 1):
            if attempt:
                time.sleep(min(cfg.max_backoff, cfg.backoff * 2 ** (attempt - 1)))
            try:
                _fetch_into(remote, part, cfg)
                last_error = None
                break
            except _TooLong:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
                raise
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
                    _Incomplete) as e:
                if isinstance(e, urllib.error.HTTPError) and e.code in (401, 403, 404, 410):
                    raise DownloadError(f"{remote.url}: HTTP {e.code} {e.reason}; get the file by hand:\n"
                                        f"{manual_instructions(remote, folder, dataset)}") from e
                last_error = e
        if last_error is not None:
            raise DownloadError(f"could not download {remote.url} after {cfg.retries + 1} attempts "
                                f"({last_error}); the partial file {part} is kept for resuming. Or get it by "
                                f"hand:\n{manual_instructions(remote, folder, dataset)}") from last_error
        try:
            verify_file(part, remote, progress=cfg.progress, advice=False)
        except ChecksumError as e:
            part.unlink()
            stamp = _stamp_path(part)
            with contextlib.suppress(FileNotFoundError):
                stamp.unlink()
            raise ChecksumError(f"downloaded {remote.filename} is corrupt and was removed (run the same "
                                f"command again to download it afresh): {e}") from None
        os.replace(part, final)
        with contextlib.suppress(OSError):
            os.replace(_stamp_path(part), _stamp_path(final))
            # the stamp records mtime; os.replace keeps it, so the stamp stays valid
    return final


class _TooLong(DownloadError):
    """An unsized download passed ``DownloadConfig.max_unsized_bytes`` (not retried)."""


class _Incomplete(Exception):
    """The connection closed before the announced length arrived (retried with Range)."""


def _fetch_into(remote: RemoteFile, part: Path, cfg: DownloadConfig) -> None:
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    if remote.size is not None and have == remote.size and have > 0:
        return
    req = urllib.request.Request(remote.url, headers={"User-Agent": cfg.user_agent})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = _OPENER.open(req, timeout=cfg.timeout)  # scheme checked by the caller and on redirects
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # range not satisfiable: our part is stale; start over
            part.unlink()
            raise _Incomplete("416 on resume; restarting") from e
        raise
    with resp:
        start = 0  # 200: the server ignored Range (or none was sent), so the body is the whole file
        if resp.status == 206:
            content_range = resp.headers.get("Content-Range", "")
            m = _CONTENT_RANGE.match(content_range)
            if m is None or int(m.group(1)) > have:  # no range, or a gap after our bytes: start over
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
                raise _Incomplete(f"asked for bytes {have}-, the server sent {content_range!r}; restarting")
            start = int(m.group(1))  # at or before our end: keep bytes [0, start), write the body there
        length = resp.headers.get("Content-Length")
        expected_end = start + int(length) if length is not None else remote.size
        bar = _bar(remote.size or expected_end, f"download {remote.filename}", cfg.progress, initial=start)
        got = start
        try:
            with open(part, "r+b" if start else "wb") as f:
                f.truncate(start)
                f.seek(start)
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
                    if remote.size is not None and got > remote.size:
                        break
                    if remote.size is None and got > cfg.max_unsized_bytes:
                        raise _TooLong(f"{remote.url} sent more than {cfg.max_unsized_bytes:,} bytes for "
                                       f"{remote.filename}, which has no registered size; refused "
                                       f"(raise DownloadConfig.max_unsized_bytes if it is genuine)")
        finally:
            bar.close()
    if expected_end is not None and got < expected_end:
        raise _Incomplete(f"connection closed at {got:,} of {expected_end:,} bytes")


def copy_into_place(src: Path, final: Path) -> Path:
    """Copy a user-supplied file to ``final`` via a ``.part`` name (never a half file under ``final``)."""
    part = final.with_name(final.name + ".part")
    try:
        shutil.copyfile(src, part)
        os.replace(part, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return final
