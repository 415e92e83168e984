"""The batched on-device pipeline: determinism, sharding, exactness of identity/flips, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from igpw_viz.data import AugmentConfig, DeviceBatches, ImageView, paper_augment


def _data(n: int = 50, s: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, s, s), dtype=torch.uint8, generator=g), torch.arange(n) % 10


def _epoch(db: DeviceBatches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(db)


def test_same_seed_same_batches_different_seed_different() -> None:
    x, y = _data()
    aug = paper_augment("cifar10")
    a = _epoch(DeviceBatches(x, y, 16, augment=aug, seed=1))
    b = _epoch(DeviceBatches(x, y, 16, augment=aug, seed=1))
    c = _epoch(DeviceBatches(x, y, 16, augment=aug, seed=2))
    assert len(a) == 4 and a[-1][0].shape == (2, 3, 16, 16)
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a[0][0], c[0][0])
    db = DeviceBatches(x, y, 16, augment=aug, seed=1)
    e0, e1 = _epoch(db), _epoch(db)  # epochs differ, and set_epoch replays
    assert not torch.equal(e0[0][0], e1[0][0])
    db.set_epoch(0)
    assert torch.equal(_epoch(db)[0][0], e0[0][0])


def test_output_format_and_normalisation() -> None:
    x, y = _data()
    xb, yb = next(iter(DeviceBatches(x, y, 8, shuffle=False)))
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64
    assert xb.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(xb, x[:8].float() / 255)  # no augmentation: exact [0, 1] scaling
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    xn, _ = next(iter(DeviceBatches(x, y, 8, shuffle=False, mean=mean, std=std)))
    ref = (x[:8].float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(xn, ref)
    up, _ = next(iter(DeviceBatches(x, y, 8, shuffle=False, output_size=32)))
    assert up.shape == (8, 3, 32, 32)


def test_identity_and_flip_only_augmentation_are_exact() -> None:
    x, y = _data(s=12)
    ident = AugmentConfig(rotation=0.0)  # nothing enabled
    assert not ident.enabled
    flips = AugmentConfig(hflip=True, vflip=True)
    xb, _ = next(iter(DeviceBatches(x, y, 50, augment=flips, shuffle=False, seed=4)))
    ref = x.float() / 255
    n_h = n_v = 0
    for i in range(50):  # every image is one of the four exact flips
        cands = [ref[i], ref[i].flip(-1), ref[i].flip(-2), ref[i].flip(-1, -2)]
        hit = [k for k, c in enumerate(cands) if torch.allclose(xb[i], c, atol=1e-5)]
        assert hit, i
        n_h += hit[0] in (1, 3)
        n_v += hit[0] in (2, 3)
    assert 10 < n_h < 40 and 10 < n_v < 40


def test_augmentation_changes_images_within_range() -> None:
    x, y = _data(s=32)
    xb, _ = next(iter(DeviceBatches(x, y, 50, augment=paper_augment("malaria"), shuffle=False)))
    assert xb.min() >= 0 and xb.max() <= 1
    assert (xb - x.float() / 255).abs().mean() > 0.05


def test_sharding_partitions_each_epoch() -> None:
    x, y = _data(n=53)
    seen = []
    for rank in range(4):
        db = DeviceBatches(x, y, 5, seed=7, rank=rank, world_size=4)
        seen.append(torch.cat([b[1] for b in db]))
        assert len(db) == 3
    idx = [DeviceBatches(x, y, 5, seed=7, rank=r, world_size=4).indices(0) for r in range(4)]
    allidx = torch.cat(idx)
    assert len(allidx) == 56 and set(allidx.tolist()) == set(range(53))  # padded like DistributedSampler
    with pytest.raises(ValueError, match="rank"):
        DeviceBatches(x, y, 5, rank=4, world_size=4)


def test_streamed_equals_resident() -> None:
    x, y = _data(n=40)
    view = ImageView(x.numpy(), np.arange(39, -1, -1), np.zeros(40, np.int8))
    aug = paper_augment("colorectal_histology")
    a = DeviceBatches(view, y.flip(0), 8, augment=aug, seed=3)
    b = DeviceBatches(view, y.flip(0), 8, augment=aug, seed=3, max_resident_bytes=0)
    assert a.resident and not b.resident
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(ya, yb)
        torch.testing.assert_close(xa, xb)


def test_bad_arguments() -> None:
    x, y = _data()
    with pytest.raises(ValueError, match="batch_size"):
        DeviceBatches(x, y, 0)
    with pytest.raises(ValueError, match="differ in length"):
        DeviceBatches(x, y[:3], 4)
    with pytest.raises(ValueError, match="zoom"):
        AugmentConfig(zoom=1.5)


def test_a_last_batch_of_one_is_merged_only_when_asked() -> None:
    """Training (merge_single_last): 17 images at batch 8 -> 8 + 9, every image once; evaluation keeps 8, 8, 1."""
    x, y = _data(17, 8)
    for merge, sizes in ((True, [8, 9]), (False, [8, 8, 1])):
        db = DeviceBatches(x, y, 8, merge_single_last=merge)
        batches = list(db)
        assert [len(b[1]) for b in batches] == sizes and len(db) == len(sizes)
        assert sorted(torch.cat([b[1] for b in batches]).tolist()) == sorted(y.tolist())
    assert [len(b[1]) for b in DeviceBatches(x, y, 4, merge_single_last=True)] == [4, 4, 4, 5]
    assert [len(b[1]) for b in DeviceBatches(x[:16], y[:16], 8, merge_single_last=True)] == [8, 8]
