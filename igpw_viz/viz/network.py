"""Network-level charts for kEffNet-B0: per-layer parameters (dense, V1, V2) and totals versus Ch.

Counts come from the B0 shape table (`architecture.b0_pointwise_shapes`) and `plan_pointwise`; the
non-pointwise parameters (stem, depthwise convs, classifier) are added by a small pure helper, which
reproduces the paper's whole-model trainable parameter counts. Figures are `matplotlib.figure.Figure`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core.architecture import b0_pointwise_shapes, non_pointwise_parameters
from ..core.paper import PUBLISHED_PARAMETERS
from ..core.plan import plan_pointwise
from .wiring import DENSE_COLOR, V1_COLOR, V2_COLOR

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


def draw_network_layers(channels_per_group: int = 16, ax: Axes | None = None, log: bool = True) -> Axes:
    """Grouped bars per B0 pointwise layer: parameters dense vs V1 vs V2 at one Ch."""
    rows = layer_counts(channels_per_group)
    if ax is None:
        ax = Figure(figsize=(14, 4.5), layout="constrained").add_subplot()
    x = np.arange(len(rows))
    width = 0.28
    for i, sc in enumerate(("dense", "v1", "v2")):
        values = [getattr(r, sc) for r in rows]
        ax.bar(x + (i - 1) * width, values, width, color=SCHEME_COLORS[sc], gid=f"bars:{sc}",
               label=f"{sc.upper() if sc != 'dense' else 'dense'}: {sum(values):,}")
    ax.set_xticks(x, [r.label for r in rows], rotation=90, fontsize=5.5)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("trainable parameters (BN, bias included)")
    ax.set_title(f"kEffNet-B0 pointwise layers at Ch = {channels_per_group}: dense vs V1 vs V2", fontsize=10)
    ax.legend(fontsize=8, title="pointwise total", title_fontsize=8)
    return ax


def draw_network_totals(ax: Axes | None = None, channels: range = CH_RANGE, classes: int = 10,
                        current: int | None = None, scheme: str | None = None) -> Axes:
    """Whole-model parameters versus Ch for V1 and V2, the dense baseline, and the paper's points."""
    if ax is None:
        ax = Figure(figsize=(7, 4.5), layout="constrained").add_subplot()
    chs = tuple(channels)
    curve = totals_curve(chs, classes)
    baseline = model_parameters(chs[0], "dense", classes)
    for sc in ("v1", "v2"):
        ax.plot(chs, curve[sc], color=SCHEME_COLORS[sc], lw=1.6, label=f"kEffNet-B0 {sc.upper()}",
                gid=f"line:{sc}")
    ax.axhline(baseline, color=DENSE_COLOR, ls="--", lw=1, label=f"EfficientNet-B0 baseline ({baseline:,})")
    if classes == 10:
        pts = [(ch, n, sc) for (sc, ch), n in PUBLISHED_PARAMETERS.items() if ch is not None]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="*", s=140, facecolors="none",
                   edgecolors="black", linewidths=1.2, zorder=4, gid="published", label="published (paper)")
        for ch, n, sc in pts:
            ax.annotate(f"{sc.upper()}-{ch}: {n:,}", (ch, n), textcoords="offset points",
                        xytext=(8, 4) if sc == "v1" else (8, -11), fontsize=7)
    if current is not None:
        ax.axvline(current, color="black", lw=0.8, alpha=0.5)
        if scheme in ("v1", "v2"):
            value = model_parameters(current, scheme, classes)
            ax.scatter([current], [value], s=50, color=SCHEME_COLORS[scheme], zorder=5, gid="current")
            ax.annotate(f"{value:,}", (current, value), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("Ch (channels per group)")
    ax.set_ylabel(f"trainable parameters ({classes} classes)")
    ax.set_title("kEffNet-B0 parameters versus Ch", fontsize=10)
    ax.legend(fontsize=7)
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
    fig = Figure(figsize=(14, 8.5))
    draw_network_layers(channels_per_group, ax=fig.add_axes((0.06, 0.60, 0.93, 0.33)))
    ax_tot = fig.add_axes((0.06, 0.06, 0.55, 0.36))
    ax_txt = fig.add_axes((0.66, 0.06, 0.32, 0.36))
    draw_network_totals(ax=ax_tot, classes=classes, current=channels_per_group, scheme=scheme)
    ax_txt.set_axis_off()
    ax_txt.text(0, 1, network_text(totals), va="top", ha="left", family="monospace", fontsize=9,
                transform=ax_txt.transAxes, gid="totals_text")
    fig.suptitle(f"kEffNet-B0 {scheme.upper()}, Ch = {channels_per_group}: {totals['parameters']:,} params "
                 f"({100 * totals['savings']:.1f}% fewer than {totals['baseline_parameters']:,})",
                 fontsize=11)
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
