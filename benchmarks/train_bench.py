"""Training throughput through the engine's own pieces (build_model, RMSprop, the device pipeline):
images/s of a full training step for EfficientNet-B0 vs kEffNet-B0 V2 side by side (models interleaved
round-robin, median of rounds), and optionally a CIFAR-shaped run of ``train()`` on synthetic data
(45,000 train images by default) to time real epochs including compile.

    python benchmarks/train_bench.py                                  # CPU, 32x32, batch 64
    python benchmarks/train_bench.py --device cuda --bf16 --channels-last --compile --engine-epochs 2
    python benchmarks/train_bench.py --device cpu --tiny --engine-epochs 1   # dry run of every path
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from igpw_viz.data import DeviceBatches  # noqa: E402
from igpw_viz.data.views import DatasetSplits, ImageView, Split  # noqa: E402
from igpw_viz.nn.counting import count_macs, count_parameters  # noqa: E402
from igpw_viz.training.build import build_model  # noqa: E402
from igpw_viz.training.config import TrainConfig, parse_model_tag  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stepper:
    def __init__(self, tag: str, a: argparse.Namespace, device: torch.device):
        torch.manual_seed(0)
        self.tag = tag
        cfg = TrainConfig(**parse_model_tag(tag), image_size=a.image_size, skip_strides=a.skip_strides)
        model = build_model(cfg, 10)
        self.params, self.macs = count_parameters(model), count_macs(model, a.image_size)
        fmt = torch.channels_last if a.channels_last else torch.contiguous_format
        self.model = model.to(device, memory_format=fmt).train()
        self.net = torch.compile(self.model) if a.compile else self.model
        self.opt = torch.optim.RMSprop(self.model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        g = torch.Generator().manual_seed(0)
        imgs = torch.randint(0, 256, (a.batch * 4, 3, 32, 32), dtype=torch.uint8, generator=g)
        self.batches = DeviceBatches(imgs, torch.randint(0, 10, (len(imgs),), generator=g), a.batch, device=device,
                                     output_size=a.image_size, channels_last=a.channels_last, drop_last=True)
        self.bf16, self.device = a.bf16, device
        self.it = iter(())

    def step(self) -> None:
        try:
            x, y = next(self.it)
        except StopIteration:
            self.it = iter(self.batches)
            x, y = next(self.it)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            loss = F.cross_entropy(self.net(x).float(), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def step_bench(a: argparse.Namespace, device: torch.device) -> list[dict]:
    steppers = [Stepper(t, a, device) for t in a.models.split(",")]
    for s in steppers:  # warm-up (and compile) outside the timed region
        for _ in range(a.warmup):
            s.step()
    _sync(device)
    times: dict[str, list[float]] = {s.tag: [] for s in steppers}
    for _ in range(a.rounds):
        for s in steppers:
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(a.steps):
                s.step()
            _sync(device)
            times[s.tag].append((time.perf_counter() - t0) / a.steps)
    rows = []
    for s in steppers:
        med = statistics.median(times[s.tag])
        rows.append({"model": s.tag, "params": s.params, "macs": s.macs, "step_s": med,
                     "images_per_s": a.batch / med, "spread": (max(times[s.tag]) - min(times[s.tag])) / med,
                     "cifar_epoch_s_est": 45000 / (a.batch / med)})
    base = rows[0]["images_per_s"]
    for r in rows:
        r["vs_first"] = r["images_per_s"] / base
    return rows


def engine_run(a: argparse.Namespace, out: Path) -> dict:
    """A CIFAR-shaped run of ``train()`` on synthetic uint8 data (paper augmentation, batch 64)."""
    from igpw_viz.training import preset, train

    n_train, n_eval = (256, 64) if a.tiny else (45000, 5000)
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        return Split(ImageView(rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)),
                     torch.from_numpy(rng.integers(0, 10, n)))

    data = DatasetSplits("cifar10", tuple(map(str, range(10))), split(n_train), split(n_eval), split(n_eval))
    tag = a.engine_model
    cfg = preset("cifar10", tag, epochs=a.engine_epochs, device=str(a.device), compile=a.compile,
                 bf16=a.bf16, channels_last=a.channels_last, progress=False,
                 limit_train_batches=4 if a.tiny else None, image_size=a.image_size, skip_strides=a.skip_strides)
    t0 = time.perf_counter()
    r = train(cfg, out / f"engine-{tag}", overwrite=True, data=data)
    return {"model": tag, "epochs": [h["epoch_time_s"] for h in r.history], "total_s": time.perf_counter() - t0,
            "images_per_s": [h["images_per_s"] for h in r.history], "train_images": n_train}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", default="baseline,v2-16,v2-32")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--skip-strides", type=int, default=3, help="the paper's CIFAR kEffNet (same for all models)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--engine-epochs", type=int, default=0, help="also run train() for this many epochs")
    p.add_argument("--engine-model", default="v2-32")
    p.add_argument("--tiny", action="store_true", help="minimal sizes: a dry run of every code path")
    p.add_argument("--out", default="runs/train_bench", help="folder for results.json and engine runs")
    a = p.parse_args()
    if a.tiny:
        a.steps, a.rounds, a.warmup, a.batch = 1, 1, 1, min(a.batch, 8)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {"torch": torch.__version__, "device": torch.cuda.get_device_name(device) if device.type == "cuda"
           else platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
           "batch": a.batch, "image_size": a.image_size, "skip_strides": a.skip_strides, "bf16": a.bf16,
           "channels_last": a.channels_last, "compile": a.compile}
    rows = step_bench(a, device)
    print(f"# training step, {env}")
    print(f"{'model':10} {'params':>10} {'MACs':>13} {'img/s':>9} {'vs first':>8} {'spread':>7} {'CIFAR epoch':>12}")
    for r in rows:
        print(f"{r['model']:10} {r['params']:>10,} {r['macs']:>13,} {r['images_per_s']:>9.1f} {r['vs_first']:>8.2f} "
              f"{r['spread']:>7.0%} {r['cifar_epoch_s_est']:>11.1f}s")
    result = {"env": env, "steps": rows}
    if a.engine_epochs:
        result["engine"] = engine_run(a, out)
        e = result["engine"]
        print(f"# train() on synthetic CIFAR-shaped data ({e['train_images']} train images), {e['model']}: "
              f"epoch times {', '.join(f'{t:.1f}s' for t in e['epochs'])}")
    (out / "results.json").write_text(json.dumps(result, indent=2))
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
