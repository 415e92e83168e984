"""Read run folders back and compare them: a table (parameters, MACs, best validation, test accuracy, time
per epoch) and matplotlib figures (learning curves; accuracy versus parameters with the paper's published
points for the runs' dataset, from `core.paper`). Figures are built
on ``matplotlib.figure.Figure`` (no pyplot state)."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.paper import DATASET_TITLES, PaperResult, paper_results
from .runs import CONFIG, HISTORY, METRICS, find_run_folders, is_run_folder

__all__ = ["Run", "load_run", "load_runs", "compare_runs", "format_table", "plot_learning_curves",
           "plot_accuracy_vs_parameters", "save_comparison"]

@dataclass
class Run:
    path: Path
    config: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    params: int | None = None
    macs: int | None = None

    @property
    def label(self) -> str:
        c = self.config
        if c.get("model") == "efficientnet_b0":
            return "EfficientNet-B0"
        return "kEffNet-B0 dense" if c.get("scheme") == "dense" else \
            f"kEffNet-B0 {str(c.get('scheme', '')).upper()}-{c.get('channels_per_group')}"


def load_run(path: str | Path) -> Run:
    """One run folder (needs ``config.json``; history and metrics when present)."""
    from .checkpoint import read_history

    p = Path(path)
    if not is_run_folder(p):
        raise FileNotFoundError(f"{p} is not a run folder (no {CONFIG})")
    meta = _read_json(p / CONFIG)
    hist = read_history(p / HISTORY) if (p / HISTORY).is_file() else []
    metrics = _read_json(p / METRICS) if (p / METRICS).is_file() else {}
    if not isinstance(meta.get("config", {}), dict):
        raise ValueError(f"{p / CONFIG} has no 'config' object; the run folder is damaged: restore the file "
                         f"or leave the folder out")
    return Run(p, meta.get("config", {}), hist, metrics, meta.get("params"), meta.get("macs"))


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a run file; ValueError naming the file when it is truncated or not an object."""
    fix = "the run folder is damaged: restore the file or leave the folder out"
    try:
        obj = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path} is not valid JSON ({e}); {fix}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a JSON {type(obj).__name__}, not an object; {fix}")
    return obj


def load_runs(paths: str | Path | Iterable[str | Path]) -> list[Run]:
    """Run folders from paths, glob patterns, or parent folders (searched recursively for config.json)."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found: list[Path] = []
    for item in items:
        matches = [Path(m) for m in sorted(glob.glob(str(item)))] or [Path(item)]
        for m in matches:
            found += find_run_folders(m)
    if not found:
        raise FileNotFoundError(f"no run folders found in {items}")
    seen: dict[Path, None] = dict.fromkeys(p.resolve() for p in found)
    return [load_run(p) for p in seen]


def compare_runs(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """One row per run: model, dataset, params, MACs, best val accuracy, test accuracy, s/epoch, epochs."""
    rows = []
    for r in runs:
        m = r.metrics
        best_val = m.get("best_val_acc")
        if best_val is None and r.history:
            best_val = max(h["val_acc"] for h in r.history)
        times = [h["epoch_time_s"] for h in r.history]
        rows.append({"run": r.path.name, "model": r.label, "dataset": r.config.get("dataset"),
                     "params": m.get("params", r.params), "macs": m.get("macs", r.macs),
                     "best_val_acc": best_val, "test_acc": m.get("test_acc"),
                     "test_acc_tta": m.get("test_acc_tta"),
                     "s_per_epoch": sum(times) / len(times) if times else None, "epochs": len(r.history)})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of ``compare_runs`` rows (parameters relative to the first row too)."""
    ref = rows[0]["params"] if rows and rows[0].get("params") else None

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.2f}%"

    head = ("model", "run", "params", "vs first", "MACs", "best val", "test acc", "s/epoch", "epochs")
    body = [(r["model"], r["run"], f"{r['params']:,}" if r.get("params") else "-",
             f"{r['params'] / ref:.1%}" if ref and r.get("params") else "-",
             f"{r['macs']:,}" if r.get("macs") else "-", pct(r.get("best_val_acc")),
             pct(r.get("test_acc")) + (f" (TTA {pct(r['test_acc_tta'])})" if r.get("test_acc_tta") else ""),
             f"{r['s_per_epoch']:.1f}" if r.get("s_per_epoch") else "-", str(r.get("epochs", "-")))
            for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])


def _axes(ax: Any, ncols: int = 1, size: tuple[float, float] = (6.0, 4.0)) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(ncols, 1)  # several plots: one above the other, each as wide as the figure


# Every text at least 10 pt on figures at most 10 in wide: seen at 8 pt or more where the figures are
# shown (the display model of igpw_viz.viz.style, tested by tests/test_legibility.py).
FONT = 10


