"""The fused CPU augmentation kernel against the portable grid_sample path it replaces."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from igpw_viz.data import AugmentConfig, DeviceBatches, ImageView, paper_augment, warp
from igpw_viz.data.pipeline import affine_matrices, augment_params

# Skipped where no C++ toolchain can build the kernel, except in CI (scripts/test.sh sets the variable).
pytestmark = pytest.mark.skipif(not warp.cpu_warp_available() and os.environ.get("IGPW_REQUIRE_CPU_WARP") != "1",
                                reason="no C++ toolchain to build the kernel")

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _data(n: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, s, s), dtype=torch.uint8, generator=g), torch.arange(n) % 10


def _literal_bilinear(img: torch.Tensor, theta: torch.Tensor, size: int, border: bool) -> torch.Tensor:
    """One image, pixel by pixel in float64: the oracle for both paths (align_corners=False)."""
    _, h, w = img.shape
    out = torch.zeros(3, size, size, dtype=torch.float64)
    t = theta.double()
    for i in range(size):
        for j in range(size):
            gx, gy = (2 * j + 1) / size - 1, (2 * i + 1) / size - 1
            ix = ((t[0, 0] * gx + t[0, 1] * gy + t[0, 2] + 1) * w - 1) / 2
            iy = ((t[1, 0] * gx + t[1, 1] * gy + t[1, 2] + 1) * h - 1) / 2
            if border:
                ix, iy = ix.clamp(0, w - 1), iy.clamp(0, h - 1)
            x0, y0 = int(torch.floor(ix)), int(torch.floor(iy))
            for yy, wy in ((y0, 1 - (iy - y0)), (y0 + 1, iy - y0)):
                for xx, wx in ((x0, 1 - (ix - x0)), (x0 + 1, ix - x0)):
                    if 0 <= xx < w and 0 <= yy < h:
                        out[:, i, j] += wy * wx * img[:, yy, xx].double()
    return out


# The SSE2 border path interpolates horizontally in Q14 fixed point: at most 255 * 2**-15 grey levels off.
GREY_TOL = 0.01


@pytest.mark.parametrize("border,portable", [(True, False), (True, True), (False, False)])
@pytest.mark.parametrize("in_size,out_size", [(9, 9), (7, 11), (12, 5), (40, 37)])
def test_kernel_equals_a_literal_bilinear_sampler(border, portable, in_size, out_size):
    x, _ = _data(4, in_size)
    src = x.contiguous(memory_format=torch.channels_last)
    cfg = paper_augment("malaria")
    theta = affine_matrices(cfg, augment_params(cfg, 3, torch.Generator().manual_seed(1)))
    theta[2] = torch.tensor([[1.0, 0.0, 0.9], [0.0, 1.0, 0.95]])  # reaches the last pixel of the last image
    index = torch.tensor([3, 0, 3])
    scale, shift = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([0.0, -1.0, 3.0])
    got = warp.warp_u8(src, index, theta, scale, shift, out_size, border, portable=portable)
    assert got.shape == (3, 3, out_size, out_size) and got.is_contiguous(memory_format=torch.channels_last)
    for b in range(3):
        want = _literal_bilinear(x[index[b]], theta[b], out_size, border) * scale.view(3, 1, 1).double() \
            + shift.view(3, 1, 1).double()
        torch.testing.assert_close(got[b].double(), want, rtol=1e-5, atol=GREY_TOL * 2.0)  # 2.0: largest scale


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("output_size", [None, 24])
def test_pipeline_kernel_equals_grid_sample_path(padding, output_size):
    x, y = _data(20, 16)
    cfg = AugmentConfig(rotation=179, width_shift=0.3, height_shift=0.3, zoom=0.3, shear=0.2, hflip=True,
                        vflip=True, padding=padding)
    kw = dict(augment=cfg, seed=5, mean=MEAN, std=STD, output_size=output_size)
    fast, slow = DeviceBatches(x, y, 8, **kw), DeviceBatches(x, y, 8, cpu_kernel=False, **kw)
    assert fast.uses_cpu_kernel() and not slow.uses_cpu_kernel()
    for (xa, ya), (xb, yb) in zip(fast, slow, strict=True):
        assert torch.equal(ya, yb) and xa.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(xa, xb, rtol=1e-5, atol=GREY_TOL / (255 * min(STD)))


def test_streamed_kernel_batches_equal_resident_ones():
    x, y = _data(30, 10)
    view = ImageView(x.numpy(), np.arange(29, -1, -1), np.zeros(30, np.int8))
    aug = paper_augment("colorectal_histology")
    a = DeviceBatches(view, y.flip(0), 7, augment=aug, seed=3)
    b = DeviceBatches(view, y.flip(0), 7, augment=aug, seed=3, max_resident_bytes=0)
    assert a.resident and not b.resident and a.uses_cpu_kernel()
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(ya, yb) and torch.equal(xa, xb)


def test_other_modes_fall_back_to_grid_sample():
    x, y = _data(4, 8)
    for cfg in (AugmentConfig(rotation=10, mode="nearest"), AugmentConfig(rotation=10, padding="reflection")):
        db = DeviceBatches(x, y, 4, augment=cfg)
        assert not db.uses_cpu_kernel()
        xb, _ = next(iter(db))
        theta = affine_matrices(cfg, augment_params(cfg, 4, torch.Generator().manual_seed(0)))
        assert xb.shape == (4, 3, 8, 8) and theta.shape == (4, 2, 3)
    assert not DeviceBatches(x, y, 4, augment=paper_augment("cifar10"), dtype=torch.float64).uses_cpu_kernel()


def test_kernel_rejects_bad_tensors_by_name():
    x, _ = _data(2, 8)
    theta = torch.zeros(1, 2, 3)
    one, zero = torch.ones(3), torch.zeros(3)
    with pytest.raises(RuntimeError, match="channels_last"):
        warp.warp_u8(x, torch.tensor([0]), theta, one, zero, 8, True)  # NCHW source
    src = x.contiguous(memory_format=torch.channels_last)
    with pytest.raises(RuntimeError, match="index out of range"):
        warp.warp_u8(src, torch.tensor([2]), theta, one, zero, 8, True)
    with pytest.raises(RuntimeError, match="theta"):
        warp.warp_u8(src, torch.tensor([0, 1]), theta, one, zero, 8, True)


def test_a_failed_build_warns_and_the_env_switch_disables(tmp_path, monkeypatch):
    broken = tmp_path / "broken.cpp"
    broken.write_text("this is not C++\n")
    with pytest.warns(RuntimeWarning, match="could not be built"):
        assert warp._build(broken, "igpw_viz_warp_broken_test") is False
    monkeypatch.setenv("IGPW_CPU_WARP", "0")
    assert warp._build() is False


def test_kernel_output_matches_grid_sample_directly():
    """The kernel is the grid_sample of F.affine_grid's grid (border padding), normalised."""
    x, _ = _data(6, 20)
    cfg = paper_augment("cifar10")
    theta = affine_matrices(cfg, augment_params(cfg, 6, torch.Generator().manual_seed(2)))
    got = warp.warp_u8(x.contiguous(memory_format=torch.channels_last), torch.arange(6), theta,
                       torch.full((3,), 1 / 255), torch.zeros(3), 20, True)
    grid = F.affine_grid(theta, (6, 3, 20, 20), align_corners=False)
    want = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False) / 255
    torch.testing.assert_close(got, want, rtol=1e-5, atol=GREY_TOL / 255)


