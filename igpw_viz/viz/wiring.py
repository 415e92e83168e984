"""Drawings of one pointwise plan: the channel wiring and the group view (wide layers switch to it).

Every function takes ``ax=None`` (a new `matplotlib.figure.Figure` is made, never pyplot) and returns the
Axes or Figure it drew on. Edges are drawn as one `LineCollection` per edge kind (gid ``"edges:<kind>"``)
and nodes as one scatter per layer (gid ``"nodes:<layer>"``), which keeps drawing fast and testable.
Wide layers get the group view or, past `MAX_GROUPS` groups, a summary (first and last groups as
boxes with their counts, the middle ones as an ellipsis). Fonts follow `style` (every text seen at 8 pt or
more). Dependency matrices live in `connectivity.py`, network-level charts in `network.py`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..core.plan import PointwisePlan
from . import style
from .graph import nodes_of_layer, wiring_graph
from .marks import (
    LIGHT,
    NEUTRAL,
    axes_inches,
    color,
    column_titles,
    draw_edges,
    finish_axes,
    place_label,
    scatter_nodes,
)
from .summary import draw_group_level, draw_summary_level

MAX_CHANNELS = 64  # above this many rows the wiring switches to the group view by itself
CHANNEL_LIMIT = 320  # never draw more rows than this at channel level, even when asked to
MAX_GROUPS = 24  # above this many groups (K or L) "auto" draws the summary instead of the group view
LEVELS = ("auto", "channel", "group", "summary")

COLUMN_TITLES = {"input": "input", "k_group": "K groups", "k_filter": "K out", "interleave": "interleave",
                 "l_group": "L groups", "l_filter": "L out", "sum": "sum", "output": "output"}




def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()






def plan_rows(plan: PointwisePlan) -> int:
    """Rows the channel-level drawing needs: the tallest column (extended inputs of K or L, or Fc)."""
    rows = max(len(plan.k.sources), plan.out_channels)
    if plan.l is not None:
        rows = max(rows, len(plan.l.sources))
    return rows




# --------------------------------------------------------------------------------------- channel level
def _channel_columns(plan: PointwisePlan) -> list[tuple[str, ...]]:
    """Columns left to right; each lists the layers stacked in it (copies go below their originals)."""
    cols: list[tuple[str, ...]] = [("input", "k_replica"), ("k_group",)]
    l_in = ("l_replica",) if plan.l is not None else ()
    if plan.interleave is not None:
        cols += [("k_filter",), ("interleave",) + l_in]
    else:
        cols += [("k_filter",) + l_in]
    if plan.l is not None:
        cols += [("l_group",), ("l_filter",), ("sum",)]
    cols.append(("output",))
    return cols


def wiring_positions(plan: PointwisePlan, graph=None) -> dict:
    """Deterministic positions: one column per layer, channels top to bottom in index order, copies
    below the channels they extend, each group node at the middle of the positions it reads."""
    graph = graph if graph is not None else wiring_graph(plan)
    pos: dict = {}
    for x, column in enumerate(_channel_columns(plan)):
        if column[0].endswith("group"):
            continue
        nodes = [n for layer in column for n in nodes_of_layer(graph, layer)]
        mid = (len(nodes) - 1) / 2
        for row, node in enumerate(nodes):
            pos[node] = (float(x), mid - row)
    for x, column in enumerate(_channel_columns(plan)):
        if column[0].endswith("group"):
            for node in nodes_of_layer(graph, column[0]):
                ys = [pos[u][1] for u in graph.predecessors(node)]
                pos[node] = (float(x), float(np.mean(ys)))
    return pos














def _draw_channel_level(plan: PointwisePlan, ax: Axes, note: str = "") -> Axes:
    graph = wiring_graph(plan)
    pos = wiring_positions(plan, graph)
    kg, rows, fs = plan.k.groups, plan_rows(plan), style.fontsize(ax.figure)
    width_in, height_in = axes_inches(ax)
    step = style.label_step(rows, height_in - 1.6, fs, pitch=1.1)  # title and column titles take ~1.6 in
    size = float(np.clip(2000 / rows ** 1.3, 6, 36))
    draw_edges(ax, graph, pos, [], kg)

    for layer in ("input", "k_filter", "l_filter", "interleave", "output"):
        nodes = nodes_of_layer(graph, layer)
        plain = [n for n in nodes if not graph.nodes[n].get("extra_filter")]
        extra = [n for n in nodes if graph.nodes[n].get("extra_filter")]
        scatter_nodes(ax, graph, pos, plain, kg, size=size, layer=layer)
        if extra:
            scatter_nodes(ax, graph, pos, extra, kg, marker="D", size=size * 1.3, layer=f"{layer}:extra",
                     edgecolors="black", linewidths=1.0)
    for layer in ("k_replica", "l_replica"):
        scatter_nodes(ax, graph, pos, nodes_of_layer(graph, layer), kg, size=size * 1.1, hollow=True, layer=layer)
    for layer in ("k_group", "l_group"):
        nodes = nodes_of_layer(graph, layer)
        extra = [n for n in nodes if graph.nodes[n]["extra_filter"]]
        scatter_nodes(ax, graph, pos, [n for n in nodes if n not in extra], kg, marker="s", size=size * 3.5,
                 layer=layer)
        if extra:
            scatter_nodes(ax, graph, pos, extra, kg, marker="s", size=size * 3.5, layer=f"{layer}:extra",
                     edgecolors="black", linewidths=1.6)
    scatter_nodes(ax, graph, pos, nodes_of_layer(graph, "sum"), kg, marker="P", size=size * 1.2, layer="sum")

    # labels (every `step`-th row when rows are dense): channel numbers outside, copies as '=source',
    # groups as K0/L0 with their filter count
    for n in nodes_of_layer(graph, "input"):
        if n[1] % step == 0:
            place_label(ax, *pos[n], str(n[1]), dx=-5, ha="right", va="center", fontsize=fs)
    for layer in ("k_replica", "l_replica"):
        for n in nodes_of_layer(graph, layer):
            if n[1] % step == 0:
                place_label(ax, *pos[n], f"={graph.nodes[n]['source']}", dx=5, ha="left", va="center", fontsize=fs,
                       style="italic")
    for n in nodes_of_layer(graph, "output"):
        if n[1] % step == 0:
            place_label(ax, *pos[n], str(n[1]), dx=5, ha="left", va="center", fontsize=fs)
    for layer, name in (("k_group", "K"), ("l_group", "L")):
        stage = plan.k if name == "K" else plan.l
        if stage is None:
            continue
        every = -(-step * 2 // stage.inputs_per_group)  # a group label is about two rows tall
        for n in nodes_of_layer(graph, layer):
            d = graph.nodes[n]
            if d["index"] % every == 0 or d["index"] == stage.groups - 1 and every == 1:
                place_label(ax, *pos[n], f"{name}{d['index']} {d['filters']}f", dy=fs * 0.7, ha="center",
                       va="bottom", fontsize=fs, fontweight="bold" if d["extra_filter"] else "normal")
    top = max(y for _, y in pos.values())
    pad = column_titles(ax, [COLUMN_TITLES[c[0]] for c in _channel_columns(plan)], top, fs, width_in)
    ax.set_xlim(-0.9, len(_channel_columns(plan)) - 0.3)
    ax.set_ylim(min(y for _, y in pos.values()) - 1, top + 0.3)
    finish_axes(ax, plan, note, _channel_legend(plan, graph), pad)
    return ax




def _channel_legend(plan: PointwisePlan, graph) -> list:
    items = [Line2D([], [], marker="o", ls="", color=color(0), label="channel (colour = K group)"),
             Line2D([], [], marker="s", ls="", color=color(0), markersize=8, label="group (one colour each)")]
    if nodes_of_layer(graph, "k_replica") or nodes_of_layer(graph, "l_replica"):
        items.append(Line2D([], [], marker="o", ls="--", color=color(0), markerfacecolor="white",
                            label="replicated copy (=source)"))
    if plan.k.uneven_groups or (plan.l is not None and plan.l.uneven_groups):
        items.append(Line2D([], [], marker="D", ls="", color=color(0), markeredgecolor="black",
                            label="extra filter (uneven group)"))
    if plan.interleave is not None:
        items.append(Line2D([], [], color=color(1), label=f"interleave (step {plan.interleave_step})"))
    if plan.l is not None:
        items.append(Line2D([], [], color=LIGHT, label="skip: K out to the sum"))
        items.append(Line2D([], [], marker="P", ls="", color=NEUTRAL, label="sum L + K"))
    return items






# ------------------------------------------------------------------------------------------ public API
def draw_wiring(plan: PointwisePlan, ax: Axes | None = None, level: str = "auto",
                max_channels: int = MAX_CHANNELS) -> Axes:
    """Draw how channels reach groups: copies, uneven filters, the interleave, L and the sum.

    ``level``: "channel", "group", "summary" or "auto" (channel level up to `max_channels` rows, else the
    group view up to `MAX_GROUPS` groups, else the summary: the first and last groups as boxes with their
    counts). A channel-level request above `CHANNEL_LIMIT` rows gets the group view (or the summary).
    """
    if not isinstance(plan, PointwisePlan):
        raise TypeError(f"draw_wiring needs a PointwisePlan (from plan_pointwise), got {type(plan).__name__}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(map(repr, LEVELS))}, got {level!r}")
    level, note = _resolve_level(plan, level, max_channels)
    ax = _new_axes(ax, wiring_figsize(plan, level))
    if level == "channel":
        return _draw_channel_level(plan, ax, note)
    return (draw_group_level if level == "group" else draw_summary_level)(plan, ax, note)


def _most_groups(plan: PointwisePlan) -> int:
    return max(plan.k.groups, plan.l.groups if plan.l is not None else 1)


def _resolve_level(plan: PointwisePlan, level: str, max_channels: int = MAX_CHANNELS) -> tuple[str, str]:
    """The level actually drawn ("channel", "group" or "summary") and the note that says why."""
    rows, groups = plan_rows(plan), _most_groups(plan)
    if level in ("group", "summary"):
        return level, f"{level} view" if level == "group" else "summary"
    limit = max_channels if level == "auto" else CHANNEL_LIMIT
    if rows <= limit:
        return "channel", ""
    if groups > MAX_GROUPS:
        return "summary", f"summary: {rows} channels > {limit}, {groups} groups > {MAX_GROUPS}"
    return "group", f"group view: {rows} channels > {limit} for a channel-level drawing"


def wiring_figsize(plan: PointwisePlan, level: str, width: float | None = None) -> tuple[float, float]:
    """Figure size (inches) for one plan's drawing at a resolved ``level``: `style.WIDTH_IN` wide (or
    ``width``), as tall as the rows (channels, or groups) need, at most `style.MAX_HEIGHT_IN`."""
    width = style.WIDTH_IN if width is None else width
    if level == "summary":
        return width, 6.0
    rows = _most_groups(plan) * 0.25 + 0.5 if level == "group" else plan_rows(plan) * 0.17
    return width, float(min(style.MAX_HEIGHT_IN - 0.2, max(4.5, rows + 3.0)))