def plot_learning_curves(runs: Iterable[Run], ax: Any = None) -> Any:
    """Validation accuracy (solid) and training accuracy (dashed) per epoch for each run; returns the Figure."""
    fig, ax = _axes(ax, size=(9.0, 4.5))
    for r in runs:
        ep = [h["epoch"] for h in r.history]
        (line,) = ax.plot(ep, [100 * h["val_acc"] for h in r.history], marker="o", ms=3, label=f"{r.label} val")
        ax.plot(ep, [100 * h["train_acc"] for h in r.history], ls="--", color=line.get_color(),
                label=f"{r.label} train")
    _labels(ax, "epoch", "accuracy (%)", "learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def _labels(ax: Any, x: str, y: str, title: str) -> None:
    ax.set_xlabel(x, fontsize=FONT)
    ax.set_ylabel(y, fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)


def plot_accuracy_vs_parameters(runs: Iterable[Run], ax: Any = None, paper: bool = True) -> Any:
    """Test accuracy against trainable parameters (log x) for the runs, plus (``paper=True``) the paper's
    published points for the datasets of the runs (one series per dataset and epoch count); runs on a
    dataset the paper does not report (the digits) get its CIFAR-10 50-epoch points for reference."""
    runs = list(runs)
    fig, ax = _axes(ax, size=(9.0, 5.0))
    for r in runs:
        m = r.metrics
        if m.get("test_acc") is None:
            continue
        ax.scatter([m["params"]], [100 * m["test_acc"]], s=50, zorder=3,
                   label=f"{r.label} ({r.config.get('dataset')}, this run)")
    labelled: list[tuple[float, float, str]] = []
    if paper:
        for i, points in enumerate(_paper_series(runs)):
            p0 = points[0]
            ax.scatter([p.params for p in points], [p.accuracy for p in points], marker="x+1234"[i % 6],
                       color="grey", label=f"paper, {DATASET_TITLES.get(p0.dataset, p0.dataset)} ({p0.epochs} epochs)")
            labelled += [(p.params, p.accuracy, p.label) for p in points]
    ax.set_xscale("log")
    _labels(ax, "trainable parameters", "test accuracy (%)", "accuracy versus parameters")
    ax.grid(alpha=0.3, which="both")
    ax.margins(x=0.12, y=0.1)
    ax.legend(fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False)
    _place_labels(ax, labelled, FONT, color="dimgrey")
    return fig


OFFSETS = ((5, 4, "left", "bottom"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
           (-5, -4, "right", "top"), (5, 14, "left", "bottom"), (5, -14, "left", "top"))


def _place_labels(ax, points, size: float, **kw) -> list:
    """Annotate data ``points`` ``[(x, y, text)]`` so that no label overlaps an earlier one: each tries
    `OFFSETS` (points, around its point) in turn, measured on the figure's renderer. Returns the texts."""
    renderer = ax.figure._get_renderer()
    frame = ax.get_window_extent(renderer)
    placed, texts = [], []
    for x, y, text in points:
        for dx, dy, ha, va in OFFSETS:
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                            fontsize=size, **kw)
            box = t.get_window_extent(renderer).padded(2)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1
            if inside and not any(box.overlaps(b) for b in placed) or (dx, dy) == OFFSETS[-1][:2]:
                break
            t.remove()
        placed.append(box)
        texts.append(t)
    return texts


def _paper_series(runs: list[Run]) -> list[list[PaperResult]]:
    """The paper's points to draw next to ``runs``: per (dataset, epochs), without TTA, with parameters."""
    datasets = list(dict.fromkeys(r.config.get("dataset") for r in runs))
    known = [d for d in datasets if paper_results(d)]
    if not known:
        return [[p for p in paper_results("cifar10", 50) if p.params is not None]]
    series: dict[tuple[str, int], list[PaperResult]] = {}
    for p in paper_results():
        if p.dataset in known and p.params is not None:
            series.setdefault((p.dataset, p.epochs), []).append(p)
    return list(series.values())


def save_comparison(runs: list[Run], out: str | Path) -> tuple[Path, Path]:
    """Write ``comparison.txt`` (the table) and ``comparison.png`` (learning curves + accuracy vs params)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = format_table(compare_runs(runs))
    (out / "comparison.txt").write_text(table + "\n")
    fig, (a1, a2) = _axes(None, ncols=2, size=(10.0, 9.0))
    plot_learning_curves(runs, a1)
    plot_accuracy_vs_parameters(runs, a2)
    fig.savefig(out / "comparison.png", dpi=110)
    return out / "comparison.txt", out / "comparison.png"
