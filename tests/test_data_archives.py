"""Safe reading: tar members that escape, zip names that escape, pickles that import code, and the
fixtures' deterministic bytes in the real formats."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from data_helpers import tar_with, zip_with

from igpw_viz.data import UnsafeArchiveError, safe_extract_tar, safe_unpickle
from igpw_viz.data.archives import SafeZip, normalise_keys
from igpw_viz.data.fixtures import (
    cifar_archive_bytes,
    kather_archive_bytes,
    malaria_archive_bytes,
    py2_pickle,
)


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_tar_traversal_rejected(tmp_path: Path, name: str) -> None:
    arc = tmp_path / "a.tar.gz"
    arc.write_bytes(tar_with([("ok.txt", b"f", b"fine"), (name, b"f", b"evil")]))
    with pytest.raises(UnsafeArchiveError, match="unsafe member"):
        safe_extract_tar(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar.gz"]


def test_tar_symlink_rejected(tmp_path: Path) -> None:
    arc = tmp_path / "a.tar.gz"
    arc.write_bytes(tar_with([("link", b"l", b"/etc/passwd")]))
    with pytest.raises(UnsafeArchiveError, match="link"):
        safe_extract_tar(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_tar_is_a_clear_error(tmp_path: Path) -> None:
    arc = tmp_path / "c.tar.gz"
    data = cifar_archive_bytes(per_batch=2, test=2)
    arc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        safe_extract_tar(arc, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tar.gz"]


def test_zip_traversal_rejected(tmp_path: Path) -> None:
    arc = tmp_path / "a.zip"
    arc.write_bytes(zip_with([("cell_images/Parasitized/a.png", b"x"), ("../../evil.png", b"x")]))
    with pytest.raises(UnsafeArchiveError, match="evil"):
        SafeZip(arc)


def test_truncated_zip_is_a_clear_error(tmp_path: Path) -> None:
    arc = tmp_path / "m.zip"
    data = malaria_archive_bytes(per_class=3)
    arc.write_bytes(data[:-200])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        SafeZip(arc)


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        import os

        return (os.system, ("echo pwned",))


def test_pickle_importing_code_is_rejected() -> None:
    for payload in (pickle.dumps({"data": _Evil()}, protocol=2), pickle.dumps([_Evil()], protocol=4)):
        with pytest.raises(UnsafeArchiveError, match="only numpy arrays"):
            safe_unpickle(payload)
    with pytest.raises(UnsafeArchiveError):  # builtins are not allowed either
        safe_unpickle(pickle.dumps(set([1]), protocol=2) + b"", encoding="latin1")


def test_py2_cifar_pickle_loads_with_both_encodings() -> None:
    a = np.arange(3 * 3072, dtype=np.uint8).reshape(3, 3072)
    raw = py2_pickle({"data": a, "labels": [1, 2, 3], "batch_label": "b"})
    assert raw[:2] == b"\x80\x02"
    for enc in ("bytes", "latin1"):
        d = normalise_keys(safe_unpickle(raw, encoding=enc))
        assert set(d) == {"data", "labels", "batch_label"}
        np.testing.assert_array_equal(d["data"], a)
        assert d["labels"] == [1, 2, 3]


def test_fixtures_are_byte_identical_and_in_the_real_layout(tmp_path: Path) -> None:
    c1, c2 = cifar_archive_bytes(4, 4), cifar_archive_bytes(4, 4)
    assert c1 == c2 and c1[:2] == b"\x1f\x8b" and c1[4:8] == b"\0\0\0\0"  # gzip, mtime 0
    (tmp_path / "c.tgz").write_bytes(c1)
    with tarfile.open(tmp_path / "c.tgz") as tf:
        names = tf.getnames()
    assert {f"cifar-10-batches-py/{n}" for n in ("data_batch_1", "data_batch_5", "test_batch",
                                                 "batches.meta", "readme.html")} <= set(names)
    k = kather_archive_bytes(2)
    assert k == kather_archive_bytes(2)
    (tmp_path / "k.zip").write_bytes(k)
    with SafeZip(tmp_path / "k.zip") as z:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infos)
        tifs = [n for n in z.names() if n.endswith(".tif")]
        assert len(tifs) == 16 and any(n.endswith(".DS_Store") for n in z.names())
        import io

        from PIL import Image

        assert Image.open(io.BytesIO(z.read(tifs[0]))).size == (150, 150)
    m = malaria_archive_bytes(3)
    assert m == malaria_archive_bytes(3) and m != malaria_archive_bytes(3, seed=1)
    (tmp_path / "m.zip").write_bytes(m)
    with SafeZip(tmp_path / "m.zip") as z:
        assert sum(n.endswith("Thumbs.db") for n in z.names()) == 2
