"""Drawings of wide layers: the group view (one node per group, labels thinned to stay legible) and the
summary view. The summary view of a wide layer (e.g. B0's 1152 -> 320 at Ch = 8: 144 K groups): the first and last
groups of each column as boxes with their counts, the middle ones as one ellipsis box, and the group
graph's edges added up between the boxes shown (line width = channels carried). `draw_wiring` picks it
past `wiring.MAX_GROUPS` groups; every number comes from `group_graph` (so from the plan's tables)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from ..core.plan import PointwisePlan
from . import style
from .graph import group_graph, nodes_of_layer
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
    span_text,
)

HEAD, TAIL = 3, 1  # groups shown at the top and at the bottom of each column
MORE = "more"  # the index of a column's ellipsis box
COLUMNS = ("input", "k_group", "l_group", "output")


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


def draw_group_level(plan: PointwisePlan, ax: Axes, note: str = "") -> Axes:
    """Draw the group view of ``plan`` on ``ax``: one node per group, edge width = channels carried."""
    graph = group_graph(plan)
    pos = group_positions(plan, graph)
    kg, fs = plan.k.groups, style.fontsize(ax.figure)
    width_in, height_in = axes_inches(ax)
    tallest = max(sum(1 for n in pos if n[0] in layers) for layers in
                  (("input", "k_replica"), ("k_group",), ("l_group",), ("output",)))
    every = style.label_step(tallest, height_in - 1.6, fs, pitch=1.15)
    draw_edges(ax, graph, pos, [], kg, group_level=True, straight=True)
    size = float(np.clip(4000 / tallest ** 1.3, 8, 60))
    for layer, marker in (("input", "o"), ("k_group", "s"), ("l_group", "s"), ("output", "o")):
        nodes = nodes_of_layer(graph, layer)
        plain = [n for n in nodes if not graph.nodes[n].get("extra_filter")]
        extra = [n for n in nodes if graph.nodes[n].get("extra_filter")]
        scatter_nodes(ax, graph, pos, plain, kg, marker=marker, size=size, layer=layer)
        scatter_nodes(ax, graph, pos, extra, kg, marker=marker, size=size, layer=f"{layer}:extra",
                 edgecolors="black", linewidths=1.6)
    scatter_nodes(ax, graph, pos, nodes_of_layer(graph, "k_replica"), kg, size=size * 1.2, hollow=True,
             layer="k_replica")
    for n, d in graph.nodes(data=True):
        x, y = pos[n]
        layer = d["layer"]
        if layer in ("k_group", "l_group") and d["index"] % every == 0:
            name = "K" if layer == "k_group" else "L"
            text = f"{name}{d['index']}: {len(d['inputs'])} in, {d['filters']} f"
            if d["replicated"]:
                text += f", {d['replicated']} copies"
            place_label(ax, x, y, text, dy=fs * 0.5, ha="center", va="bottom", fontsize=fs,
                   fontweight="bold" if d["extra_filter"] else "normal")
        elif layer == "input" and d["index"] % every == 0:
            place_label(ax, x, y, span_text(d["channels"]), dx=-6, ha="right", va="center", fontsize=fs)
        elif layer == "k_replica":
            place_label(ax, x, y, f"copies of {span_text(d['channels'])} \u2192 K{d['index']}", dy=-fs * 0.6,
                   ha="center", va="top", fontsize=fs, style="italic")
        elif layer == "output" and d["index"] % every == 0:
            place_label(ax, x, y, f"{d['size']} ch", dx=6, ha="left", va="center", fontsize=fs)
    titles = ["input blocks", "K groups"] + (["L groups"] if plan.l is not None else []) + ["output blocks"]
    top = max(y for _, y in pos.values())
    pad = column_titles(ax, titles, top, fs, width_in)
    ax.set_xlim(-0.7, len(titles) - 0.4)
    ax.set_ylim(min(y for _, y in pos.values()) - 1, top + 0.3)
    items = [Line2D([], [], marker="s", ls="", color=color(0), label="group (colour per group)"),
             Line2D([], [], color=color(0), lw=3, label="edge width = channels")]
    if plan.k.replicated:
        items.append(Line2D([], [], marker="o", ls="", color=color(0), markerfacecolor="white",
                            label="replicated copies"))
    if plan.k.uneven_groups or (plan.l is not None and plan.l.uneven_groups):
        items.append(Line2D([], [], marker="s", ls="", color=color(0), markeredgecolor="black",
                            label="group with an extra filter"))
    if plan.l is not None:
        items.append(Line2D([], [], color=color(0), label="K \u2192 L: interleave"))
        items.append(Line2D([], [], color=LIGHT, label="skip: K to the sum"))
    finish_axes(ax, plan, note, items, pad)
    return ax



def shown_rows(count: int, head: int = HEAD, tail: int = TAIL) -> list:
    """Indices drawn for ``count`` groups: all of them, or the first ``head``, `MORE`, the last ``tail``."""
    if count <= head + tail + 1:
        return list(range(count))
    return list(range(head)) + [MORE] + list(range(count - tail, count))


def summary_graph(plan: PointwisePlan, head: int = HEAD, tail: int = TAIL) -> tuple[dict, Counter]:
    """The boxes and summed edges of the summary view: ``rows`` maps each column ("input", "k_group",
    "l_group", "output") to its shown indices (`shown_rows`) and the count of its groups; ``edges`` maps
    ``(kind, box, box)`` (box = ``(column, index or MORE)``) to the channels carried. Copies count as
    reads of their K group's box; their `copy` edges come from the input block they copy."""
    graph = group_graph(plan)
    counts = {c: len(nodes_of_layer(graph, c)) for c in COLUMNS}
    rows = {c: (shown_rows(n, head, tail), n) for c, n in counts.items() if n}

    def box(node):
        layer, index = node
        column = "k_group" if layer == "k_replica" else layer
        return column, index if index in rows[column][0] else MORE

    edges: Counter = Counter()
    for u, v, d in graph.edges(data=True):
        bu, bv = box(u), box(v)
        if bu != bv:
            edges[(d["kind"], bu, bv)] += d["weight"]
    return rows, edges


def _box_text(plan: PointwisePlan, graph, column: str, index, hidden: int) -> str:
    if index == MORE:
        return f"\u22ee {hidden} more"
    d = graph.nodes[(column, index)]
    if column == "input":
        return f"ch {span_text(d['channels'])}"
    if column == "output":
        return f"out {span_text(d['channels'])}"
    name = "K" if column == "k_group" else "L"
    text = f"{name}{index}: {len(d['inputs'])} in \u2192 {d['filters']} f"
    if column == "l_group":
        sources = {plan.k.output_groups[c] for c in plan.l_group_k_channels(index)}
        text += f"\nfrom {len(sources)} K groups"
    elif d["replicated"]:
        text += f"\n+{d['replicated']} copies"
    return text


def _headers(plan: PointwisePlan) -> dict[str, str]:
    heads = {"input": f"input\n{plan.in_channels} channels",
             "k_group": f"K: {plan.k.groups} groups\nof {plan.k.inputs_per_group} in",
             "output": f"output\n{plan.out_channels} channels"}
    if plan.l is not None:
        heads["l_group"] = f"L: {plan.l.groups} groups\nof {plan.l.inputs_per_group} in"
    return heads


def draw_summary_level(plan: PointwisePlan, ax: Axes, note: str = "") -> Axes:
    """Draw the summary view of ``plan`` on ``ax`` (see the module's docstring)."""
    graph = group_graph(plan)
    rows, edges = summary_graph(plan)
    fs = style.fontsize(ax.figure)
    columns = [c for c in COLUMNS if c in rows]
    heads = _headers(plan)
    half_w, half_h = 0.34, 0.36
    k_groups = plan.k.groups
    at = {}
    for x, column in enumerate(columns):
        shown, count = rows[column]
        hidden = count - sum(i != MORE for i in shown)
        for r, index in enumerate(shown):
            at[(column, index)] = (x, -r)
            face = "white" if index == MORE else color(index + k_groups * (column == "l_group"))
            ax.add_patch(Rectangle((x - half_w, -r - half_h), 2 * half_w, 2 * half_h, facecolor=face,
                                   alpha=0.25 if index != MORE else 1.0, edgecolor=NEUTRAL, lw=0.8,
                                   gid=f"box:{column}:{index}"))
            ax.text(x, -r, _box_text(plan, graph, column, index, hidden), ha="center", va="center",
                    fontsize=fs)
        place_label(ax, x, half_h, heads[column], dy=fs * 0.4, ha="center", va="bottom", fontsize=fs,
               fontweight="bold")
    by_kind: dict[str, list] = {}
    for (kind, u, v), weight in edges.items():
        (x0, y0), (x1, y1) = at[u], at[v]
        if kind == "skip":
            seg = [(x0 + half_w, y0 - 0.25), ((x0 + x1) / 2, (y0 + y1) / 2 - 0.5), (x1 - half_w, y1 - 0.25)]
        else:
            seg = [(x0 + half_w, y0), (x1 - half_w, y1)]
        by_kind.setdefault(kind, []).append((seg, weight))
    top = max(edges.values(), default=1)
    for kind, items in by_kind.items():
        lc = LineCollection([s for s, _ in items], linewidths=[0.6 + 4.0 * w / top for _, w in items],
                            colors=LIGHT if kind == "skip" else NEUTRAL, alpha=0.8, zorder=1,
                            linestyles="--" if kind == "copy" else "-", gid=f"edges:{kind}")
        ax.add_collection(lc)
    depth = max(len(shown) for shown, _ in rows.values())
    foot = "line width = channels carried; \u22ee: the groups not drawn (their edges added up)"
    if plan.l is not None:
        foot = (f"interleave step {plan.interleave_step} mixes K's groups into L; the sum adds K's output "
                f"(grey: the skip). " + foot)
    place_label(ax, -half_w, -depth + 1 - half_h, style.wrap(foot, axes_inches(ax)[0], fs), dy=-fs * 0.6,
           ha="left", va="top", fontsize=fs, style="italic")
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(-depth + 1 - half_h - 0.05, half_h + 0.05)
    finish_axes(ax, plan, note, [], pad=fs * 3.2)
    return ax
