"""Downloader tests against a loopback HTTP server: Range, resume, ignored Range, corruption, offline."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from data_helpers import ServerState, http_server

from igpw_viz.data import (
    ChecksumError,
    DownloadConfig,
    DownloadError,
    OfflineError,
    RemoteFile,
    data_dir,
    download_file,
)
from igpw_viz.data.cli import download_cli, fetch
from igpw_viz.data.download import ensure_writable_dir

PAYLOAD = bytes(range(256)) * 4000 + b"tail"  # ~1 MB, several read chunks
FAST = DownloadConfig(retries=3, backoff=0.01, timeout=5, progress=False)


def remote_for(url: str, data: bytes = PAYLOAD) -> RemoteFile:
    return RemoteFile("payload.bin", url + "/payload.bin", len(data), hashlib.sha256(data).hexdigest())


def test_download_verifies_and_renames(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD})
    with http_server(st) as url:
        p = download_file(remote_for(url), tmp_path / "d", config=FAST, offline=False)
    assert p == tmp_path / "d" / "payload.bin" and p.read_bytes() == PAYLOAD
    assert not (tmp_path / "d" / "payload.bin.part").exists()
    # a second call verifies the present file and does not touch the network
    assert download_file(remote_for("http://127.0.0.1:9"), tmp_path / "d", config=FAST, offline=True) == p


def test_interrupted_download_resumes_with_range(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, cut_after=300_000, cuts_left=2)
    with http_server(st) as url:
        p = download_file(remote_for(url), tmp_path, config=FAST, offline=False)
    assert p.read_bytes() == PAYLOAD
    ranges = [r["range"] for r in st.requests]
    assert ranges == ["", "bytes=300000-", "bytes=600000-"]


def test_server_ignoring_range_starts_over(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, honour_range=False, cut_after=500_000, cuts_left=1)
    with http_server(st) as url:
        p = download_file(remote_for(url), tmp_path, config=FAST, offline=False)
    assert p.read_bytes() == PAYLOAD  # not PAYLOAD[:500000] + PAYLOAD
    assert [r["range"] for r in st.requests] == ["", "bytes=500000-"]


def test_stale_part_file_is_resumed(tmp_path: Path) -> None:
    (tmp_path / "payload.bin.part").write_bytes(PAYLOAD[:1000])
    st = ServerState({"/payload.bin": PAYLOAD})
    with http_server(st) as url:
        download_file(remote_for(url), tmp_path, config=FAST, offline=False)
    assert st.requests[0]["range"] == "bytes=1000-"


def test_corrupted_byte_gives_clear_error_and_no_file(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, corrupt_at=12345)
    with http_server(st) as url, pytest.raises(ChecksumError, match="SHA-256.*does not match"):
        download_file(remote_for(url), tmp_path, config=FAST, offline=False)
    assert sorted(os.listdir(tmp_path)) == ["payload.bin.lock"]


def test_connection_refused_exhausts_bounded_retries(tmp_path: Path) -> None:
    st = ServerState({})
    with http_server(st) as url:
        pass  # server closed: the port now refuses
    with pytest.raises(DownloadError, match="after 4 attempts") as ei:
        download_file(remote_for(url), tmp_path, config=FAST, offline=False)
    assert "copy it into" in str(ei.value)


def test_http_404_is_not_retried(tmp_path: Path) -> None:
    st = ServerState({})
    with http_server(st) as url, pytest.raises(DownloadError, match="404"):
        download_file(remote_for(url), tmp_path, config=FAST, offline=False)
    assert len(st.requests) == 1


def test_offline_message_names_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IGPW_OFFLINE", "1")
    r = remote_for("http://127.0.0.1:9")
    with pytest.raises(OfflineError) as ei:
        download_file(r, tmp_path / "x", config=FAST)
    msg = str(ei.value)
    for piece in (r.filename, f"{r.size:,}", r.sha256, r.url, str(tmp_path / "x")):
        assert piece in msg
    assert not (tmp_path / "x").exists()


def test_existing_wrong_file_is_reported_not_deleted(tmp_path: Path) -> None:
    (tmp_path / "payload.bin").write_bytes(b"x" * len(PAYLOAD))
    with pytest.raises(ChecksumError, match="payload.bin"):
        download_file(remote_for("http://127.0.0.1:9"), tmp_path, config=FAST, offline=True)
    assert (tmp_path / "payload.bin").read_bytes() == b"x" * len(PAYLOAD)


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IGPW_DATA_DIR", str(tmp_path / "env"))
    assert data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv("IGPW_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "igpw_viz"


def test_unwritable_data_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match="cannot be created"):
        ensure_writable_dir(blocker / "sub")
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(PermissionError, match="not writable"):
            ensure_writable_dir(ro)


def test_fetch_and_cli_import_an_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from igpw_viz.data.fixtures import make_fixture_root
    from igpw_viz.data.registry import override

    info = make_fixture_root("malaria", tmp_path / "src", size=4)
    with override(info.spec):
        p = fetch("malaria", tmp_path / "data", archive=info.archive)
        assert p.read_bytes() == info.archive.read_bytes()
        monkeypatch.setenv("IGPW_OFFLINE", "1")
        assert download_cli(["--dataset", "malaria", "--root", str(tmp_path / "data")]) == 0
        assert download_cli(["--dataset", "malaria", "--root", str(tmp_path / "empty")]) == 1
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    with pytest.raises(ChecksumError):
        fetch("malaria", tmp_path / "data2", archive=bad)
    assert not (tmp_path / "data2").exists()