def test_output_pool_reuses_only_buffers_nobody_holds():
    pool = warp.OutputPool(keep=3)
    a = pool.take((2, 4, 4, 3))
    ptr = a.data_ptr()
    view = a.permute(0, 3, 1, 2)[:, 0]  # a consumer keeps a view of the batch
    del a
    b = pool.take((2, 4, 4, 3))
    assert b.data_ptr() != ptr  # the viewed buffer is not handed out again
    del view
    c = pool.take((2, 4, 4, 3))
    assert c.data_ptr() == ptr  # free again: reused
    x = c.permute(0, 3, 1, 2).requires_grad_()
    y = torch.nn.Conv2d(3, 2, 1)(x)  # autograd keeps the input for the backward
    del c, x
    d = pool.take((2, 4, 4, 3))
    assert d.data_ptr() not in (ptr, b.data_ptr())
    del y  # graph freed: a's buffer is free again (b and d are still held)
    assert pool.take((2, 4, 4, 3)).data_ptr() == ptr
    assert pool.take((1, 4, 4, 3)).shape == (1, 4, 4, 3)  # another shape: a new buffer


def test_kept_batches_are_never_overwritten_and_streaming_reuses_buffers():
    x, y = _data(40, 12)
    kw = dict(augment=paper_augment("malaria"), seed=9)
    kept = list(DeviceBatches(x, y, 8, **kw))  # all batches held at once
    db = DeviceBatches(x, y, 8, **kw)
    pointers = set()
    for (xa, ya), (xb, yb) in zip(kept, db, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        pointers.add(xb.data_ptr())
    assert len({xb.data_ptr() for xb, _ in kept}) == 5  # five distinct buffers for five kept batches
    assert len(pointers) < 5  # one at a time: buffers come back


def test_spare_byte_source_gives_the_same_batches():
    """padded_channels_last lets the kernel read every pixel with one 4-byte load; results are identical."""
    x, _ = _data(5, 13)
    padded = warp.padded_channels_last(x)
    assert torch.equal(padded, x) and padded.is_contiguous(memory_format=torch.channels_last)
    assert padded.untyped_storage().nbytes() > padded.numel()
    cfg = paper_augment("malaria")
    theta = affine_matrices(cfg, augment_params(cfg, 5, torch.Generator().manual_seed(3)))
    theta[4] = torch.tensor([[1.0, 0.0, 0.95], [0.0, 1.0, 0.95]])  # the very last pixel
    args = (torch.tensor([4, 3, 2, 1, 4]), theta, torch.full((3,), 0.1), torch.zeros(3), 13, True)
    exact = warp.warp_u8(x.contiguous(memory_format=torch.channels_last), *args)
    assert torch.equal(warp.warp_u8(padded, *args), exact)
