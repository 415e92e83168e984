"""Hostile and unlucky downloads (issue 13) against the loopback server: redirects to other schemes, a
206 at the wrong offset after a cut, a ``.part`` longer than the file, progress on stderr, and hints that
name commands which exist."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from data_helpers import ServerState, http_server

from igpw_viz.data import DownloadConfig, DownloadError, OfflineError, RemoteFile, download_file, load_dataset
from igpw_viz.data.cli import download_cli
from igpw_viz.data.download import RedirectRefused

PAYLOAD = bytes(range(256)) * 4000 + b"tail"
FAST = DownloadConfig(retries=3, backoff=0.01, timeout=5, progress=False)


def remote_for(url: str, path: str = "/payload.bin") -> RemoteFile:
    return RemoteFile("payload.bin", url + path, len(PAYLOAD), hashlib.sha256(PAYLOAD).hexdigest())


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/payload.bin",
                                    "data:,hello"])
def test_redirect_to_another_scheme_is_refused(tmp_path: Path, target: str) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, redirects={"/moved": target})
    with http_server(st) as url, pytest.raises(RedirectRefused, match=f"/moved redirects to '{target}'"):
        download_file(remote_for(url, "/moved"), tmp_path, config=FAST, offline=False)
    assert len(st.requests) == 1  # refused at once, not retried
    assert not (tmp_path / "payload.bin").exists()
    assert issubclass(RedirectRefused, DownloadError)


def test_http_redirect_is_followed(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, redirects={"/moved": "/payload.bin"})
    with http_server(st) as url:
        p = download_file(remote_for(url, "/moved"), tmp_path, config=FAST, offline=False)
    assert p.read_bytes() == PAYLOAD


@pytest.mark.parametrize("wrong_start", [0, 100_000, 500_000])  # before, well before, after our bytes
def test_206_at_the_wrong_offset_after_a_cut_still_completes(tmp_path: Path, wrong_start: int) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, cut_after=300_000, cuts_left=1, range_start=wrong_start,
                     range_faults=1)
    with http_server(st) as url:
        p = download_file(remote_for(url), tmp_path, config=FAST, offline=False)
    assert p.read_bytes() == PAYLOAD
    assert not (tmp_path / "payload.bin.part").exists()
    ranges = [r["range"] for r in st.requests]
    assert ranges[:2] == ["", "bytes=300000-"]
    assert ranges[2:] == ([""] if wrong_start > 300_000 else [])  # a gap: started over without Range


def test_206_always_from_zero_never_wedges_the_part(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, range_start=0)  # every Range answered from byte 0
    (tmp_path / "payload.bin.part").write_bytes(PAYLOAD[:1000])
    with http_server(st) as url:
        assert download_file(remote_for(url), tmp_path, config=FAST, offline=False).read_bytes() == PAYLOAD


def test_part_longer_than_the_remote_file_starts_over(tmp_path: Path) -> None:
    (tmp_path / "payload.bin.part").write_bytes(PAYLOAD + b"junk" * 100)
    st = ServerState({"/payload.bin": PAYLOAD})
    with http_server(st) as url:
        assert download_file(remote_for(url), tmp_path, config=FAST, offline=False).read_bytes() == PAYLOAD
    unsized = RemoteFile("payload.bin", "", None, None)  # size unknown: the server's 416 says so
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "payload.bin.part").write_bytes(PAYLOAD + b"junk")
    with http_server(ServerState({"/payload.bin": PAYLOAD})) as url:
        r = RemoteFile(unsized.filename, url + "/payload.bin", None, None)
        assert download_file(r, tmp_path / "other", config=FAST, offline=False).read_bytes() == PAYLOAD


def test_progress_goes_to_stderr_not_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    st = ServerState({"/payload.bin": PAYLOAD})
    cfg = DownloadConfig(retries=0, timeout=5, progress=True)
    with http_server(st) as url:
        download_file(remote_for(url), tmp_path, config=cfg, offline=False)
    out, err = capfd.readouterr()
    assert out == "" and "download payload.bin" in err


def test_corrupt_download_says_what_to_do(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD}, corrupt_at=10)
    with http_server(st) as url, pytest.raises(ValueError, match="run the same command again"):
        download_file(remote_for(url), tmp_path, config=FAST, offline=False)


def test_by_hand_hints_name_commands_that_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IGPW_OFFLINE", "1")
    with pytest.raises(OfflineError) as ei:
        load_dataset("malaria", root=tmp_path, progress=False)
    msg = str(ei.value)
    assert "python -m igpw_viz download --dataset malaria --archive PATH" in msg
    assert "python -m igpw_viz train --dataset malaria --data-root DIR" in msg
    from igpw_viz.cli import build_parser

    a = build_parser().parse_args(["train", "--dataset", "malaria", "--data-root", str(tmp_path)])
    assert a.dataset == "malaria" and Path(a.data_root) == tmp_path  # the hint's train flags exist
    with pytest.raises(FileNotFoundError, match="--dataset malaria --archive PATH"):
        load_dataset("malaria", root=tmp_path, progress=False, download=False)


def test_download_usage_and_no_abbreviations(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        download_cli(["--help"])
    assert ei.value.code == 0 and capsys.readouterr().out.startswith("usage: python -m igpw_viz download ")
    with pytest.raises(SystemExit) as ei:
        download_cli(["--dataset", "malaria", "--arch", "x.zip"])
    assert ei.value.code == 2 and "unrecognized arguments: --arch x.zip" in capsys.readouterr().err


def test_unsized_download_is_bounded(tmp_path: Path) -> None:
    st = ServerState({"/payload.bin": PAYLOAD})
    cfg = DownloadConfig(retries=2, backoff=0.01, timeout=5, progress=False, max_unsized_bytes=100_000)
    with http_server(st) as url, pytest.raises(DownloadError, match=r"sent more than 100,000 bytes for "
                                                                    r"payload\.bin, which has no registered"):
        download_file(RemoteFile("payload.bin", url + "/payload.bin", None, None), tmp_path, config=cfg,
                      offline=False)
    assert len(st.requests) == 1 and not (tmp_path / "payload.bin.part").exists()
    assert not (tmp_path / "payload.bin").exists()


def test_part_that_is_a_symlink_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "payload.bin.part").symlink_to(victim)
    with http_server(ServerState({"/payload.bin": PAYLOAD})) as url, pytest.raises(
            ValueError, match=r"payload\.bin\.part is a folder, link or special file"):
        download_file(remote_for(url), tmp_path / "d", config=FAST, offline=False)
    assert victim.read_text() == "precious"
