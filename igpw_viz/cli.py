"""``python -m igpw_viz``: train (the main job), compare, plan, summary, download.

``python -m igpw_viz train`` with no options trains EfficientNet-B0 and kEffNet-B0 V2-16 on scikit-learn's
handwritten digits (offline, a few minutes on 2 CPU cores), prints the comparison and saves the plot.
User errors print one line ``error: ...`` to stderr and exit with status 2; a NaN/inf loss or a failed write
(full disk) exits with 1; Ctrl-C saves and exits with 130 (see docs/training.md).
The same command runs under ``torchrun --nproc_per_node=N``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main", "build_parser"]

SMOKE = {"epochs": 1, "limit_train_batches": 2, "limit_eval_batches": 1, "batch_size": 16}
MAX_CHANNELS, MAX_IMAGE = 65536, 1024  # far above the paper's (1280 channels, 224 px), far below what fits


class _UsageError(ValueError):
    """An argparse error: printed as the one line ``error: ...`` (no usage block), exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse without prefix matching (``--epoch`` is not ``--epochs``), errors as one line."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **{**kw, "allow_abbrev": False})

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _int(lo: int, hi: int) -> Any:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer from {lo} to {hi}, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer from {lo} to {hi}, got {v}")
        return v
    return parse


def _float(lo: float, hi: float, *, lo_open: bool) -> Any:
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi):
            raise argparse.ArgumentTypeError(f"must be a number {'>' if lo_open else '>='} {lo:g} and <= {hi:g}, "
                                             f"got {text!r}")
        return v
    return parse


def _name(text: str) -> str:
    """A run folder name: one plain path component (no '/', '..', leading dot or dash, at most 128)."""
    if not re.fullmatch(r"[^\W][\w.+=,@-]{0,127}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a run folder name: use letters, digits and . _ - + "
                                         f"= , @ (not first), at most 128 characters, no '/' or '..'")
    return text


def _folder(text: str) -> str:
    """A folder that exists or can be created: neither it nor a folder above it may be a file."""
    if not text or "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder name")
    p = Path(text)
    for q in (p, *p.parents):
        if q.exists() or q.is_symlink():
            if not q.is_dir():
                raise argparse.ArgumentTypeError(f"{text} is not a folder ({q} is a file)")
            break
    return text


def _device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")
    return text


