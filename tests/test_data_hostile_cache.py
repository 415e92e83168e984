"""The decode cache under damage (issue 13): truncated, grown, half-deleted or another version's cache is
detected on read and rebuilt from the verified archive; leftovers of killed runs are removed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from igpw_viz.data import load_dataset
from igpw_viz.data.fixtures import make_fixture_root

KW = {"progress": False, "download": False}


@pytest.fixture
def built(tmp_path: Path):  # noqa: ANN201
    info = make_fixture_root("malaria", tmp_path, size=4)
    ds = load_dataset(info.spec, root=tmp_path, image_size=16, **KW)
    return info, Path(ds.info["cache"]), ds.train.images[:].numpy()


def _damage_then_reload(tmp_path: Path, built, damage) -> None:  # noqa: ANN001
    info, cache, first = built
    damage(cache)
    with pytest.warns(UserWarning, match=rf"cache {cache} is unusable: .*rebuilding it from .*cell_images\.zip"):
        ds = load_dataset(info.spec, root=tmp_path, image_size=16, **KW)
    assert Path(ds.info["cache"]) == cache and np.array_equal(ds.train.images[:].numpy(), first)
    assert sorted(p.name for p in cache.parent.iterdir() if not p.name.endswith(".lock")) == [cache.name]
    ds2 = load_dataset(info.spec, root=tmp_path, image_size=16, **KW)  # repaired: no warning now
    assert np.array_equal(ds2.train.images[:].numpy(), first)


def _truncate(name: str, keep: int | None = None):  # noqa: ANN202
    def damage(cache: Path) -> None:
        p = cache / name
        data = p.read_bytes()
        p.write_bytes(data[: keep if keep is not None else len(data) // 2])
    return damage


def test_truncated_images_are_rebuilt(tmp_path: Path, built) -> None:  # noqa: ANN001
    _damage_then_reload(tmp_path, built, _truncate("all_images.npy"))


def test_truncated_labels_and_meta_are_rebuilt(tmp_path: Path, built) -> None:  # noqa: ANN001
    _damage_then_reload(tmp_path, built, _truncate("all_labels.npy", 20))
    _damage_then_reload(tmp_path, built, _truncate("meta.json"))
    _damage_then_reload(tmp_path, built, lambda c: (c / "meta.json").unlink())


def test_grown_file_is_rebuilt(tmp_path: Path, built) -> None:  # noqa: ANN001
    def grow(cache: Path) -> None:
        with open(cache / "all_images.npy", "ab") as f:
            f.write(b"\0" * 4096)
    _damage_then_reload(tmp_path, built, grow)


def test_another_versions_cache_is_rebuilt(tmp_path: Path, built) -> None:  # noqa: ANN001
    def other_version(cache: Path) -> None:
        meta = json.loads((cache / "meta.json").read_text())
        (cache / "meta.json").write_text(json.dumps(dict(meta, loader_version=0)))
    _damage_then_reload(tmp_path, built, other_version)


def test_labels_out_of_range_are_rebuilt(tmp_path: Path, built) -> None:  # noqa: ANN001
    def bad_labels(cache: Path) -> None:
        lab = np.load(cache / "all_labels.npy")
        np.save(cache / "all_labels.npy", np.full_like(lab, 7))  # same size, wrong content
    _damage_then_reload(tmp_path, built, bad_labels)


def test_leftovers_of_killed_cache_writes_are_removed(tmp_path: Path) -> None:
    info = make_fixture_root("malaria", tmp_path, size=2)
    root = tmp_path / "malaria" / "cache"
    ds = load_dataset(info.spec, root=tmp_path, image_size=16, cache=root, **KW)
    name = Path(ds.info["cache"]).name
    shutil.rmtree(root / name)  # as if the run that built it had been killed before the rename
    dead = root / f".{name}.tmp-99999999"
    (dead / "x").mkdir(parents=True)
    alive = root / f".{name}.tmp-1"  # pid 1 is alive: not ours to remove
    alive.mkdir()
    user = root / "notes.txt"
    user.write_text("mine")
    load_dataset(info.spec, root=tmp_path, image_size=16, cache=root, **KW)
    assert not dead.exists() and alive.is_dir() and user.read_text() == "mine"


def test_decode_progress_goes_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    info = make_fixture_root("malaria", tmp_path, size=2)
    load_dataset(info.spec, root=tmp_path, image_size=16, progress=True, download=False)
    out, err = capfd.readouterr()
    assert out == "" and "decode malaria" in err
