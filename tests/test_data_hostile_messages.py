"""Every archive and file error names the file and says what to do (issue 13), and files where folders
are expected (or folders where files are) are one clear line, not a traceback or a wrong diagnosis."""

from __future__ import annotations

import hashlib
import io
import shutil
import warnings
import zipfile
from pathlib import Path

import pytest

from igpw_viz.data import ChecksumError, DownloadConfig, RemoteFile, download_file, load_dataset
from igpw_viz.data.archives import SafeZip
from igpw_viz.data.fixtures import make_fixture_root, malaria_archive_bytes

KW = {"progress": False, "download": False}
FAST = DownloadConfig(retries=0, timeout=5, progress=False)


def test_wrong_file_in_place_is_kept_and_the_message_says_what_to_do(tmp_path: Path) -> None:
    data = b"real"
    r = RemoteFile("f.bin", "http://127.0.0.1:9/f.bin", 4, hashlib.sha256(data).hexdigest())
    (tmp_path / "f.bin").write_bytes(b"fake")
    with pytest.raises(ChecksumError, match=r"f\.bin: SHA-256 .* move it away and download it again "
                                            r"\(python -m igpw_viz download --dataset NAME\)"):
        download_file(r, tmp_path, offline=True, config=FAST)
    assert (tmp_path / "f.bin").read_bytes() == b"fake"


def test_truncated_zip_says_delete_and_download_again(tmp_path: Path) -> None:
    data = malaria_archive_bytes(per_class=2)
    (tmp_path / "m.zip").write_bytes(data[:-100])
    with pytest.raises(ValueError, match=r"m\.zip: truncated or corrupted zip archive .*delete it and "
                                         r"download it again \(python -m igpw_viz download"):
        SafeZip(tmp_path / "m.zip")


def test_undecodable_image_says_replace_it(tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(malaria_archive_bytes(per_class=2))) as zf:
        zf.extractall(tmp_path)
    bad = sorted((tmp_path / "cell_images" / "Parasitized").glob("*.png"))[0]
    bad.write_bytes(b"\x89PNG broken")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a subset
        with pytest.raises(ValueError, match=rf"{bad.name} cannot be decoded .*replace it"):
            load_dataset("malaria", root=tmp_path, image_size=16, **KW)


def test_damaged_extraction_of_cifar_is_extracted_again(tmp_path: Path) -> None:
    info = make_fixture_root("cifar10", tmp_path, size=2)
    first = load_dataset(info.spec, root=tmp_path, cache=False, **KW)
    ext = next((tmp_path / "cifar10").glob("extracted-*"))
    (ext / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.warns(UserWarning, match=rf"{ext} is incomplete; extracting .*cifar-10-python.tar.gz again"):
        again = load_dataset(info.spec, root=tmp_path, cache=False, **KW)
    assert (ext / "cifar-10-batches-py" / "data_batch_3").is_file()
    assert again.train.files == first.train.files
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir() if not p.name.endswith(".lock")) == [
        "cifar-10-python.tar.gz", "cifar-10-python.tar.gz.verified.json", ext.name]


def test_files_where_folders_belong_and_folders_where_files_belong(tmp_path: Path) -> None:
    (tmp_path / "root-file").write_text("x")
    with pytest.raises(NotADirectoryError, match="data folder .*root-file is a file"):
        load_dataset("malaria", root=tmp_path / "root-file", **KW)
    info = make_fixture_root("cifar10", tmp_path / "c", size=2)
    ds = load_dataset(info.spec, root=tmp_path / "c", cache=False, **KW)
    ext = next((tmp_path / "c" / "cifar10").glob("extracted-*"))
    shutil.rmtree(ext)
    ext.write_text("a file")
    with pytest.raises(NotADirectoryError, match=rf"{ext.name} is a file where the extracted archive belongs"):
        load_dataset(info.spec, root=tmp_path / "c", cache=False, **KW)
    assert len(ds.test) == 2
    r = RemoteFile("f.bin", "http://127.0.0.1:9/f.bin", 4, None)
    (tmp_path / "d" / "f.bin.part").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"f\.bin\.part is a folder, link or special file .* move it away"):
        download_file(r, tmp_path / "d", offline=False, config=FAST)


def _png_claiming(width: int, height: int) -> bytes:
    """A real 8x8 PNG whose IHDR (with a correct CRC) claims ``width`` x ``height``."""
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    b = bytearray(buf.getvalue())
    struct.pack_into(">II", b, 16, width, height)  # IHDR data starts at byte 16
    struct.pack_into(">I", b, 29, zlib.crc32(bytes(b[12:29])))
    return bytes(b)


def test_image_header_claiming_gigapixels_is_refused_before_decoding(tmp_path: Path) -> None:
    from PIL.Image import DecompressionBombWarning

    from igpw_viz.data.decode import decode_image

    with pytest.warns(DecompressionBombWarning), pytest.raises(  # PIL only warns below 179M pixels
            ValueError, match=r"image x\.png claims 10000x10000 pixels.*replace it"):
        decode_image(_png_claiming(10_000, 10_000), "x.png", 16)
    with pytest.raises(ValueError, match=r"image y\.png cannot be decoded"):
        decode_image(_png_claiming(100, 100), "y.png", 16)  # a lie within the cap fails on decoding


def test_archive_argument_that_is_a_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"archive=/dev/zero is not a regular file"):
        load_dataset("malaria", root=tmp_path, archive="/dev/zero", **KW)


def test_unwritable_cache_hint_names_the_cache_options(tmp_path: Path) -> None:
    info = make_fixture_root("malaria", tmp_path, size=2)
    (tmp_path / "blocker").write_text("")
    with pytest.raises(PermissionError, match=r"pass cache=DIR \(a writable folder\) or cache=False"):
        load_dataset(info.spec, root=tmp_path, cache=tmp_path / "blocker" / "c", **KW)
