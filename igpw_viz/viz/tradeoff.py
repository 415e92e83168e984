"""What a student trades when choosing Ch: weights saved against the inputs each output still reads.

`draw_tradeoff(Ic, Fc)` plots both over Ch for one layer (numbers from `PointwisePlan.savings` and
`PointwisePlan.mixing()`); `network_mixing(Ch)` summarises the mixing over all of kEffNet-B0's 1x1 convs.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import lru_cache

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator, PercentFormatter

from ..core.architecture import b0_pointwise_shapes
from ..core.mixing import percent
from ..core.plan import plan_pointwise

SAVED_COLOR = "#2a7f62"  # weights saved
READS_COLOR = "#c8553d"  # inputs read per output
FONT = 10  # pt: the widgets show this figure at dpi 80, 9 in (720 px) wide: 10 pt is seen as 8.3 pt


def _shape(plan) -> tuple:
    """What changes when the plan's grouping changes: K's groups, the interleave step, L's groups."""
    return plan.k.groups, plan.interleave_step, plan.l.groups if plan.l is not None else None


@lru_cache(maxsize=64)
def tradeoff_channels(in_channels: int, out_channels: int, scheme: str = "v2") -> tuple[int, ...]:
    """The default Ch values of the plot: 1, 2, 4, ... up to Ic, plus every Ch at which the grouping
    changes (K's group count, the interleave step, L's group count, dense or not)."""
    values = {2**i for i in range(in_channels.bit_length()) if 2**i <= in_channels}
    previous = None
    for ch in range(1, in_channels + 1):
        shape = _shape(plan_pointwise(in_channels, out_channels, ch, scheme))
        if shape != previous:
            values.add(ch)
        previous = shape
    return tuple(sorted(values))


@dataclass(frozen=True)
class TradeoffPoint:
    """One Ch of the plot: the fraction of weights saved and the fewest/most inputs one output reads
    (as fractions of Ic)."""

    channels_per_group: int
    saved: float
    min_reads: float
    max_reads: float


def tradeoff_point(in_channels: int, out_channels: int, channels_per_group: int,
                   scheme: str = "v2") -> TradeoffPoint:
    """The plan's numbers at one Ch."""
    plan = plan_pointwise(in_channels, out_channels, channels_per_group, scheme)
    m = plan.mixing()
    return TradeoffPoint(channels_per_group, plan.savings, m.min_fraction, m.max_fraction)


@lru_cache(maxsize=64)
def tradeoff_points(in_channels: int, out_channels: int, scheme: str = "v2",
                    channels: tuple[int, ...] | None = None) -> tuple[TradeoffPoint, ...]:
    """The plan's numbers at each Ch of ``channels`` (default `tradeoff_channels`); cached, since a widget
    redraws the same curve for every Ch."""
    chs = channels if channels is not None else tradeoff_channels(in_channels, out_channels, scheme)
    return tuple(tradeoff_point(in_channels, out_channels, ch, scheme) for ch in chs)


def draw_tradeoff(in_channels: int, out_channels: int, scheme: str = "v2", channels=None,
                  ax: Axes | None = None, current: int | None = None) -> Axes:
    """% of weights saved and % of the inputs each output reads (fewest to most, shaded) versus Ch, on one
    percent axis; ``current`` marks one Ch with its numbers."""
    chs = tuple(operator.index(c) for c in channels) if channels is not None else None  # ints, numpy ints
    points = tradeoff_points(in_channels, out_channels, scheme, chs)
    if ax is None:
        ax = Figure(figsize=(9, 3.8), layout="constrained").add_subplot()
    x = [p.channels_per_group for p in points]
    low = [100 * p.min_reads for p in points]
    high = [100 * p.max_reads for p in points]
    ax.fill_between(x, low, high, color=READS_COLOR, alpha=0.18, lw=0, gid="reads_band")
    ax.plot(x, high, color=READS_COLOR, lw=1.2, ls="--", marker=".", gid="reads_max",
            label="most inputs\nan output reads")
    ax.plot(x, low, color=READS_COLOR, lw=1.8, marker=".", gid="reads_min",
            label="fewest inputs\nan output reads")
    ax.plot(x, [100 * p.saved for p in points], color=SAVED_COLOR, lw=2, marker=".", gid="saved",
            label="weights saved")
    if current is not None:
        p = tradeoff_point(in_channels, out_channels, current, scheme)
        ax.axvline(current, color="black", lw=0.8, alpha=0.5)
        ax.scatter([current] * 3, [100 * p.saved, 100 * p.min_reads, 100 * p.max_reads], s=45, zorder=5,
                   color=[SAVED_COLOR, READS_COLOR, READS_COLOR], edgecolors="black", gid="current")
        reads = plan_pointwise(in_channels, out_channels, current, scheme).mixing().span
        ax.set_title(f"{in_channels} -> {out_channels}, {scheme.upper()}, Ch = {current}:\n"
                     f"{100 * p.saved:.1f}% of weights saved; each output reads {reads} of the inputs",
                     fontsize=FONT + 1)
    else:
        ax.set_title(f"{in_channels} -> {out_channels}, {scheme.upper()}: weights saved vs inputs read",
                     fontsize=FONT + 1)
    if len(x) > 1 and x[-1] / x[0] >= 8:  # a log axis with the powers of two as ticks
        ax.set_xscale("log", base=2)
        ticks = [2**i for i in range(x[-1].bit_length()) if x[0] <= 2**i <= x[-1]]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(t) for t in ticks])
    ax.set_ylim(-3, 103)
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.tick_params(labelsize=FONT)
    ax.set_xlabel("Ch (channels per group)", fontsize=FONT)
    ax.set_ylabel(f"% of weights / % of the {in_channels} inputs", fontsize=FONT)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax


@dataclass(frozen=True)
class NetworkMixing:
    """Mixing over all of B0's 1x1 convs at one Ch: how many let every output read every input, and the
    layer whose outputs read the smallest share of their inputs (`least_*`)."""

    channels_per_group: int
    scheme: str
    layers: int
    full_layers: int
    least_label: str
    least_min_inputs: int
    least_in_channels: int

    @property
    def least_fraction(self) -> float:
        return self.least_min_inputs / self.least_in_channels

    def __str__(self) -> str:
        return (f"mixing over B0's {self.layers} pointwise convs:\n"
                f"  {self.full_layers} of them let every output read every input\n"
                f"  least in {self.least_label}: an output reads as few as {self.least_min_inputs} "
                f"of {self.least_in_channels} inputs ({percent(self.least_fraction)})")


@lru_cache(maxsize=256)
def network_mixing(channels_per_group: int, scheme: str = "v2") -> NetworkMixing:
    """The network-wide mixing summary `explore_network` prints (cached per Ch and scheme)."""
    rows = []
    for s in b0_pointwise_shapes():
        m = plan_pointwise(s.in_channels, s.out_channels, channels_per_group, scheme).mixing()
        name = s.role if s.block == s.role else f"{s.block} {s.role}"
        rows.append((m.min_fraction, f"{name} {s.in_channels} -> {s.out_channels}", m))
    _, label, least = min(rows, key=lambda r: r[0])
    return NetworkMixing(channels_per_group, scheme, len(rows), sum(r[2].is_full for r in rows), label,
                         least.min_inputs, least.in_channels)


__all__ = ["NetworkMixing", "TradeoffPoint", "draw_tradeoff", "network_mixing", "tradeoff_channels",
           "tradeoff_point", "tradeoff_points"]
