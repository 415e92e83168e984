"""GPU-ready batches: uint8 images resident on the device when they fit (else streamed from the
memory-mapped cache), augmented batched on the device with one ``grid_sample`` per batch (rotation,
shifts, zoom, shear and flips approximating Keras' ImageDataGenerator), normalised, channels_last.
On the CPU the warp, normalisation and layout are one fused C++ pass (``warp.py``) when it can be built."""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .registry import get_spec
from .views import ImageView
from .warp import OutputPool, cpu_warp_available, padded_channels_last, warp_u8

__all__ = ["AugmentConfig", "paper_augment", "augment_params", "affine_matrices", "DeviceBatches"]


@dataclass(frozen=True)
class AugmentConfig:
    """Keras ImageDataGenerator-style ranges: ``rotation`` degrees (uniform +-r), ``width_shift`` and
    ``height_shift`` fractions of the side, ``zoom`` (factor uniform in [1-z, 1+z] per axis), ``shear``
    in degrees (as Keras interprets ``shear_range``), flips with probability 1/2. ``padding="border"``
    approximates Keras' fill_mode 'nearest'; ``mode`` is the interpolation (Keras uses order 1)."""

    rotation: float = 0.0
    width_shift: float = 0.0
    height_shift: float = 0.0
    zoom: float = 0.0
    shear: float = 0.0
    hflip: bool = False
    vflip: bool = False
    mode: str = "bilinear"
    padding: str = "border"

    def __post_init__(self) -> None:
        for f in ("rotation", "width_shift", "height_shift", "zoom", "shear"):
            if getattr(self, f) < 0:
                raise ValueError(f"AugmentConfig.{f} must be >= 0, got {getattr(self, f)}")
        if self.zoom >= 1:
            raise ValueError(f"AugmentConfig.zoom must be < 1, got {self.zoom}")
        if self.mode not in ("bilinear", "nearest", "bicubic"):
            raise ValueError(f"AugmentConfig.mode must be bilinear/nearest/bicubic, got {self.mode!r}")
        if self.padding not in ("border", "zeros", "reflection"):
            raise ValueError(f"AugmentConfig.padding must be border/zeros/reflection, got {self.padding!r}")

    @property
    def geometric(self) -> bool:
        return any((self.rotation, self.width_shift, self.height_shift, self.zoom, self.shear))

    @property
    def enabled(self) -> bool:
        return self.geometric or self.hflip or self.vflip


def paper_augment(name: str) -> AugmentConfig:
    """The paper's training augmentation for a dataset (shear 0.2, zoom 0.3, horizontal flip, plus:
    CIFAR rotation 20 and shifts 0.3; colorectal/malaria rotation 179, shifts 0.3, vertical flip too)."""
    spec = get_spec(name)
    if spec.name == "cifar10":
        return AugmentConfig(rotation=20, width_shift=0.3, height_shift=0.3, zoom=0.3, shear=0.2, hflip=True)
    return AugmentConfig(rotation=179, width_shift=0.3, height_shift=0.3, zoom=0.3, shear=0.2, hflip=True,
                         vflip=True)


