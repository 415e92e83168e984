"""The training loop and evaluation: one run of a ``TrainConfig`` into a run folder.

Per epoch: set the cyclic lr, train (channels_last; autocast bf16 on CUDA with fp32 BN and weights,
optional ``torch.compile``), evaluate on validation, keep ``best.pt`` on the selection metric, write
``last.pt`` and ``history.csv`` atomically. At the end: test the best checkpoint (optionally averaging the
softmax of each image and its horizontal flip) and write ``metrics.json``.

The step keeps loss and accuracy sums on the device; the host synchronises only every ``log_every``
steps (progress bar and the NaN/inf check) and at the end of the epoch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..core.files import error_line
from ..data import DatasetSplits
from ..nn.counting import count_macs, count_parameters
from . import distributed as D
from .build import build_model, load_splits, make_batches
from .checkpoint import (
    WriteFailed,
    load_checkpoint,
    load_resume_checkpoint,
    save_checkpoint,
    write_history,
    write_json,
)
from .config import TrainConfig
from .expect import warn_if_paper_run_on_cpu
from .runs import BEST, CONFIG, HISTORY, LAST, METRICS, STATUS, RunLock, claim_run_dir
from .schedule import CyclicLR
from .threads import ThreadGovernor

__all__ = ["train", "evaluate", "RunResult", "NonFiniteLoss", "TrainingInterrupted", "default_run_name"]


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or inf; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a test's interrupt hook): ``last.pt`` holds the last saved epoch (``epoch``, 1-based; 0:
    none was saved)."""

    def __init__(self, run_dir: Path, epoch: int):
        msg = (f"interrupted; {run_dir / LAST} holds epoch {epoch}; continue with --resume --name {run_dir.name}"
               if epoch else f"interrupted before the first epoch was saved; {run_dir} holds no checkpoint "
               f"(start again with --overwrite --name {run_dir.name})")
        super().__init__(msg)
        self.run_dir, self.epoch = run_dir, epoch


@dataclass
class RunResult:
    run_dir: Path
    config: TrainConfig
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


def default_run_name(cfg: TrainConfig) -> str:
    return f"{cfg.dataset}-{cfg.tag}"


def _log(msg: str, info: D.DistInfo) -> None:
    if info.is_main:
        tqdm.write(msg, file=sys.stdout)


def _shard(images: Any, labels: torch.Tensor, info: D.DistInfo) -> tuple[Any, torch.Tensor]:
    """Rank r evaluates items r, r+W, ...: every item exactly once over all ranks (sums are exact)."""
    if not info.enabled:
        return images, labels
    rows = torch.arange(info.rank, len(labels), info.world_size)
    return (images.take(rows.numpy()) if hasattr(images, "take") else images[rows]), labels[rows]


@torch.no_grad()
def evaluate(model: nn.Module, batches: Any, *, device: torch.device, info: D.DistInfo | None = None,
             bf16: bool = False, tta_flip: bool = False, limit: int | None = None) -> dict[str, float]:
    """Loss and accuracy over ``batches`` (summed over ranks). ``tta_flip`` averages the softmax of each
    image and its horizontal flip (the paper's optional test-time augmentation)."""
    info = info or D.DistInfo()
    was = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    try:
        for i, (x, y) in enumerate(batches):
            if limit is not None and i >= limit:
                break
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(x).float()  # (B, classes)
                if tta_flip:
                    prob = (logits.softmax(1) + model(x.flip(3)).float().softmax(1)) / 2
                    loss = F.nll_loss(prob.clamp_min(1e-12).log(), y, reduction="sum")
                    pred = prob.argmax(1)
                else:
                    loss = F.cross_entropy(logits, y, reduction="sum")
                    pred = logits.argmax(1)
            sums += torch.stack([loss.double(), (pred == y).sum().double(), torch.tensor(
                float(len(y)), dtype=torch.float64, device=device)])
    finally:
        model.train(was)
    loss_sum, correct, n = D.all_reduce_sum(sums, info).tolist()
    return {"loss": loss_sum / max(n, 1), "acc": correct / max(n, 1), "n": int(n)}


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _prepare_run_dir(cfg: TrainConfig, run_dir: Path | None, runs_root: Path, name: str | None,
                     resume: bool, overwrite: bool, info: D.DistInfo) -> tuple[Path, RunLock | None]:
    """Rank 0 claims (creates and locks) the folder; every rank gets its path."""
    lock: RunLock | None = None
    if info.is_main:
        root, name = (run_dir.parent, run_dir.name) if run_dir is not None else (runs_root, name)
        lock = claim_run_dir(root, name, default_run_name(cfg), resume=resume, overwrite=overwrite)
    return Path(D.broadcast_object(str(lock.path) if lock else None, info)), lock


