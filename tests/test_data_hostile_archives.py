"""Hostile and unlucky archives (issue 13): bombs, caps counted while streaming, a flipped byte in a
tar.gz, encrypted and Deflate64 zip members, leftovers of a killed extraction, odd member types."""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from data_helpers import tar_with, zip_with

from igpw_viz.data import UnsafeArchiveError, safe_extract_tar
from igpw_viz.data.archives import ArchiveLimits, SafeZip

MiB = 1 << 20
SMALL = ArchiveLimits(max_member_bytes=MiB, max_total_bytes=2 * MiB, max_members=10)


def _only(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_tar_gz_bomb_is_refused_with_the_default_limits(tmp_path: Path) -> None:
    arc = tmp_path / "bomb.tar.gz"
    arc.write_bytes(tar_with([("cifar-10-batches-py/data_batch_1", b"f", bytes(64 * MiB))], compresslevel=1))
    assert arc.stat().st_size < MiB
    with pytest.raises(UnsafeArchiveError, match=r"bomb\.tar\.gz: member 'cifar-10-batches-py/data_batch_1' "
                                                 r"expands [\d,]+x its compressed size"):
        safe_extract_tar(arc, tmp_path / "out")
    _only(tmp_path, "bomb.tar.gz")  # nothing extracted, no temporary folder left


def test_tar_caps_on_member_and_total_are_counted(tmp_path: Path) -> None:
    rnd = os.urandom(3 * MiB)  # incompressible: only the size caps can stop it
    arc = tmp_path / "big.tar.gz"
    arc.write_bytes(tar_with([("a", b"f", rnd[:200_000]), ("huge", b"f", rnd[: 2 * MiB])]))
    with pytest.raises(UnsafeArchiveError, match=r"big\.tar\.gz: member 'huge' expands to more than the "
                                                 r"1,048,576-byte cap per member"):
        safe_extract_tar(arc, tmp_path / "out", limits=SMALL)
    arc.write_bytes(tar_with([(f"m{i}", b"f", rnd[i * 900_000:(i + 1) * 900_000]) for i in range(3)]))
    with pytest.raises(UnsafeArchiveError, match=r"member 'm2' takes the archive past the 2,097,152-byte cap"):
        safe_extract_tar(arc, tmp_path / "out", limits=SMALL)
    arc.write_bytes(tar_with([(f"f{i}", b"f", b"") for i in range(11)]))
    with pytest.raises(UnsafeArchiveError, match="more than 10 members"):
        safe_extract_tar(arc, tmp_path / "out", limits=SMALL)
    _only(tmp_path, "big.tar.gz")


def test_flipped_byte_in_a_tar_gz_is_caught_by_the_crc(tmp_path: Path) -> None:
    payload = os.urandom(200_000)
    data = bytearray(tar_with([("d/batch", b"f", payload)], compresslevel=0))  # stored blocks: no deflate
    data[len(data) // 2] ^= 0x01  # error, only the CRC can tell
    arc = tmp_path / "flip.tar.gz"
    arc.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"flip\.tar\.gz: truncated or corrupted archive \(BadGzipFile: CRC "
                                         r".*delete it and download it again"):
        safe_extract_tar(arc, tmp_path / "out")
    _only(tmp_path, "flip.tar.gz")
    arc.write_bytes(tar_with([("d/batch", b"f", payload)], compresslevel=0))  # the intact one extracts
    assert safe_extract_tar(arc, tmp_path / "out") == ["d/batch"]
    assert (tmp_path / "out" / "d" / "batch").read_bytes() == payload


@pytest.mark.parametrize("kind", [b"h", b"l", b"c", b"p"])  # hard link, symlink, device, fifo
def test_tar_links_devices_and_fifos_are_refused(tmp_path: Path, kind: bytes) -> None:
    arc = tmp_path / "t.tar.gz"
    arc.write_bytes(tar_with([("a.txt", b"f", b"x"), ("b", kind, b"a.txt")]))
    with pytest.raises(UnsafeArchiveError, match=r"t\.tar\.gz: member 'b' is a link, device"):
        safe_extract_tar(arc, tmp_path / "out")
    _only(tmp_path, "t.tar.gz")


def test_tar_duplicates_and_a_file_used_as_a_folder_are_refused(tmp_path: Path) -> None:
    arc = tmp_path / "d.tar.gz"
    arc.write_bytes(tar_with([("d/batch", b"f", b"good"), ("d/batch", b"f", b"evil")]))
    with pytest.raises(UnsafeArchiveError, match="member 'd/batch' appears twice"):
        safe_extract_tar(arc, tmp_path / "out")
    arc.write_bytes(tar_with([("d", b"f", b"x"), ("d/batch", b"f", b"y")]))
    with pytest.raises(UnsafeArchiveError, match="member 'd/batch' is inside 'd', which is a file"):
        safe_extract_tar(arc, tmp_path / "out")
    arc.write_bytes(tar_with([("d", b"d", b""), ("d", b"d", b""), ("d/x", b"f", b"y")]))
    assert safe_extract_tar(arc, tmp_path / "out") == ["d", "d", "d/x"]  # a folder listed twice is fine


def test_leftovers_of_a_killed_extraction_are_removed_and_nothing_else(tmp_path: Path) -> None:
    dead = tmp_path / ".out.99999999.extracting"  # no such process
    (dead / "cifar-10-batches-py").mkdir(parents=True)
    (dead / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"half")
    live = tmp_path / ".out.1.extracting"  # pid 1 is alive: maybe another run
    live.mkdir()
    mine = tmp_path / ".out.extracting.notes"  # not our pattern
    mine.write_text("user's")
    arc = tmp_path / "a.tar.gz"
    arc.write_bytes(tar_with([("x", b"f", b"y")]))
    safe_extract_tar(arc, tmp_path / "out")
    assert not dead.exists() and live.is_dir() and mine.read_text() == "user's"
    _only(tmp_path, "a.tar.gz", "out", live.name, mine.name)


def _patch_zip(data: bytes, local_off: int, central_off: int, value: int) -> bytes:
    """Set a 2-byte field in every local and central header (real zip bytes, as another tool wrote)."""
    b = bytearray(data)
    for sig, off in ((b"PK\x03\x04", local_off), (b"PK\x01\x02", central_off)):
        i = b.find(sig)
        while i >= 0:
            struct.pack_into("<H", b, i + off, value)
            i = b.find(sig, i + 4)
    return bytes(b)


def test_deflate64_member_names_archive_member_and_fix(tmp_path: Path) -> None:
    arc = tmp_path / "d64.zip"
    arc.write_bytes(_patch_zip(zip_with([("cell_images/Parasitized/a.png", b"x" * 100)]), 8, 10, 9))
    with SafeZip(arc) as z, pytest.raises(ValueError, match=r"d64\.zip: member 'cell_images/Parasitized/"
                                                             r"a\.png' is compressed with Deflate64.*re-pack"):
        z.read("cell_images/Parasitized/a.png")


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip tool to make an encrypted zip")
def test_encrypted_member_names_archive_member_and_fix(tmp_path: Path) -> None:
    (tmp_path / "src" / "Parasitized").mkdir(parents=True)
    (tmp_path / "src" / "Parasitized" / "a.png").write_bytes(b"secret")
    subprocess.run(["zip", "-q", "-r", "-P", "pw", str(tmp_path / "enc.zip"), "Parasitized"],
                   cwd=tmp_path / "src", check=True)
    with SafeZip(tmp_path / "enc.zip") as z, pytest.raises(ValueError, match=r"enc\.zip: member "
                                                                            r"'Parasitized/a\.png' is encrypted"):
        z.read("Parasitized/a.png")


def test_zip_bomb_and_caps(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cell_images/Parasitized/bomb.png", bytes(64 * MiB))
    arc = tmp_path / "bomb.zip"
    arc.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match=r"bomb\.zip: member 'cell_images/Parasitized/bomb\.png' "
                                                 r"expands [\d,]+x"):
        SafeZip(arc)  # refused on the declared sizes, before anything is read
    rnd = os.urandom(3 * MiB)
    arc.write_bytes(zip_with([(f"m{i}", rnd[i * 900_000:(i + 1) * 900_000]) for i in range(3)]))
    with pytest.raises(UnsafeArchiveError, match=r"member 'm2' takes the archive past"):
        SafeZip(arc, limits=SMALL)


def test_zip_lying_about_its_size_is_stopped_while_streaming(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m", bytes(8 * MiB))
    data = bytearray(buf.getvalue())
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # claim 1,000 bytes uncompressed
        struct.pack_into("<I", data, data.find(sig) + off, 1000)
    arc = tmp_path / "liar.zip"
    arc.write_bytes(bytes(data))
    with SafeZip(arc) as z, pytest.raises(ValueError, match=r"liar\.zip: member 'm' cannot be read"):
        z.read("m")


def test_zip_duplicates_symlinks_and_file_as_folder_are_refused(tmp_path: Path) -> None:
    arc = tmp_path / "z.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        arc.write_bytes(zip_with([("c/a.png", b"1"), ("c/a.png", b"2")]))
    with pytest.raises(UnsafeArchiveError, match=r"z\.zip: member 'c/a\.png' appears twice"):
        SafeZip(arc)
    arc.write_bytes(zip_with([("c", b"1"), ("c/a.png", b"2")]))
    with pytest.raises(UnsafeArchiveError, match="inside 'c', which is a file"):
        SafeZip(arc)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("c/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    arc.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match="'c/link.png' is a symbolic link"):
        SafeZip(arc)
    arc.write_bytes(zip_with([("c/a.png", b"1")]))
    with SafeZip(arc) as z, pytest.raises(FileNotFoundError, match="no member 'nope'"):
        z.read("nope")


def test_sparse_tar_member_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tf:
        ti = tarfile.TarInfo("s")
        ti.type = tarfile.GNUTYPE_SPARSE
        tf.addfile(ti)
    (tmp_path / "s.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises((UnsafeArchiveError, ValueError), match=r"s\.tar\.gz"):
        safe_extract_tar(tmp_path / "s.tar.gz", tmp_path / "out")
    assert not (tmp_path / "out").exists()