def augment_params(cfg: AugmentConfig, n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Draw per-image parameters on the CPU (so results do not depend on the device)."""
    u = torch.rand(n, 7, generator=gen, dtype=torch.float64)  # (n, 7)
    return {
        "angle": (2 * u[:, 0] - 1) * math.radians(cfg.rotation),
        "tx": (2 * u[:, 1] - 1) * cfg.width_shift,
        "ty": (2 * u[:, 2] - 1) * cfg.height_shift,
        "zx": 1 + (2 * u[:, 3] - 1) * cfg.zoom,
        "zy": 1 + (2 * u[:, 4] - 1) * cfg.zoom,
        "shear": (2 * u[:, 5] - 1) * math.radians(cfg.shear),
        "flip": (u[:, 6] * 4).floor().long(),  # bit 0: horizontal, bit 1: vertical
    }


def affine_matrices(cfg: AugmentConfig, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """(n, 2, 3) output->input maps in normalised coordinates: rotation @ shift @ shear @ zoom (Keras'
    order), then flips applied to the output."""
    c, s = torch.cos(p["angle"]), torch.sin(p["angle"])
    sh_s, sh_c = -torch.sin(p["shear"]), torch.cos(p["shear"])
    fx = torch.where((p["flip"] & 1).bool() & cfg.hflip, -1.0, 1.0).double()
    fy = torch.where((p["flip"] & 2).bool() & cfg.vflip, -1.0, 1.0).double()
    # A = R @ Sh @ Z, with Sh = [[1, -sin], [0, cos]], Z = diag(zx, zy); t = R @ (2 tx, 2 ty)
    a00 = c * p["zx"]
    a01 = (c * sh_s - s * sh_c) * p["zy"]
    a10 = s * p["zx"]
    a11 = (s * sh_s + c * sh_c) * p["zy"]
    tx, ty = 2 * p["tx"], 2 * p["ty"]
    theta = torch.stack([torch.stack([a00 * fx, a01 * fy, c * tx - s * ty], 1),
                         torch.stack([a10 * fx, a11 * fy, s * tx + c * ty], 1)], 1)  # (n, 2, 3)
    return theta.float()


def _base_grid(size: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    lin = (torch.arange(size, device=device, dtype=dtype) * 2 + 1) / size - 1  # pixel centres
    return lin.view(1, 1, size), lin.view(1, size, 1)  # x (1,1,S), y (1,S,1)


class DeviceBatches:
    """Iterate (images, labels) batches: float ``dtype`` N x 3 x S x S (channels_last), int64 labels.

    ``images``: uint8 N x 3 x H x W (tensor, numpy array or ``ImageView``); kept on ``device`` as uint8
    when it fits in ``max_resident_bytes`` (default: half the free GPU memory; 2 GiB on CPU), else each
    batch is gathered from the (memory-mapped) source and copied in, one batch ahead. Order and
    augmentation come from generators seeded by (seed, epoch[, rank]): the same seed gives the same
    batches. ``rank``/``world_size`` shard each epoch's permutation like ``DistributedSampler``. Each
    ``iter()`` uses the current epoch and then advances it; ``set_epoch`` sets it. Normalisation:
    ``(x/255 - mean) / std`` (defaults give the paper's [0, 1]). ``output_size`` resizes (e.g. CIFAR to 224).
    ``cpu_kernel``: on the CPU, augment with the fused C++ kernel (bilinear, border/zeros padding, float32,
    channels_last; the same maps as ``grid_sample`` up to float rounding); False forces ``grid_sample``.
    ``merge_single_last`` (use it for training): a last batch of ONE image is merged into the batch before
    it (which then holds ``batch_size + 1``), because BatchNorm in training mode fails on one value per
    channel once the feature maps are 1x1; every image is still seen each epoch. Off for evaluation.
    """

    def __init__(self, images: torch.Tensor | np.ndarray | ImageView, labels: torch.Tensor | np.ndarray,
                 batch_size: int, *, augment: AugmentConfig | None = None, device: str | torch.device = "cpu",
                 seed: int = 0, shuffle: bool = True, drop_last: bool = False,
                 mean: tuple[float, ...] = (0.0, 0.0, 0.0), std: tuple[float, ...] = (1.0, 1.0, 1.0),
                 output_size: int | None = None, channels_last: bool = True,
                 dtype: torch.dtype = torch.float32,
                 rank: int = 0, world_size: int = 1, max_resident_bytes: int | None = None,
                 cpu_kernel: bool = True, merge_single_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        if len(images) != len(labels):
            raise ValueError(f"images ({len(images)}) and labels ({len(labels)}) differ in length")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError("mean and std need 3 entries each, std > 0")
        self.device = torch.device(device)
        self.view = images if isinstance(images, ImageView) else None
        shape = tuple(images.shape)
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError(f"images must be N x 3 x H x W, got {shape}")
        if shape[2] != shape[3]:
            raise ValueError(f"images must be square, got {shape[2]}x{shape[3]}")
        self.n, self.size = shape[0], shape[2]
        self.output_size = output_size or self.size
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)  # (N,)
        self.batch_size, self.augment, self.seed = batch_size, augment or AugmentConfig(), seed
        self.shuffle, self.drop_last, self.rank, self.world_size = shuffle, drop_last, rank, world_size
        self.channels_last, self.dtype, self.epoch = channels_last, dtype, 0
        self.cpu_kernel, self.merge_single_last = cpu_kernel, merge_single_last
        self._pool = OutputPool()
        nbytes = int(np.prod(shape))
        if max_resident_bytes is None:
            if self.device.type == "cuda":
                max_resident_bytes = torch.cuda.mem_get_info(self.device)[0] // 2
            else:
                max_resident_bytes = 2 << 30
        self.resident = nbytes <= max_resident_bytes
        self.data: torch.Tensor | None = None
        if self.resident:
            if isinstance(images, ImageView):
                t = images.tensor()
            else:
                t = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
            if t.dtype != torch.uint8:
                raise ValueError(f"images must be uint8, got {t.dtype}")
            self.data = t.to(self.device)  # (N, 3, H, W) uint8, resident
            if self.device.type == "cpu":  # pixels' channels together (+ spare bytes): what the CPU kernel reads
                self.data = padded_channels_last(self.data)
            self.labels_dev = self.labels.to(self.device)
        elif self.view is None:
            self.view = ImageView(np.asarray(images))
        m = torch.tensor(mean, dtype=torch.float32)
        sd = torch.tensor(std, dtype=torch.float32)
        self._scale = (1.0 / (255.0 * sd)).view(1, 3, 1, 1).to(self.device)  # (1,3,1,1)
        self._shift = (-m / sd).view(1, 3, 1, 1).to(self.device)  # (1,3,1,1)
        self._identity_norm = bool((m == 0).all() and (sd == 1).all())
        self._grid_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self, epoch: int) -> torch.Tensor:
        """This rank's sample order for ``epoch`` (the same permutation on every rank, then sharded)."""
        if self.shuffle:
            g = torch.Generator().manual_seed(_mix(self.seed, epoch))
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        if self.world_size > 1:
            if self.drop_last:
                order = order[: self.n - self.n % self.world_size]
            else:
                pad = (-self.n) % self.world_size
                order = torch.cat([order, order[:pad]]) if pad else order
            order = order[self.rank::self.world_size]
        return order

    def __len__(self) -> int:
        return self._batch_count(len(self.indices(0)) if self.world_size > 1 else self.n)

    def _batch_count(self, n: int) -> int:
        if self.drop_last:
            return n // self.batch_size
        merge = self.merge_single_last and n > self.batch_size and n % self.batch_size == 1
        return -(-n // self.batch_size) - merge

    def _chunks(self, order: torch.Tensor) -> list[torch.Tensor]:
        """``order`` cut into batches (the last one may be larger by one: see ``merge_single_last``)."""
        nb, b = self._batch_count(len(order)), self.batch_size
        return [order[i * b:(i + 1) * b if i + 1 < nb or self.drop_last else len(order)] for i in range(nb)]

    def _fetch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.data is not None:
            d = idx.to(self.device)
            return self.data[d], self.labels_dev[d]  # (B, 3, H, W) uint8, (B,)
        assert self.view is not None
        x = torch.from_numpy(self.view.gather(idx.numpy()))  # (B, 3, H, W) uint8
        y = self.labels[idx]
        if self.device.type == "cuda":
            x = x.pin_memory()
        else:
            x = padded_channels_last(x)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def transform(self, x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        """uint8 (B,3,H,W) on device -> normalised float (B,3,S,S), augmented when ``gen`` is given."""
        cfg = self.augment
        b, s = x.shape[0], self.output_size
        work = torch.float32 if self.dtype in (torch.float32, torch.float64) or x.device.type == "cpu" \
            else self.dtype
        xf = x.to(work)  # (B, 3, H, W)
        if gen is not None and cfg.enabled:
            theta = affine_matrices(cfg, augment_params(cfg, b, gen)).to(x.device, work)  # (B, 2, 3)
            grid = self._grid(theta, s)  # (B, S, S, 2)
            y = F.grid_sample(xf, grid, mode=cfg.mode, padding_mode=cfg.padding, align_corners=False)
        elif s != self.size:
            y = F.interpolate(xf, size=(s, s), mode="bilinear", align_corners=False)
        else:
            y = xf  # (B, 3, S, S)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        out = torch.empty((b, 3, s, s), dtype=self.dtype, device=x.device, memory_format=fmt)
        if self._identity_norm:
            torch.mul(y, self._scale, out=out)  # (B, 3, S, S), one pass: scale + layout
        else:
            torch.addcmul(self._shift, y, self._scale, out=out)
        return out

    def uses_cpu_kernel(self) -> bool:
        """Whether augmented batches come from the fused CPU kernel (builds it on the first call)."""
        cfg = self.augment
        return (self.cpu_kernel and self.device.type == "cpu" and cfg.enabled and self.dtype == torch.float32
                and self.channels_last and cfg.mode == "bilinear" and cfg.padding in ("border", "zeros")
                and cpu_warp_available())

    def _warp(self, src: torch.Tensor, index: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Images ``index`` of uint8 channels_last ``src`` -> augmented, normalised float batch (CPU kernel)."""
        cfg = self.augment
        theta = affine_matrices(cfg, augment_params(cfg, len(index), gen))  # (B, 2, 3), same draws as grid_sample
        s = self.output_size
        return warp_u8(src, index, theta, self._scale, self._shift, s, border=cfg.padding == "border",
                       out=self._pool.take((len(index), s, s, 3)))  # (B, 3, S, S) channels_last

    def _grid(self, theta: torch.Tensor, s: int) -> torch.Tensor:
        """affine_grid without the batched matmul: x' = a x + b y + c per image (same result)."""
        if s not in self._grid_cache:
            self._grid_cache[s] = _base_grid(s, theta.device, theta.dtype)
        gx, gy = self._grid_cache[s]
        t = theta.view(-1, 6, 1, 1)  # (B, 6, 1, 1)
        grid = torch.empty((theta.shape[0], s, s, 2), dtype=theta.dtype, device=theta.device)
        torch.add(t[:, 0] * gx + t[:, 2], t[:, 1] * gy, out=grid[..., 0])  # (B, S, S)
        torch.add(t[:, 3] * gx + t[:, 5], t[:, 4] * gy, out=grid[..., 1])
        return grid

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.epoch
        self.epoch += 1
        order = self.indices(epoch)
        gen = torch.Generator().manual_seed(_mix(self.seed, epoch, self.rank + 1)) if self.augment.enabled \
            else None
        chunks = self._chunks(order)
        nb = len(chunks)
        kernel = gen is not None and self.uses_cpu_kernel()
        if self.data is not None and kernel:  # read straight from the resident data: no batch copy
            for idx in chunks:
                yield self._warp(self.data, idx, gen), self.labels[idx]
            return
        if self.data is not None:
            for idx in chunks:
                x, y = self._fetch(idx)
                yield self.transform(x, gen), y
            return
        with ThreadPoolExecutor(1) as ex:  # streaming: read the next batch while this one is processed
            fut = ex.submit(self._fetch, chunks[0]) if chunks else None
            for k in range(nb):
                assert fut is not None
                x, y = fut.result()
                if k + 1 < nb:
                    fut = ex.submit(self._fetch, chunks[k + 1])
                yield (self._warp(x, torch.arange(len(x)), gen) if kernel else self.transform(x, gen)), y


def _mix(*xs: int) -> int:
    """A 63-bit seed from integers (distinct tuples give unrelated seeds)."""
    h = 0x9E3779B97F4A7C15
    for x in xs:
        h = (h ^ (int(x) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF
