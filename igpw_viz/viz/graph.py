"""The wiring of a pointwise plan as a directed graph, for drawing and for checking.

`wiring_graph(plan)` has one node per channel, copy, group and filter; `group_graph(plan)` compresses it to
one node per group for large layers. Both only read the plan's index tables (never re-derive them).

Node keys are tuples ``(layer, index)``; every node carries ``layer`` and ``index`` attributes, and every
edge a ``kind``. The block's input channels are the nodes with ``layer == "input"``, its output channels
those with ``layer == "output"``, each with ``index`` = its channel number.
"""

from __future__ import annotations

from collections import Counter

import networkx as nx

from ..core.plan import GroupedStage, PointwisePlan

# Channel-level layers, left to right (a layer is absent when the plan has no such step).
LAYERS = ("input", "k_replica", "k_group", "k_filter", "interleave", "l_replica", "l_group", "l_filter",
          "sum", "output")
# Edge kinds of the channel-level graph.
EDGE_KINDS = ("copy", "k_in", "k_out", "interleave", "l_copy", "l_in", "l_out", "skip", "to_sum", "out")
# Group-level layers and edge kinds.
GROUP_LAYERS = ("input", "k_replica", "k_group", "l_group", "output")
GROUP_EDGE_KINDS = ("copy", "k_in", "mix", "l_out", "skip", "k_out")


def _add_stage(g: nx.DiGraph, stage: GroupedStage, name: str, inputs: list, palette_offset: int = 0) -> list:
    """Add one grouped conv (its replicas, groups and filters) reading the nodes `inputs`; return its
    output nodes in channel order."""
    s = name.lower()
    extended = list(inputs)
    for e in range(stage.in_channels, len(stage.sources)):
        source = inputs[stage.sources[e]]
        node = (f"{s}_replica", e)
        g.add_node(node, layer=f"{s}_replica", index=e, stage=name, source=stage.sources[e],
                   replicated=True, group=stage.position_groups[e])
        g.add_edge(source, node, kind="copy" if s == "k" else "l_copy")
        extended.append(node)
    base = stage.base_filters
    for grp in range(stage.groups):
        node = (f"{s}_group", grp)
        g.add_node(node, **_group_attrs(stage, grp, name))
        for e in stage.group_positions(grp):
            g.add_edge(extended[e], node, kind=f"{s}_in")
    outputs = []
    for o in range(stage.out_channels):
        grp, filt = stage.output_groups[o], stage.output_filters[o]
        node = (f"{s}_filter", o)
        g.add_node(node, layer=f"{s}_filter", index=o, group=grp, filter=filt, stage=name,
                   extra_filter=stage.groups > 1 and filt >= base and stage.uneven_groups > 0,
                   replicated=False)
        g.add_edge((f"{s}_group", grp), node, kind=f"{s}_out")
        outputs.append(node)
    return outputs


def _group_attrs(stage: GroupedStage, group: int, name: str) -> dict:
    """Attributes of a group node (K or L), shared by the channel-level and group-level graphs."""
    filters = stage.filters_per_group[group]
    return dict(layer=f"{name.lower()}_group", index=group, group=group, stage=name,
                inputs=stage.group_inputs(group), filters=filters, extra_filter=filters > stage.base_filters,
                replicated=sum(e >= stage.in_channels for e in stage.group_positions(group)))


def wiring_graph(plan: PointwisePlan) -> nx.DiGraph:
    """Channel-level wiring of a plan: inputs, copies, K groups and filters, interleave, L, sum, outputs.

    Input->output reachability equals ``plan.connectivity()``. Attributes: ``layer``, ``index``,
    ``group`` (of the stage the node belongs to), ``replicated`` (a copy), ``source`` (what it copies),
    ``extra_filter`` (the extra filter of an uneven group), ``filter`` and ``stage``.
    """
    g = nx.DiGraph(plan=plan, scheme=plan.scheme, in_channels=plan.in_channels,
                   out_channels=plan.out_channels, channels_per_group=plan.channels_per_group)
    first_read = {}  # input channel -> the K group that reads it first (its own, not a copy)
    for e in reversed(range(len(plan.k.sources))):
        first_read[plan.k.sources[e]] = plan.k.position_groups[e]
    inputs = []
    for i in range(plan.in_channels):
        g.add_node(("input", i), layer="input", index=i, replicated=False, group=first_read[i])
        inputs.append(("input", i))
    k_out = _add_stage(g, plan.k, "K", inputs)

    shown = k_out  # the tensor after the interleave (or K's output when there is none)
    if plan.interleave is not None:
        shown = []
        for j, source in enumerate(plan.interleave):
            node = ("interleave", j)
            g.add_node(node, layer="interleave", index=j, source=source,
                       group=plan.k.output_groups[source], replicated=False)
            g.add_edge(k_out[source], node, kind="interleave")
            shown.append(node)

    if plan.l is not None:
        l_out = _add_stage(g, plan.l, "L", shown)
        for o in range(plan.out_channels):
            node = ("sum", o)
            g.add_node(node, layer="sum", index=o, replicated=False)
            g.add_edge(l_out[o], node, kind="to_sum")
            g.add_edge(k_out[o], node, kind="skip")
        shown = [("sum", o) for o in range(plan.out_channels)]

    for o, node in enumerate(shown):
        g.add_node(("output", o), layer="output", index=o, replicated=False)
        g.add_edge(node, ("output", o), kind="out")
    return g


