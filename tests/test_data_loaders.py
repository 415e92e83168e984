"""load_dataset end to end on fixture archives in the real formats: verified archive, user archive,
extracted folders (with mirror nesting), cache, splits and bad input."""

from __future__ import annotations

import io
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from igpw_viz.data import OfflineError, load_dataset
from igpw_viz.data.archives import SafeZip, normalise_keys, safe_unpickle
from igpw_viz.data.fixtures import load_smoke_dataset, make_fixture_root, malaria_archive_bytes

KW = {"progress": False, "download": False}


def _disjoint(ds) -> None:  # noqa: ANN001
    sets = [set(s.files) for s in (ds.train, ds.val, ds.test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_cifar_from_verified_archive_matches_pickles(tmp_path: Path) -> None:
    info = make_fixture_root("cifar10", tmp_path, size=10)
    ds = load_dataset(info.spec, root=tmp_path, **KW)
    assert ds.info["verified"] and ds.classes[0] == "airplane" and len(ds.classes) == 10
    assert (len(ds.train), len(ds.val), len(ds.test)) == (45, 5, 10)  # val = first 10% of 50
    assert ds.train.images.shape == (45, 3, 32, 32) and ds.train.images[0:2].dtype == torch.uint8
    assert ds.train.labels.dtype == torch.int64
    # the first validation image is the first image of data_batch_1, planar RGB
    ext = next((tmp_path / "cifar10").glob("extracted-*/cifar-10-batches-py"))
    b1 = normalise_keys(safe_unpickle((ext / "data_batch_1").read_bytes()))
    np.testing.assert_array_equal(ds.val.images[0].numpy(), b1["data"][0].reshape(3, 32, 32))
    assert int(ds.val.labels[0]) == b1["labels"][0]
    assert ds.info["cache"] and Path(ds.info["cache"]).is_dir()
    assert isinstance(ds.train.images.base, np.memmap)
    # second load: cache hit, same arrays; a different image size is another cache entry
    ds2 = load_dataset(info.spec, root=tmp_path, **KW)
    assert ds2.info["cache"] == ds.info["cache"]
    ds3 = load_dataset(info.spec, root=tmp_path, image_size=48, **KW)
    assert ds3.info["cache"] != ds.info["cache"] and ds3.test.images.shape[1:] == (3, 48, 48)


def test_colorectal_paper_split_and_val_flips(tmp_path: Path) -> None:
    info = make_fixture_root("colorectal_histology", tmp_path, size=10)
    ds = load_dataset(info.spec, root=tmp_path, image_size=32, **KW)
    assert ds.classes[0] == "tumor" and ds.train.class_counts(8) == [8] * 8
    assert ds.test.class_counts(8) == [1] * 8 and len(ds.val) == 4 * 8
    assert not any(f.endswith(".DS_Store") for f in ds.train.files)
    _disjoint(ds)
    n = len(ds.val) // 4
    v = ds.val.images[:]  # (4n, 3, S, S)
    assert torch.equal(v[n:2 * n], v[:n].flip(-1)) and torch.equal(v[2 * n:3 * n], v[:n].flip(-2))
    assert torch.equal(v[3 * n:], v[:n].flip(-1, -2))
    # the paper's validation is position 0 of each class's sorted list
    tumour = sorted(f for f in ds.train.files + ds.val.files + ds.test.files if "/01_TUMOR/" in f)
    assert ds.val.files[0] == tumour[0]
    nf = load_dataset(info.spec, root=tmp_path, image_size=32, val_flips=False, **KW)
    assert len(nf.val) == 8


def test_malaria_pad_to_square_and_patient_split(tmp_path: Path) -> None:
    info = make_fixture_root("malaria", tmp_path, size=16)
    ds = load_dataset(info.spec, root=tmp_path, image_size=40, **KW)
    assert ds.classes == ("parasitized", "uninfected") and ds.train.images.shape[1:] == (3, 40, 40)
    # a non-square cell is zero-padded: a corner of some image is black
    corners = ds.train.images[:][:, :, 0, 0].sum(1)
    assert (corners == 0).any()
    ps = load_dataset(info.spec, root=tmp_path, image_size=40, split="patient", seed=3, **KW)
    from igpw_viz.data.splits import patient_id_from_filename as pid

    groups = [{pid(f) for f in s.files} for s in (ps.train, ps.val, ps.test)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert len(ps.train) + len(ps.val) + len(ps.test) == 32 and len(ps.test) > 0 and len(ps.val) > 0
    st1 = load_dataset(info.spec, root=tmp_path, image_size=40, split="stratified", seed=1, **KW)
    st2 = load_dataset(info.spec, root=tmp_path, image_size=40, split="stratified", seed=2, **KW)
    _disjoint(st1)
    assert st1.val.files != st2.val.files and st1.val.class_counts(2) == [2, 2]


def test_user_archive_is_read_by_structure_with_a_warning(tmp_path: Path) -> None:
    info = make_fixture_root("malaria", tmp_path / "src", size=4)
    with pytest.warns(UserWarning, match="not the registered"):
        ds = load_dataset("malaria", root=tmp_path / "data", archive=info.archive, image_size=32, **KW)
    assert len(ds.train) + len(ds.test) + len(ds.val) // 4 == 8
    assert (tmp_path / "data" / "malaria" / "cache").is_dir()


@pytest.mark.parametrize("nested", [False, True])
def test_extracted_folder_import_with_mirror_nesting(tmp_path: Path, nested: bool) -> None:
    data = malaria_archive_bytes(per_class=5, nested=nested)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(tmp_path / "user")
    with pytest.warns(UserWarning, match="subset"):
        ds = load_dataset("malaria", root=tmp_path / "user", image_size=32, **KW)
    assert ds.info["source_kind"] == "folder"
    assert len(ds.train) + len(ds.test) + len(ds.val) // 4 == 10  # the duplicate tree is not counted twice


def test_extracted_kather_with_mirror_nesting_and_from_root_itself(tmp_path: Path) -> None:
    from igpw_viz.data.fixtures import kather_archive_bytes

    with zipfile.ZipFile(io.BytesIO(kather_archive_bytes(2, nested=True))) as zf:
        zf.extractall(tmp_path)
    top = tmp_path / "Kather_texture_2016_image_tiles_5000" / "Kather_texture_2016_image_tiles_5000"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = load_dataset("colorectal_histology", root=tmp_path, image_size=16, val_flips=False, **KW)
        b = load_dataset("colorectal_histology", root=top, image_size=16, val_flips=False, **KW)
    assert len(a.train) == len(b.train) == 0 and len(a.val) == 8 and len(a.test) == 8


def test_folder_missing_a_class(tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(malaria_archive_bytes(per_class=2))) as zf:
        zf.extractall(tmp_path)
    shutil.rmtree(tmp_path / "cell_images" / "Uninfected")
    with pytest.raises(FileNotFoundError, match="missing class folders: Uninfected"):
        load_dataset("malaria", root=tmp_path, **KW)


def test_archive_missing_a_class(tmp_path: Path) -> None:
    src = malaria_archive_bytes(per_class=2)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w") as zout:
        for i in zin.infolist():
            if "Uninfected" not in i.filename:
                zout.writestr(i, zin.read(i))
    (tmp_path / "x.zip").write_bytes(out.getvalue())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FileNotFoundError, match="Uninfected"):
            load_dataset("malaria", root=tmp_path / "d", archive=tmp_path / "x.zip", **KW)


def test_undecodable_image_is_named_and_no_cache_left(tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(malaria_archive_bytes(per_class=2))) as zf:
        zf.extractall(tmp_path / "u")
    bad = sorted((tmp_path / "u" / "cell_images" / "Uninfected").glob("*.png"))[1]
    bad.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=bad.name):
            load_dataset("malaria", root=tmp_path / "u", image_size=16, **KW)
    cache = tmp_path / "u" / "malaria" / "cache"
    assert not cache.exists() or [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_corrupted_registered_archive_is_not_deleted(tmp_path: Path) -> None:
    info = make_fixture_root("malaria", tmp_path, size=3)
    data = bytearray(info.archive.read_bytes())
    data[100] ^= 1
    info.archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        load_dataset(info.spec, root=tmp_path, **KW)
    assert info.archive.read_bytes() == bytes(data)


def test_truncated_user_archive(tmp_path: Path) -> None:
    data = malaria_archive_bytes(per_class=3)
    (tmp_path / "t.zip").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="t.zip"):
        load_dataset("malaria", root=tmp_path / "d", archive=tmp_path / "t.zip", **KW)


def test_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown dataset name 'mnist'"):
        load_dataset("mnist", root=tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_dataset("malaria", root=tmp_path, split="random")
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_dataset("malaria", root=tmp_path / "nope", download=False)
    with pytest.raises(FileNotFoundError, match="archive=.*does not exist"):
        load_dataset("malaria", root=tmp_path, archive=tmp_path / "none.zip")
    monkeypatch.setenv("IGPW_OFFLINE", "1")
    with pytest.raises(OfflineError, match="(?s)cell_images.zip.*353,452,851.*copy it into"):
        load_dataset("malaria", root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="only defined for malaria"):
        info = make_fixture_root("cifar10", tmp_path / "c", size=2)
        load_dataset(info.spec, root=tmp_path / "c", split="patient", **KW)


def test_unwritable_cache_folder_is_a_clear_error(tmp_path: Path) -> None:
    info = make_fixture_root("malaria", tmp_path, size=2)
    (tmp_path / "blocker").write_text("")
    with pytest.raises(PermissionError, match="cache folder"):
        load_dataset(info.spec, root=tmp_path, cache=tmp_path / "blocker" / "c", **KW)
    ds = load_dataset(info.spec, root=tmp_path, cache=False, image_size=16, **KW)
    assert ds.info["cache"] is None and not isinstance(ds.train.images.base, np.memmap)


def test_smoke_dataset_through_the_real_loader(tmp_path: Path) -> None:
    ds = load_smoke_dataset("colorectal_histology", tmp_path, size=10, image_size=24)
    assert ds.info["verified"] and ds.train.images.shape == (64, 3, 24, 24)


def test_zip_archive_is_not_extracted(tmp_path: Path) -> None:
    info = make_fixture_root("malaria", tmp_path, size=2)
    load_dataset(info.spec, root=tmp_path, image_size=16, **KW)
    assert not any(p.suffix == ".png" for p in tmp_path.rglob("*"))
    with SafeZip(info.archive) as z:
        assert len(z.names()) == 6


def test_digits_are_registered_like_the_other_datasets(tmp_path):
    """The embedded set goes through the same entry point, touches no folder, and is not downloadable."""
    from igpw_viz.data.digits import load_digits_splits
    from igpw_viz.data.registry import dataset_names, get_spec

    assert "digits" in dataset_names() and "digits" not in dataset_names(downloadable=True)
    assert get_spec("digits").layout == "embedded"
    ds, direct = load_dataset("digits", seed=3, offline=True, progress=False), load_digits_splits(3)
    assert ds.classes == tuple(str(i) for i in range(10))
    for name in ("train", "val", "test"):
        a, b = getattr(ds, name), getattr(direct, name)
        assert torch.equal(a.labels, b.labels) and len(a.labels) > 300
    assert sum(len(getattr(ds, n).labels) for n in ("train", "val", "test")) == 1797
    assert len(load_dataset("digits", split="stratified").train) == len(ds.train)


@pytest.mark.parametrize(("option", "value"), [("root", "somewhere"), ("archive", "x.zip"),
                                               ("val_flips", True), ("cache", False), ("workers", 2),
                                               ("split", "patient"), ("split", "paper"), ("image_size", 32)])
def test_digits_reject_options_that_do_not_apply(tmp_path: Path, option: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{option}= does not apply to 'digits' \(.*\); leave it out$"):
        load_dataset("digits", **{option: value})
    assert not list(tmp_path.iterdir())
