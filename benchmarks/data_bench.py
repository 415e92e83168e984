"""Images/s of the batched on-device augmentation pipeline (``DeviceBatches``) against a
``torch.utils.data.DataLoader`` over a Dataset doing the same augmentation per image with PIL
(random affine: rotation, shifts, zoom, shear, flips folded in; to tensor; normalise), on synthetic
uint8 data, 32x32 and 224x224. Run: ``python benchmarks/data_bench.py [--write FILE]``
(results are kept in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import statistics
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from igpw_viz.data import AugmentConfig, DeviceBatches, paper_augment

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def pil_affine(cfg: AugmentConfig, rng: np.random.Generator, size: int) -> tuple[float, ...]:
    """Per-image Keras-style parameters -> PIL AFFINE coefficients (output pixel -> input pixel)."""
    a = math.radians(rng.uniform(-cfg.rotation, cfg.rotation))
    tx, ty = rng.uniform(-cfg.width_shift, cfg.width_shift), rng.uniform(-cfg.height_shift, cfg.height_shift)
    zx, zy = rng.uniform(1 - cfg.zoom, 1 + cfg.zoom, 2)
    sh = math.radians(rng.uniform(-cfg.shear, cfg.shear))
    fx = -1.0 if cfg.hflip and rng.random() < 0.5 else 1.0
    fy = -1.0 if cfg.vflip and rng.random() < 0.5 else 1.0
    c, s, ss, sc = math.cos(a), math.sin(a), -math.sin(sh), math.cos(sh)
    t00, t01 = c * zx * fx, (c * ss - s * sc) * zy * fy
    t10, t11 = s * zx * fx, (s * ss + c * sc) * zy * fy
    t02, t12 = c * 2 * tx - s * 2 * ty, s * 2 * tx + c * 2 * ty
    h = size / 2  # normalised [-1, 1] -> pixels
    return (t00, t01, h * (t02 - t00 - t01 + 1), t10, t11, h * (t12 - t10 - t11 + 1))


class PILAugmentDataset(Dataset):
    """The conventional pipeline: one image at a time, PIL affine (bilinear), to tensor, normalise."""

    def __init__(self, images_hwc: np.ndarray, labels: np.ndarray, cfg: AugmentConfig, seed: int = 0):
        self.images, self.labels, self.cfg, self.seed = images_hwc, labels, cfg, seed
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng((self.seed, i, time.perf_counter_ns()))
        im = Image.fromarray(self.images[i])
        size = im.size[0]
        coeffs = pil_affine(self.cfg, rng, size)
        im = im.transform((size, size), Image.AFFINE, coeffs, resample=Image.BILINEAR)
        t = torch.from_numpy(np.array(im)).permute(2, 0, 1).float().div_(255)  # (3, S, S)
        return (t - self.mean) / self.std, int(self.labels[i])


def time_iter(make_iter, n_images: int, rounds: int) -> float:  # noqa: ANN001
    """Median images/s over ``rounds`` full passes (after one warm-up pass)."""
    rates = []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        seen = 0
        for xb, _ in make_iter():
            seen += len(xb)
        dt = time.perf_counter() - t0
        assert seen == n_images
        if r:
            rates.append(seen / dt)
    return statistics.median(rates)


def bench(size: int, batch: int, n: int, rounds: int, workers: list[int]) -> list[tuple[str, float]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)  # (N, 3, S, S)
    y = torch.randint(0, 10, (n,), generator=g)
    cfg = paper_augment("colorectal_histology")  # rotation, shifts, zoom, shear, both flips
    rows = []
    for kernel in (True, False):
        db = DeviceBatches(x, y, batch, augment=cfg, seed=0, mean=MEAN, std=STD, drop_last=False, cpu_kernel=kernel)
        label = "fused CPU kernel" if db.uses_cpu_kernel() else "batched affine_grid + grid_sample"
        rows.append((f"DeviceBatches ({label})", time_iter(lambda db=db: db, n, rounds)))
    ds = PILAugmentDataset(x.permute(0, 2, 3, 1).contiguous().numpy(), y.numpy(), cfg)
    for w in workers:
        dl = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=w, persistent_workers=w > 0)
        rows.append((f"DataLoader + per-image PIL, num_workers={w}", time_iter(lambda dl=dl: dl, n, rounds)))
        del dl  # shut the persistent workers down now, not during the next measurement
        gc.collect()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", help="write the markdown section to this file")
    ap.add_argument("--threads", default="1,2", help="torch intra-op thread counts to try, e.g. 1,2")
    args = ap.parse_args()
    cases = [(32, 64, 4096), (224, 32, 384)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Data pipeline throughput (`benchmarks/data_bench.py`)",
        "",
        f"Machine: {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), no GPU; "
        f"torch {torch.__version__}; load average {load:.1f} at start (a shared machine); "
        f"{datetime.date.today().isoformat()}. Synthetic uint8 images, paper augmentation for colorectal/"
        f"malaria (rotation 179, shifts 0.3, zoom 0.3, shear 0.2, both flips), bilinear, normalised. "
        f"Median of {args.rounds} passes after a warm-up pass.",
        "",
        "| images | batch | torch threads | pipeline | images/s | vs best DataLoader |",
        "|---|---|---|---|---:|---:|",
    ]
    for size, batch, n in cases:
        for th in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(th)
            rows = bench(size, batch, n, args.rounds, [0, 2])
            best_dl = max(r for name, r in rows if name.startswith("DataLoader"))
            for name, rate in rows:
                ratio = rate / best_dl
                lines.append(f"| {size}x{size} | {batch} | {th} | {name} | {rate:,.0f} | {ratio:.2f}x |")
                print(f"{size:4d} {batch:3d} {th} {name:55s} {rate:10,.0f} img/s  {rate / best_dl:5.2f}x",
                      flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