def _dataset(text: str) -> str:
    from .core.paper import canonical_dataset

    try:
        return canonical_dataset(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _plot(text: str) -> str:
    p = Path(text)
    if p.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise argparse.ArgumentTypeError(f"{text!r} must end in .png, .pdf, .svg or .jpg")
    if p.is_dir() or not p.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {'it is a folder' if p.is_dir() else 'no folder ' + str(p.parent)}")
    return text


def _bool_flag(p: argparse.ArgumentParser, name: str, help: str, default: str = "on for CUDA, off on CPU") -> None:
    p.add_argument(f"--{name}", dest=name.replace("-", "_"), action=argparse.BooleanOptionalAction, default=None,
                   help=f"{help} (default: {default})")


def build_parser() -> argparse.ArgumentParser:
    """Every parser: no abbreviations, bounded numbers, one-line errors (``_UsageError``)."""
    from .core.architecture import MAX_SKIP_STRIDES

    ap = _Parser(prog="python -m igpw_viz", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    big, strides = _int(1, 10**9), _int(0, MAX_SKIP_STRIDES)

    t = sub.add_parser("train", help="train and compare models (default: digits, baseline vs V2-16)",
                       description="Train with the paper's protocol for the dataset; every setting overridable.")
    t.add_argument("--dataset", default="digits", type=_dataset,
                   help="digits (embedded), cifar10, colorectal, malaria")
    t.add_argument("--models", default="baseline,v2-16",
                   help="comma-separated: baseline, v2-16, v1-32, v2-8, dense ... (default: baseline,v2-16)")
    t.add_argument("--epochs", type=_int(1, 100000))
    t.add_argument("--batch-size", type=_int(2, 65536), help="global batch (split over torchrun processes)")
    t.add_argument("--lr", type=_float(0, 10, lo_open=True), help="base lr of the cyclic schedule (paper: 1e-3)")
    t.add_argument("--lr-period", type=_int(1, 100000), help="cycle length in epochs (paper: 25 or 30)")
    t.add_argument("--lr-floor", type=_float(0, 10, lo_open=False),
                   help="lower clamp of the lr (paper: 2.5245e-4 for long runs)")
    t.add_argument("--image-size", type=_int(8, MAX_IMAGE))
    t.add_argument("--skip-strides", type=strides)
    t.add_argument("--select", dest="select_metric", choices=["val_acc", "val_loss"])
    t.add_argument("--tta", dest="tta_flip", action="store_true", default=None,
                   help="also test with horizontal-flip averaging")
    t.add_argument("--augment", choices=["paper", "none", "light"])
    t.add_argument("--split", choices=["paper", "stratified", "patient"], help="patient: malaria only")
    t.add_argument("--data-root", type=_folder, help="dataset folder (default $IGPW_DATA_DIR, else the XDG cache)")
    t.add_argument("--offline", action="store_true", default=None, help="never download")
    t.add_argument("--seed", type=_int(0, 2**32 - 1))
    t.add_argument("--device", type=_device, help="auto (default), cpu, cuda, cuda:N")
    _bool_flag(t, "bf16", "bf16 autocast")
    _bool_flag(t, "compile", "torch.compile")
    _bool_flag(t, "channels-last", "channels_last memory format", "on")
    t.add_argument("--threads", type=_int(1, 1024),
                   help="torch CPU threads (default: the cores other processes leave free, checked each epoch)")
    t.add_argument("--deterministic", action="store_true", default=None)
    t.add_argument("--limit-train-batches", type=big)
    t.add_argument("--limit-eval-batches", type=big)
    t.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    t.add_argument("--runs-root", default="runs", type=_folder, help="parent of run folders (default: runs)")
    t.add_argument("--name", type=_name, help="run folder name (default: a fresh <dataset>-... name)")
    t.add_argument("--resume", action="store_true", help="continue the run folder --name")
    t.add_argument("--overwrite", action="store_true", help="replace the run folder --name")
    t.add_argument("--smoke", action="store_true", help="a seconds-long check (also IGPW_SMOKE=1)")

    c = sub.add_parser("compare", help="table (and plot) of finished run folders")
    c.add_argument("paths", nargs="+", help="run folders, parents or glob patterns")
    c.add_argument("--plot", type=_plot, help="save learning curves + accuracy vs parameters to this PNG")

    p = sub.add_parser("plan", help="print the grouping plan of one pointwise layer")
    p.add_argument("--ic", type=_int(1, MAX_CHANNELS), required=True, help="input channels")
    p.add_argument("--fc", type=_int(1, MAX_CHANNELS), required=True, help="filters (output channels)")
    p.add_argument("--ch", type=_int(1, MAX_CHANNELS), default=16, help="channels per group (default 16)")
    p.add_argument("--scheme", default="v2", choices=["v1", "v2"])

    s = sub.add_parser("summary", help="pointwise table, parameters and MACs of a model")
    s.add_argument("--model", default="v2-16", help="baseline, v2-16, v1-32, dense ...")
    s.add_argument("--image-size", type=_int(8, MAX_IMAGE), default=32)
    s.add_argument("--skip-strides", type=strides, default=None, help="default: 3 for kEffNet, 0 for baseline")
    s.add_argument("--classes", type=_int(1, 100000), default=10)

    sub.add_parser("download", help="fetch/verify a dataset (see download --help)", add_help=False)
    return ap


# TrainConfig field -> the train option that sets it (library messages name fields; the CLI names options)
FLAGS = {"select_metric": "--select", "tta_flip": "--tta", "progress": "--no-progress"}


def _flags(message: str, keys: Any) -> str:
    for k in keys:
        message = re.sub(rf"(?<![\w-]){k}(?![\w-])", FLAGS.get(k, "--" + k.replace("_", "-")), message)
    return message


def _not_applicable(a: argparse.Namespace) -> None:
    """Options that the chosen dataset would silently ignore or reject late are errors now."""
    if a.split == "patient" and a.dataset != "malaria":
        raise ValueError(f"--split patient applies only to malaria, not {a.dataset}")
    if a.dataset == "digits":
        for flag, value, why in (("--split", a.split not in (None, "stratified"), "it has one seeded "
                                  "stratified split"), ("--data-root", a.data_root, "it is embedded"),
                                 ("--augment paper", a.augment == "paper", "digits are not flip-invariant; use "
                                  "--augment light")):
            if value:
                raise ValueError(f"{flag} does not apply to digits ({why})")
    if a.resume and a.overwrite:
        raise ValueError("--resume and --overwrite exclude each other: continue the run or replace it")


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
    from .training.runs import LAST, METRICS, claim_run_dir

    _not_applicable(a)
    tags = [t.strip() for t in a.models.split(",") if t.strip()]
    if not tags:
        raise ValueError("--models is empty")
    over = _overrides(a)
    try:
        for t in tags:
            parse_model_tag(t)
    except ValueError as e:
        raise ValueError(f"--models: {e}") from None
    try:
        configs = [preset(a.dataset, t, **over) for t in tags]
    except ValueError as e:
        raise ValueError(_flags(str(e), [*over, "image_size", "skip_strides", "batch_size"])) from None
    if len({c.tag for c in configs}) != len(configs):
        raise ValueError(f"--models lists a model twice: {a.models}")
    info = D.setup(configs[0].device)
    root = Path(a.runs_root)
    again = f"python -m igpw_viz train --resume --runs-root {root} --name {{}} (with the same options)"
    try:
        if len(configs) == 1:
            from .training.loop import train

            try:
                r = train(configs[0], runs_root=root, name=a.name, resume=a.resume, overwrite=a.overwrite)
            except TrainingInterrupted as e:
                if e.epoch:
                    e.args = (f"interrupted; {e.run_dir / LAST} holds epoch {e.epoch}; continue with: "
                              + again.format(e.run_dir.name),)
                raise
            if info.is_main:
                print(results.format_table(results.compare_runs([results.load_run(r.run_dir)])))
            return 0
        lock = None
        if info.is_main:
            lock = claim_run_dir(root, a.name, f"{configs[0].dataset}-compare", resume=a.resume,
                                 overwrite=a.overwrite, needs=None)
        group = Path(D.broadcast_object(str(lock.path) if lock else None, info))
        try:
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
                    e.args = (f"interrupted; {sub} holds epoch {e.epoch}; continue the comparison with: "
                              + again.format(group.name),)
                    raise
                runs.append(sub)
            if info.is_main:
                loaded = results.load_runs(runs)
                table, png = results.save_comparison(loaded, group)
                print()
                print(table.read_text().rstrip())
                print(f"\ncomparison: {table}\nplot: {png}")
        finally:
            if lock is not None:
                lock.release()
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

    try:
        spec = parse_model_tag(a.model)
    except ValueError as e:
        raise ValueError(f"--model: {e}") from None
    skip = a.skip_strides if a.skip_strides is not None else (0 if spec["model"] == "efficientnet_b0" else 3)
    try:
        cfg = TrainConfig(**spec, image_size=a.image_size, skip_strides=skip)
    except ValueError as e:
        raise ValueError(_flags(str(e), ["image_size", "skip_strides"])) from None
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
    try:
        a = ap.parse_args(argv)
    except _UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.command is None:
        ap.print_help()
        return 0
    cmd = {"train": cmd_train, "compare": cmd_compare, "plan": cmd_plan, "summary": cmd_summary}[a.command]
    return _guard(lambda: cmd(a))


def _loaded(module: str, *names: str) -> tuple[type, ...]:
    """Exception classes of ``igpw_viz.<module>`` if it was imported (if not, none of them was raised): the
    guard itself imports nothing, so ``plan`` runs where torch is not installed."""
    m = sys.modules.get(f"igpw_viz.{module}")
    return tuple(getattr(m, n) for n in names) if m is not None else ()


def _exit_code(e: BaseException) -> int | None:
    """2: bad input (options, files, folders); 1: the run failed (NaN loss, full disk, other I/O); None: a bug."""
    if isinstance(e, _loaded("training.loop", "NonFiniteLoss") + _loaded("training.checkpoint", "WriteFailed")):
        return 1
    user = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, *_loaded(
        "data.download", "DownloadError", "ChecksumError"), *_loaded("data.archives", "UnsafeArchiveError"))
    if isinstance(e, user):
        return 2
    return 1 if isinstance(e, OSError) else None


def _guard(fn: Any) -> int:
    """Run a command: user errors become one line on stderr and exit 2; NaN loss or a failed write 1;
    Ctrl-C 130 (saying what was saved)."""
    try:
        return int(fn() or 0)
    except KeyboardInterrupt as e:
        saved = isinstance(e, _loaded("training.loop", "TrainingInterrupted"))
        print(f"\n{e.args[0]}" if saved else "\ninterrupted", file=sys.stderr)
        return 130
    except Exception as e:
        code = _exit_code(e)
        if code is None:
            raise
        print("error: " + " ".join(str(e).split("\n")), file=sys.stderr)
        return code
