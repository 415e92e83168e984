"""The paper's split sizes on the real datasets' counts, and the other split rules."""

from __future__ import annotations

import numpy as np

from igpw_viz.data.splits import (
    check_disjoint,
    cifar_paper_split,
    paper_class_split,
    paper_split,
    patient_id_from_filename,
    patient_split,
    stratified_split,
)


def test_paper_split_sizes_on_real_counts() -> None:
    tr, va, te = paper_class_split(625)  # colorectal: 625 per class
    assert (len(tr), len(va), len(te)) == (499, 63, 63)
    tr, va, te = paper_class_split(13_779)  # malaria: 13,779 per class
    assert (len(tr), len(va), len(te)) == (11_023, 1_378, 1_378)
    assert set(tr) | set(va) | set(te) == set(range(13_779))
    assert list(va[:3]) == [0, 10, 20] and list(te[:3]) == [1, 11, 21]  # 0, 9, 18 of the rest
    s = paper_split(np.repeat(np.arange(8), 625), 8)
    assert s.sizes() == (8 * 499, 8 * 63, 8 * 63) and len(s.test) == 504
    check_disjoint(s)
    tr, va = cifar_paper_split(50_000)
    assert (len(tr), len(va)) == (45_000, 5_000) and va[-1] == 4_999 and tr[0] == 5_000


def test_stratified_split_is_seeded_and_stratified() -> None:
    labels = np.repeat(np.arange(3), 100)
    a, b, c = (stratified_split(labels, 3, seed) for seed in (0, 0, 1))
    for x, y in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.val, c.val)
    assert np.bincount(labels[a.val]).tolist() == [10, 10, 10] and a.sizes() == (240, 30, 30)
    check_disjoint(a)


def test_patient_ids_and_patient_split() -> None:
    assert patient_id_from_filename("C189P150ThinF_IMG_20151203_141809_cell_000.png") == "C189P150"
    assert patient_id_from_filename("x/C1_thinF_IMG_20150604_104722_cell_9.png") == "C1"
    assert patient_id_from_filename("C39P4thinF_original_IMG_20150622_105253_cell_1.png") == "C39P4"
    files = [f"C{p}P{p}ThinF_IMG_1_cell_{i}.png" for p in range(20) for i in range(5)]
    s = patient_split(files, seed=0)
    check_disjoint(s)
    groups = [{patient_id_from_filename(files[i]) for i in part} for part in (s.train, s.val, s.test)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert s.sizes() == (80, 10, 10)
    mapping = {f: "same" for f in files}  # from CSVs: one patient -> everything in one part
    assert patient_split(files, seed=0, mapping=mapping).sizes() == (0, 0, 100)
