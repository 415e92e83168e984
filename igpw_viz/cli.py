"""``python -m igpw_viz``: train (the main job), compare, plan, summary, download.

``python -m igpw_viz train`` with no options trains EfficientNet-B0 and kEffNet-B0 V2-16 on scikit-learn's
handwritten digits (offline, a few minutes on 2 CPU cores), prints the comparison and saves the plot.
User errors print one line to stderr and exit with status 2; a NaN/inf loss exits with 1; Ctrl-C saves and
exits with 130. The same command runs under ``torchrun --nproc_per_node=N``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

SMOKE = {"epochs": 1, "limit_train_batches": 2, "limit_eval_batches": 1, "batch_size": 16}


def _bool_flag(p: argparse.ArgumentParser, name: str, help: str) -> None:
    p.add_argument(f"--{name}", dest=name.replace("-", "_"), action=argparse.BooleanOptionalAction, default=None,
                   help=help + " (default: on for CUDA, off on CPU)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m igpw_viz", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train and compare models (default: digits, baseline vs V2-16)",
                       description="Train with the paper's protocol for the dataset; every setting overridable.")
    t.add_argument("--dataset", default="digits", help="digits (embedded), cifar10, colorectal, malaria")
    t.add_argument("--models", default="baseline,v2-16",
                   help="comma-separated: baseline, v2-16, v1-32, v2-8, dense ... (default: baseline,v2-16)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int, help="global batch (split over torchrun processes)")
    t.add_argument("--lr", type=float, help="base lr of the cyclic schedule (paper: 1e-3)")
    t.add_argument("--lr-period", type=int, help="cycle length in epochs (paper: 25 or 30)")
    t.add_argument("--lr-floor", type=float, help="lower clamp of the lr (paper: 2.5245e-4 for long runs)")
    t.add_argument("--image-size", type=int)
    t.add_argument("--skip-strides", type=int)
    t.add_argument("--select", dest="select_metric", choices=["val_acc", "val_loss"])
    t.add_argument("--tta", dest="tta_flip", action="store_true", default=None,
                   help="also test with horizontal-flip averaging")
    t.add_argument("--augment", choices=["paper", "none", "light"])
    t.add_argument("--split", choices=["paper", "stratified", "patient"])
    t.add_argument("--data-root", help="dataset folder (default $IGPW_DATA_DIR, else the XDG cache)")
    t.add_argument("--offline", action="store_true", default=None, help="never download")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto (default), cpu, cuda")
    _bool_flag(t, "bf16", "bf16 autocast")
    _bool_flag(t, "compile", "torch.compile")
    _bool_flag(t, "channels-last", "channels_last memory format")
    t.add_argument("--threads", type=int, help="torch CPU threads")
    t.add_argument("--deterministic", action="store_true", default=None)
    t.add_argument("--limit-train-batches", type=int)
    t.add_argument("--limit-eval-batches", type=int)
    t.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    t.add_argument("--runs-root", default="runs", help="parent of run folders (default: runs)")
    t.add_argument("--name", help="run folder name (default: a fresh <dataset>-... name)")
    t.add_argument("--resume", action="store_true", help="continue the run folder --name")
    t.add_argument("--overwrite", action="store_true", help="replace the run folder --name")
    t.add_argument("--smoke", action="store_true", help="a seconds-long check (also IGPW_SMOKE=1)")

    c = sub.add_parser("compare", help="table (and plot) of finished run folders")
    c.add_argument("paths", nargs="+", help="run folders, parents or glob patterns")
    c.add_argument("--plot", help="save learning curves + accuracy vs parameters to this PNG")

    p = sub.add_parser("plan", help="print the grouping plan of one pointwise layer")
    p.add_argument("--ic", type=int, required=True, help="input channels")
    p.add_argument("--fc", type=int, required=True, help="filters (output channels)")
    p.add_argument("--ch", type=int, default=16, help="channels per group (default 16)")
    p.add_argument("--scheme", default="v2", choices=["v1", "v2"])

    s = sub.add_parser("summary", help="pointwise table, parameters and MACs of a model")
    s.add_argument("--model", default="v2-16", help="baseline, v2-16, v1-32, dense ...")
    s.add_argument("--image-size", type=int, default=32)
    s.add_argument("--skip-strides", type=int, default=None, help="default: 3 for kEffNet, 0 for baseline")
    s.add_argument("--classes", type=int, default=10)

    sub.add_parser("download", help="fetch/verify a dataset (see download --help)", add_help=False)
    return ap


def _overrides(a: argparse.Namespace) -> dict[str, Any]:
    keys = ("epochs", "batch_size", "lr", "lr_period", "lr_floor", "image_size", "skip_strides", "select_metric",
            "tta_flip", "augment", "split", "data_root", "offline", "seed", "device", "bf16", "compile",
            "channels_last", "threads", "deterministic", "limit_train_batches", "limit_eval_batches", "progress")
    out = {k: getattr(a, k) for k in keys if getattr(a, k) is not None}
    if a.smoke or os.environ.get("IGPW_SMOKE", "").strip().lower() in ("1", "true", "yes", "on"):
        out = {**SMOKE, **out}
    return out


def cmd_train(a: argparse.Namespace) -> int:
    from .training import distributed as D
    from .training import results
    from .training.config import parse_model_tag, preset
    from .training.loop import TrainingInterrupted
    from .training.runs import LAST, METRICS, choose_run_dir

    tags = [t for t in a.models.split(",") if t.strip()]
    if not tags:
        raise ValueError("--models is empty")
    over = _overrides(a)
    configs = [preset(a.dataset, t.strip(), **over) for t in tags]
    for t in tags:
        parse_model_tag(t)
    if len({c.tag for c in configs}) != len(configs):
        raise ValueError(f"--models lists a model twice: {a.models}")
    info = D.setup(configs[0].device)
    root = Path(a.runs_root)
    try:
        if len(configs) == 1:
            from .training.loop import train

            r = train(configs[0], runs_root=root, name=a.name, resume=a.resume, overwrite=a.overwrite)
            if info.is_main:
                print(results.format_table(results.compare_runs([results.load_run(r.run_dir)])))
            return 0
        group = None
        if info.is_main:
            group = choose_run_dir(root, a.name, f"{configs[0].dataset}-compare", resume=a.resume,
                                   overwrite=a.overwrite, needs=None)
        group = Path(D.broadcast_object(str(group) if group else None, info))
        runs = []
        for cfg in configs:
            sub = group / cfg.tag
            if (sub / METRICS).is_file() and a.resume:
                runs.append(sub)
                continue
            resume_this = a.resume and (sub / LAST).is_file()
            from .training.loop import train

            try:
                train(cfg, sub, resume=resume_this, overwrite=a.overwrite or (a.resume and not resume_this))
            except TrainingInterrupted as e:  # the whole comparison resumes by its folder name
                e.args = (f"{e.args[0]}: python -m igpw_viz train --resume --runs-root {root} --name "
                          f"{group.name} (with the same options)",)
                raise
            runs.append(sub)
        if info.is_main:
            loaded = results.load_runs(runs)
            table, png = results.save_comparison(loaded, group)
            print()
            print(table.read_text().rstrip())
            print(f"\ncomparison: {table}\nplot: {png}")
        return 0
    finally:
        D.cleanup()


def cmd_compare(a: argparse.Namespace) -> int:
    from .training import results

    runs = results.load_runs(a.paths)
    print(results.format_table(results.compare_runs(runs)))
    if a.plot:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 4.5), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        results.plot_learning_curves(runs, a1)
        results.plot_accuracy_vs_parameters(runs, a2)
        fig.savefig(a.plot, dpi=110)
        print(f"plot: {a.plot}")
    return 0


def cmd_plan(a: argparse.Namespace) -> int:
    from .core.plan import plan_pointwise

    print(plan_pointwise(a.ic, a.fc, a.ch, a.scheme).describe())
    return 0


def cmd_summary(a: argparse.Namespace) -> int:
    from .nn.counting import count_macs, count_parameters, format_pointwise_table, pointwise_table
    from .training.build import build_model
    from .training.config import TrainConfig, parse_model_tag

    spec = parse_model_tag(a.model)
    skip = a.skip_strides if a.skip_strides is not None else (0 if spec["model"] == "efficientnet_b0" else 3)
    cfg = TrainConfig(**spec, image_size=a.image_size, skip_strides=skip)
    model = build_model(cfg, a.classes)
    print(format_pointwise_table(pointwise_table(model, a.image_size)))
    print(f"\n{cfg.tag}: {count_parameters(model):,} trainable parameters, "
          f"{count_macs(model, a.image_size):,} MACs at {a.image_size}x{a.image_size} (skip_strides={skip})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["download"]:
        from .data import download_cli

        return _guard(lambda: download_cli(argv[1:]))
    ap = build_parser()
    a = ap.parse_args(argv)
    if a.command is None:
        ap.print_help()
        return 0
    cmd = {"train": cmd_train, "compare": cmd_compare, "plan": cmd_plan, "summary": cmd_summary}[a.command]
    return _guard(lambda: cmd(a))


def _guard(fn: Any) -> int:
    """Run a command: user errors become one line on stderr and exit 2; NaN loss 1; Ctrl-C 130."""
    from .data import ChecksumError, DownloadError, UnsafeArchiveError
    from .training.loop import NonFiniteLoss, TrainingInterrupted

    try:
        return int(fn() or 0)
    except TrainingInterrupted as e:
        print(f"\n{e.args[0]}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except NonFiniteLoss as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, DownloadError, ChecksumError,
            UnsafeArchiveError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
