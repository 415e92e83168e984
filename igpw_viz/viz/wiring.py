"""Drawings of one pointwise plan: the channel wiring and the group view (wide layers switch to it).

Every function takes ``ax=None`` (a new `matplotlib.figure.Figure` is made, never pyplot) and returns the
Axes or Figure it drew on. Edges are drawn as one `LineCollection` per edge kind (gid ``"edges:<kind>"``)
and nodes as one scatter per layer (gid ``"nodes:<layer>"``), which keeps drawing fast and testable.
Dependency matrices live in `connectivity.py`, network-level charts in `network.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..core.plan import PointwisePlan
from .graph import group_graph, nodes_of_layer, wiring_graph

# One palette for the whole project: group g of K is PALETTE[g % len]; L's groups continue after K's.
PALETTE: tuple = (tuple(matplotlib.colormaps["tab10"].colors)
                  + tuple(matplotlib.colormaps["tab20"].colors[1::2]))
NEUTRAL = "#4d4d4d"
LIGHT = "#b3b3b3"
DENSE_COLOR, V1_COLOR, V2_COLOR = "#7f7f7f", PALETTE[1], PALETTE[0]

MAX_CHANNELS = 64  # above this many rows the wiring switches to the group view by itself
CHANNEL_LIMIT = 320  # never draw more rows than this at channel level, even when asked to

COLUMN_TITLES = {"input": "input", "k_group": "K groups", "k_filter": "K out", "interleave": "interleave",
                 "l_group": "L groups", "l_filter": "L out", "sum": "sum", "output": "output"}


def color(index: int) -> tuple:
    """The palette colour of a group index (cycled)."""
    return PALETTE[index % len(PALETTE)]


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


def _route(kind: str, p: tuple, q: tuple, offset: float) -> list:
    """Polyline of one edge: copies detour to the left of their column, skips run above the row."""
    (x0, y0), (x1, y1) = p, q
    if kind in ("copy", "l_copy"):
        xo = x0 - offset
        return [(x0, y0), (xo, y0), (xo, y1), (x1, y1)]
    if kind == "skip":
        return [(x0, y0), (x0 + 0.25, y0 + 0.45), (x1 - 0.25, y1 + 0.45), (x1, y1)]
    return [p, q]


def _node_color(graph, node, k_groups: int) -> tuple | str:
    d = graph.nodes[node]
    layer = d["layer"]
    if layer in ("l_group", "l_filter"):
        return color(k_groups + d["group"])
    if layer in ("sum", "output"):
        return NEUTRAL
    if layer in ("k_replica", "l_replica"):
        src = next(iter(graph.predecessors(node)))
        return _node_color(graph, src, k_groups)
    return color(d["group"])


def _edge_color(graph, u, v, kind: str, k_groups: int):
    if kind in ("k_in", "l_in", "to_sum"):
        return _node_color(graph, v if kind != "to_sum" else u, k_groups)
    if kind in ("skip",):
        return LIGHT
    if kind == "out":
        return NEUTRAL
    return _node_color(graph, u, k_groups)


_EDGE_STYLE = {"copy": dict(linestyles="--", linewidths=0.9), "l_copy": dict(linestyles="--", linewidths=0.9),
               "skip": dict(linewidths=0.6), "out": dict(linewidths=0.6),
               "interleave": dict(linewidths=1.0)}


def _draw_edges(ax: Axes, graph, pos: dict, kinds: Sequence[str], k_groups: int, group_level=False,
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
                            _route(kind, pos[u], pos[v], offset))
            colors.append(_edge_color(graph, u, v, kind, k_groups))
            widths.append(graph.edges[u, v].get("weight", 1))
        style = dict(_EDGE_STYLE.get(kind, dict(linewidths=0.7)))
        if group_level:
            top = max(widths)
            style["linewidths"] = [0.5 if kind == "skip" else 0.4 + 3.0 * w / top for w in widths]
        lc = LineCollection(segments, colors=colors, alpha=0.8, zorder=1, gid=f"edges:{kind}", **style)
        lc.set_label(f"_edges:{kind}")
        ax.add_collection(lc)


def _scatter(ax, graph, pos, nodes, k_groups, *, marker="o", size=30.0, hollow=False, layer="", **kw):
    if not nodes:
        return None
    xy = np.array([pos[n] for n in nodes])
    cols = [_node_color(graph, n, k_groups) for n in nodes]
    if hollow:
        style = dict(facecolors="white", edgecolors=cols, linewidths=1.4)
    else:
        style = dict(c=cols, edgecolors="none")
    style.update(kw)
    return ax.scatter(xy[:, 0], xy[:, 1], s=size, marker=marker, zorder=3, gid=f"nodes:{layer}", **style)


def _draw_channel_level(plan: PointwisePlan, ax: Axes, note: str = "") -> Axes:
    graph = wiring_graph(plan)
    pos = wiring_positions(plan, graph)
    kg = plan.k.groups
    rows = plan_rows(plan)
    fs = 7 if rows <= 32 else 5.5 if rows <= 64 else 4
    size = 36 if rows <= 32 else 18 if rows <= 64 else 8
    _draw_edges(ax, graph, pos, [], kg)

    for layer in ("input", "k_filter", "l_filter", "interleave", "output"):
        nodes = nodes_of_layer(graph, layer)
        plain = [n for n in nodes if not graph.nodes[n].get("extra_filter")]
        extra = [n for n in nodes if graph.nodes[n].get("extra_filter")]
        _scatter(ax, graph, pos, plain, kg, size=size, layer=layer)
        if extra:
            _scatter(ax, graph, pos, extra, kg, marker="D", size=size * 1.3, layer=f"{layer}:extra",
                     edgecolors="black", linewidths=1.0)
    for layer in ("k_replica", "l_replica"):
        _scatter(ax, graph, pos, nodes_of_layer(graph, layer), kg, size=size * 1.1, hollow=True, layer=layer)
    for layer in ("k_group", "l_group"):
        nodes = nodes_of_layer(graph, layer)
        extra = [n for n in nodes if graph.nodes[n]["extra_filter"]]
        _scatter(ax, graph, pos, [n for n in nodes if n not in extra], kg, marker="s", size=size * 3.5,
                 layer=layer)
        if extra:
            _scatter(ax, graph, pos, extra, kg, marker="s", size=size * 3.5, layer=f"{layer}:extra",
                     edgecolors="black", linewidths=1.6)
    _scatter(ax, graph, pos, nodes_of_layer(graph, "sum"), kg, marker="P", size=size * 1.2, layer="sum")

    # labels: channel numbers outside, copies as '=source', groups as K0/L0 with their filter count
    for n in nodes_of_layer(graph, "input"):
        ax.text(pos[n][0] - 0.12, pos[n][1], str(n[1]), ha="right", va="center", fontsize=fs)
    for layer in ("k_replica", "l_replica"):
        for n in nodes_of_layer(graph, layer):
            ax.text(pos[n][0] + 0.1, pos[n][1], f"={graph.nodes[n]['source']}", ha="left", va="center",
                    fontsize=fs, style="italic")
    for n in nodes_of_layer(graph, "output"):
        ax.text(pos[n][0] + 0.12, pos[n][1], str(n[1]), ha="left", va="center", fontsize=fs)
    for layer, name in (("k_group", "K"), ("l_group", "L")):
        for n in nodes_of_layer(graph, layer):
            d = graph.nodes[n]
            label = f"{name}{d['index']} {d['filters']}f"
            ax.text(pos[n][0], pos[n][1] + 0.6, label, ha="center", va="bottom", fontsize=fs,
                    fontweight="bold" if d["extra_filter"] else "normal")
    top = max(y for _, y in pos.values())
    for x, column in enumerate(_channel_columns(plan)):
        ax.text(x, top + 1.6, COLUMN_TITLES[column[0]], ha="center", va="bottom", fontsize=8)
    ax.set_xlim(-0.9, len(_channel_columns(plan)) - 0.3)
    ax.set_ylim(min(y for _, y in pos.values()) - 1, top + 3)
    _finish(ax, plan, note, _channel_legend(plan, graph))
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


def _finish(ax: Axes, plan: PointwisePlan, note: str, legend_items: list) -> None:
    ax.set_title(plan_title(plan) + (f"\n{note}" if note else ""), fontsize=10)
    ax.legend(handles=legend_items, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_axis_off()


# ----------------------------------------------------------------------------------------- group level
def group_positions(plan: PointwisePlan, graph=None) -> dict:
    """Deterministic group-view positions: input blocks, copies, K groups, L groups, output blocks."""
    graph = graph if graph is not None else group_graph(plan)
    columns = [("input", "k_replica"), ("k_group",)] + ([("l_group",)] if plan.l is not None else [])
    columns.append(("output",))
    stacks = [[n for layer in column for n in nodes_of_layer(graph, layer)] for column in columns]
    tallest = max(len(nodes) for nodes in stacks)
    pos = {}
    for x, nodes in enumerate(stacks):  # short columns are spread over the tallest one's height
        mid = (len(nodes) - 1) / 2
        spacing = min(3.0, (tallest - 1) / (len(nodes) - 1)) if len(nodes) > 1 else 1.0
        for row, node in enumerate(nodes):  # copies sit between the input blocks and K
            pos[node] = (x + 0.45 * (node[0] == "k_replica"), (mid - row) * spacing)
    return pos


def _draw_group_level(plan: PointwisePlan, ax: Axes, note: str = "") -> Axes:
    graph = group_graph(plan)
    pos = group_positions(plan, graph)
    kg = plan.k.groups
    n_rows = max(kg, plan.l.groups if plan.l is not None else 1)
    fs = 7 if n_rows <= 24 else 5 if n_rows <= 48 else 3.5
    _draw_edges(ax, graph, pos, [], kg, group_level=True, straight=True)
    for layer, marker in (("input", "o"), ("k_group", "s"), ("l_group", "s"), ("output", "o")):
        nodes = nodes_of_layer(graph, layer)
        plain = [n for n in nodes if not graph.nodes[n].get("extra_filter")]
        extra = [n for n in nodes if graph.nodes[n].get("extra_filter")]
        _scatter(ax, graph, pos, plain, kg, marker=marker, size=60, layer=layer)
        _scatter(ax, graph, pos, extra, kg, marker=marker, size=60, layer=f"{layer}:extra",
                 edgecolors="black", linewidths=1.6)
    _scatter(ax, graph, pos, nodes_of_layer(graph, "k_replica"), kg, size=70, hollow=True, layer="k_replica")
    every = max(1, n_rows // 32)
    for n, d in graph.nodes(data=True):
        x, y = pos[n]
        layer = d["layer"]
        if layer in ("k_group", "l_group") and (d["index"] % every == 0 or d["extra_filter"]):
            name = "K" if layer == "k_group" else "L"
            text = f"{name}{d['index']}: {len(d['inputs'])} in, {d['filters']} f"
            if d["replicated"]:
                text += f", {d['replicated']} copies"
            ax.text(x, y + 0.3, text, ha="center", va="bottom", fontsize=fs,
                    fontweight="bold" if d["extra_filter"] else "normal")
        elif layer == "input" and d["index"] % every == 0:
            ax.text(x - 0.06, y, _span(d["channels"]), ha="right", va="center", fontsize=fs)
        elif layer == "k_replica":
            ax.text(x, y - 0.25, f"copies of {_span(d['channels'])} \u2192 K{d['index']}", ha="center",
                    va="top", fontsize=fs, style="italic")
        elif layer == "output" and d["index"] % every == 0:
            ax.text(x + 0.06, y, f"{d['size']} ch", ha="left", va="center", fontsize=fs)
    titles = ["input blocks", "K groups"] + (["L groups"] if plan.l is not None else []) + ["output blocks"]
    top = max(y for _, y in pos.values())
    for x, t in enumerate(titles):
        ax.text(x, top + 1.2, t, ha="center", va="bottom", fontsize=8)
    ax.set_xlim(-0.7, len(titles) - 0.4)
    ax.set_ylim(min(y for _, y in pos.values()) - 1, top + 2.2)
    items = [Line2D([], [], marker="s", ls="", color=color(0), label="group (colour per group)"),
             Line2D([], [], color=color(0), lw=3, label="edge width = channels carried")]
    if plan.k.replicated:
        items.append(Line2D([], [], marker="o", ls="", color=color(0), markerfacecolor="white",
                            label="replicated copies"))
    if plan.k.uneven_groups or (plan.l is not None and plan.l.uneven_groups):
        items.append(Line2D([], [], marker="s", ls="", color=color(0), markeredgecolor="black",
                            label="group with an extra filter"))
    if plan.l is not None:
        items.append(Line2D([], [], color=color(0), label="K \u2192 L: interleave mixing"))
        items.append(Line2D([], [], color=LIGHT, label="skip: K to the sum"))
    _finish(ax, plan, note, items)
    return ax


def _span(channels: Sequence[int]) -> str:
    channels = list(channels)
    if not channels:
        return "-"
    if channels == list(range(channels[0], channels[-1] + 1)):
        return f"{channels[0]}-{channels[-1]}" if len(channels) > 1 else str(channels[0])
    return f"{len(channels)} ch"


# ------------------------------------------------------------------------------------------ public API
def draw_wiring(plan: PointwisePlan, ax: Axes | None = None, level: str = "auto",
                max_channels: int = MAX_CHANNELS) -> Axes:
    """Draw how channels reach groups: copies, uneven filters, the interleave, L and the sum.

    ``level``: "channel", "group" or "auto" (channel level up to `max_channels` rows, else the group
    view). A channel-level request above `CHANNEL_LIMIT` rows also gets the group view, with a note.
    """
    if not isinstance(plan, PointwisePlan):
        raise TypeError(f"draw_wiring needs a PointwisePlan (from plan_pointwise), got {type(plan).__name__}")
    if level not in ("auto", "channel", "group"):
        raise ValueError(f"level must be 'auto', 'channel' or 'group', got {level!r}")
    level, note = _resolve_level(plan, level, max_channels)
    ax = _new_axes(ax, wiring_figsize(plan, level))
    if level == "group":
        return _draw_group_level(plan, ax, note)
    return _draw_channel_level(plan, ax)


def _resolve_level(plan: PointwisePlan, level: str, max_channels: int = MAX_CHANNELS) -> tuple[str, str]:
    """The level actually drawn ("channel" or "group") and the note that says why, for `draw_wiring`."""
    rows = plan_rows(plan)
    limit = max_channels if level == "auto" else CHANNEL_LIMIT
    if level == "group":
        return "group", "group view"
    if rows > limit:
        return "group", f"group view: {rows} channels > {limit} for a channel-level drawing"
    return "channel", ""


def wiring_figsize(plan: PointwisePlan, level: str, width: float | None = None) -> tuple[float, float]:
    """Figure size (inches) that fits one plan's drawing at a resolved ``level``: the height follows the
    groups (group view, at most 16) or the channel rows (channel level); ``width`` overrides the default
    width (11 for the group view, 12 for channel level)."""
    if level == "group":
        groups = max(plan.k.groups, plan.l.groups if plan.l is not None else 1)
        return (11.0 if width is None else width, min(16.0, max(4.0, 0.28 * groups + 2)))
    return (12.0 if width is None else width, max(4.5, 0.17 * plan_rows(plan) + 2))
