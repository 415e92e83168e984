"""Network-level charts for kEffNet-B0: per-layer parameters (dense, V1, V2) and totals versus Ch.

Counts come from the B0 shape table (`architecture.b0_pointwise_shapes`) and `plan_pointwise`; the
non-pointwise parameters (stem, depthwise convs, classifier) are added by a small pure helper, which
reproduces the paper's whole-model trainable parameter counts. Figures are `matplotlib.figure.Figure`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core.architecture import b0_pointwise_shapes, non_pointwise_parameters
from ..core.paper import PUBLISHED_PARAMETERS
from ..core.plan import plan_pointwise
from . import style
from .marks import DENSE_COLOR, V1_COLOR, V2_COLOR

CH_RANGE = range(2, 65)
SCHEME_COLORS = {"dense": DENSE_COLOR, "v1": V1_COLOR, "v2": V2_COLOR}


@dataclass(frozen=True)
class LayerCount:
    """One pointwise conv of B0 and its trainable parameters (BN/bias included) dense, V1 and V2."""

    block: str
    role: str
    in_channels: int
    out_channels: int
    dense: int
    v1: int
    v2: int

    @property
    def label(self) -> str:
        return f"{self.block} {self.role} {self.in_channels}\u2192{self.out_channels}"


@lru_cache(maxsize=128)
def layer_counts(channels_per_group: int) -> tuple[LayerCount, ...]:
    """Per-layer parameters of every B0 pointwise conv, in network order, for one Ch."""
    rows = []
    for s in b0_pointwise_shapes():
        plans = {sc: plan_pointwise(s.in_channels, s.out_channels, channels_per_group, sc)
                 for sc in ("v1", "v2")}
        kw = dict(batch_norm=s.batch_norm, bias=s.bias)
        rows.append(LayerCount(s.block, s.role, s.in_channels, s.out_channels,
                               plans["v2"].dense_parameters(**kw), plans["v1"].parameters(**kw),
                               plans["v2"].parameters(**kw)))
    return tuple(rows)


def pointwise_weights(channels_per_group: int, scheme: str) -> int:
    """Sum of the pointwise conv weights over B0 (no BN, no bias); scheme 'dense', 'v1' or 'v2'."""
    total = 0
    for s in b0_pointwise_shapes():
        total += plan_pointwise(s.in_channels, s.out_channels, channels_per_group, scheme).weights
    return total


def model_parameters(channels_per_group: int, scheme: str, classes: int = 10) -> int:
    """Whole-model trainable parameters of kEffNet-B0 (scheme 'v1'/'v2') or the baseline ('dense')."""
    if scheme not in ("dense", "v1", "v2"):
        raise ValueError(f"scheme must be 'dense', 'v1' or 'v2', got {scheme!r}")
    pointwise = sum(getattr(r, scheme) for r in layer_counts(channels_per_group))
    return pointwise + non_pointwise_parameters(classes)


@lru_cache(maxsize=8)
def totals_curve(channels: tuple[int, ...] = tuple(CH_RANGE), classes: int = 10) -> dict[str, np.ndarray]:
    """Whole-model parameters for each Ch in `channels`, for 'v1' and 'v2' (cached: the curve never
    changes, only the highlighted Ch does)."""
    return {sc: np.array([model_parameters(ch, sc, classes) for ch in channels]) for sc in ("v1", "v2")}


def _layer_bars(ax: Axes, rows: tuple[LayerCount, ...], first: int, fs: float, log: bool) -> None:
    """Horizontal bars (dense, V1, V2) of ``rows``, network order top to bottom, stages shaded in turn."""
    y = np.arange(len(rows))
    height = 0.28
    for i, sc in enumerate(("dense", "v1", "v2")):
        ax.barh(y + (i - 1) * height, [getattr(r, sc) for r in rows], height, color=SCHEME_COLORS[sc],
                gid=f"bars:{sc}", label=sc.upper() if sc != "dense" else "dense")
    stage, start, shade = None, 0, False
    for j, r in enumerate(list(rows) + [None]):
        key = r.block[0] if r is not None else None
        if key != stage:
            if stage is not None and shade:
                ax.axhspan(start - 0.5, j - 0.5, color="0.92", zorder=0, lw=0)
            stage, start, shade = key, j, not shade
    ax.set_yticks(y, [r.label for r in rows], fontsize=fs)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    if log:
        ax.set_xscale("log")
    ax.tick_params(axis="x", labelsize=fs)
    ax.set_xlabel("parameters (BN, bias incl.)", fontsize=fs)
    ax.set_title(f"layers {first + 1}-{first + len(rows)}", fontsize=fs)


def draw_network_layers(channels_per_group: int = 16, ax: Axes | Sequence[Axes] | None = None,
                        log: bool = True) -> Axes:
    """Horizontal bars per B0 pointwise layer: parameters dense vs V1 vs V2 at one Ch, in network order,
    stages shaded in turn. Without ``ax`` the 64 layers are split over two panels side by side (returns
    the first); ``ax`` may be one Axes (every layer) or several (the layers split evenly)."""
    rows = layer_counts(channels_per_group)
    if ax is None:
        fig = Figure(figsize=(style.WIDTH_IN, style.MAX_HEIGHT_IN - 0.2), layout="constrained")
        axes = list(fig.subplots(1, 2))
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
    fs = style.fontsize(axes[0].figure)
    per = -(-len(rows) // len(axes))
    for k, a in enumerate(axes):
        _layer_bars(a, rows[k * per:(k + 1) * per], k * per, fs, log)
    totals = {sc: sum(getattr(r, sc) for r in rows) for sc in ("dense", "v1", "v2")}
    handles = axes[0].get_legend_handles_labels()[0]
    labels = [f"{sc.upper() if sc != 'dense' else 'dense'}: {n:,}" for sc, n in totals.items()]
    fig = axes[0].figure
    if ax is None:
        fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=fs,
                   title="pointwise total", title_fontsize=fs)
        fig.suptitle(f"kEffNet-B0 pointwise layers at Ch = {channels_per_group}: dense vs V1 vs V2",
                     fontsize=fs + 1)
    else:
        fig.legend(handles, labels, loc="lower right", bbox_to_anchor=(0.99, 0.04), fontsize=fs,
                   title="pointwise total", title_fontsize=fs)  # clear of the bars (network_report's corner)
    return axes[0]


# offsets (points) of the published points' labels: V1 above-left, V2 below-right
_PUBLISHED_OFFSETS = {"v1": ((-8, 8), "right", "bottom"), "v2": ((8, -8), "left", "top")}


def draw_network_totals(ax: Axes | None = None, channels: range = CH_RANGE, classes: int = 10,
                        current: int | None = None, scheme: str | None = None) -> Axes:
    """Whole-model parameters versus Ch for V1 and V2, the dense baseline, and the paper's points."""
    if ax is None:
        ax = Figure(figsize=(7, 4.5), layout="constrained").add_subplot()
    fs = style.fontsize(ax.figure)
    chs = tuple(channels)
    curve = totals_curve(chs, classes)
    baseline = model_parameters(chs[0], "dense", classes)
    for sc in ("v1", "v2"):
        ax.plot(chs, curve[sc], color=SCHEME_COLORS[sc], lw=1.6, label=f"kEffNet-B0 {sc.upper()}",
                gid=f"line:{sc}")
    ax.axhline(baseline, color=DENSE_COLOR, ls="--", lw=1, label=f"EfficientNet-B0 ({baseline:,})")
    if classes == 10:
        pts = [(ch, n, sc) for (sc, ch), n in PUBLISHED_PARAMETERS.items() if ch is not None]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="*", s=140, facecolors="none",
                   edgecolors="black", linewidths=1.2, zorder=4, gid="published", label="published (paper)")
        for ch, n, sc in pts:
            if ch == current and sc == scheme:
                continue  # the current point's own label says the same
            xy, ha, va = _PUBLISHED_OFFSETS[sc]
            ax.annotate(f"{sc.upper()}-{ch}: {n:,}", (ch, n), textcoords="offset points", xytext=xy,
                        ha=ha, va=va, fontsize=fs)
    if current is not None:
        ax.axvline(current, color="black", lw=0.8, alpha=0.5)
        if scheme in ("v1", "v2"):
            value = model_parameters(current, scheme, classes)
            ax.scatter([current], [value], s=50, color=SCHEME_COLORS[scheme], zorder=5, gid="current")
            xy, ha, va = _PUBLISHED_OFFSETS[scheme]
            ax.annotate(f"{scheme.upper()}-{current}: {value:,}", (current, value), textcoords="offset points",
                        xytext=xy, ha=ha, va=va, fontsize=fs, fontweight="bold")
    ax.set_yscale("log")
    ax.set_ylim(2e5, 4e7)  # room above the baseline for the legend
    ax.set_xlabel("Ch (channels per group)", fontsize=fs)
    ax.set_ylabel(f"parameters ({classes} classes)", fontsize=fs)
    ax.tick_params(labelsize=fs)
    ax.set_title("kEffNet-B0 parameters versus Ch", fontsize=fs + 1)
    ax.legend(fontsize=fs, loc="upper left", ncols=2, columnspacing=1.0, handlelength=1.5)
    return ax