def _status(path: Path, **fields: Any) -> None:
    """Write status.json on the way out of a failed run; a failing write must not hide the first error."""
    try:
        write_json(path / STATUS, fields)
    except WriteFailed:
        pass


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, runs_root: str | Path = "runs",
          name: str | None = None, resume: bool = False, overwrite: bool = False,
          interrupt_after_epoch: int | None = None, data: DatasetSplits | None = None,
          on_epoch: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
    """Train ``cfg`` into a run folder and test its best checkpoint; returns the metrics.

    ``run_dir``: the folder (else ``runs_root/name``; else a fresh ``runs_root/<dataset>-<model>[-N]``).
    An existing folder is an error unless ``resume`` (continue from ``last.pt``; the configuration must
    match) or ``overwrite``. ``data``: splits already loaded (e.g. ``load_smoke_dataset``), else
    ``cfg.dataset`` is loaded. ``interrupt_after_epoch``: raise ``TrainingInterrupted`` after that epoch has
    been saved, exactly as Ctrl-C would (used by the resume tests).
    """
    info = D.setup(cfg.device)
    device = info.device
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    cuda = device.type == "cuda"
    bf16 = cfg.bf16 if cfg.bf16 is not None else cuda
    use_compile = cfg.compile if cfg.compile is not None else cuda
    # channels_last: on by default everywhere; on the CPU a step of either network was 1.0-2.6x faster in NHWC
    # (benchmarks/RESULTS.md, section 10)
    channels_last = cfg.channels_last if cfg.channels_last is not None else True
    if cuda:
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if cfg.batch_size % info.world_size or cfg.batch_size < 2 * info.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} must be a multiple of the {info.world_size} processes, "
                         f"at least 2 per process (BatchNorm needs two images)")
    per_rank_batch = cfg.batch_size // info.world_size

    # data first (rank 0 decodes/caches, the others then read the cache)
    if data is not None:
        splits = data
    else:
        if info.is_main:
            splits = load_splits(cfg, progress=cfg.progress)
        D.barrier(info)
        if not info.is_main:
            splits = load_splits(cfg, progress=False)
    if info.is_main:
        warn_if_paper_run_on_cpu(cfg, device.type, len(splits.train))
    if cfg.batch_size > len(splits.train):
        raise ValueError(f"batch_size {cfg.batch_size} exceeds the {len(splits.train)} training images of "
                         f"{cfg.dataset}")
    path, lock = _prepare_run_dir(cfg, Path(run_dir) if run_dir else None, Path(runs_root), name, resume,
                                  overwrite, info)
    # CPU threads: --threads, else every free core, following the load between epochs (training/threads.py)
    threads = ThreadGovernor(cfg.threads, adaptive=device.type == "cpu" and info.world_size == 1
                             and not cfg.deterministic)
    try:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, splits.num_classes)
        params, macs = count_parameters(model), count_macs(model, cfg.image_size)
        model = model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
        opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps,
                                  momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        schedule = cfg.schedule
        sched = CyclicLR(opt, schedule)

        start_epoch, history = 0, []
        best = {"metric": cfg.select_metric, "value": None, "epoch": -1}
        if resume:
            ckpt = load_resume_checkpoint(path / LAST, cfg.identity())
            try:
                model.load_state_dict(ckpt["model"])
                opt.load_state_dict(ckpt["optimizer"])
                sched.load_state_dict(ckpt["scheduler"])
                _set_rng_state(ckpt["rng"], device)
                start_epoch, history, best = int(ckpt["epoch"]) + 1, list(ckpt["history"]), dict(ckpt["best"])
            except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as e:
                raise ValueError(f"cannot resume from {path / LAST}: it does not fit this model "
                                 f"({error_line(e)}); "
                                 f"start a new run (--overwrite)") from None
            _log(f"resuming {path} at epoch {start_epoch + 1}/{cfg.epochs}", info)
        elif info.is_main:
            write_json(path / CONFIG, {"config": cfg.as_dict(), "params": params, "macs": macs,
                                              "num_classes": splits.num_classes, "classes": list(splits.classes),
                                              "world_size": info.world_size, "device": str(device)})

        net: nn.Module = model
        if info.enabled:
            net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
        if use_compile:
            net = torch.compile(net)

        dtype = torch.float32
        train_b = make_batches(splits.train.images, splits.train.labels, cfg, per_rank_batch, device, train=True,
                               rank=info.rank, world_size=info.world_size, dtype=dtype, channels_last=channels_last)
        val_imgs, val_labels = _shard(splits.val.images, splits.val.labels, info)
        val_b = make_batches(val_imgs, val_labels, cfg, per_rank_batch, device, train=False,
                             channels_last=channels_last)
        _log(f"{path.name}: {cfg.dataset} {cfg.model} ({cfg.tag}) {params:,} params, {macs:,} MACs at "
             f"{cfg.image_size}px; train {len(splits.train)} / val {len(splits.val)} / test {len(splits.test)}; "
             f"batch {cfg.batch_size} x {info.world_size} proc on {device}"
             f"{', bf16' if bf16 else ''}{', compile' if use_compile else ''}", info)
        if threads.note:
            _log(threads.note, info)

        def checkpoint_state(epoch: int) -> dict[str, Any]:
            return {"format": 1, "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "rng": _rng_state(device), "best": best, "history": history,
                    "config": cfg.as_dict(), "config_identity": cfg.identity()}

        epoch = saved = start_epoch - 1  # saved: the epoch last.pt holds (0-based; -1: none)
        try:
            for epoch in range(start_epoch, cfg.epochs):
                lr = schedule.lr(epoch)  # a pure function of the epoch; the scheduler's state follows it
                for group in opt.param_groups:
                    group["lr"] = lr
                sched.last_epoch, sched._last_lr = epoch, [lr] * len(opt.param_groups)
                train_b.set_epoch(epoch)
                t0 = time.perf_counter()
                tr = _train_epoch(net, opt, train_b, cfg, device, info, bf16, epoch, lr)
                dt = time.perf_counter() - t0
                va = evaluate(net, val_b, device=device, info=info, bf16=bf16, limit=cfg.limit_eval_batches)
                value = va["acc"] if cfg.select_metric == "val_acc" else va["loss"]
                improved = best["value"] is None or (value > best["value"] if cfg.select_metric == "val_acc"
                                                     else value < best["value"])
                if improved:
                    best = {"metric": cfg.select_metric, "value": value, "epoch": epoch}
                row = {"epoch": epoch + 1, "lr": lr, "train_loss": tr["loss"], "train_acc": tr["acc"],
                       "val_loss": va["loss"], "val_acc": va["acc"], "epoch_time_s": dt,
                       "images_per_s": tr["n"] / dt, "best": int(improved)}
                history.append(row)
                if info.is_main:
                    if improved:
                        save_checkpoint(path / BEST, {"model": model.state_dict(), "epoch": epoch,
                                                           "best": best, "config_identity": cfg.identity()})
                    save_checkpoint(path / LAST, checkpoint_state(epoch))
                    write_history(path / HISTORY, history)
                saved = epoch
                _log(f"epoch {epoch + 1:>3}/{cfg.epochs}  lr {lr:.2e}  train loss {tr['loss']:.4f} acc "
                     f"{tr['acc']:.2%}  val loss {va['loss']:.4f} acc {va['acc']:.2%}  {dt:.1f}s "
                     f"({tr['n'] / dt:.0f} img/s){'  *best' if improved else ''}", info)
                if (note := threads.after_epoch()) is not None:
                    _log(note, info)
                if on_epoch is not None:
                    on_epoch(row)
                if interrupt_after_epoch is not None and epoch >= interrupt_after_epoch:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if info.is_main:
                _status(path, status="interrupted", last_epoch=saved)
            D.barrier(info)
            raise TrainingInterrupted(path, saved + 1) from None
        except NonFiniteLoss as e:
            if info.is_main:
                _status(path, status="nonfinite_loss", message=str(e), last_epoch=saved)
            kept = (f"{path / LAST} keeps epoch {saved + 1}, the last good one" if saved >= 0 and
                    (path / LAST).is_file() else f"no checkpoint was saved in {path} (no epoch finished)")
            raise NonFiniteLoss(f"{e}; stopped. {kept}; start a new run with a lower --lr (or check the data)"
                                ) from None

        # test the best checkpoint once
        D.barrier(info)
        if (path / BEST).is_file():
            model.load_state_dict(load_checkpoint(path / BEST, device)["model"])
        test_imgs, test_labels = _shard(splits.test.images, splits.test.labels, info)
        test_b = make_batches(test_imgs, test_labels, cfg, per_rank_batch, device, train=False,
                              channels_last=channels_last)
        te = evaluate(net, test_b, device=device, info=info, bf16=bf16, limit=cfg.limit_eval_batches)
        te_tta = evaluate(net, test_b, device=device, info=info, bf16=bf16, tta_flip=True,
                          limit=cfg.limit_eval_batches) if cfg.tta_flip else None
        times = [r["epoch_time_s"] for r in history]
        metrics = {"dataset": cfg.dataset, "model": cfg.model, "tag": cfg.tag, "params": params, "macs": macs,
                   "image_size": cfg.image_size, "epochs": len(history), "best_epoch": best["epoch"] + 1,
                   "select_metric": cfg.select_metric, "best_value": best["value"],
                   "best_val_acc": history[best["epoch"]]["val_acc"] if best["epoch"] >= 0 else None,
                   "best_val_loss": history[best["epoch"]]["val_loss"] if best["epoch"] >= 0 else None,
                   "test_acc": te["acc"], "test_loss": te["loss"], "test_n": te["n"],
                   "test_acc_tta": te_tta["acc"] if te_tta else None,
                   "time_per_epoch_s": sum(times) / len(times) if times else None,
                   "images_per_s": (sum(r["images_per_s"] * r["epoch_time_s"] for r in history) / sum(times))
                   if times else None,
                   "world_size": info.world_size, "device": str(device)}
        if info.is_main:
            write_json(path / METRICS, metrics)
            write_json(path / STATUS, {"status": "done", "last_epoch": epoch})
            tta = f", with flip TTA {te_tta['acc']:.2%}" if te_tta else ""
            _log(f"{path.name}: test accuracy {te['acc']:.2%}{tta} (best epoch {best['epoch'] + 1}, "
                 f"{cfg.select_metric} {best['value']:.4f}); run folder {path}", info)
        return RunResult(path, cfg, metrics, history)
    finally:
        threads.restore()
        if lock is not None:
            lock.release()


