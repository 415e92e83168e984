"""The marks every wiring view shares (channel, group and summary level): the project's palette, group
colours, edge routes and styles, node scatters, labels placed in points, column titles, and the title and
legend that finish a drawing."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from ..core.plan import PointwisePlan
from . import style

# One palette for the whole project: group g of K is PALETTE[g % len]; L's groups continue after K's.
PALETTE: tuple = (tuple(matplotlib.colormaps["tab10"].colors)
                  + tuple(matplotlib.colormaps["tab20"].colors[1::2]))

NEUTRAL = "#4d4d4d"

LIGHT = "#b3b3b3"

DENSE_COLOR, V1_COLOR, V2_COLOR = "#7f7f7f", PALETTE[1], PALETTE[0]

def color(index: int) -> tuple:
    """The palette colour of a group index (cycled)."""
    return PALETTE[index % len(PALETTE)]

def axes_inches(ax: Axes) -> tuple[float, float]:
    """The axes' width and height in inches (before the layout engine trims them)."""
    w, h = ax.figure.get_size_inches()
    box = ax.get_position()
    return w * box.width, h * box.height

def place_label(ax: Axes, x: float, y: float, text: str, dx: float = 0.0, dy: float = 0.0, **kw):
    """A text at data point (x, y) moved by (dx, dy) points: spacing that does not depend on the scale."""
    return ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", **kw)

def plan_title(plan: PointwisePlan) -> str:
    """Ic, Fc, Ch, the group counts and the savings, in one line."""
    head = (f"{plan.scheme.upper()}: {plan.in_channels} \u2192 {plan.out_channels}, "
            f"Ch = {plan.channels_per_group}")
    if plan.is_dense:
        return f"{head}: stays dense, 1 group ({plan.weights:,} weights, 0% saved)"
    groups = f"K {plan.k.groups} groups"
    if plan.l is not None:
        groups += f", L {plan.l.groups} group{'s' if plan.l.groups > 1 else ''}"
    return (f"{head}: {groups}; {plan.weights:,} of {plan.dense_weights:,} weights "
            f"({100 * plan.savings:.1f}% saved)")

def edge_route(kind: str, p: tuple, q: tuple, offset: float) -> list:
    """Polyline of one edge: copies detour to the left of their column, skips run above the row."""
    (x0, y0), (x1, y1) = p, q
    if kind in ("copy", "l_copy"):
        xo = x0 - offset
        return [(x0, y0), (xo, y0), (xo, y1), (x1, y1)]
    if kind == "skip":
        return [(x0, y0), (x0 + 0.25, y0 + 0.45), (x1 - 0.25, y1 + 0.45), (x1, y1)]
    return [p, q]

def node_color(graph, node, k_groups: int) -> tuple | str:
    d = graph.nodes[node]
    layer = d["layer"]
    if layer in ("l_group", "l_filter"):
        return color(k_groups + d["group"])
    if layer in ("sum", "output"):
        return NEUTRAL
    if layer in ("k_replica", "l_replica"):
        src = next(iter(graph.predecessors(node)))
        return node_color(graph, src, k_groups)
    return color(d["group"])

def edge_color(graph, u, v, kind: str, k_groups: int):
    if kind in ("k_in", "l_in", "to_sum"):
        return node_color(graph, v if kind != "to_sum" else u, k_groups)
    if kind in ("skip",):
        return LIGHT
    if kind == "out":
        return NEUTRAL
    return node_color(graph, u, k_groups)

EDGE_STYLE = {"copy": dict(linestyles="--", linewidths=0.9), "l_copy": dict(linestyles="--", linewidths=0.9),
               "skip": dict(linewidths=0.6), "out": dict(linewidths=0.6),
               "interleave": dict(linewidths=1.0)}

def draw_edges(ax: Axes, graph, pos: dict, kinds: Sequence[str], k_groups: int, group_level=False,
                straight=False):
    """One LineCollection per edge kind (gid 'edges:<kind>'), each edge one polyline."""
    by_kind: dict[str, list] = {k: [] for k in kinds}
    for u, v, kind in graph.edges(data="kind"):
        by_kind.setdefault(kind, []).append((u, v))
    for kind, edges in by_kind.items():
        if not edges:
            continue
        segments, colors, widths = [], [], []
        for j, (u, v) in enumerate(edges):
            offset = 0.3 + 0.2 * j / max(1, len(edges))
            segments.append([pos[u], pos[v]] if straight and kind == "copy" else
                            edge_route(kind, pos[u], pos[v], offset))
            colors.append(edge_color(graph, u, v, kind, k_groups))
            widths.append(graph.edges[u, v].get("weight", 1))
        style = dict(EDGE_STYLE.get(kind, dict(linewidths=0.7)))
        if group_level:
            top = max(widths)
            style["linewidths"] = [0.5 if kind == "skip" else 0.4 + 3.0 * w / top for w in widths]
        lc = LineCollection(segments, colors=colors, alpha=0.8, zorder=1, gid=f"edges:{kind}", **style)
        lc.set_label(f"_edges:{kind}")
        ax.add_collection(lc)

def scatter_nodes(ax, graph, pos, nodes, k_groups, *, marker="o", size=30.0, hollow=False, layer="", **kw):
    if not nodes:
        return None
    xy = np.array([pos[n] for n in nodes])
    cols = [node_color(graph, n, k_groups) for n in nodes]
    if hollow:
        style = dict(facecolors="white", edgecolors=cols, linewidths=1.4)
    else:
        style = dict(c=cols, edgecolors="none")
    style.update(kw)
    return ax.scatter(xy[:, 0], xy[:, 1], s=size, marker=marker, zorder=3, gid=f"nodes:{layer}", **style)

def column_titles(ax: Axes, titles: list[str], top: float, fs: float, width_in: float) -> float:
    """Column titles above the top row; every other one a line higher when the columns are narrow."""
    span = width_in / (len(titles) + 0.6)
    stagger = max(style.text_width_in(t, fs) for t in titles) > span * 0.95
    for x, t in enumerate(titles):
        place_label(ax, x, top, t, dy=fs * (2.6 + 1.4 * (stagger and x % 2)), ha="center", va="bottom", fontsize=fs)
    return fs * (4.4 + 1.4 * stagger)

def finish_axes(ax: Axes, plan: PointwisePlan, note: str, legend_items: list, pad: float = 0.0) -> None:
    """Title (wrapped; ``pad`` points above the axes, clear of the column titles), legend, no axis."""
    fs = style.fontsize(ax.figure)
    width_in = axes_inches(ax)[0]
    beside = width_in >= 7.5  # a legend beside the drawing on wide axes, below it on narrow ones
    title = plan_title(plan) + (f"\n{note}" if note else "")
    ax.set_title(style.wrap(title, width_in * (0.95 if beside else 1.0), fs + 1), fontsize=fs + 1, pad=pad)
    if legend_items:
        where = (dict(loc="upper left", bbox_to_anchor=(1.0, 1.0)) if beside else
                 dict(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=1 if width_in < 6 else 2))
        ax.legend(handles=legend_items, fontsize=fs, frameon=False, **where)
    ax.set_axis_off()

def span_text(channels: Sequence[int]) -> str:
    channels = list(channels)
    if not channels:
        return "-"
    if channels == list(range(channels[0], channels[-1] + 1)):
        return f"{channels[0]}-{channels[-1]}" if len(channels) > 1 else str(channels[0])
    return f"{len(channels)} ch"