def network_totals(channels_per_group: int, scheme: str = "v2", classes: int = 10) -> dict[str, float]:
    """The numbers `explore_network` prints: model and pointwise totals, and the savings."""
    baseline = model_parameters(channels_per_group, "dense", classes)
    model = model_parameters(channels_per_group, scheme, classes)
    return {"channels_per_group": channels_per_group, "scheme": scheme, "parameters": model,
            "baseline_parameters": baseline, "savings": 1 - model / baseline,
            "pointwise_weights": pointwise_weights(channels_per_group, scheme),
            "dense_pointwise_weights": pointwise_weights(channels_per_group, "dense")}


def network_report(channels_per_group: int, scheme: str = "v2", classes: int = 10) -> tuple[Figure, dict]:
    """Per-layer bars and the totals-vs-Ch chart for one Ch and scheme, and the totals: what
    `explore_network` shows."""
    if scheme not in ("v1", "v2"):
        raise ValueError(f"scheme must be 'v1' or 'v2', got {scheme!r}")
    totals = network_totals(channels_per_group, scheme, classes)
    # fixed axes rectangles instead of constrained layout: a widget update must stay well under 1 s
    fig = Figure(figsize=(style.WIDTH_IN, style.MAX_HEIGHT_IN - 0.2))
    fs = style.fontsize(fig)
    draw_network_layers(channels_per_group, ax=[fig.add_axes((0.185, 0.45, 0.30, 0.47)),
                                                fig.add_axes((0.685, 0.45, 0.30, 0.47))])
    ax_tot = fig.add_axes((0.09, 0.06, 0.50, 0.29))
    ax_txt = fig.add_axes((0.64, 0.06, 0.35, 0.29))
    draw_network_totals(ax=ax_tot, classes=classes, current=channels_per_group, scheme=scheme)
    ax_txt.set_axis_off()
    ax_txt.text(0, 1, network_text(totals), va="top", ha="left", family="monospace", fontsize=fs,
                transform=ax_txt.transAxes, gid="totals_text")
    fig.suptitle(f"kEffNet-B0 {scheme.upper()}, Ch = {channels_per_group}: {totals['parameters']:,} params "
                 f"({100 * totals['savings']:.1f}% fewer than {totals['baseline_parameters']:,})",
                 fontsize=fs + 1)
    return fig, totals


def network_text(totals: dict) -> str:
    """Totals as a few readable lines."""
    return (f"scheme {totals['scheme'].upper()}, Ch = {totals['channels_per_group']}\n"
            f"model parameters:   {totals['parameters']:,}\n"
            f"baseline:           {totals['baseline_parameters']:,}\n"
            f"saved:              {100 * totals['savings']:.1f}%\n"
            f"pointwise weights:  {totals['pointwise_weights']:,}\n"
            f"  (dense:           {totals['dense_pointwise_weights']:,})")


__all__ = ["LayerCount", "draw_network_layers", "draw_network_totals", "layer_counts",
           "model_parameters", "network_report", "network_text", "network_totals", "non_pointwise_parameters",
           "pointwise_weights", "totals_curve"]