def group_graph(plan: PointwisePlan) -> nx.DiGraph:
    """Compressed wiring, one node per group: input blocks (the channels each K group reads first), the
    replicated copies (one node per K group that reads copies), K groups, L groups, output blocks.
    Edge ``weight`` = how many channels it carries.

    ``mix`` edges (K group -> L group) show the interleave: how many of an L group's inputs come from
    each K group. Output block ``h`` holds the output channels of the last grouped stage's group ``h``.
    """
    k, lst = plan.k, plan.l
    g = nx.DiGraph(plan=plan, scheme=plan.scheme, in_channels=plan.in_channels,
                   out_channels=plan.out_channels, channels_per_group=plan.channels_per_group)
    k_pos_group = k.position_groups
    blocks: dict[int, list[int]] = {}
    for e in range(k.in_channels):
        blocks.setdefault(k_pos_group[e], []).append(k.sources[e])
    for b, channels in blocks.items():
        g.add_node(("input", b), layer="input", index=b, group=b, channels=tuple(channels),
                   size=len(channels), replicated=False)
    for grp in range(k.groups):
        g.add_node(("k_group", grp), size=k.filters_per_group[grp], **_group_attrs(k, grp, "K"))
    for b in blocks:
        g.add_edge(("input", b), ("k_group", b), kind="k_in", weight=len(blocks[b]))
    copies_of: dict[int, list[int]] = {}  # K group -> the copied channels it reads (usually the last one)
    for e in range(k.in_channels, len(k.sources)):
        copies_of.setdefault(k_pos_group[e], []).append(k.sources[e])
    for grp, copies in copies_of.items():
        node = ("k_replica", grp)
        g.add_node(node, layer="k_replica", index=grp, channels=tuple(copies), size=len(copies),
                   replicated=True, group=grp)
        for b, n in Counter(k_pos_group[c] for c in copies).items():  # the block each copy comes from
            g.add_edge(("input", b), node, kind="copy", weight=n)
        g.add_edge(node, ("k_group", grp), kind="k_in", weight=len(copies))

    if lst is not None:
        l_pos_group = lst.position_groups
        for h in range(lst.groups):
            g.add_node(("l_group", h), size=lst.filters_per_group[h], **_group_attrs(lst, h, "L"))
        mix = Counter((k.output_groups[src], l_pos_group[e]) for e, src in enumerate(plan.l_sources))
        for (grp, h), n in mix.items():
            g.add_edge(("k_group", grp), ("l_group", h), kind="mix", weight=n)
        for h in range(lst.groups):
            outs = lst.group_outputs(h)
            g.add_node(("output", h), layer="output", index=h, group=h, channels=outs, size=len(outs),
                       replicated=False)
            g.add_edge(("l_group", h), ("output", h), kind="l_out", weight=len(outs))
            for grp, n in Counter(k.output_groups[o] for o in outs).items():
                g.add_edge(("k_group", grp), ("output", h), kind="skip", weight=n)
    else:
        where: dict[int, list[int]] = {}
        for j, src in enumerate(plan.output_sources):
            where.setdefault(k.output_groups[src], []).append(j)
        for grp in range(k.groups):
            outs = tuple(where.get(grp, ()))
            g.add_node(("output", grp), layer="output", index=grp, group=grp, channels=outs,
                       size=len(outs), replicated=False)
            g.add_edge(("k_group", grp), ("output", grp), kind="k_out", weight=len(outs))
    return g


def reachability(graph: nx.DiGraph) -> tuple[tuple[int, ...], ...]:
    """For each output node (by index), the sorted indices of the input nodes that reach it."""
    outputs = sorted((d["index"], n) for n, d in graph.nodes(data=True) if d["layer"] == "output")
    result = []
    for _, node in outputs:
        ancestors = nx.ancestors(graph, node)
        result.append(tuple(sorted(graph.nodes[a]["index"] for a in ancestors
                                   if graph.nodes[a]["layer"] == "input")))
    return tuple(result)


def edges_of_kind(graph: nx.DiGraph, kind: str) -> list[tuple]:
    """The edges of one kind, in insertion order."""
    return [(u, v) for u, v, k in graph.edges(data="kind") if k == kind]


def nodes_of_layer(graph: nx.DiGraph, layer: str) -> list:
    """The nodes of one layer, sorted by index."""
    return sorted((n for n, d in graph.nodes(data=True) if d["layer"] == layer),
                  key=lambda n: graph.nodes[n]["index"])