def _train_epoch(net: nn.Module, opt: torch.optim.Optimizer, batches: Any, cfg: TrainConfig,
                 device: torch.device, info: D.DistInfo, bf16: bool, epoch: int, lr: float) -> dict[str, float]:
    net.train()
    total = len(batches) if cfg.limit_train_batches is None else min(len(batches), cfg.limit_train_batches)
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count (on device)
    bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, dynamic_ncols=True,
               disable=not (cfg.progress and info.is_main), file=sys.stderr)  # stdout: results only
    try:
        for step, (x, y) in enumerate(batches):
            if step >= total:
                break
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = net(x)  # (B, classes)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += torch.stack([loss.detach().double() * len(y), (logits.argmax(1) == y).sum().double(),
                                 torch.tensor(float(len(y)), dtype=torch.float64, device=device)])
            if (step + 1) % cfg.log_every == 0 or step + 1 == total:
                _check_finite(sums, info, epoch, step)  # the one host sync, at log points only
                s = sums.tolist()
                bar.set_postfix(loss=f"{s[0] / s[2]:.4f}", acc=f"{s[1] / s[2]:.2%}", lr=f"{lr:.2e}",
                                refresh=False)
            bar.update(1)
    finally:
        bar.close()
    loss_sum, correct, n = D.all_reduce_sum(sums, info).tolist()
    if not math.isfinite(loss_sum):
        raise NonFiniteLoss(f"training loss became {loss_sum} in epoch {epoch + 1}")
    return {"loss": loss_sum / max(n, 1), "acc": correct / max(n, 1), "n": n}


def _check_finite(sums: torch.Tensor, info: D.DistInfo, epoch: int, step: int) -> None:
    bad = (~torch.isfinite(sums[:1])).double()
    if info.enabled:  # every rank stops together (no rank left waiting in a collective)
        D.all_reduce_sum(bad, info)
    if bad.item():
        raise NonFiniteLoss(f"training loss became NaN/inf in epoch {epoch + 1} (step {step + 1})")
